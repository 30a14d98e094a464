"""L1-regularised logistic regression ("Lasso"): fit by scikit-learn, served as a torch linear layer.

scikit-learn chooses the penalty (C) by inner cross-validation; the fitted coefficients are copied into a
`nn.Linear` on the same preprocessing so the Lasso shares the loader, the differentiable counterfactual path
and the safe weights format with the neural models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cfx_desktop.core.tabular.models.base import TabularModel, TabularNet
from cfx_desktop.core.tabular.models.registry import TabularArchitecture, register


def lasso_body(width: int) -> nn.Module:
    return nn.Linear(width, 1)


def set_linear(layer: nn.Linear, coef: np.ndarray, intercept: float) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(np.asarray(coef, dtype=np.float32).reshape(1, -1)))
        layer.bias.fill_(float(intercept))


def fit(net: TabularNet, X: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Any]:
    """C by inner cross-validation (ROC AUC), class-weighted; the coefficients go into the linear layer."""
    with torch.inference_mode():
        encoded = net.pre(torch.as_tensor(X, dtype=torch.float32)).numpy()
    folds = min(5, int(np.bincount(y).min()))
    from sklearn.linear_model import LogisticRegressionCV  # fitting only: loading a shipped model needs no sklearn

    search = LogisticRegressionCV(
        Cs=np.logspace(-2.5, 1, 15), l1_ratios=(1.0,), solver="liblinear", class_weight="balanced",
        scoring="roc_auc", cv=max(folds, 2), random_state=seed, max_iter=2000, use_legacy_attributes=False,
    ).fit(encoded, y)
    coef = np.asarray(search.coef_).reshape(-1)
    intercept = float(np.asarray(search.intercept_).reshape(-1)[0])
    set_linear(net.body, coef, intercept)
    return {"C": float(np.asarray(search.C_).reshape(-1)[0]), "nonzero": int((coef != 0).sum())}


def exact_contributions(model: TabularModel, x: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """w_j * (enc(x)_j - enc(b)_j), summed over a feature's encoded columns."""
    weight = model.net.body.weight.detach()[0]
    return model.group_sums(weight * (model.encode(x)[0] - model.encode(baseline)[0]))


@dataclass(frozen=True)
class LassoWeight:
    feature: str
    per_unit: float  # change in logit per one clinical unit at the patient's value (or per level vs the first)
    unit: str
    note: str


def weights(model: TabularModel, x: np.ndarray | None = None) -> list[LassoWeight]:
    """Coefficients in clinical units. For log-transformed features the slope depends on the value, so it is
    given at the patient's value (d logit / d x = w / (sd * (1 + x)))."""
    if model.architecture != "lasso":
        raise ValueError("weights exist only for the Lasso")
    pre = model.net.pre
    weight = model.net.body.weight.detach().cpu().numpy()[0]
    x = model.baseline() if x is None else np.asarray(x, dtype=np.float64)
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


register(TabularArchitecture(
    key="lasso", label="Lasso", ui_label="Lasso (L1 logistic)", body=lasso_body, args={"penalty": "l1"},
    fit=fit, class_weighting="class_weight=balanced; C by 5-fold inner CV (ROC AUC)",
    exact_attribution=exact_contributions, exact_label="Lasso weights (exact)",
    side_view=lambda model, x, _feature: weights(model, x),
))
