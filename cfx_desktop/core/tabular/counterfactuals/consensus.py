"""Consensus search and the robustness of a suggestion.

`ConsensusModel` looks like one model to every search method: its logit is the worst member's distance to that
member's own threshold moved by the margin (the largest for "must fall below", the smallest for "must rise
above"), so a point the search accepts has every member past its threshold by at least the margin. The search
code is unchanged; only what it is asked to satisfy is.
"""

from __future__ import annotations

import numpy as np
import torch

from cfx_desktop.core.tabular.models import TabularModel
from cfx_desktop.core.tabular.models.base import Classifier
from cfx_desktop.core.tabular.schema import Kind

NOISE_DRAWS = 200


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class ConsensusModel(Classifier):
    architecture = "consensus"
    threshold = 0.5

    def __init__(self, members: list[TabularModel], selected: TabularModel, desired: int, margin: float) -> None:
        self.members, self.selected, self.desired = members, selected, desired
        self.schema, self.card, self.device = selected.schema, selected.card, selected.device
        self.net = selected.net  # its preprocessing scales distances when no card statistics exist
        self.differentiable = all(m.differentiable for m in members)
        self.name = f"consensus of {len(members)} models"
        thresholds = np.array([m.threshold for m in members])
        goals = thresholds - margin if desired == 0 else thresholds + margin
        self._goals = torch.as_tensor(_logit(goals), dtype=torch.float32, device=self.device)[:, None]

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and X.requires_grad:
            return self._worst_with_grad(X)
        distance = torch.stack([m.logits(X) for m in self.members]) - self._goals
        return distance.amax(dim=0) if self.desired == 0 else distance.amin(dim=0)

    def _worst_with_grad(self, X: torch.Tensor) -> torch.Tensor:
        """The same values, differentiable: the gradient of a max reaches only the member that attains it, so each
        row's output is taken from its worst member alone and the backward pass runs through that member's graph
        only (the others' outputs are not part of the result). This saves the gradient search most of its
        backward passes, which were most of its time; the gradient is that of the max."""
        outputs = [m.logits(X) for m in self.members]
        with torch.no_grad():
            distance = torch.stack([o.detach() for o in outputs]) - self._goals
            worst = distance.argmax(dim=0) if self.desired == 0 else distance.argmin(dim=0)
        order, values = [], []
        for member in torch.unique(worst).tolist():
            rows = torch.nonzero(worst == member).reshape(-1)
            order.append(rows)
            values.append(outputs[member][rows] - self._goals[member])
        return torch.cat(values)[torch.argsort(torch.cat(order))]


def measurement_noise(schema, V: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:  # noqa: ANN001
    """``draws`` re-measurements of each row of ``V``: Gaussian noise at each feature's stated precision,
    clipped to the clinical range (features without a precision are exact)."""
    measured = np.array([f.kind in (Kind.INTEGER, Kind.CONTINUOUS) for f in schema.features])
    sd = np.array([f.precision if m else 0.0 for f, m in zip(schema.features, measured)])
    # only measured values are clipped to their clinical range (a category index has no min/max of its own)
    lo = np.where(measured, [f.min for f in schema.features], -np.inf)
    hi = np.where(measured, [f.max for f in schema.features], np.inf)
    V = np.atleast_2d(V)
    noisy = np.repeat(V, draws, axis=0) + rng.normal(size=(len(V) * draws, V.shape[1])) * sd
    return np.where(np.isnan(noisy), noisy, np.clip(noisy, lo, hi))


def robustness(values: np.ndarray, selected: TabularModel, members: list[TabularModel], desired: int,
               seed: int = 0, draws: int = NOISE_DRAWS) -> dict[str, float]:
    """How well a suggestion holds beyond the model that asked for it: members of the set past their own
    threshold, the smallest such margin (negative: some member is not crossed), and the share of re-measured
    copies on which the selected model's prediction falls back."""
    return robustness_of(np.atleast_2d(values), selected, members, desired, seed, draws)[0]


def robustness_of(V: np.ndarray, selected: TabularModel, members: list[TabularModel], desired: int,
                  seed: int = 0, draws: int = NOISE_DRAWS) -> list[dict[str, float]]:
    """`robustness` of each row of ``V``, with one call per member for all rows (the live path's k options);
    each row's noise is drawn as `robustness` draws it alone, so a row's figures do not depend on its company."""
    V = np.atleast_2d(V)
    P = np.array([m.predict_proba(V) for m in members]).reshape(len(members), len(V))
    thresholds = np.array([m.threshold for m in members])[:, None]
    margins = thresholds - P if desired == 0 else P - thresholds
    crossed = margins > 0 if desired == 0 else margins >= 0
    noisy = np.concatenate([measurement_noise(selected.schema, v, draws, np.random.default_rng(seed)) for v in V])
    p = selected.predict_proba(noisy).reshape(len(V), draws)
    invalid = p >= selected.threshold if desired == 0 else p < selected.threshold
    return [{"members_crossed": int(crossed[:, i].sum()), "members_total": len(members),
             "min_margin": float(margins[:, i].min()) if len(members) else float("nan"),
             "invalidation_rate": float(invalid[i].mean())} for i in range(len(V))]
