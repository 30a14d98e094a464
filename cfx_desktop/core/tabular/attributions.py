"""Per-feature attributions for one patient, on the logit scale (where contributions add up).

* Any model: Shapley values by captum's `ShapleyValueSampling` against a stated baseline patient.
* Architectures that declare exact contributions (the NAM's shape functions, the Lasso's weights; see each
  architecture's module) use them instead.
Efficiency holds for all: contributions sum to logit(x) - logit(baseline).
The baseline is the training cohort's median patient (binary and categorical values rounded), read from the
model's own preprocessing so it always matches the data the model saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from captum.attr import ShapleyValueSampling

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken
from cfx_desktop.core.tabular.models import ARCHITECTURES, TabularModel

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


def shapley(model: TabularModel, x: np.ndarray, baseline: np.ndarray | None = None, n_samples: int = 64,
            seed: int = 0, cancel: CancelToken = NEVER_CANCELLED) -> Attribution:
    """Model-agnostic Shapley values; ``n_samples`` permutations, all evaluated in one batch per permutation."""
    x = np.asarray(x, dtype=np.float64)
    baseline = model.baseline() if baseline is None else np.asarray(baseline, dtype=np.float64)
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
        model.logit(x), model.logit(baseline), f"Shapley value sampling ({n_samples} permutations)", False,
        f"baseline: {BASELINE_TEXT}",
    )


def exact(model: TabularModel, x: np.ndarray, baseline: np.ndarray | None = None) -> Attribution:
    """Exact contributions for architectures that declare them (additive models: NAM, Lasso)."""
    spec = ARCHITECTURES.get(model.architecture)
    if spec.exact_attribution is None:
        raise ValueError(f"{model.architecture} has no exact attribution; use shapley()")
    x = np.asarray(x, dtype=np.float64)
    baseline = model.baseline() if baseline is None else np.asarray(baseline, dtype=np.float64)
    values = spec.exact_attribution(model, x, baseline)
    return Attribution(model.features, values, x, baseline, model.logit(x), model.logit(baseline),
                       spec.exact_label or f"{spec.label} (exact)", True, f"baseline: {BASELINE_TEXT}")


def attribute(model: TabularModel, x: np.ndarray, n_samples: int = 64, cancel: CancelToken = NEVER_CANCELLED) -> Attribution:
    """Exact contributions where the architecture has them, Shapley value sampling otherwise."""
    if ARCHITECTURES.get(model.architecture).exact_attribution is not None:
        return exact(model, x)
    return shapley(model, x, n_samples=n_samples, cancel=cancel)


def side_view(model: TabularModel, x: np.ndarray, feature: str | None = None) -> Any:
    """The architecture's extra view (NAM shape function, Lasso weights), or None."""
    spec = ARCHITECTURES.get(model.architecture)
    return None if spec.side_view is None else spec.side_view(model, x, feature)
