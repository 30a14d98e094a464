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
