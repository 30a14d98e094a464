"""Patient-side core: schemas, CSV loading, the four models, training, attributions, counterfactuals."""
