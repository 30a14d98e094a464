"""Image counterfactual searches: how the autoencoder's latent code moves from the film's own code z0 until the
classifier reads the composed image as the target class. One registry (`IMAGE_SEARCHES`), one decorator
(`register_search`), as for the other extension points: adding a search is one module with one function.

A search receives a `SearchProblem` (everything `counterfactual.generate` prepared: the code, the mask, the goal
and the shared step recorder) and returns the final code and the number of steps it took; `generate` composes,
scores and reports the result the same way for every search, so a new search is judged like the built-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from cfx_desktop.core.adam import Adam
from cfx_desktop.core.cancel import CancelToken
from cfx_desktop.core.imaging.counterfactual.latent_bank import LatentBank, clearly
from cfx_desktop.core.imaging.models.classifier import ImageModel
from cfx_desktop.core.registry import Registry


@dataclass(frozen=True)
class SearchSettings:
    method: str = "adam"  # a key of IMAGE_SEARCHES
    steps: int = 200  # Adam steps, or line-search points for latent-shift
    lr: float = 0.1
    weight_cls: float = 1e3
    weight_out: float = 1e5
    weight_in: float = 1.0
    weight_prior: float = 0.0  # Gaussian latent prior: mean(z^2)
    margin: float = 0.05  # probability beyond the threshold (when target_probability is None)
    target_probability: float | None = None  # drive the source class's probability to at most this
    compose: str = "paste"
    shift_start: float = 0.05  # latent-shift: first step, in RMS latent units
    shift_growth: float = 1.2
    frame_every: int = 2
    neighbours: int = 8  # data-supported: real films of the target class whose mean code is the destination
    interpolation_step: float = 0.05  # data-supported: step along z0 -> destination (1 = the destination itself)
    region: str = "saliency"  # a key of REGIONS: where the edit may go
    destination_probability: float | None = None  # data-supported: only real films whose reconstruction the model
    # reads as the target class, the source class's probability at most this (`latent_bank.clearly`)
    opacity_rule: bool = False  # delta: an edit toward the negative class may only darken the film, toward the
    # positive class only brighten it (for a model whose positive class is an opacity, as pneumonia is)

    def goal(self, threshold: float, want_negative: bool) -> float:
        """The positive class's probability to reach (at most, toward the negative class; at least, toward the
        positive one)."""
        if self.target_probability is None:
            return threshold - self.margin if want_negative else threshold + self.margin
        if want_negative:
            return min(self.target_probability, threshold - self.margin)
        return max(1.0 - self.target_probability, threshold + self.margin)


@dataclass
class SearchProblem:
    model: ImageModel
    autoencoder: nn.Module
    settings: SearchSettings
    x: torch.Tensor  # (1, 1, S, S) the film at the model's resolution, in [0, 1]
    mask: torch.Tensor  # (1, 1, S, S) soft edit region
    z0: torch.Tensor
    context: Any  # the autoencoder's decoding context (pooling indices, or None)
    x_rec: torch.Tensor  # D(z0)
    target: str
    want_negative: bool  # the target is the model's first (negative) class
    goal_logit: float
    bank: LatentBank | None
    compose: Callable[[torch.Tensor], torch.Tensor]  # decoded -> the image the classifier judges
    reached: Callable[[float], bool]
    record: Callable[[int, torch.Tensor, float, bool], None]  # (step, composed, p, done): path, frames, progress
    cancel: CancelToken

    def logit(self, composed: torch.Tensor) -> torch.Tensor:
        return self.model.net((composed - self.model.mean) / self.model.std)[0]

    def walk(self, point: Callable[[int], torch.Tensor]) -> tuple[torch.Tensor, int]:
        """Decode ``point(step)`` for step 1, 2, ... until the goal is reached or the steps run out."""
        z_at, step = self.z0, 0
        with torch.no_grad():
            for step in range(1, self.settings.steps + 1):
                self.cancel.raise_if_cancelled()
                z_at = point(step)
                composed = self.compose(self.autoencoder.decode_latent(z_at, self.context))
                p = float(torch.sigmoid(self.logit(composed)))
                self.record(step, composed, p, self.reached(p))
                if self.reached(p):
                    break
        return z_at, step


Search = Callable[[SearchProblem], tuple[torch.Tensor, int]]


@dataclass(frozen=True)
class ImageSearch:
    key: str
    label: str
    run: Search
    needs_bank: bool = False  # needs the autoencoder's latent bank of real films
    description: str = ""


IMAGE_SEARCHES: Registry[ImageSearch] = Registry("image counterfactual search", default="adam")


def register_search(key: str, label: str, *, needs_bank: bool = False) -> Callable[[Search], Search]:
    """Function decorator: the function becomes a counterfactual search under ``key`` (its docstring's first line
    is the description the CLI's help shows)."""
    def decorate(run: Search) -> Search:
        description = (run.__doc__ or "").strip().split("\n")[0]
        IMAGE_SEARCHES.register(key, ImageSearch(key, label, run, needs_bank, description))
        return run
    return decorate


@register_search("adam", "Latent optimisation (Adam)")
def adam(problem: SearchProblem) -> tuple[torch.Tensor, int]:
    """Optimise the code on the classifier's hinge plus reconstruction terms inside and outside the mask."""
    s, m = problem.settings, problem.mask
    z = problem.z0.clone().requires_grad_(True)
    optimiser = Adam(z, lr=s.lr)
    steps_taken = 0
    for step in range(1, s.steps + 1):
        problem.cancel.raise_if_cancelled()
        decoded = problem.autoencoder.decode_latent(z, problem.context)
        composed = problem.compose(decoded)
        logit = problem.logit(composed)
        goal = problem.goal_logit
        cls = torch.relu(logit - goal) if problem.want_negative else torch.relu(goal - logit)
        out_term = ((1 - m) * (decoded - problem.x_rec)).pow(2).mean()
        in_term = (m * (decoded - problem.x_rec)).pow(2).mean()
        loss = s.weight_cls * cls + s.weight_out * out_term + s.weight_in * in_term
        if s.weight_prior:
            loss = loss + s.weight_prior * z.pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps_taken = step
        p = float(torch.sigmoid(logit.detach()))
        problem.record(step, composed, p, problem.reached(p))
        if problem.reached(p):
            break
    return z.detach(), steps_taken


@register_search("latent-shift", "Latent Shift (Cohen et al. 2021)")
def latent_shift(problem: SearchProblem) -> tuple[torch.Tensor, int]:
    """Along the classifier's gradient at the film's own code, in geometrically growing steps."""
    s, z0 = problem.settings, problem.z0
    z = z0.clone().requires_grad_(True)
    logit = problem.logit(problem.compose(problem.autoencoder.decode_latent(z, problem.context)))
    (gradient,) = torch.autograd.grad(logit, z)
    direction = gradient / gradient.norm().clamp_min(1e-12) * (gradient.numel() ** 0.5)  # RMS 1 per latent unit
    sign = -1.0 if problem.want_negative else 1.0
    return problem.walk(lambda step: z0 + sign * s.shift_start * s.shift_growth ** (step - 1) * direction)


@register_search("data-supported", "Toward real films of the target class", needs_bank=True)
def data_supported(problem: SearchProblem) -> tuple[torch.Tensor, int]:
    """Toward the mean code of the nearest real training films of the target class, in equal steps."""
    s, z0, model, bank = problem.settings, problem.z0, problem.model, problem.bank
    assert bank is not None  # generate() checks needs_bank first
    target_index = model.labels.index(problem.target)
    allowed = None
    if s.destination_probability is not None:
        allowed = clearly(bank, target_index, model, problem.autoencoder, s.destination_probability)
    destination = bank.neighbours(z0, target_index, s.neighbours, allowed)
    return problem.walk(lambda step: z0 + step * s.interpolation_step * (destination - z0))
