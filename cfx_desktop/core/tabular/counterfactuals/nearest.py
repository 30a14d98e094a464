"""Nearest feasible neighbour: the closest reference patient predicted favourably under a mixed distance,
with only the features this patient may change copied over, then verified and sparsified.

Distance: MAD-scaled L1 on ordered features plus 1 per mismatching binary/categorical feature, over all
features, so neighbours of similar age and sex are preferred even though those are never copied.
"""

from __future__ import annotations

import numpy as np

from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.methods import CounterfactualMethod, register
from cfx_desktop.core.tabular.counterfactuals.reference import NoReferenceError, Reference
from cfx_desktop.core.tabular.counterfactuals.refine import polish
from cfx_desktop.core.tabular.schema import Kind

LABEL = "nearest feasible neighbour"
CANDIDATES = 40


def mixed_distance(ctx: SearchContext, candidates: np.ndarray) -> np.ndarray:
    discrete = np.array([f.kind in (Kind.BINARY, Kind.CATEGORICAL) for f in ctx.schema.features])
    diff = np.abs(candidates - ctx.x[None])
    diff = np.where(np.isnan(diff), 0.0, diff)
    scaled = np.where(discrete[None], (diff > 0).astype(float), diff / ctx.mad[None])
    return scaled.sum(axis=1)


def search(ctx: SearchContext, reference: Reference | None, k: int = 1, seed: int = 0) -> list[np.ndarray]:
    if reference is None or len(reference.X) == 0:
        raise NoReferenceError("the nearest-neighbour method needs reference patients (load a cohort CSV)")
    candidates = reference.predicted(ctx.desired)
    if len(candidates) == 0:
        return []
    order = np.argsort(mixed_distance(ctx, candidates), kind="stable")[:CANDIDATES]
    proposals = []
    for row in candidates[order]:
        copied = np.where(np.isnan(row), ctx.x, row)
        copied = np.clip(copied, ctx.lo, ctx.hi)  # frozen features and direction rules keep the patient's value
        proposals.append(copied)
    proposals = ctx.snap(np.array(proposals))
    valid = ctx.is_valid(ctx.proba(proposals))
    return polish(ctx, list(proposals[valid][: max(k, 1) * 2]))


register(CounterfactualMethod("nearest", LABEL, search, "the closest similar patient the model predicts favourably",
                                needs_reference=True))
