"""The Chest X-ray tab: viewer, saliency overlays, counterfactual comparison, sanity checks, export."""
