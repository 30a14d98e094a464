"""Quality measures of counterfactuals: validity, constraint violations, sparsity (L0), MAD-L1 proximity,
feasibility (largest percentile shift, also among patients like this one), plausibility (LOF outlier as in the
seed, and mean distance to the k nearest favourable reference patients), diversity of a set, and time.

The LOF is scikit-learn's ``LocalOutlierFactor(novelty=True)`` with its KD/ball tree: memory O(n k), no n x n
distance matrix, so a 20,000-row reference fits in a few MB. Its import (~2 s) is paid in the worker pool while
the models load (`core.startup.STAGES`), never before the first paint.
"""

from __future__ import annotations

import numpy as np

from cfx_desktop.core.tabular.counterfactuals.constraints import changed_mask
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.feasibility import conditional_shifts
from cfx_desktop.core.tabular.counterfactuals.reference import Reference

KNN = 5
LOF_NEIGHBOURS = 20


def _scaled(X: np.ndarray, fill: np.ndarray, mad: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(X), fill[None], X) / mad[None]


def lof_model(reference: Reference, mad: np.ndarray):  # noqa: ANN201 - sklearn's LocalOutlierFactor, fill values
    """LOF (novelty mode) on all reference patients, MAD-scaled; cached on the reference."""
    from sklearn.neighbors import LocalOutlierFactor

    key = ("lof", tuple(np.round(mad, 9)))
    if key not in reference._cache:
        fill = np.nanmedian(reference.X, axis=0)
        lof = LocalOutlierFactor(n_neighbors=min(LOF_NEIGHBOURS, len(reference.X) - 1), novelty=True)
        reference._cache[key] = (lof.fit(_scaled(reference.X, fill, mad)), fill)
    return reference._cache[key]


def lof_outlier(reference: Reference, mad: np.ndarray, v: np.ndarray) -> bool:
    """Whether the local outlier factor calls the point ``v`` unlike the reference patients."""
    lof, fill = lof_model(reference, mad)
    return bool(lof.predict(_scaled(np.atleast_2d(v), fill, mad))[0] == -1)


def plausibility(ctx: SearchContext, v: np.ndarray, reference: Reference | None) -> dict[str, float]:
    """The end point (LOF outlier, distance to the nearest favourable patients) and the change: the largest
    percentile shift of one feature in the whole population (``max_shift``, from the card) and among the reference
    patients most like this one in age, sex and the other immutable features (``conditional_shift``).
    ``patient_outlier`` says whether the patient was already an outlier before any change: then the end point's
    verdict belongs to the patient, not to the change (`core.tabular.typicality`)."""
    out: dict[str, float] = {}
    shifts = ctx.percentile_shifts(v)
    if shifts.any():
        out["max_shift"] = float(shifts.max())
        out["max_shift_feature"] = float(int(np.argmax(shifts)))
    if reference is None or len(reference.X) < 3:
        return out
    lof, fill = lof_model(reference, ctx.mad)
    out["lof_outlier"] = float(lof_outlier(reference, ctx.mad, v))
    if "patient_outlier" not in ctx.memo:  # the same patient for every suggestion of the request
        ctx.memo["patient_outlier"] = lof_outlier(reference, ctx.mad, ctx.x)
    out["patient_outlier"] = float(ctx.memo["patient_outlier"])
    if ctx.peers is not None and ctx.peers.size:  # the search's own peer group, built from this reference once
        conditional, group = ctx.peers.shifts(ctx.x, v)[0], ctx.peers.size
    else:
        conditional, group = conditional_shifts(ctx.schema, reference.X, ctx.mad, ctx.x, v)
    if conditional.any():
        out["conditional_shift"] = float(conditional.max())
        out["conditional_feature"] = float(int(np.argmax(conditional)))
        out["conditional_group"] = float(group)
    favourable = reference.predicted(ctx.desired)
    if len(favourable):
        d = np.abs(_scaled(favourable, fill, ctx.mad) - _scaled(v[None], fill, ctx.mad)).sum(axis=1)
        out["knn_distance"] = float(np.partition(d, min(KNN, len(d)) - 1)[:KNN].mean())
    return out


def single(ctx: SearchContext, v: np.ndarray, probability: float, reference: Reference | None) -> dict[str, float]:
    out = {
        "valid": float(ctx.is_valid(probability)),
        "violations": float(len(ctx.constraints.violations(ctx.schema, ctx.x, v))),
        "l0": float(changed_mask(ctx.x, v).sum()),
        "mad_l1": ctx.mad_distance(v),
        "distance": ctx.distance(v),  # what the search minimised: percentile points (25 = 1) where known
    }
    out.update(plausibility(ctx, v, reference))
    return out


def diversity(ctx: SearchContext, values: list[np.ndarray]) -> float:
    """Mean pairwise distance (MAD-L1 + 1 per feature changed by only one of the pair); 0 for fewer than two."""
    from cfx_desktop.core.tabular.counterfactuals.diverse import pair_distance

    if len(values) < 2:
        return 0.0
    pairs = [pair_distance(ctx, a, b) for i, a in enumerate(values) for b in values[i + 1 :]]
    return float(np.mean(pairs))
