"""Quality measures of counterfactuals: validity, constraint violations, sparsity (L0), MAD-L1 proximity,
plausibility (LOF outlier as in the seed, and mean distance to the k nearest favourable reference patients),
diversity of a set, and time."""

from __future__ import annotations

import numpy as np

from cfx_desktop.core.tabular.counterfactuals.constraints import changed_mask
from cfx_desktop.core.tabular.counterfactuals.lof import NoveltyLOF
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.reference import Reference

KNN = 5
LOF_NEIGHBOURS = 20


def _scaled(X: np.ndarray, fill: np.ndarray, mad: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(X), fill[None], X) / mad[None]


def lof_model(reference: Reference, mad: np.ndarray) -> tuple[NoveltyLOF, np.ndarray]:
    """LOF (novelty mode) on all reference patients, MAD-scaled; cached on the reference."""
    key = ("lof", tuple(np.round(mad, 9)))
    if key not in reference._cache:
        fill = np.nanmedian(reference.X, axis=0)
        lof = NoveltyLOF(n_neighbors=min(LOF_NEIGHBOURS, len(reference.X) - 1)).fit(_scaled(reference.X, fill, mad))
        reference._cache[key] = (lof, fill)
    return reference._cache[key]


def plausibility(ctx: SearchContext, v: np.ndarray, reference: Reference | None) -> dict[str, float]:
    if reference is None or len(reference.X) < 3:
        return {}
    lof, fill = lof_model(reference, ctx.mad)
    outlier = float(lof.predict(_scaled(v[None], fill, ctx.mad))[0] == -1)
    favourable = reference.predicted(ctx.desired)
    if len(favourable) == 0:
        return {"lof_outlier": outlier}
    d = np.abs(_scaled(favourable, fill, ctx.mad) - _scaled(v[None], fill, ctx.mad)).sum(axis=1)
    return {"lof_outlier": outlier, "knn_distance": float(np.sort(d)[:KNN].mean())}


def single(ctx: SearchContext, v: np.ndarray, probability: float, reference: Reference | None) -> dict[str, float]:
    out = {
        "valid": float(ctx.is_valid(probability)),
        "violations": float(len(ctx.constraints.violations(ctx.schema, ctx.x, v))),
        "l0": float(changed_mask(ctx.x, v).sum()),
        "mad_l1": ctx.distance(v),
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
