"""Image classifiers: the registered architectures, loading with the manifest check, the user's own models, the decision rule (selective prediction) and the shift views.

No names are handed on here: import the module that holds them (the import graph stays explicit)."""
