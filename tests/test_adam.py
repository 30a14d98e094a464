"""The searches' own Adam makes the same steps as torch.optim.Adam (it exists only to avoid importing dynamo)."""

from __future__ import annotations

import torch

from cfx_desktop.core.adam import Adam


def _run(make, steps: int = 60) -> torch.Tensor:
    torch.manual_seed(0)
    target = torch.randn(4, 7)
    x = torch.zeros(4, 7, requires_grad=True)
    optimiser = make(x)
    for _ in range(steps):
        loss = ((x - target) ** 2 * torch.linspace(0.1, 3.0, 7)).sum() + x.abs().sum() * 0.1
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return x.detach()


def test_matches_torch_adam_step_for_step() -> None:
    for lr in (0.01, 0.3):
        ours = _run(lambda p: Adam(p, lr=lr))
        theirs = _run(lambda p: torch.optim.Adam([p], lr=lr))
        assert torch.allclose(ours, theirs, atol=1e-6), (lr, (ours - theirs).abs().max())
        assert ours.abs().sum() > 0  # it moved


def test_a_missing_gradient_is_no_step() -> None:
    x = torch.ones(3, requires_grad=True)
    optimiser = Adam(x, lr=0.5)
    optimiser.step()
    assert torch.equal(x.detach(), torch.ones(3)) and optimiser.t == 0
