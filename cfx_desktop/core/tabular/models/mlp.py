"""The seed's ANN: 64-32-dropout(0.5)-16-1, kept as the reference architecture."""

from __future__ import annotations

from torch import nn

from cfx_desktop.core.tabular.models.base import Hyper
from cfx_desktop.core.tabular.models.registry import TabularArchitecture, register


def mlp_body(width: int, hidden: tuple[int, int, int] = (64, 32, 16), dropout: float = 0.5) -> nn.Module:
    h1, h2, h3 = hidden
    return nn.Sequential(
        nn.Linear(width, h1), nn.ReLU(),
        nn.Linear(h1, h2), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(h2, h3), nn.ReLU(),
        nn.Linear(h3, 1),
    )


register(TabularArchitecture(
    key="mlp", label="MLP", ui_label="MLP", body=mlp_body,
    args={"hidden": [64, 32, 16], "dropout": 0.5},
    hyper=Hyper(lr=1e-3, weight_decay=1e-4, epochs=400, patience=40),
))
