"""Model work with no Qt: data, schemas, models, counterfactuals, saliency, metrics.

Everything here can be driven from a notebook, the CLI or a test; `tests/test_architecture.py` fails if any
module below this package imports Qt.
"""
