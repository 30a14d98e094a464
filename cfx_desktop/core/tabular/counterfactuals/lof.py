"""Local outlier factor in novelty mode, for the plausibility check of every suggestion.

The semantics are scikit-learn's ``LocalOutlierFactor(n_neighbors=k, novelty=True)`` (Breunig et al. 2000):
reachability distances to the k nearest reference patients, local reachability density, and "outlier" when the
score falls below -1.5 (``contamination="auto"``). Why not sklearn's class: importing ``sklearn.neighbors``
imports scikit-learn's base (pandas, scipy.stats), ~2 s on the 2-core test machine, and this check runs before
the first suggestion is shown; for the few hundred reference patients a dense distance matrix is exact and fast.
`tests/test_lof.py` checks scores and verdicts against scikit-learn's on random and real data.
"""

from __future__ import annotations

import numpy as np

OFFSET = -1.5  # scikit-learn's offset_ for contamination="auto"


def _distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=2), 0.0))


class NoveltyLOF:
    def __init__(self, n_neighbors: int = 20) -> None:
        self.n_neighbors = n_neighbors

    def fit(self, X: np.ndarray) -> "NoveltyLOF":
        X = np.asarray(X, dtype=np.float64)
        self.k = max(1, min(self.n_neighbors, len(X) - 1))
        distances = _distances(X, X)
        np.fill_diagonal(distances, np.inf)  # a training point is not its own neighbour
        order = np.argsort(distances, axis=1, kind="stable")[:, : self.k]
        nearest = np.take_along_axis(distances, order, axis=1)
        self.X = X
        self.k_distance = nearest[:, -1]
        self.lrd = self._lrd(nearest, order)
        return self

    def _lrd(self, nearest: np.ndarray, order: np.ndarray) -> np.ndarray:
        reach = np.maximum(nearest, self.k_distance[order])
        return 1.0 / (reach.mean(axis=1) + 1e-10)

    def score_samples(self, Y: np.ndarray) -> np.ndarray:
        """Minus the local outlier factor of each row (about -1 inside the cloud, lower outside it)."""
        distances = _distances(np.atleast_2d(np.asarray(Y, dtype=np.float64)), self.X)
        order = np.argsort(distances, axis=1, kind="stable")[:, : self.k]
        nearest = np.take_along_axis(distances, order, axis=1)
        return -(self.lrd[order] / self._lrd(nearest, order)[:, None]).mean(axis=1)

    def predict(self, Y: np.ndarray) -> np.ndarray:
        """-1 for an outlier, 1 otherwise (scikit-learn's convention)."""
        return np.where(self.score_samples(Y) < OFFSET, -1, 1)
