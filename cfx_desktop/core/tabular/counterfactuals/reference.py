"""A reference cohort (training patients) with the model's predictions cached.

Neighbour methods and the plausibility metrics need real patients; on a fresh install without data there is no
reference, and those methods say so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cfx_desktop.core.tabular.models.base import TabularModel


@dataclass
class Reference:
    X: np.ndarray
    probability: np.ndarray
    threshold: float
    source: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, model: TabularModel, X: np.ndarray, source: str = "") -> Reference:
        X = np.asarray(X, dtype=np.float64)
        return cls(X, model.predict_proba(X), model.threshold, source)

    def predicted(self, cls_: int) -> np.ndarray:
        """Rows the model predicts as class ``cls_``."""
        return self.X[(self.probability >= self.threshold) == bool(cls_)]


class NoReferenceError(ValueError):
    """A method that needs reference patients was called without any."""
