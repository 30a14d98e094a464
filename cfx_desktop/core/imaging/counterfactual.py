"""Local counterfactual images (after "Local Counterfactuals for Chest X-Ray Images using Saliency Map Guidance").

1. Mask: the saliency map for the class being flipped (Grad-CAM by default), smoothed, thresholded at a fraction
   of its maximum and dilated; a slightly blurred copy blends the edit into its surroundings.
2. Search: start from the autoencoder's encoding of the image (pooling indices fixed) and optimise the latent with
   Adam on  w_cls * hinge(logit beyond the threshold with a margin)
          + w_out * mean(((1 - M) * (x' - x_rec))^2) + w_in * mean((M * (x' - x_rec))^2),
   where x' is the decoded image. The classifier judges the *composed* image (decoded inside the mask, original
   outside), so what is shown is what flipped. Stops as soon as the class flips; reports every step.
3. Output: composed at the model's resolution and, for display, at the original resolution as the original plus
   the upsampled change, so pixels outside the mask are the original's, untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging import saliency
from cfx_desktop.core.imaging.autoencoder import SegNetAE
from cfx_desktop.core.imaging.models import ImageModel
from cfx_desktop.core.imaging.preprocess import crop_box, resize_square
from cfx_desktop.core.imaging.sanity import ssim


@dataclass(frozen=True)
class MaskSettings:
    method: str | None = None  # a registered saliency method; None: the registry's default
    threshold: float = 0.35  # fraction of the map's maximum
    dilation: int = 3  # pixels at the model's resolution
    smooth_sigma: float = 1.5  # smoothing of the saliency map before thresholding
    feather_sigma: float = 1.0  # blur of the binary mask used to blend the edit


@dataclass(frozen=True)
class SearchSettings:
    steps: int = 200
    lr: float = 0.1
    weight_cls: float = 1e3
    weight_out: float = 1e5
    weight_in: float = 1.0
    margin: float = 0.05  # probability beyond the threshold
    frame_every: int = 2


@dataclass
class ImageCounterfactual:
    original: np.ndarray  # (S, S) model-resolution input in [0, 1]
    counterfactual: np.ndarray  # (S, S) composed result
    difference: np.ndarray  # (S, S) counterfactual - original
    mask: np.ndarray  # (S, S) soft mask in [0, 1]
    mask_binary: np.ndarray  # (S, S) bool
    full_original: np.ndarray  # (H, W) the loaded image
    full_counterfactual: np.ndarray  # (H, W)
    full_difference: np.ndarray  # (H, W)
    probability_path: list[float]
    frames: list[np.ndarray]
    source: str
    target: str
    metrics: dict[str, Any] = field(default_factory=dict)


def make_mask(model: ImageModel, pixels: np.ndarray, source: str, settings: MaskSettings = MaskSettings(),
              cancel: CancelToken = NEVER_CANCELLED) -> tuple[np.ndarray, np.ndarray]:
    """(soft, binary) masks at the model's resolution, from the saliency of the class to be flipped."""
    result = saliency.saliency_map(model, pixels, settings.method, target=source, quick=True, cancel=cancel)
    values = np.clip(result.model_values, 0, None).astype(np.float64)
    if settings.smooth_sigma > 0:
        values = ndimage.gaussian_filter(values, settings.smooth_sigma)
    top = values.max()
    if top <= 0:  # no positive evidence: fall back to the whole lung field (the central 60%)
        binary = np.zeros_like(values, dtype=bool)
        s = values.shape[0]
        binary[int(0.2 * s) : int(0.8 * s), int(0.2 * s) : int(0.8 * s)] = True
    else:
        binary = values >= settings.threshold * top
    if settings.dilation > 0:
        binary = ndimage.binary_dilation(binary, iterations=settings.dilation)
    soft = ndimage.gaussian_filter(binary.astype(np.float64), settings.feather_sigma) if settings.feather_sigma > 0 else binary.astype(float)
    soft[soft < 0.01] = 0.0  # a hard edge to the feathering: outside the support the image is the original, exactly
    return np.clip(soft, 0, 1).astype(np.float32), binary


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def generate(
    model: ImageModel, autoencoder: SegNetAE, pixels: np.ndarray, target: str | None = None,
    search: SearchSettings = SearchSettings(), mask_settings: MaskSettings = MaskSettings(),
    progress=no_progress, cancel: CancelToken = NEVER_CANCELLED,  # noqa: ANN001
) -> ImageCounterfactual:
    start = time.perf_counter()
    device = model.device
    size = model.input_size
    x = resize_square(pixels, size).to(device)  # (1, 1, S, S) in [0, 1]
    with model.lock, torch.inference_mode():
        p0 = float(torch.sigmoid(model.logits((x - model.mean) / model.std))[0])
    source = model.label(p0)
    target = target or model.labels[1 - model.labels.index(source)]
    if target == source:
        raise ValueError(f"the image is already classified as {target}; choose the other class")
    soft, binary = make_mask(model, pixels, source, mask_settings, cancel)
    m = torch.as_tensor(soft, device=device)[None, None]
    want_normal = target == model.labels[0]
    goal = _logit(model.threshold - search.margin) if want_normal else _logit(model.threshold + search.margin)

    with torch.no_grad():
        z0, indices, sizes = autoencoder.encode(x)
        x_rec = autoencoder.decode(z0, indices, sizes)
    z = z0.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=search.lr)
    path, frames = [p0], [x[0, 0].cpu().numpy().copy()]
    composed = x
    flipped = False
    steps_taken = 0
    with model.lock, torch.enable_grad():
        for step in range(1, search.steps + 1):
            cancel.raise_if_cancelled()
            decoded = autoencoder.decode(z, indices, sizes)
            composed = m * decoded + (1 - m) * x
            logit = model.net((composed - model.mean) / model.std)[0]
            cls = torch.relu(logit - goal) if want_normal else torch.relu(goal - logit)
            out_term = ((1 - m) * (decoded - x_rec)).pow(2).mean()
            in_term = (m * (decoded - x_rec)).pow(2).mean()
            loss = search.weight_cls * cls + search.weight_out * out_term + search.weight_in * in_term
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            steps_taken = step
            p = float(torch.sigmoid(logit.detach()))
            path.append(p)
            flipped = p <= model.threshold - search.margin if want_normal else p >= model.threshold + search.margin
            frame = None
            if step % search.frame_every == 0 or flipped:
                frame = composed.detach()[0, 0].cpu().numpy().copy()
                frames.append(frame)
            progress(step / search.steps, f"step {step}: p(pneumonia) = {p:.3f}", {"step": step, "probability": p, "frame": frame})
            if flipped:
                break
    with model.lock, torch.inference_mode():
        decoded = autoencoder.decode(z.detach(), indices, sizes)
        composed = m * decoded + (1 - m) * x
        final_p = float(torch.sigmoid(model.logits((composed - model.mean) / model.std))[0])
    flipped = final_p < model.threshold if want_normal else final_p >= model.threshold
    original = x[0, 0].cpu().numpy()
    cf = composed[0, 0].cpu().numpy()
    raw = decoded[0, 0].cpu().numpy()
    diff = cf - original
    full_cf, full_diff = _full_resolution(pixels, diff)
    change = np.abs(diff)
    raw_change = np.abs(raw - original)
    metrics = {
        "flipped": bool(flipped),
        "initial_probability": p0,
        "final_probability": final_p,
        "inside_mask_fraction": float(change[binary].sum() / max(change.sum(), 1e-12)),
        "decoded_inside_mask_fraction": float(raw_change[binary].sum() / max(raw_change.sum(), 1e-12)),
        "mask_area": float(binary.mean()),
        "ssim": ssim(original, cf),
        "l1": float(change.mean()),
        "steps": steps_taken,
        "seconds": time.perf_counter() - start,
    }
    return ImageCounterfactual(original, cf, diff, soft, binary, pixels, full_cf, full_diff, path, frames, source, target, metrics)


def _full_resolution(pixels: np.ndarray, diff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Original image plus the change upsampled into the crop: untouched pixels stay exactly the original's."""
    height, width = pixels.shape
    box = crop_box(height, width)
    up = F.interpolate(torch.as_tensor(diff)[None, None], size=(box.side, box.side), mode="bilinear", align_corners=False)[0, 0].numpy()
    full_diff = np.zeros_like(pixels, dtype=np.float32)
    full_diff[box.top : box.top + box.side, box.left : box.left + box.side] = up
    full_diff[np.abs(full_diff) < 1e-6] = 0.0
    full_cf = np.clip(pixels + full_diff, 0, 1).astype(np.float32)
    return full_cf, (full_cf - pixels).astype(np.float32)
