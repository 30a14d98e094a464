"""The seed's bidirectional-LSTM idea: read the patient's encoded features as a short sequence.

Each step of the sequence is (standardised value, learned embedding of which column it is), so the LSTM knows what it reads;
without the embedding the sequence would be a bag of anonymous numbers. Sized small (hidden 24) because there
are at most a few hundred training patients.
"""

from __future__ import annotations

import torch
from torch import nn

from cfx_desktop.core.tabular.models.base import Hyper
from cfx_desktop.core.tabular.models.registry import TabularArchitecture, register


class BiLSTMBody(nn.Module):
    def __init__(self, width: int, embed: int = 8, hidden: int = 24, dropout: float = 0.2) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(width, embed) * 0.1)
        self.lstm = nn.LSTM(embed + 1, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(4 * hidden, 1)

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        n, width = encoded.shape
        sequence = torch.cat([encoded.unsqueeze(-1), self.embedding.expand(n, width, -1)], dim=-1)
        out, _ = self.lstm(sequence)
        summary = torch.cat([out.mean(dim=1), out.max(dim=1).values], dim=1)
        return self.head(self.dropout(summary))


register(TabularArchitecture(
    key="bilstm", label="BiLSTM", ui_label="BiLSTM", body=BiLSTMBody,
    args={"embed": 8, "hidden": 24, "bidirectional": True, "pooling": "mean+max"},
    hyper=Hyper(lr=3e-3, weight_decay=1e-4, epochs=200, patience=25),
))
