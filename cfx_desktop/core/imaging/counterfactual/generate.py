"""Local counterfactual images (after "Local Counterfactuals for Chest X-Ray Images using Saliency Map Guidance",
and Cohen et al.'s Latent Shift, MIDL 2021).

1. Mask: the saliency map for the class being flipped (Grad-CAM by default), smoothed, thresholded at a fraction
   of its maximum and dilated; a slightly blurred copy blends the edit into its surroundings.
2. Search, from the autoencoder's encoding z0 of the image, with one of the searches registered in
   `core.imaging.searches` (the built-ins below):
   * ``adam``: optimise z on  w_cls * hinge(logit beyond the goal) + w_out * mean(((1 - M) * (D(z) - D(z0)))^2)
     + w_in * mean((M * (D(z) - D(z0)))^2) + w_prior * mean(z^2)  (the last is the latent prior);
   * ``latent-shift``: one gradient g of the classifier's logit through the decoder at z0, then a line search on
     z0 + lambda * g (lambda growing geometrically) until the goal is reached: the edit is a straight move in the
     latent space, with no per-pixel optimisation that could find an adversarial pattern.
   * ``data-supported``: the straight line from z0 toward the mean latent code of the k real training films of the
     target class nearest to z0 (`core.imaging.latent_bank`), walked until the goal is reached: every step is
     toward films that exist, not toward whatever pattern the classifier's gradient prefers. With
     ``destination_probability``, only films whose reconstruction the explained model itself reads as the target
     class are destinations (the autoencoder's blur makes many normal films read as pneumonia).
   The goal is either just past the threshold (``margin``) or well beyond it (``target_probability``: the source
   class's probability driven to at most that value), so the edit is a clear change rather than a hair's breadth.
3. Composition: the classifier judges the *composed* image, so what is shown is what flipped. ``paste``: decoded
   inside the mask, original outside (the first version). ``delta``: original + M * (D(z) - D(z0)), so only the
   latent edit's own change is added and the autoencoder's reconstruction error never enters the picture.
   The edit region (``region``) is the salient region, the estimated lung fields, or the salient region within
   the lungs; ``change_outside_lungs`` reports the share of the change that lies outside the lung fields anyway.
4. Output at the model's resolution and, for display, at the original resolution as the original plus the
   upsampled change. The honest locality figure is ``decoded_inside_mask_fraction``: the share of the decoder's
   own change |D(z) - D(z0)| that falls inside the mask, before any masking.
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
from cfx_desktop.core.imaging.explain import saliency
from cfx_desktop.core.imaging.counterfactual import realism
from cfx_desktop.core.imaging.counterfactual.latent_bank import LatentBank, lung_fields
from cfx_desktop.core.imaging.models.classifier import ImageModel
from cfx_desktop.core.imaging.models.preprocess import crop_box, resize_square
from cfx_desktop.core.imaging.explain.sanity import ssim
from cfx_desktop.core.imaging.counterfactual.searches import IMAGE_SEARCHES, SearchProblem, SearchSettings

__all__ = ["COMPOSITIONS", "REGIONS", "ImageCounterfactual", "MaskSettings", "SearchSettings", "generate", "make_mask"]


@dataclass(frozen=True)
class MaskSettings:
    method: str | None = None  # a registered saliency method; None: the registry's default
    threshold: float = 0.35  # fraction of the map's maximum
    dilation: int = 3  # pixels at the model's resolution
    smooth_sigma: float = 1.5  # smoothing of the saliency map before thresholding
    feather_sigma: float = 1.0  # blur of the binary mask used to blend the edit


COMPOSITIONS = ("paste", "delta")
REGIONS = ("saliency", "lungs", "saliency-in-lungs")


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
    return _feather(binary, settings.feather_sigma), binary


def _feather(binary: np.ndarray, sigma: float) -> np.ndarray:
    soft = ndimage.gaussian_filter(binary.astype(np.float64), sigma) if sigma > 0 else binary.astype(float)
    soft[soft < 0.01] = 0.0  # a hard edge to the feathering: outside the support the image is the original, exactly
    return np.clip(soft, 0, 1).astype(np.float32)


def edit_region(model: ImageModel, pixels: np.ndarray, source: str, region: str, bank: LatentBank | None,
                settings: MaskSettings = MaskSettings(), cancel: CancelToken = NEVER_CANCELLED) -> tuple[np.ndarray, np.ndarray]:
    """(soft, binary) edit region at the model's resolution for one of `REGIONS`."""
    lungs = lung_fields(bank, model.input_size)
    if region == "lungs":
        return _feather(lungs, settings.feather_sigma), lungs
    soft, binary = make_mask(model, pixels, source, settings, cancel)
    if region == "saliency-in-lungs":
        inside = binary & lungs
        binary = inside if inside.sum() >= 0.1 * binary.sum() and inside.any() else lungs
        return _feather(binary, settings.feather_sigma), binary
    return soft, binary


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def generate(
    model: ImageModel, autoencoder: torch.nn.Module, pixels: np.ndarray, target: str | None = None,
    search: SearchSettings = SearchSettings(), mask_settings: MaskSettings = MaskSettings(),
    progress=no_progress, cancel: CancelToken = NEVER_CANCELLED,  # noqa: ANN001
    referee: ImageModel | None = None, bank: LatentBank | None = None,
) -> ImageCounterfactual:
    """A counterfactual for ``model``; with a ``referee`` (an independently trained classifier, never used in the
    search) the metrics also say whether it agrees. ``bank`` (real films' latent codes and the lung prior) is needed
    by the data-supported search and the lung regions."""
    start = time.perf_counter()
    device = model.device
    size = model.input_size
    x = resize_square(pixels, size).to(device)  # (1, 1, S, S) in [0, 1]
    with model.lock, torch.inference_mode():
        p0 = float(torch.sigmoid(model.logits((x - model.mean) / model.std))[0])
    source = model.label(p0)
    target = target or model.labels[1 - model.labels.index(source)]
    if target not in model.labels:
        raise ValueError(f"{target!r} is not a class of this model; its classes: {', '.join(model.labels)}")
    if target == source:
        raise ValueError(f"the image is already classified as {target}; choose the other class")
    if search.compose not in COMPOSITIONS or search.region not in REGIONS:
        raise ValueError(f"composition must be one of {COMPOSITIONS} and region one of {REGIONS}")
    method = IMAGE_SEARCHES.get(search.method)
    if method.needs_bank and bank is None:
        raise ValueError(f"the {search.method} search needs the autoencoder's latent bank (cfx-desktop build-latent-bank)")
    soft, binary = edit_region(model, pixels, source, search.region, bank, mask_settings, cancel)
    m = torch.as_tensor(soft, device=device)[None, None]
    want_normal = target == model.labels[0]
    goal_p = search.goal(model.threshold, want_normal)
    goal = _logit(goal_p)

    with torch.no_grad():
        z0, context = autoencoder.encode_latent(x)
        x_rec = autoencoder.decode_latent(z0, context)

    def compose(decoded: torch.Tensor) -> torch.Tensor:
        if search.compose == "delta":
            change = decoded - x_rec
            if search.opacity_rule:  # clearing an opacity darkens the lung, adding one brightens it; nothing else
                change = change.clamp(max=0.0) if want_normal else change.clamp(min=0.0)
            return (x + m * change).clamp(0, 1)
        return m * decoded + (1 - m) * x

    def reached(p: float) -> bool:
        return p <= goal_p if want_normal else p >= goal_p

    path, frames = [p0], [x[0, 0].cpu().numpy().copy()]

    def record(step: int, composed: torch.Tensor, p: float, done: bool) -> None:
        path.append(p)
        frame = None
        if step % search.frame_every == 0 or done:
            frame = composed.detach()[0, 0].cpu().numpy().copy()
            frames.append(frame)
        progress(step / search.steps, f"step {step}: p({model.labels[1]}) = {p:.3f}", {"step": step, "probability": p, "frame": frame})

    problem = SearchProblem(model, autoencoder, search, x, m, z0, context, x_rec, target, want_normal, goal, bank,
                            compose, reached, record, cancel)
    with model.lock, torch.enable_grad():
        z_final, steps_taken = method.run(problem)
    with model.lock, torch.inference_mode():
        decoded = autoencoder.decode_latent(z_final, context)
        composed = compose(decoded)
        final_p = float(torch.sigmoid(model.logits((composed - model.mean) / model.std))[0])
    flipped = final_p < model.threshold if want_normal else final_p >= model.threshold
    original = x[0, 0].cpu().numpy()
    cf = composed[0, 0].cpu().numpy()
    own_change = np.abs((decoded - x_rec)[0, 0].cpu().numpy())
    diff = cf - original
    full_cf, full_diff = _full_resolution(pixels, diff)
    change = np.abs(diff)
    lungs = lung_fields(bank, size, dilation=0)
    metrics = {
        "flipped": bool(flipped),
        "reached_goal": bool(reached(final_p)),
        "goal_probability": goal_p,
        "initial_probability": p0,
        "positive_label": model.labels[1],
        "final_probability": final_p,
        "inside_mask_fraction": float(change[binary].sum() / max(change.sum(), 1e-12)),
        "decoded_inside_mask_fraction": float(own_change[binary].sum() / max(own_change.sum(), 1e-12)),
        "mask_area": float(binary.mean()),
        "region": search.region,
        "change_outside_lungs": float(change[~lungs].sum() / max(change.sum(), 1e-12)),
        # the share of the change that runs against an opacity's sign (brightening toward normal, darkening toward
        # the finding): the bright rims a walk toward another film's lung outline paints at the lung borders
        "against_opacity_share": float(np.clip(diff if want_normal else -diff, 0, None).sum() / max(change.sum(), 1e-12)),
        "against_opacity": "brightening" if want_normal else "darkening",
        "opacity_rule": bool(search.opacity_rule and search.compose == "delta"),
        "lung_fields": "estimated from the latent bank's prior" if bank is not None else "central box (no latent bank installed)",
        "ssim": ssim(original, cf),
        "l1": float(change.mean()),
        "high_frequency_share": high_frequency_share(diff),
        "steps": steps_taken,
        "method": search.method,
        "compose": search.compose,
        "seconds": time.perf_counter() - start,
    }
    if bank is not None and bank.lung_contrast:  # where its lungs fall among real films of the target class
        metrics.update(realism.judge(original, cf, lungs, bank.lung_contrast[model.labels.index(target)], target, want_normal))
    if referee is not None:
        metrics.update(referee_agreement(model, referee, original, cf, want_normal))
    return ImageCounterfactual(original, cf, diff, soft, binary, pixels, full_cf, full_diff, path, frames, source, target, metrics)


