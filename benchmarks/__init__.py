"""Benchmarks that write JSON (benchmarks/results) and tables (docs/benchmarks.md, README); see __main__."""

import os

# dice-ml draws a tqdm progress bar per patient; tqdm reads this when it is first imported, so it is set here,
# before any benchmark module imports torch, captum or dice-ml
os.environ.setdefault("TQDM_DISABLE", "1")
