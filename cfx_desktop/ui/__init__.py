"""Qt widgets: they show what core returns and send requests through the worker pool; they never run models."""