def confirmation(metrics: dict[str, Any]) -> str:
    """'confirmed' only when the edit flips the explained model *and* the independent referee crosses its own
    threshold too; anything else is 'not confirmed' (a best attempt), whatever the explained model says."""
    return "confirmed" if metrics.get("flipped") and metrics.get("referee_flipped") else "not confirmed"


def confirmation_words(metrics: dict[str, Any]) -> str:
    """'confirmed', 'confirmed, with reservations' (a caveat applies: the headline says which) or 'not confirmed',
    for a line or a caption that has no room for the caveats themselves."""
    status = confirmation(metrics)
    return f"{status}, with reservations" if status == "confirmed" and caveats(metrics) else status


def confirmation_sentence(metrics: dict[str, Any]) -> str:
    """The headline a reader sees first: confirmed, or plainly not, with the best attempt shown as such."""
    if confirmation(metrics) == "confirmed":
        return "Confirmed: the independent referee sees the change too" + caveats(metrics)
    if not metrics.get("flipped"):
        return "Not confirmed: no edit within the search flips the model; the best attempt is shown"
    if "referee_flipped" not in metrics:
        return "Not confirmed: no referee is installed to confirm it; the best attempt is shown"
    return "Not confirmed: the independent referee does not see the change; the best attempt is shown"


