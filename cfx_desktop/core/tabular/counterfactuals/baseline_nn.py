"""The seed's method, kept faithful as the "baseline": 1-nearest neighbour under Hamming distance among the
reference patients the model predicts favourably, returned as is (all features copied, age and sex included).

Hamming distance on continuous values counts exact matches only, so ties are common and the neighbour usually
differs in about half the features. Its output is still passed through the constraint checker by the engine:
when it changes an immutable feature it is reported, never shown as a valid suggestion.
"""

from __future__ import annotations

import numpy as np

from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.methods import CounterfactualMethod, register
from cfx_desktop.core.tabular.counterfactuals.reference import NoReferenceError, Reference

LABEL = "baseline: 1-NN Hamming (seed)"


def hamming_nearest(x: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Like scikit-learn's brute-force NearestNeighbors(metric='hamming'): first index wins ties."""
    mismatches = (candidates != x[None]).sum(axis=1)
    return candidates[int(np.argmin(mismatches))]


def search(ctx: SearchContext, reference: Reference | None, k: int = 1, seed: int = 0) -> list[np.ndarray]:
    if reference is None or len(reference.X) == 0:
        raise NoReferenceError("the 1-NN baseline needs reference patients (load a cohort CSV)")
    candidates = reference.predicted(ctx.desired)
    if len(candidates) == 0:
        return []
    return [hamming_nearest(ctx.x, candidates)]


register(CounterfactualMethod(
    "baseline", LABEL, search, "the seed's 1-NN Hamming method, for comparison (ignores constraints)",
    needs_reference=True, uses_k=False, keeps_order=True, ignores_constraints=True,
))
