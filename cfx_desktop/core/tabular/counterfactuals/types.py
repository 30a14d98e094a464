"""What every counterfactual method returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cfx_desktop.core.tabular.schema import in_sentence


@dataclass(frozen=True)
class Change:
    feature: str
    label: str
    unit: str
    before: Any  # clinical value (code for categorical)
    after: Any
    delta: float | None  # numeric difference; None for categorical
    finding: bool = False  # a yes/no finding (0/1): worded "with ..." / "without ...", never "lower anaemia 1 -> 0"

    def describe(self) -> str:
        if self.finding:
            return f"{'with' if self.after else 'without'} {in_sentence(self.label)}"
        if self.delta is None or isinstance(self.before, str):
            return f"{self.label}: {self.before} -> {self.after}"
        unit = f" {self.unit}" if self.unit else ""  # no verb: the same words serve recourse and risk what-ifs
        return f"{in_sentence(self.label)} {self.before} -> {self.after}{unit}"


@dataclass
class Counterfactual:
    values: np.ndarray  # the full counterfactual patient, schema order
    probability: float
    changes: list[Change]
    method: str
    metrics: dict[str, float] = field(default_factory=dict)
    robustness: dict[str, float] = field(default_factory=dict)  # against a model set: members crossed, margin, noise
    # (q, n) when found by the second tier: q of the n consensus models (the selected one among them) are moved,
    # not all n; None for a suggestion every consensus model agrees on, or a single-model search
    quorum: tuple[int, int] | None = None
    # True when found by the last tier: nothing clears the thresholds by the required margin, so this one only
    # reaches them (the quorum's, or every member's); a re-measurement may turn it back
    without_margin: bool = False

    @property
    def l0(self) -> int:
        return len(self.changes)

    def summary(self, outcome: str) -> str:
        what = " and ".join(c.describe() for c in self.changes) or "no change"
        return f"{what}: the predicted outcome flips to {outcome} (p = {self.probability:.2f})"


class CounterfactualList(list):
    """A list of counterfactuals plus ``reason``: why it is empty (which constraint blocks), and ``note``: what the
    reader should know about a non-empty one (fewer distinct options than asked for)."""

    def __init__(self, items=(), reason: str | None = None, seconds: float = 0.0, note: str | None = None) -> None:  # noqa: ANN001
        super().__init__(items)
        self.reason = reason
        self.seconds = seconds
        self.note = note  # e.g. fewer distinct options than asked for, and why

    @property
    def quorum(self) -> tuple[int, int] | None:
        """(q, n) when the list came from the partial-agreement tier (one search: every item shares it), else None."""
        return self[0].quorum if self else None

    @property
    def without_margin(self) -> bool:
        """True when the list came from the last tier: no suggestion clears the thresholds by the margin."""
        return bool(self) and self[0].without_margin

    @property
    def distinct_sets(self) -> int:
        """How many different sets of changed features the options use."""
        return len({frozenset(c.feature for c in cf.changes) for cf in self})
