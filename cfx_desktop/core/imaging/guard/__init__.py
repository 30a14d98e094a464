"""The chest-radiograph guard: the model that withholds images the classifier was not made for, and its fitting.

No names are handed on here: import the module that holds them (the import graph stays explicit)."""
