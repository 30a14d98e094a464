"""Saliency maps for one image: Integrated Gradients, Grad-CAM and occlusion (captum), all returning a float map
the size of the input image plus the class they explain.

Speed choices (targets: Grad-CAM <= 50 ms, IG <= 0.5 s on CPU): maps are computed at the model's input size
(128 px for the shipped model) with gradients taken for the input only (parameters frozen); IG uses Gauss-Legendre
quadrature (more accurate per step than the Riemann rule) in batches of 10 (faster than one batch of 50 on a
small CPU cache) and reports captum's convergence delta; occlusion
evaluates its windows in batches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion
from torch import nn

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging.models import ImageModel
from cfx_desktop.core.imaging.preprocess import to_map_space

METHODS = ("gradcam", "ig", "occlusion")
METHOD_LABELS = {"gradcam": "Grad-CAM", "ig": "Integrated Gradients", "occlusion": "Occlusion"}


@dataclass
class SaliencyMap:
    values: np.ndarray  # (H, W) over the original image; zero outside the square crop the model saw
    model_values: np.ndarray  # (S, S) at the model's input resolution
    method: str
    target: str  # the class explained, in words
    probability: float  # p(pneumonia)
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def positive(self) -> np.ndarray:
        """Evidence for the explained class only, scaled to [0, 1] (what overlays show)."""
        v = np.clip(self.values, 0, None)
        top = float(v.max())
        return v / top if top > 0 else v


class _Signed(nn.Module):
    """The classifier's logit, negated when explaining 'normal', so every method explains the chosen class."""

    def __init__(self, net: nn.Module, sign: float) -> None:
        super().__init__()
        self.net, self.sign = net, sign

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sign * self.net(x)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))


def baseline_for(model: ImageModel, x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "black":
        return torch.full_like(x, (0.0 - model.mean) / model.std)
    if kind == "blurred":
        return gaussian_blur(x, sigma=model.input_size / 16)
    raise ValueError(f"unknown baseline {kind!r}: black or blurred")


def explain(
    model: ImageModel, pixels: np.ndarray, method: str = "gradcam", target: str | None = None, *,
    n_steps: int = 50, internal_batch_size: int = 10, baseline: str = "black", window: int = 16, stride: int = 8,
    progress=no_progress, cancel: CancelToken = NEVER_CANCELLED,  # noqa: ANN001
) -> SaliencyMap:
    """Saliency of ``method`` for ``target`` ('pneumonia' / 'normal'; default: the predicted class)."""
    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose from {', '.join(METHODS)}")
    start = time.perf_counter()
    x = model.tensor(pixels)
    with model.lock:
        with torch.inference_mode():
            probability = float(torch.sigmoid(model.logits(x))[0])
        target = target or model.label(probability)
        if target not in model.labels:
            raise ValueError(f"target must be one of {model.labels}")
        forward = _Signed(model.net, 1.0 if target == model.labels[1] else -1.0)
        cancel.raise_if_cancelled()
        params: dict[str, Any] = {}
        if method == "gradcam":
            attribution = LayerGradCam(forward, model.cam_layer).attribute(x, relu_attributions=True)
            attribution = LayerAttribution.interpolate(attribution, x.shape[-2:], interpolate_mode="bilinear")
            params["layer"] = "last conv block"
        elif method == "ig":
            base = baseline_for(model, x, baseline)
            ig = IntegratedGradients(forward)
            attribution, delta = ig.attribute(x, baselines=base, n_steps=n_steps, internal_batch_size=internal_batch_size,
                                              method="gausslegendre", return_convergence_delta=True)
            params.update(n_steps=n_steps, internal_batch_size=internal_batch_size, baseline=baseline,
                          convergence_delta=float(delta.abs().max()))
        else:
            occlusion = Occlusion(forward)
            attribution = occlusion.attribute(x, sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
                                              baselines=0.0, perturbations_per_eval=64)
            params.update(window=window, stride=stride, occluder="image mean (0 after normalisation)")
    cancel.raise_if_cancelled()
    model_values = attribution.detach()[0, 0].cpu().numpy().astype(np.float32)
    height, width = pixels.shape
    values = to_map_space(model_values, height, width)
    progress(1.0, f"{METHOD_LABELS[method]} done")
    return SaliencyMap(values, model_values, method, target, probability, time.perf_counter() - start, params)
