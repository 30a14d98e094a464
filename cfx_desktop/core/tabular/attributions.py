"""Per-feature attributions for one patient, on the logit scale (where contributions add up).

* Any model: Shapley values by captum's `ShapleyValueSampling` against a stated baseline patient.
* NAM: exact, f_j(x_j) - f_j(b_j) from its additive shape functions.
* Lasso: exact, w_j * (enc(x)_j - enc(b)_j); the coefficients are also reported in clinical units.
Efficiency holds for all three: contributions sum to logit(x) - logit(baseline).
The baseline is the training cohort's median patient (binary and categorical values rounded), read from the
model's own preprocessing so it always matches the data the model saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import ShapleyValueSampling

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken
from cfx_desktop.core.tabular.models.base import TabularModel
from cfx_desktop.core.tabular.schema import Kind

BASELINE_TEXT = "training cohort's median patient (binary/categorical values rounded)"


@dataclass(frozen=True)
class Attribution:
    features: list[str]
    values: np.ndarray  # (F,) logit contributions
    patient: np.ndarray  # (F,) raw values explained
    baseline: np.ndarray  # (F,) raw baseline values
    logit: float
    base_logit: float
    method: str
    exact: bool
    note: str = ""

    @property
    def residual(self) -> float:
        """logit(x) - logit(b) - sum(contributions): zero for exact methods, small for sampling."""
        return float(self.logit - self.base_logit - self.values.sum())

    def ranked(self) -> list[tuple[str, float]]:
        order = np.argsort(-np.abs(self.values))
        return [(self.features[i], float(self.values[i])) for i in order]


def baseline_patient(model: TabularModel) -> np.ndarray:
    median = model.net.pre.median.detach().cpu().numpy().astype(np.float64)
    return np.array([f.snap(m) for f, m in zip(model.schema.features, median)])


def _logit(model: TabularModel, x: np.ndarray) -> float:
    with torch.inference_mode():
        return float(model.logits(torch.as_tensor(np.atleast_2d(x), dtype=torch.float32))[0])


def shapley(model: TabularModel, x: np.ndarray, baseline: np.ndarray | None = None, n_samples: int = 64,
            seed: int = 0, cancel: CancelToken = NEVER_CANCELLED) -> Attribution:
    """Model-agnostic Shapley values; ``n_samples`` permutations, all evaluated in one batch per permutation."""
    x = np.asarray(x, dtype=np.float64)
    baseline = baseline_patient(model) if baseline is None else np.asarray(baseline, dtype=np.float64)
    cancel.raise_if_cancelled()
    inputs = torch.as_tensor(x[None], dtype=torch.float32, device=model.device)
    base = torch.as_tensor(baseline[None], dtype=torch.float32, device=model.device)
    torch.manual_seed(seed)

    def forward(batch: torch.Tensor) -> torch.Tensor:
        cancel.raise_if_cancelled()
        return model.logits(batch)

    with torch.no_grad():
        values = ShapleyValueSampling(forward).attribute(
            inputs, baselines=base, n_samples=n_samples, perturbations_per_eval=len(x) + 1
        )
    return Attribution(
        model.features, values[0].detach().cpu().numpy().astype(np.float64), x, baseline,
        _logit(model, x), _logit(model, baseline), f"Shapley value sampling ({n_samples} permutations)", False,
        f"baseline: {BASELINE_TEXT}",
    )


def _group_sums(model: TabularModel, columns: torch.Tensor) -> np.ndarray:
    values = columns.detach().cpu().numpy().reshape(-1)
    return np.array([values[g].sum() for g in model.net.pre.groups], dtype=np.float64)


def _encoded(model: TabularModel, x: np.ndarray) -> torch.Tensor:
    with torch.inference_mode():
        return model.net.pre(torch.as_tensor(np.atleast_2d(x), dtype=torch.float32, device=model.device))


def nam_feature_contributions(model: TabularModel, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return _group_sums(model, model.net.body.contributions(_encoded(model, x)))


def exact(model: TabularModel, x: np.ndarray, baseline: np.ndarray | None = None) -> Attribution:
    """Exact contributions for additive models (NAM and Lasso)."""
    x = np.asarray(x, dtype=np.float64)
    baseline = baseline_patient(model) if baseline is None else np.asarray(baseline, dtype=np.float64)
    if model.architecture == "nam":
        values = nam_feature_contributions(model, x) - nam_feature_contributions(model, baseline)
        method = "NAM shape functions (exact)"
    elif model.architecture == "lasso":
        weight = model.net.body.weight.detach()[0]
        values = _group_sums(model, weight * (_encoded(model, x)[0] - _encoded(model, baseline)[0]))
        method = "Lasso weights (exact)"
    else:
        raise ValueError(f"{model.architecture} is not additive; use shapley()")
    return Attribution(model.features, values, x, baseline, _logit(model, x), _logit(model, baseline), method, True,
                       f"baseline: {BASELINE_TEXT}")


def explain(model: TabularModel, x: np.ndarray, n_samples: int = 64, cancel: CancelToken = NEVER_CANCELLED) -> Attribution:
    if model.architecture in ("nam", "lasso"):
        return exact(model, x)
    return shapley(model, x, n_samples=n_samples, cancel=cancel)


@dataclass(frozen=True)
class ShapeFunction:
    feature: str
    grid: np.ndarray  # raw values (category indices for categorical)
    contribution: np.ndarray  # logit contribution, centred on the baseline value
    categorical: bool


def nam_shape(model: TabularModel, feature: str, points: int = 120) -> ShapeFunction:
    """f_j over the feature's clinical range (or its levels), all other features irrelevant by additivity."""
    if model.architecture != "nam":
        raise ValueError("shape functions exist only for the NAM")
    j = model.schema.index(feature)
    spec = model.schema.features[j]
    if spec.kind in (Kind.CATEGORICAL, Kind.BINARY):
        grid = np.arange(spec.n_levels, dtype=np.float64)
    else:
        grid = np.linspace(spec.min, spec.max, points)
    base = baseline_patient(model)
    X = np.repeat(base[None], len(grid), axis=0)
    X[:, j] = grid
    with torch.inference_mode():
        columns = model.net.body.contributions(_encoded(model, X)).cpu().numpy()
    values = columns[:, model.net.pre.groups[j]].sum(axis=1)
    base_value = nam_feature_contributions(model, base)[j]
    return ShapeFunction(feature, grid, values - base_value, spec.kind in (Kind.CATEGORICAL, Kind.BINARY))


