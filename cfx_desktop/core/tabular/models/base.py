"""Shared pieces of every patient model: preprocessing inside the model, and the `TabularModel` wrapper.

Preprocessing lives in the network (as buffers) so callers always pass raw clinical values, the saved state
dict is self-contained, and gradients flow from the prediction back to clinical units, which the
counterfactual search needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from cfx_desktop.core.device import prepare_for_inference
from cfx_desktop.core.tabular.schema import Kind, Schema

SKEW_FOR_LOG = 2.0


@dataclass(frozen=True)
class Hyper:
    """Training hyper-parameters of a torch-trained architecture (recorded in every card)."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 400
    patience: int = 40
    batch_size: int = 64
    output_penalty: float = 0.0


class Preprocessor(nn.Module):
    """Raw (N, F) values -> encoded (N, D): median imputation, log1p for heavy-tailed features, z-scores,
    one-hot for categorical features. ``groups[j]`` lists the encoded columns of feature j."""

    def __init__(self, schema: Schema) -> None:
        super().__init__()
        n = len(schema.features)
        self.levels = [f.n_levels if f.kind == Kind.CATEGORICAL else 0 for f in schema.features]
        self.register_buffer("median", torch.zeros(n))
        self.register_buffer("use_log", torch.zeros(n))
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))
        self.groups: list[list[int]] = []
        col = 0
        for levels in self.levels:
            width = levels or 1
            self.groups.append(list(range(col, col + width)))
            col += width
        self.width = col

    def fit(self, X: np.ndarray) -> Preprocessor:
        X = np.asarray(X, dtype=np.float64)
        median = np.nanmedian(X, axis=0)
        filled = np.where(np.isnan(X), median, X)
        use_log = np.zeros(X.shape[1])
        for j, levels in enumerate(self.levels):
            column = filled[:, j]
            if levels == 0 and column.min() >= 0 and len(np.unique(column)) > 2:
                centred = column - column.mean()
                skew = (centred**3).mean() / (column.std() ** 3 + 1e-12)
                use_log[j] = float(skew > SKEW_FOR_LOG)
        transformed = np.where(use_log > 0, np.log1p(np.maximum(filled, 0)), filled)
        self.median.copy_(torch.as_tensor(median, dtype=torch.float32))
        self.use_log.copy_(torch.as_tensor(use_log, dtype=torch.float32))
        self.mean.copy_(torch.as_tensor(transformed.mean(0), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.maximum(transformed.std(0), 1e-6), dtype=torch.float32))
        return self

    def scaled(self, X: torch.Tensor) -> torch.Tensor:
        """Imputed, log-transformed and standardised numeric values, (N, F); categorical columns unused."""
        X = torch.where(torch.isnan(X), self.median.expand_as(X), X)
        logged = torch.log1p(torch.clamp(X, min=0))
        X = torch.where(self.use_log > 0, logged, X)
        return (X - self.mean) / self.std

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        scaled = self.scaled(X)
        if not any(self.levels):  # all numeric: no per-feature work (the counterfactual search's hot path)
            return scaled
        filled = torch.where(torch.isnan(X), self.median.expand_as(X), X)
        parts = []
        for j, levels in enumerate(self.levels):
            if levels:
                index = filled[:, j].round().long().clamp(0, levels - 1)
                parts.append(nn.functional.one_hot(index, levels).to(X.dtype))
            else:
                parts.append(scaled[:, j : j + 1])
        return torch.cat(parts, dim=1)


class TabularNet(nn.Module):
    """Preprocessor + body; ``forward`` maps raw values to one logit per patient."""

    def __init__(self, schema: Schema, body: nn.Module) -> None:
        super().__init__()
        self.pre = Preprocessor(schema)
        self.body = body

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.body(self.pre(X)).reshape(-1)


class Classifier:
    """The numpy side of anything with ``logits(tensor)`` and ``threshold`` (a model, or a consensus of models)."""

    threshold: float

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        with torch.inference_mode():
            return torch.sigmoid(self.logits(torch.from_numpy(X))).cpu().numpy().astype(np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X) >= self.threshold).astype(np.int64)


@dataclass
class TabularModel:
    """A trained patient model ready for inference, explanation and counterfactual search.

    ``logits`` is differentiable with respect to the raw clinical inputs; ``predict_proba`` is the numpy path.
    Instances are shared read-only between worker threads (parameters have ``requires_grad=False``).
    """

    name: str
    architecture: str
    schema: Schema
    net: TabularNet
    threshold: float = 0.5
    card: dict[str, Any] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    differentiable: bool = True

    def __post_init__(self) -> None:
        prepare_for_inference(self.net, self.device)

    @property
    def features(self) -> list[str]:
        return self.schema.names

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X.to(self.device, torch.float32))

    predict_proba = Classifier.predict_proba
    predict = Classifier.predict

    def logit(self, x: np.ndarray) -> float:
        with torch.inference_mode():
            return float(self.logits(torch.as_tensor(np.atleast_2d(x), dtype=torch.float32))[0])

    def encode(self, x: np.ndarray) -> torch.Tensor:
        """Raw values -> the preprocessed columns the body reads."""
        with torch.inference_mode():
            return self.net.pre(torch.as_tensor(np.atleast_2d(x), dtype=torch.float32, device=self.device))

    def group_sums(self, columns: torch.Tensor) -> np.ndarray:
        """Per-column values (e.g. contributions) summed back to one value per clinical feature."""
        values = columns.detach().cpu().numpy().reshape(-1)
        return np.array([values[g].sum() for g in self.net.pre.groups], dtype=np.float64)

    def baseline(self) -> np.ndarray:
        """The training cohort's median patient (binary and categorical values rounded), read from the model's
        own preprocessing so it always matches the data the model saw."""
        median = self.net.pre.median.detach().cpu().numpy().astype(np.float64)
        return np.array([f.snap(m) for f, m in zip(self.schema.features, median)])

    @property
    def threshold_logit(self) -> float:
        t = min(max(self.threshold, 1e-6), 1 - 1e-6)
        return float(np.log(t / (1 - t)))
