"""A diverse set of k counterfactuals: a large pool from every search, then greedy max-min selection.

Greedy selection (start from the cheapest; then repeatedly add the candidate that maximises its distance to the
set chosen so far minus half its own cost) is the standard 1/2-approximation to max-min diversity and, unlike a
determinantal process, needs no kernel bandwidth. Distance between two counterfactuals is their MAD-L1
difference plus one for each feature that only one of them changes, so sets that change different features
count as different even when their values are close.
"""

from __future__ import annotations

import numpy as np

from cfx_desktop.core.tabular.counterfactuals import nearest, sparse
from cfx_desktop.core.tabular.counterfactuals.constraints import changed_mask
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.methods import CounterfactualMethod, register
from cfx_desktop.core.tabular.counterfactuals.reference import Reference

LABEL = "diverse set"
COST_WEIGHT = 0.5


def pair_distance(ctx: SearchContext, a: np.ndarray, b: np.ndarray) -> float:
    diff = np.abs(np.nan_to_num(a - b)) / ctx.mad
    only_one = changed_mask(ctx.x, a) ^ changed_mask(ctx.x, b)
    return float(diff.sum() + only_one.sum())


def select(ctx: SearchContext, pool: list[np.ndarray], k: int) -> list[np.ndarray]:
    unique: list[np.ndarray] = []
    for v in sorted(pool, key=ctx.cost):
        if all(pair_distance(ctx, v, u) > 1e-6 for u in unique):
            unique.append(v)
    if not unique:
        return []
    chosen = [unique.pop(0)]
    while unique and len(chosen) < k:
        scores = [min(pair_distance(ctx, v, c) for c in chosen) - COST_WEIGHT * ctx.cost(v) for v in unique]
        chosen.append(unique.pop(int(np.argmax(scores))))
    return chosen


def search(ctx: SearchContext, reference: Reference | None, k: int = 4, seed: int = 0) -> list[np.ndarray]:
    pool = sparse.candidates(ctx, want=k, exhaustive=True, seed=seed)
    if reference is not None and len(reference.X):
        pool += nearest.search(ctx, reference, k=k)
    return select(ctx, pool, k)


register(CounterfactualMethod("diverse", LABEL, search, "k options that differ from each other", keeps_order=True,
                                is_set=True))
