"""Consensus search and the robustness of a suggestion.

`ConsensusModel` looks like one model to every search method: its logit is the worst member's distance to that
member's own threshold moved by the margin (the largest for "must fall below", the smallest for "must rise
above"), so a point the search accepts has every member past its threshold by at least the margin. The search
code is unchanged; only what it is asked to satisfy is.

With a ``quorum`` of q members it is the q-th best member's distance instead of the worst (an order statistic), and
never better than the selected model's own: a point it accepts moves the selected model and at least q - 1 others.
That is the second tier the engine falls back to when no point moves every member (see `partial_quorum`).
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

    def __init__(self, members: list[TabularModel], selected: TabularModel, desired: int, margin: float,
                 quorum: int | None = None) -> None:
        self.members, self.selected, self.desired = members, selected, desired
        self.quorum = None if quorum is None or quorum >= len(members) else max(1, quorum)
        self._selected = next((i for i, m in enumerate(members) if m is selected), None)
        if self.quorum is not None and self._selected is None:
            raise ValueError("a quorum needs the selected model among the members: it must always be moved")
        self.schema, self.card, self.device = selected.schema, selected.card, selected.device
        self.net = selected.net  # its preprocessing scales distances when no card statistics exist
        self.differentiable = all(m.differentiable for m in members)
        self.name = (f"consensus of {len(members)} models" if self.quorum is None
                     else f"{self.quorum} of {len(members)} models")
        thresholds = np.array([m.threshold for m in members])
        goals = thresholds - margin if desired == 0 else thresholds + margin
        self._goals = torch.as_tensor(_logit(goals), dtype=torch.float32, device=self.device)[:, None]

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        outputs = [m.logits(X) for m in self.members]
        with torch.no_grad():
            distance = torch.stack([o.detach() for o in outputs]) - self._goals
            chosen = self._attaining(distance)
        if not (torch.is_grad_enabled() and X.requires_grad):
            return distance.gather(0, chosen[None])[0]
        return self._through_attaining(outputs, chosen)

    def _attaining(self, distance: torch.Tensor) -> torch.Tensor:
        """Per row (``distance`` is members x rows), the member whose distance is the result: the worst one; with a
        quorum, the q-th best one, or the selected model when it is further from its goal."""
        if self.quorum is None:
            return distance.argmax(dim=0) if self.desired == 0 else distance.argmin(dim=0)
        own = distance[self._selected]
        if self.desired == 0:  # must fall below: the q-th smallest distance must be <= 0
            kth = distance.kthvalue(self.quorum, dim=0)
            return torch.where(own >= kth.values, self._selected, kth.indices)
        kth = (-distance).kthvalue(self.quorum, dim=0)  # the q-th largest, negated
        return torch.where(own <= -kth.values, self._selected, kth.indices)

    def _through_attaining(self, outputs: list[torch.Tensor], chosen: torch.Tensor) -> torch.Tensor:
        """The same values, differentiable: the gradient of a max (or of an order statistic) reaches only the
        member that attains it, so each row's output is taken from that member alone and the backward pass runs
        through its graph only (the others' outputs are not part of the result). This saves the gradient search
        most of its backward passes, which were most of its time; the gradient is that of the max."""
        order, values = [], []
        for member in torch.unique(chosen).tolist():
            rows = torch.nonzero(chosen == member).reshape(-1)
            order.append(rows)
            values.append(outputs[member][rows] - self._goals[member])
        return torch.cat(values)[torch.argsort(torch.cat(order))]


def partial_quorum(members: int) -> int | None:
    """How many of ``members`` consensus models the second tier asks to move: three quarters, rounded up, and at
    least two (the selected model and one other); None when that is every member (no second tier exists).
    Three of four is the default set's; a majority alone was judged too weak to show as a suggestion."""
    q = max(2, -(-3 * members // 4))
    return q if q < members else None


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
