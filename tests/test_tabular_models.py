"""The four patient models: one interface, raw clinical values in, reproducible, safe save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cfx_desktop.core import bundles
from cfx_desktop.core.metrics import binary_metrics, choose_threshold
from cfx_desktop.core.tabular import train
from cfx_desktop.core.tabular.models import Hyper
from cfx_desktop.core.tabular.models import TabularModel, build_net, load_model
from cfx_desktop.core.model_cache import clear as clear_cache
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME
from cfx_desktop.core.tabular.datasets.heart_disease import HEART_DISEASE
from tests.tabular_fixtures import synthetic_cohort

FAST = Hyper(lr=3e-3, epochs=60, patience=15)
ARCHS = ["mlp", "bilstm", "nam", "lasso"]


@pytest.fixture(scope="module")
def cohort():
    return synthetic_cohort(240, seed=1)


@pytest.fixture(scope="module")
def fitted(cohort):
    X, y = cohort
    out = {}
    for arch in ARCHS:
        net, threshold, _ = train.fit(arch, HEART_FAILURE_NO_TIME, X, y, seed=0, hyper=FAST)
        out[arch] = TabularModel(arch, arch, HEART_FAILURE_NO_TIME, net, threshold)
    return out


@pytest.mark.parametrize("arch", ARCHS)
def test_models_learn_the_synthetic_rule(fitted, arch: str) -> None:
    X, y = synthetic_cohort(300, seed=7)
    model = fitted[arch]
    p = model.predict_proba(X)
    assert p.shape == (300,) and np.all((p >= 0) & (p <= 1))
    assert binary_metrics(y, p, model.threshold)["roc_auc"] > 0.75


@pytest.mark.parametrize("arch", ARCHS)
def test_logits_are_differentiable_in_clinical_units(fitted, arch: str) -> None:
    model = fitted[arch]
    x = torch.tensor(HEART_FAILURE_NO_TIME.example_vector()[None], dtype=torch.float32, requires_grad=True)
    model.logits(x).sum().backward()
    creatinine = HEART_FAILURE_NO_TIME.index("serum_creatinine")
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad[0, creatinine] > 0  # more creatinine, more risk, as in the synthetic rule


def test_training_is_reproducible(cohort) -> None:
    X, y = cohort
    a, ta, _ = train.fit("mlp", HEART_FAILURE_NO_TIME, X, y, seed=3, hyper=FAST)
    b, tb, _ = train.fit("mlp", HEART_FAILURE_NO_TIME, X, y, seed=3, hyper=FAST)
    assert ta == tb
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


def test_bundle_round_trip_through_registry(fitted, tmp_path: Path) -> None:
    model = fitted["nam"]
    card = {"schema": HEART_FAILURE_NO_TIME.name, "architecture": "nam", "threshold": model.threshold}
    bundles.save("hf-nam", model.net.state_dict(), card, tmp_path)
    clear_cache()
    loaded = load_model("hf-nam", torch.device("cpu"), root=tmp_path)
    assert load_model("hf-nam", torch.device("cpu"), root=tmp_path) is loaded  # loaded once, shared
    X, _ = synthetic_cohort(20, seed=9)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)


def test_mismatched_architecture_is_a_bundle_error(fitted, tmp_path: Path) -> None:
    card = {"schema": HEART_FAILURE_NO_TIME.name, "architecture": "mlp", "threshold": 0.5}
    bundles.save("wrong", fitted["nam"].net.state_dict(), card, tmp_path)
    clear_cache()
    with pytest.raises(bundles.BundleError, match="does not match the architecture"):
        load_model("wrong", torch.device("cpu"), root=tmp_path)


def test_categorical_schema_and_missing_values() -> None:
    rng = np.random.default_rng(0)
    X, y = synthetic_cohort(200, seed=2, schema=HEART_DISEASE)
    X[rng.uniform(size=200) < 0.2, HEART_DISEASE.index("Cholesterol")] = np.nan
    net, _, _ = train.fit("mlp", HEART_DISEASE, X, y, hyper=FAST)
    assert net.pre.width == 11 - 3 + 4 + 3 + 3  # three categorical features one-hot encoded
    with torch.inference_mode():
        assert torch.isfinite(net(torch.as_tensor(X, dtype=torch.float32))).all()


def test_build_net_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown tabular architecture"):
        build_net("svm", HEART_FAILURE_NO_TIME)


def test_threshold_rule() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.9])
    t = choose_threshold(y, p)
    assert 0.3 < t <= 0.35
