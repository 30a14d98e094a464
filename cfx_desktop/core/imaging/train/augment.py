"""Acquisition shift: the ways a radiograph from another hospital, device or export path differs from the training
images, as families with one strength knob each (0 = none, 1 = the strongest we train on).

One definition serves two purposes, so what is trained on and what is measured cannot drift apart:
training draws a random subset of families at random strengths (`random_shift`), and the stress set applies each
family alone at three fixed strengths (`STRESS_STRENGTHS`) to the validation split. All functions work on
(N, 1, S, S) tensors in [0, 1] pixel space, before normalisation, and take a `torch.Generator` for repeatability.

The magnitudes are what acquisition plausibly varies, not what would flatter a metric: exposure +-30 %, gamma
0.6-1.6, contrast +-35 %, rotation +-10 deg with scale +-10 % and translation +-8 %, crops down to 80 % of the side,
noise up to sigma 0.06, blur up to sigma 1.5 px at 128 px, JPEG down to quality 20.
"""

from __future__ import annotations

import io
import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Shift = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]
STRESS_STRENGTHS = (1 / 3, 2 / 3, 1.0)


def _signs(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0).view(n, 1, 1, 1)


def exposure(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Over- or under-exposure: a global gain of 1 +- 0.3 * strength."""
    return (x * (1 + 0.3 * strength * _signs(len(x), generator))).clamp(0, 1)


def contrast_gamma(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """A different display curve: gamma exp(+-0.47 strength) (0.63-1.6), then contrast about the image mean x(1 +- 0.35 strength)."""
    n = len(x)
    gamma = torch.exp(0.47 * strength * _signs(n, generator))
    y = x.clamp_min(1e-4) ** gamma
    mean = y.mean(dim=(2, 3), keepdim=True)
    return ((y - mean) * (1 + 0.35 * strength * _signs(n, generator)) + mean).clamp(0, 1)


def geometry(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Patient positioning: rotation +-10 deg, scale +-10 % and translation +-8 % (reflection at the borders)."""
    n = len(x)
    angle = math.radians(10) * strength * _signs(n, generator).view(n)
    scale = 1 + 0.1 * strength * _signs(n, generator).view(n)
    shift = 0.16 * strength * (torch.rand(n, 2, generator=generator) - 0.5) * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def crop(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Collimation and cropping: a random square of (1 - 0.2 strength) of the side, resized back."""
    n, _, h, w = x.shape
    side = max(8, int(round(h * (1 - 0.2 * strength))))
    out = torch.empty_like(x)
    for i in range(n):
        top = int(torch.randint(0, h - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - side + 1, (1,), generator=generator))
        out[i] = F.interpolate(x[i : i + 1, :, top : top + side, left : left + side], size=(h, w), mode="bilinear", align_corners=False)[0]
    return out


def noise(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Quantum and detector noise: Gaussian, sigma 0.06 * strength."""
    return (x + 0.06 * strength * torch.randn(x.shape, generator=generator, dtype=x.dtype)).clamp(0, 1)


def blur(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Softer detector or resampling: Gaussian blur, sigma 1.5 * strength pixels at the model's size."""
    sigma = 1.5 * strength
    if sigma < 0.05:
        return x
    return gaussian_blur(x, sigma)


def jpeg(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Lossy export: JPEG re-encoding at quality 95 - 75 strength (20 at full strength)."""
    quality = int(round(95 - 75 * strength))
    out = torch.empty_like(x)
    arrays = (x[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    for i, array in enumerate(arrays):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
        out[i, 0] = torch.from_numpy(np.asarray(Image.open(buffer), dtype=np.float32) / 255.0)
    return out


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflection at the borders (x: (N, 1, H, W))."""
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))


FAMILIES: dict[str, Shift] = {
    "exposure": exposure, "contrast_gamma": contrast_gamma, "geometry": geometry, "crop": crop,
    "noise": noise, "blur": blur, "jpeg": jpeg,
}


def random_shift(x: torch.Tensor, generator: torch.Generator, probability: float = 0.5) -> torch.Tensor:
    """Training augmentation: each family, in a random order, with ``probability`` at a strength drawn uniformly
    in [0, 1]; drawn per chunk of 16 images, so one batch mixes several shifts without a per-image loop."""
    names = list(FAMILIES)
    chunks = []
    for chunk in x.split(16):
        for index in torch.randperm(len(names), generator=generator).tolist():
            if float(torch.rand(1, generator=generator)) < probability:
                chunk = FAMILIES[names[index]](chunk, float(torch.rand(1, generator=generator)), generator)
        chunks.append(chunk)
    return torch.cat(chunks)