def verdict_line(metrics: dict[str, Any]) -> str:
    """Whether the explained model's answer flipped, and separately whether the referee's did, in words (UI,
    comparison view, CLI, SR). Each model is named: "agrees" beside "not flipped" read as a contradiction."""
    model = "the explained model flipped" if metrics["flipped"] else "the explained model did not flip"
    if "referee_flipped" not in metrics:
        return f"{model}; no referee installed to confirm it"
    referee = {(True, True): "the referee flipped too", (True, False): "the referee did not",
               (False, True): "the referee did", (False, False): "nor did the referee"}[
        (bool(metrics["flipped"]), bool(metrics["referee_flipped"]))]
    # its own threshold beside its numbers: at 0.13, "0.00 -> 0.16" flipped and "0.91 -> 0.16" did not
    threshold = f", threshold {metrics['referee_threshold']:.2f}" if "referee_threshold" in metrics else ""
    return (f"{model}; {referee} (its p({metrics['positive_label']}) {metrics['referee_initial_probability']:.2f} -> "
            f"{metrics['referee_final_probability']:.2f}{threshold}; moved {metrics['referee_relative_change']:.2f}x as far "
            "as the explained model)")


def convincing(metrics: dict[str, Any]) -> bool:
    """Confirmed, not mostly against an opacity's sign, and with lungs within real films of the target class: what
    the app colours as good (a caveat reads amber)."""
    return confirmation(metrics) == "confirmed" and not caveats(metrics)


