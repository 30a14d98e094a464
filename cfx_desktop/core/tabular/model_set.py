"""Model sets: every architecture of a dataset variant, each as a small bootstrap ensemble (the base model plus
members ``-m1`` ... trained by ``train-tabular --members N``).

Why: one network's prediction a hair past its threshold describes that network, not the patient (predictive
multiplicity; Marx et al. 2020, Pawelczyk et al. 2020). The set gives the prediction a spread and an agreement
count, and lets a suggestion be required to hold for every member (`counterfactuals.consensus`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cfx_desktop.core import bundles

if TYPE_CHECKING:  # the models import torch; this module is read by the session before torch loads
    from cfx_desktop.core.tabular.models import TabularModel

DEFAULT_MEMBERS = 5  # per architecture: the full set, 4 architectures x 5 = 20 models (spread, agreement, robustness)
CONSENSUS_MEMBERS = 1  # per architecture in the consensus search by default: the 4 base models. Chosen by
# `benchmarks/recourse_robustness.py`: on held-out models it does about as well as 8 or 20 (share crossed 0.91-0.92
# vs 0.92-0.95), with the single model's coverage, fewer changes and a tenth of the time
MARGIN_FLOOR = 0.05


def member_names(variant: str, architectures: list[str] | None = None, per_architecture: int = DEFAULT_MEMBERS,
                 root: Path | None = None) -> list[str]:
    """Installed bundle names of the set, base models first within each architecture."""
    from cfx_desktop.core.tabular.models import ARCHITECTURES

    installed = set(bundles.list_bundles(root))
    names = []
    for arch in architectures or ARCHITECTURES.keys():
        base = f"{variant}-{arch}"
        names += [n for n in [base] + [f"{base}-m{k}" for k in range(1, per_architecture)] if n in installed]
    return names


@dataclass
class ModelSet:
    variant: str
    members: list[TabularModel]
    refused: list[str] = field(default_factory=list)  # bundles that failed their hash check: left out, named

    def __len__(self) -> int:
        return len(self.members)

    @property
    def thresholds(self) -> np.ndarray:
        return np.array([m.threshold for m in self.members])

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """(members, patients) probabilities."""
        X = np.atleast_2d(X)
        return np.stack([m.predict_proba(X) for m in self.members]) if self.members else np.zeros((0, len(X)))

    def votes(self, X: np.ndarray) -> np.ndarray:
        """Per patient, how many members predict the event (each at its own threshold)."""
        return (self.probabilities(X) >= self.thresholds[:, None]).sum(axis=0)


def load_model_set(variant: str, architectures: list[str] | None = None, per_architecture: int = DEFAULT_MEMBERS,
                   root: Path | None = None) -> ModelSet:
    from cfx_desktop.core.tabular.models import load_model

    members, refused = [], []
    for name in member_names(variant, architectures, per_architecture, root):
        try:
            members.append(load_model(name, root=root))
        except bundles.BundleError as exc:
            refused.append(f"{name}: {exc}")
    return ModelSet(variant, members, refused)


def default_margin(variant: str, root: Path | None = None) -> float:
    """The consensus margin, chosen on validation data: the largest 95th-percentile probability shift that
    measurement noise causes in any member (from the cards), and at least 0.05; rounded up to 0.01."""
    shifts = []
    for name in member_names(variant, root=root):
        try:
            shifts.append(float(bundles.read_card(name, root).get("noise_sensitivity", {}).get("p95", 0.0)))
        except bundles.BundleError:
            continue
    return float(np.ceil(max([MARGIN_FLOOR, *shifts]) * 100) / 100)