@dataclass(frozen=True)
class LassoWeight:
    feature: str
    per_unit: float  # change in logit per one clinical unit at the patient's value (or per level vs the first)
    unit: str
    note: str


def lasso_weights(model: TabularModel, x: np.ndarray | None = None) -> list[LassoWeight]:
    """Coefficients in clinical units. For log-transformed features the slope depends on the value, so it is
    given at the patient's value (d logit / d x = w / (sd * (1 + x)))."""
    if model.architecture != "lasso":
        raise ValueError("weights exist only for the Lasso")
    pre = model.net.pre
    weight = model.net.body.weight.detach().cpu().numpy()[0]
    x = baseline_patient(model) if x is None else np.asarray(x, dtype=np.float64)
    out = []
    for j, spec in enumerate(model.schema.features):
        cols = pre.groups[j]
        if len(cols) > 1:
            levels = ", ".join(f"{c}: {weight[k] - weight[cols[0]]:+.3f}" for c, k in zip(spec.categories, cols))
            level = 0 if np.isnan(x[j]) else int(round(x[j]))
            out.append(LassoWeight(spec.name, float(weight[cols[level]] - weight[cols[0]]), "",
                                   f"per level vs {spec.categories[0]}: {levels}"))
            continue
        slope = weight[cols[0]] / float(pre.std[j])
        note = "per unit"
        if float(pre.use_log[j]) > 0:
            slope /= 1.0 + max(float(x[j]), 0.0)
            note = f"per unit at {spec.format(x[j])} (log scale)"
        out.append(LassoWeight(spec.name, float(slope), spec.unit, note if weight[cols[0]] != 0 else "removed by L1 (weight 0)"))
    return out
