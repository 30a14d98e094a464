"""Adam for the searches that run while the user waits (tabular suggestions, image counterfactuals).

Why not ``torch.optim.Adam``: constructing any torch optimiser imports ``torch._dynamo`` (its methods are wrapped
in ``torch._disable_dynamo``), which took 1.5-2 s on the 2-core test machine, the largest single cost between
the first paint and the first suggestion (issue 15). These searches optimise one tensor with the default
settings, which is a few lines; training keeps ``torch.optim``. `tests/test_adam.py` checks every step against
``torch.optim.Adam``.
"""

from __future__ import annotations

import torch


class Adam:
    """``torch.optim.Adam([param], lr, betas, eps)`` without weight decay or amsgrad: same updates, same API
    subset (``zero_grad``, ``step``)."""

    def __init__(self, param: torch.Tensor, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.param, self.lr, self.eps = param, lr, eps
        self.beta1, self.beta2 = betas
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        self.t = 0

    def zero_grad(self) -> None:
        self.param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        grad = self.param.grad
        if grad is None:
            return
        self.t += 1
        self.m.mul_(self.beta1).add_(grad, alpha=1 - self.beta1)
        self.v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        step_size = self.lr / (1 - self.beta1 ** self.t)
        denominator = (self.v.sqrt() / (1 - self.beta2 ** self.t) ** 0.5).add_(self.eps)
        self.param.addcdiv_(self.m, denominator, value=-step_size)
