"""Neural Additive Model (Agarwal et al. 2021): one small network per encoded column, logits summed.

The per-column networks are evaluated together with batched weights (einsum) instead of a Python loop over
features, so a NAM costs about as much as a small MLP. Additivity makes its per-feature contributions exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cfx_desktop.core.tabular.models.base import Hyper, TabularModel
from cfx_desktop.core.tabular.models.registry import TabularArchitecture, register
from cfx_desktop.core.tabular.schema import Kind


class NAMBody(nn.Module):
    def __init__(self, width: int, hidden: tuple[int, int] = (32, 16), feature_dropout: float = 0.05) -> None:
        super().__init__()
        h1, h2 = hidden
        self.w1 = nn.Parameter(torch.randn(width, h1) * 1.0)
        self.b1 = nn.Parameter(torch.randn(width, h1) * 0.5)
        self.w2 = nn.Parameter(torch.randn(width, h1, h2) / math.sqrt(h1))
        self.b2 = nn.Parameter(torch.zeros(width, h2))
        self.w3 = nn.Parameter(torch.randn(width, h2) / math.sqrt(h2))
        self.bias = nn.Parameter(torch.zeros(1))
        self.feature_dropout = nn.Dropout(feature_dropout)

    def contributions(self, encoded: torch.Tensor) -> torch.Tensor:
        """(N, D) encoded values -> (N, D) additive logit contributions, one per column."""
        h = torch.relu(encoded.unsqueeze(-1) * self.w1 + self.b1)  # (N, D, h1)
        h = torch.relu(torch.einsum("ndi,dij->ndj", h, self.w2) + self.b2)  # (N, D, h2)
        return torch.einsum("ndj,dj->nd", h, self.w3)

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        return self.feature_dropout(self.contributions(encoded)).sum(dim=1, keepdim=True) + self.bias


def feature_contributions(model: TabularModel, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model.group_sums(model.net.body.contributions(model.encode(x)))


def exact_contributions(model: TabularModel, x: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """f_j(x_j) - f_j(b_j): exact by additivity."""
    return feature_contributions(model, x) - feature_contributions(model, baseline)


@dataclass(frozen=True)
class ShapeFunction:
    feature: str
    grid: np.ndarray  # raw values (category indices for categorical)
    contribution: np.ndarray  # logit contribution, centred on the baseline value
    categorical: bool


def shape_function(model: TabularModel, feature: str, points: int = 120) -> ShapeFunction:
    """f_j over the feature's clinical range (or its levels), all other features irrelevant by additivity."""
    if model.architecture != "nam":
        raise ValueError("shape functions exist only for the NAM")
    j = model.schema.index(feature)
    spec = model.schema.features[j]
    if spec.kind in (Kind.CATEGORICAL, Kind.BINARY):
        grid = np.arange(spec.n_levels, dtype=np.float64)
    else:
        grid = np.linspace(spec.min, spec.max, points)
    base = model.baseline()
    X = np.repeat(base[None], len(grid), axis=0)
    X[:, j] = grid
    with torch.inference_mode():
        columns = model.net.body.contributions(model.encode(X)).cpu().numpy()
    values = columns[:, model.net.pre.groups[j]].sum(axis=1)
    base_value = feature_contributions(model, base)[j]
    return ShapeFunction(feature, grid, values - base_value, spec.kind in (Kind.CATEGORICAL, Kind.BINARY))


def _side_view(model: TabularModel, x: np.ndarray, feature: str | None) -> ShapeFunction:
    """The chosen feature's shape function, else that of the feature with the largest contribution."""
    if feature not in model.schema.names:
        contributions = exact_contributions(model, x, model.baseline())
        feature = model.schema.names[int(np.argmax(np.abs(contributions)))]
    return shape_function(model, feature)


register(TabularArchitecture(
    key="nam", label="NAM", ui_label="NAM (additive)", body=NAMBody,
    args={"hidden": [32, 16], "feature_dropout": 0.05},
    hyper=Hyper(lr=3e-3, weight_decay=1e-5, epochs=300, patience=30, output_penalty=1e-3),
    exact_attribution=exact_contributions, exact_label="NAM shape functions (exact)", side_view=_side_view,
))
