"""Training: data loading with the patient split, augmentation, the classifier's training, and synthetic non-chest images for the guard.

No names are handed on here: import the module that holds them (the import graph stays explicit)."""
