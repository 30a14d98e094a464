"""Acquisition shift: the families a validation protocol holds out, test-time augmentation, and the threshold rule
that must hold across shifts.

Why: a validation split drawn from the training distribution (the same clinics, the same export) hid the failure a
radiologist sees first, healthy children's films from another acquisition called pneumonia. Kermany's training
folder holds two acquisition families per class, told apart by file name (normal studies ``IM-...`` and
``NORMAL2-IM-...``; pneumonia ``..._bacteria_...`` and ``..._virus_...``), so a model can be trained without one
family and judged on it (`benchmarks/shift_validation.py`). File names tell only two families per class, so the protocol also holds out
clusters of the films' own acquisition statistics (exposure, contrast, sharpness, border), whatever their names
say (`acquisition_statistics`, `statistics_clusters`). What that protocol chose lives here, so the app, the CLI and
the benchmark apply the same rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

FAMILY_NAMES = {
    "normal-IM": "normal studies named IM-... (first acquisition family)",
    "normal-NORMAL2": "normal studies named NORMAL2-IM-... (second acquisition family)",
    "pneumonia-bacterial": "pneumonia films named person..._bacteria_...",
    "pneumonia-viral": "pneumonia films named person..._virus_...",
}

# Each fold holds out one family of each class: the model never sees that acquisition during training or threshold choice.
FOLDS: dict[str, tuple[str, str]] = {
    "hold out NORMAL2 + viral": ("normal-NORMAL2", "pneumonia-viral"),
    "hold out IM + bacterial": ("normal-IM", "pneumonia-bacterial"),
}


# ----- image-statistics clusters ---------------------------------------------------------------------------------
STATISTICS = ("mean", "spread", "5th percentile", "median", "95th percentile", "high-frequency energy / spread",
              "border band minus centre")
CLUSTERS = 3  # fixed before any fold was run: exposure below, near and above the typical film
BORDER = 0.08  # share of the side that counts as the border band


def acquisition_statistics(square: np.ndarray) -> np.ndarray:
    """Seven numbers that an acquisition (exposure, detector, processing, collimation) moves more than a patient
    does: brightness (mean and three percentiles), contrast (spread), sharpness and noise (mean absolute Laplacian
    relative to the spread) and how the border band differs from the centre. ``square`` is one film as the model
    reads it (a square in [0, 1]), so every film is measured at the same scale."""
    from scipy import ndimage

    a = np.asarray(square, dtype=np.float64)
    side = a.shape[0]
    b = max(1, int(round(BORDER * side)))
    band = np.concatenate([a[:b].ravel(), a[-b:].ravel(), a[b:-b, :b].ravel(), a[b:-b, -b:].ravel()])
    q = side // 4
    spread = float(a.std())
    p5, p50, p95 = np.percentile(a, [5, 50, 95])
    return np.array([a.mean(), spread, p5, p50, p95, np.abs(ndimage.laplace(a)).mean() / (spread + 1e-6),
                     band.mean() - a[q:-q, q:-q].mean()])


def statistics_clusters(statistics: np.ndarray, patients: Sequence[str], k: int = CLUSTERS, seed: int = 0) -> np.ndarray:
    """A cluster per film, each patient's films kept together (k-means of scikit-learn on the standardised mean
    statistics of each patient's films), so a held-out cluster holds whole patients, as the validation split does.
    Clusters are ordered by their mean brightness (0: darkest), so a fold's name means the same on every run."""
    from sklearn.cluster import KMeans

    statistics = np.asarray(statistics, dtype=np.float64)
    ids, index = np.unique(np.asarray(patients), return_inverse=True)
    per_patient = np.stack([statistics[index == i].mean(axis=0) for i in range(len(ids))])
    z = (per_patient - per_patient.mean(axis=0)) / np.maximum(per_patient.std(axis=0), 1e-12)
    found = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
    brightness = [per_patient[found == c, 0].mean() for c in range(k)]
    rank = np.argsort(np.argsort(brightness))
    return rank[found][index]


def cluster_family(cluster: int, label: int) -> str:
    """The family name a statistics-cluster fold holds out ('normal-cluster0', 'pneumonia-cluster0', ...)."""
    return f"{'pneumonia' if label else 'normal'}-cluster{cluster}"


def family(filename: str, label: int) -> str:
    """The acquisition family of a Kermany training file ('other' for names that follow neither pattern)."""
    if label == 0:
        if filename.startswith("NORMAL2-"):
            return "normal-NORMAL2"
        return "normal-IM" if re.match(r"^IM-\d+", filename) else "other"
    if "_virus" in filename:
        return "pneumonia-viral"
    return "pneumonia-bacterial" if "_bacteria" in filename else "other"


