"""L1-regularised logistic regression ("Lasso"): fit by scikit-learn, served as a torch linear layer.

scikit-learn chooses the penalty (C) by inner cross-validation; the fitted coefficients are copied into a
`nn.Linear` on the same preprocessing so the Lasso shares the loader, the differentiable counterfactual path
and the safe weights format with the neural models.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def lasso_body(width: int) -> nn.Module:
    return nn.Linear(width, 1)


def set_linear(layer: nn.Linear, coef: np.ndarray, intercept: float) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(np.asarray(coef, dtype=np.float32).reshape(1, -1)))
        layer.bias.fill_(float(intercept))
