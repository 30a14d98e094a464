"""Small widgets shared by both tabs."""
