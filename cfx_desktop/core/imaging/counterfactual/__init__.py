"""Counterfactual films: the autoencoders, the latent bank of real films, the registered searches, and `generate`.

No names are handed on here: import the module that holds them (the import graph stays explicit)."""
