"""Synthetic heart-failure-like patients, so model and attribution tests need no real data."""

from __future__ import annotations

import numpy as np

from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME
from cfx_desktop.core.tabular.schema import Kind, Schema
def synthetic_cohort(n: int = 240, seed: int = 0, schema: Schema = HEART_FAILURE_NO_TIME) -> tuple[np.ndarray, np.ndarray]:
    """Random patients inside the clinical ranges; death is likely with high creatinine and low ejection fraction."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, len(schema.features)))
    for j, f in enumerate(schema.features):
        if f.kind == Kind.BINARY:
            X[:, j] = rng.integers(0, 2, n)
        elif f.kind == Kind.CATEGORICAL:
            X[:, j] = rng.integers(0, f.n_levels, n)
        else:
            lo, hi = f.min + 0.2 * (f.max - f.min), f.min + 0.6 * (f.max - f.min)
            X[:, j] = rng.uniform(lo, hi, n)
            if f.kind == Kind.INTEGER:
                X[:, j] = np.round(X[:, j])
    if "serum_creatinine" in schema.names:
        X[:, schema.index("serum_creatinine")] = rng.uniform(0.5, 4.0, n).round(2)
        X[:, schema.index("ejection_fraction")] = rng.integers(15, 70, n)
        score = 1.5 * X[:, schema.index("serum_creatinine")] - 0.08 * X[:, schema.index("ejection_fraction")] + 0.5
    else:
        score = X[:, 0] - X[:, 0].mean()
    p = 1 / (1 + np.exp(-score))
    y = (rng.uniform(size=n) < p).astype(np.int64)
    return X, y


def draw_patient(draw, schema: Schema = HEART_FAILURE_NO_TIME) -> np.ndarray:  # noqa: ANN001 - hypothesis draw
    """A hypothesis-drawn patient on the form's grid, anywhere inside the clinical ranges."""
    from hypothesis import strategies as st

    values = []
    for f in schema.features:
        if f.kind in (Kind.BINARY, Kind.CATEGORICAL):
            values.append(float(draw(st.integers(0, max(f.n_levels, 2) - 1))))
        elif f.kind == Kind.INTEGER:
            values.append(float(draw(st.integers(int(f.min), int(f.max)))))
        else:
            values.append(round(draw(st.floats(f.min, f.max, allow_nan=False)), f.decimals))
    return np.array(values)
