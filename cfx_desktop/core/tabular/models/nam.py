"""Neural Additive Model (Agarwal et al. 2021): one small network per encoded column, logits summed.

The per-column networks are evaluated together with batched weights (einsum) instead of a Python loop over
features, so a NAM costs about as much as a small MLP. Additivity makes its per-feature contributions exact.
"""

from __future__ import annotations

import math

import torch
from torch import nn


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