# ----- test-time augmentation ---------------------------------------------------------------------------------
def _zoom(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Centre crop to ``1/factor`` of the side, resized back: a film collimated a little tighter."""
    size = x.shape[-1]
    keep = int(round(size / factor))
    start = (size - keep) // 2
    crop = x[..., start : start + keep, start : start + keep]
    return F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)


def _gamma(x: torch.Tensor, gamma: float) -> torch.Tensor:
    return x.clamp(0, 1) ** gamma


# Views that keep anatomy and laterality (no flips): the exposure and collimation that differ between acquisitions.
TTA_VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "zoom 1.08": lambda x: _zoom(x, 1.08),
    "gamma 0.8": lambda x: _gamma(x, 0.8),
    "gamma 1.25": lambda x: _gamma(x, 1.25),
}


def tta_views(x: torch.Tensor) -> torch.Tensor:
    """(V * N, 1, S, S): every view of every image in [0, 1] pixel space, view-major."""
    return torch.cat([view(x) for view in TTA_VIEWS.values()])


def mean_over_views(p: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean probability, per-view probabilities (V, N)) from `tta_views`' view-major output."""
    views = np.asarray(p).reshape(len(TTA_VIEWS), n)
    return views.mean(axis=0), views


# ----- threshold rules ------------------------------------------------------------------------------------------
def balanced_accuracy(y: np.ndarray, p: np.ndarray, threshold: float) -> float:
    y = np.asarray(y).astype(int)
    predicted = np.asarray(p) >= threshold
    return 0.5 * (float(predicted[y == 1].mean()) + float((~predicted[y == 0]).mean()))


def worst_case_threshold(y: np.ndarray, conditions: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """(threshold, its worst balanced accuracy): the threshold whose lowest balanced accuracy over ``conditions``
    (the same validation films, clean and under each acquisition shift) is highest. Ties go to the candidate nearest
    the clean rule's middle ground, 0.5. A threshold that is only right for clean films is what the shifted
    acquisition punished."""
    candidates = np.unique(np.concatenate([np.round(p, 4) for p in conditions.values()] + [np.array([0.5])]))
    candidates = candidates[(candidates > 0.0) & (candidates < 1.0)]
    best, best_score = 0.5, -np.inf
    for t in candidates:
        score = min(balanced_accuracy(y, p, float(t)) for p in conditions.values())
        if score > best_score + 1e-12 or (abs(score - best_score) <= 1e-12 and abs(t - 0.5) < abs(best - 0.5)):
            best, best_score = float(t), score
    return best, float(best_score)


def rates(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float | int | None]:
    """Sensitivity and specificity kept apart (an accuracy over a skewed family hides which class fails)."""
    y = np.asarray(y).astype(int)
    predicted = np.asarray(p) >= threshold
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    return {
        "n": int(len(y)), "positives": positives, "negatives": negatives,
        "sensitivity": float(predicted[y == 1].mean()) if positives else None,
        "specificity": float((~predicted[y == 0]).mean()) if negatives else None,
        "accuracy": float((predicted == (y == 1)).mean()) if len(y) else None,
    }


# ----- selective prediction -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SelectiveRule:
    """When the app answers "uncertain" instead of a label: the model set disagrees (the classifier and the
    independent referee, each at its own threshold), the test-time views disagree (the films' acquisition moves
    the answer across the threshold), or the guard calls the film unusual. Each is a reason a radiologist would
    accept for not trusting one number."""

    referee: bool = True
    views: bool = True
    guard_caution: bool = True

    def reasons(self, label: int, referee_label: int | None, view_labels: Sequence[int] | None,
                guard_level: str | None) -> list[str]:
        why = []
        if self.referee and referee_label is not None and referee_label != label:
            why.append("the independent referee model disagrees")
        if self.views and view_labels is not None and len(set(int(v) for v in view_labels)) > 1:
            why.append("small changes of exposure or framing change the answer")
        if self.guard_caution and guard_level == "caution":
            why.append("the film is unusual for the training data")
        return why


DEFAULT_RULE = SelectiveRule()


def coverage_report(y: np.ndarray, p: np.ndarray, threshold: float, uncertain: np.ndarray) -> dict[str, float | int | None]:
    """Coverage (share of films given a label) and the rates on the covered films only."""
    uncertain = np.asarray(uncertain, dtype=bool)
    covered = ~uncertain
    out: dict[str, float | int | None] = {"coverage": float(covered.mean()) if len(covered) else None,
                                         "uncertain": int(uncertain.sum())}
    covered_rates = rates(np.asarray(y)[covered], np.asarray(p)[covered], threshold)
    out.update({f"covered_{k}": v for k, v in covered_rates.items()})
    return out
