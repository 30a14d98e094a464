"""The plausibility check's LOF gives scikit-learn's scores and verdicts (it exists only to keep sklearn's
import off the start-up path)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import LocalOutlierFactor

from cfx_desktop.core.tabular.counterfactuals.lof import NoveltyLOF


@pytest.mark.parametrize("seed,n,k", [(0, 300, 20), (1, 40, 20), (2, 12, 5), (3, 299, 19)])
def test_scores_and_verdicts_match_scikit_learn(seed: int, n: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(0, 1, (n - n // 5, 6)), rng.normal(4, 0.5, (n // 5, 6))])
    Y = np.concatenate([rng.normal(0, 1.5, (50, 6)), rng.uniform(-12, 12, (50, 6))])
    ours = NoveltyLOF(k).fit(X)
    theirs = LocalOutlierFactor(n_neighbors=min(k, n - 1), novelty=True).fit(X)
    np.testing.assert_allclose(ours.score_samples(Y), theirs.score_samples(Y), rtol=1e-6)
    np.testing.assert_array_equal(ours.predict(Y), theirs.predict(Y))
    assert (ours.predict(Y) == -1).any() and (ours.predict(Y) == 1).any()  # both verdicts occur


def test_matches_on_the_shipped_example_cohort_scaled_as_the_engine_does() -> None:
    from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE

    rng = np.random.default_rng(7)
    lo = np.array([f.min for f in HEART_FAILURE.features], dtype=float)
    hi = np.array([f.max for f in HEART_FAILURE.features], dtype=float)
    X = rng.uniform(lo, hi, (200, len(lo)))
    X = X / np.maximum(np.median(np.abs(X - np.median(X, 0)), 0), 1e-9)
    Y = X[:20] + rng.normal(0, 0.5, (20, len(lo)))
    np.testing.assert_allclose(NoveltyLOF(20).fit(X).score_samples(Y),
                               LocalOutlierFactor(n_neighbors=20, novelty=True).fit(X).score_samples(Y), rtol=1e-6)