def caveats(metrics: dict[str, Any]) -> str:
    """Every reservation a radiologist would add to a confirmed counterfactual, as one clause each (or nothing):
    most of the change against an opacity's sign, lungs beyond what real films of the target class look like."""
    sign = opacity_caveat(metrics)
    return sign + realism.realism_caveat(metrics, "and" if sign else "but")


def opacity_caveat(metrics: dict[str, Any]) -> str:
    """What a radiologist would say of a confirmed counterfactual whose change mostly runs against an opacity's sign:
    the referee agrees, but the edit is not, for the most part, an opacity cleared (or added). Empty otherwise."""
    if metrics.get("against_opacity_share", 0.0) <= 0.5:
        return ""
    what = "cleared" if metrics["against_opacity"] == "brightening" else "added"
    return f", but most of the change is not an opacity {what}"


def opacity_words(metrics: dict[str, Any]) -> str:
    """How much of the change runs against an opacity's sign, in words a radiologist checks: clearing an opacity
    (toward the negative class) only darkens the lung, adding one only brightens it. Empty for older metrics."""
    if "against_opacity_share" not in metrics:
        return ""
    verb, would = (("brightens", "clearing an opacity would only darken") if metrics["against_opacity"] == "brightening"
                   else ("darkens", "adding an opacity would only brighten"))
    rule = "; edits held to an opacity's sign" if metrics.get("opacity_rule") else ""
    return f"{metrics['against_opacity_share']:.0%} of the change {verb} the film ({would}){rule}"


def expert_checks(metrics: dict[str, Any]) -> list[str]:
    """The two checks a radiologist makes of an edit, in words, as far as the metrics hold them: how much of it runs
    against an opacity's sign, and where its lungs fall among real films of the target class."""
    return [words for words in (opacity_words(metrics), realism.realism_words(metrics)) if words]


def comparison_captions(source: str, target: str, metrics: dict[str, Any]) -> tuple[str, str, str]:
    """The three panels of a comparison picture that travels alone (the CLI's PNG, the PACS capture), in words: which
    film, which attempt and whether it was confirmed, and what the colours of the difference mean."""
    p = f"p({metrics['positive_label']})"
    return (f"original ({source}): {p} {metrics['initial_probability']:.2f}",
            f"toward {target}, {confirmation_words(metrics)}: {p} {metrics['final_probability']:.2f}",
            "difference: red brighter, blue darker")


def _logits(model: ImageModel, images: list[np.ndarray]) -> list[float]:
    with model.lock, torch.inference_mode():
        return [float(model.logits(model.tensor(image))[0]) for image in images]


def referee_agreement(model: ImageModel, referee: ImageModel, original: np.ndarray, counterfactual: np.ndarray,
                      want_normal: bool) -> dict[str, Any]:
    """Does an independent classifier see the change too? ``referee_flipped``: it crosses its own threshold toward
    the target; ``referee_relative_change``: its logit's move toward the target over the explained model's (1 = it
    moves as much; 0 = not at all; negative = the other way)."""
    sign = -1.0 if want_normal else 1.0
    r0, r1 = _logits(referee, [original, counterfactual])
    m0, m1 = _logits(model, [original, counterfactual])
    p1 = 1.0 / (1.0 + np.exp(-r1))
    moved = sign * (m1 - m0)
    return {
        "referee": referee.name,
        "referee_initial_probability": float(1.0 / (1.0 + np.exp(-r0))),
        "referee_final_probability": float(p1),
        "referee_flipped": bool(p1 < referee.threshold if want_normal else p1 >= referee.threshold),
        "referee_threshold": float(referee.threshold),
        "referee_relative_change": float(sign * (r1 - r0) / moved) if abs(moved) > 1e-6 else 0.0,
    }


def high_frequency_share(diff: np.ndarray, cutoff: float = 0.25) -> float:
    """Share of a change's spectral energy above ``cutoff`` cycles per pixel (Nyquist is 0.5): near 1 for
    pixel-level noise, the signature of an adversarial edit; low for a change in anatomy-sized structures."""
    spectrum = np.abs(np.fft.fft2(diff - diff.mean())) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(diff.shape[0]), np.fft.fftfreq(diff.shape[1]), indexing="ij")
    total = spectrum.sum()
    return float(spectrum[np.hypot(fx, fy) > cutoff].sum() / total) if total > 0 else 0.0


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
