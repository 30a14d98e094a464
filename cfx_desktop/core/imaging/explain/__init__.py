"""Explanations of a film: saliency maps (a registry of methods), their sanity checks, where their evidence lies, and how they are drawn.

No names are handed on here: import the module that holds them (the import graph stays explicit)."""
