"""Binary-classification metrics used for every model card and comparison table (tabular and imaging)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

METRIC_NAMES = ("roc_auc", "pr_auc", "balanced_accuracy", "f1", "mcc", "brier", "accuracy")


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    pred = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": float(skm.roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, p)) if both else float("nan"),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "mcc": float(skm.matthews_corrcoef(y, pred)),
        "brier": float(skm.brier_score_loss(y, p)),
        "accuracy": float(skm.accuracy_score(y, pred)),
    }


def choose_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold that maximises balanced accuracy (Youden's J) on the given (validation) predictions.

    Candidates are midpoints between sorted distinct scores; ties go to the candidate closest to 0.5, which keeps
    a class-weighted model's natural threshold when the data cannot tell the candidates apart.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    if len(np.unique(y)) < 2:
        return 0.5
    values = np.unique(p)
    candidates = np.concatenate([[0.5], (values[:-1] + values[1:]) / 2]) if len(values) > 1 else np.array([0.5])
    best, best_score = 0.5, -np.inf
    for t in candidates:
        pred = p >= t
        score = pred[y == 1].mean() + (~pred[y == 0]).mean()
        if score > best_score + 1e-12 or (abs(score - best_score) <= 1e-12 and abs(t - 0.5) < abs(best - 0.5)):
            best, best_score = float(t), score
    return best


def summarise(folds: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation of each metric over CV folds."""
    out: dict[str, dict[str, float]] = {}
    for name in folds[0]:
        values = np.array([f[name] for f in folds], dtype=np.float64)
        out[name] = {"mean": float(np.nanmean(values)), "sd": float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0}
    return out


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 5) -> dict[str, object]:
    """Calibration: Brier score, a reliability curve (equal-width bins: mean predicted vs observed rate, with
    counts) and the expected calibration error. Five bins because the validation splits are small (60 rows for
    heart failure): more bins would be mostly empty."""
    y = np.asarray(y).astype(float)
    p = np.asarray(p, dtype=np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    curve, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if not inside.any():
            continue
        mean_p, observed = float(p[inside].mean()), float(y[inside].mean())
        curve.append({"from": float(edges[b]), "to": float(edges[b + 1]), "mean_predicted": mean_p, "observed": observed,
                      "count": int(inside.sum())})
        ece += inside.mean() * abs(mean_p - observed)
    return {"brier": float(np.mean((p - y) ** 2)), "ece": float(ece), "curve": curve}
