"""Attributions: Shapley sampling agrees with the exact answer on a linear model; efficiency holds."""

from __future__ import annotations

import numpy as np
import pytest

from cfx_desktop.core.tabular import attributions, train
from cfx_desktop.core.tabular.models import Hyper, TabularModel, lasso, nam
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME
from tests.tabular_fixtures import synthetic_cohort

FAST = Hyper(lr=3e-3, epochs=40, patience=10)


@pytest.fixture(scope="module")
def models():
    X, y = synthetic_cohort(240, seed=4)
    out = {}
    for arch in ("lasso", "nam", "mlp"):
        net, threshold, _ = train.fit(arch, HEART_FAILURE_NO_TIME, X, y, hyper=FAST)
        out[arch] = TabularModel(arch, arch, HEART_FAILURE_NO_TIME, net, threshold)
    return out


@pytest.fixture
def patient() -> np.ndarray:
    return HEART_FAILURE_NO_TIME.example_vector()


def test_shapley_matches_exact_linear_attributions(models, patient) -> None:
    lasso = models["lasso"]
    exact = attributions.exact(lasso, patient)
    sampled = attributions.shapley(lasso, patient, n_samples=8)
    np.testing.assert_allclose(sampled.values, exact.values, atol=1e-4)
    # efficiency: contributions sum to f(x) - f(baseline)
    assert exact.values.sum() == pytest.approx(exact.logit - exact.base_logit, abs=1e-4)
    assert abs(sampled.residual) < 1e-4
    assert np.abs(exact.values).max() > 0.05  # a real, non-trivial explanation


def test_nam_exact_contributions_add_up(models, patient) -> None:
    result = attributions.exact(models["nam"], patient)
    assert result.exact and abs(result.residual) < 1e-4
    shape = nam.shape_function(models["nam"], "serum_creatinine")
    assert shape.grid.shape == shape.contribution.shape and not shape.categorical
    assert shape.contribution[-1] > shape.contribution[0]  # risk rises with creatinine
    binary = nam.shape_function(models["nam"], "anaemia")
    assert binary.categorical and len(binary.grid) == 2


def test_shapley_efficiency_on_a_nonlinear_model(models, patient) -> None:
    result = attributions.attribute(models["mlp"], patient, n_samples=16)
    assert not result.exact and abs(result.residual) < 1e-3
    ranked = result.ranked()
    assert len(ranked) == len(HEART_FAILURE_NO_TIME.features)


def test_lasso_weights_in_clinical_units(models) -> None:
    weights = {w.feature: w for w in lasso.weights(models["lasso"])}
    assert weights["serum_creatinine"].per_unit > 0 and weights["serum_creatinine"].unit == "mg/dL"
    assert weights["ejection_fraction"].per_unit < 0
    with pytest.raises(ValueError):
        lasso.weights(models["nam"])
