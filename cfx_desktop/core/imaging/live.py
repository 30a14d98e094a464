"""What the Chest X-ray tab asks for, as plain functions for the worker pool. Each result carries the image
token it answers, so the tab can drop a result for an image that is no longer shown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging import sanity as sanity_mod
from cfx_desktop.core.imaging import saliency
from cfx_desktop.core.imaging.autoencoder import load_autoencoder
from cfx_desktop.core.imaging.counterfactual import ImageCounterfactual, MaskSettings, SearchSettings, generate
from cfx_desktop.core.imaging.io import ImageLoadError, LoadedImage, load_image
from cfx_desktop.core.imaging.models import DEFAULT_MODEL, load_image_model


@dataclass
class Opened:
    token: int
    image: LoadedImage


@dataclass
class Prediction:
    token: int
    model_name: str
    probability: float
    threshold: float
    label: str
    card_label: str


@dataclass
class Overlay:
    token: int
    result: saliency.SaliencyMap


@dataclass
class Counterfactual:
    token: int
    result: ImageCounterfactual


@dataclass
class Sanity:
    token: int
    report: sanity_mod.SanityReport
    shuffled_available: bool


def open_image(token: int, path: str, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Opened:  # noqa: ANN001
    return Opened(token, load_image(path))


def predict(token: int, pixels: np.ndarray, model_name: str = DEFAULT_MODEL, progress=no_progress,  # noqa: ANN001
            cancel: CancelToken = NEVER_CANCELLED) -> Prediction:
    model = load_image_model(model_name)
    p = model.probability(pixels)
    return Prediction(token, model_name, p, model.threshold, model.label(p), model.card.get("label", model_name))


def overlay(token: int, pixels: np.ndarray, method: str, model_name: str = DEFAULT_MODEL, target: str | None = None,
            options: dict[str, Any] | None = None, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Overlay:  # noqa: ANN001
    model = load_image_model(model_name)
    return Overlay(token, saliency.explain(model, pixels, method, target, progress=progress, cancel=cancel, **(options or {})))


def counterfactual(token: int, pixels: np.ndarray, model_name: str = DEFAULT_MODEL, steps: int = 200,
                   mask: MaskSettings = MaskSettings(), progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> Counterfactual:
    model = load_image_model(model_name)
    autoencoder, _ = load_autoencoder(f"autoencoder-{model.input_size}", model.device)
    return Counterfactual(token, generate(model, autoencoder, pixels, search=SearchSettings(steps=steps), mask_settings=mask,
                                          progress=progress, cancel=cancel))


def predict_folder(paths: list[str], model_name: str = DEFAULT_MODEL, thumb: int = 96, progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> int:
    """Predict every image; each one is reported through ``progress`` as it is done (thumbnail, p, or error)."""
    from cfx_desktop.core.imaging.preprocess import resize_square

    model = load_image_model(model_name)
    for i, path in enumerate(paths):
        cancel.raise_if_cancelled()
        try:
            pixels = load_image(path).pixels
            p = model.probability(pixels)
            small = resize_square(pixels, thumb)[0, 0].numpy()
            payload = {"path": path, "probability": p, "label": model.label(p), "thumbnail": small, "error": None}
        except ImageLoadError as exc:
            payload = {"path": path, "probability": None, "label": None, "thumbnail": None, "error": str(exc)}
        progress((i + 1) / len(paths), Path(path).name, payload)
    return len(paths)


def sanity(token: int, pixels: np.ndarray, method: str, model_name: str = DEFAULT_MODEL, progress=no_progress,  # noqa: ANN001
           cancel: CancelToken = NEVER_CANCELLED) -> Sanity:
    from cfx_desktop.core.bundles import BundleError

    model = load_image_model(model_name)
    try:
        shuffled = load_image_model(sanity_mod.SHUFFLED_MODEL)
    except BundleError:
        shuffled = None
    report = sanity_mod.run(model, pixels, method, shuffled, progress=progress, cancel=cancel)
    return Sanity(token, report, shuffled is not None)
