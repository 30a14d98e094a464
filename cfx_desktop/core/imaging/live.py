"""What the Chest X-ray tab asks for, as plain functions for the worker pool. Each result carries the id of the
image it answers and the model (and method) that made it, so the X-ray session can drop a result that no longer
answers what is on screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cfx_desktop.core.bundles import BundleError
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging import sanity as sanity_mod
from cfx_desktop.core.imaging import saliency
from cfx_desktop.core.imaging.autoencoder import autoencoder_for
from cfx_desktop.core.imaging.counterfactual import ImageCounterfactual, MaskSettings, SearchSettings, generate
from cfx_desktop.core.imaging.guard import GuardVerdict, guarded_prediction, load_guard
from cfx_desktop.core.imaging.io import ImageLoadError, LoadedImage, load_image
from cfx_desktop.core.imaging.models import DEFAULT_MODEL, load_image_model, referee_for, shuffled_twin


@dataclass
class Opened:
    image_id: int
    image: LoadedImage


@dataclass
class Prediction:
    image_id: int
    model_name: str
    probability: float | None  # None when the guard withheld it
    threshold: float
    label: str  # "" unless the guard found a chest radiograph of the kind the model was trained on
    card_label: str
    guard: GuardVerdict
    positive: str  # the model's finding class, in words (from its card)


@dataclass
class Overlay:
    image_id: int
    model_name: str
    result: saliency.SaliencyMap


@dataclass
class Counterfactual:
    image_id: int
    model_name: str
    result: ImageCounterfactual


@dataclass
class Sanity:
    image_id: int
    model_name: str
    report: sanity_mod.SanityReport
    twin_note: str | None  # why the data-randomisation check was skipped, if it was


def open_image(image_id: int, path: str, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Opened:  # noqa: ANN001
    return Opened(image_id, load_image(path))


def predict(image_id: int, pixels: np.ndarray, model_name: str = DEFAULT_MODEL, metadata: dict | None = None,
            progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Prediction:  # noqa: ANN001
    """The guard first (header from ``metadata``, then the image score); a verdict label only for images it passes."""
    model = load_image_model(model_name)
    verdict, p, label = guarded_prediction(load_guard(model), model, LoadedImage(pixels, "", "", metadata or {}))
    return Prediction(image_id, model_name, p, model.threshold, label, model.card.get("label", model_name), verdict,
                      model.labels[1])


def overlay(image_id: int, pixels: np.ndarray, method: str, model_name: str = DEFAULT_MODEL, target: str | None = None,
            params: object = None, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Overlay:  # noqa: ANN001
    model = load_image_model(model_name)
    return Overlay(image_id, model_name, saliency.saliency_map(model, pixels, method, target, params, progress=progress, cancel=cancel))


def counterfactual(image_id: int, pixels: np.ndarray, model_name: str = DEFAULT_MODEL, steps: int = 200,
                   mask: MaskSettings = MaskSettings(), progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> Counterfactual:
    model = load_image_model(model_name)
    result = generate(model, autoencoder_for(model), pixels, search=default_search(model, steps), mask_settings=mask,
                      progress=progress, cancel=cancel, referee=referee_or_none(model))
    return Counterfactual(image_id, model_name, result)


def default_search(model, steps: int | None = None) -> SearchSettings:  # noqa: ANN001
    """The generator the classifier's card names (``counterfactual_search``), else the first version's settings."""
    from dataclasses import fields, replace

    given = dict(model.card.get("counterfactual_search") or {})
    known = {f.name for f in fields(SearchSettings)}
    settings = SearchSettings(**{k: v for k, v in given.items() if k in known})
    return replace(settings, steps=steps) if steps is not None and settings.method == "adam" else settings


def referee_or_none(model):  # noqa: ANN001, ANN201
    """The model's referee, or None when none is installed or it is refused (the verdict then says so)."""
    try:
        return referee_for(model)
    except BundleError:
        return None


def predict_folder(paths: list[str], model_name: str = DEFAULT_MODEL, thumb: int = 96, progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> int:
    """Predict every image; each one is reported through ``progress`` as it is done (thumbnail, p, or error)."""
    from cfx_desktop.core.imaging.preprocess import resize_square

    model = load_image_model(model_name)
    guard = load_guard(model)
    for i, path in enumerate(paths):
        cancel.raise_if_cancelled()
        try:
            image = load_image(path)
            verdict, p, label = guarded_prediction(guard, model, image)
            small = resize_square(image.pixels, thumb)[0, 0].numpy()
            label = label or ("withheld" if p is None else "unusual")
            scope = f" ({image.frame_note()} scored)" if image.frame_count > 1 else ""
            payload = {"path": path, "probability": p, "label": label + scope, "thumbnail": small, "error": None,
                       "guard": verdict.banner()}
        except ImageLoadError as exc:
            payload = {"path": path, "probability": None, "label": None, "thumbnail": None, "error": str(exc)}
        progress((i + 1) / len(paths), Path(path).name, payload)
    return len(paths)


def dicom_tree(path: str, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED):  # noqa: ANN001, ANN201
    """The patient / study / series tree of a DICOMDIR or a folder of DICOM files (None: not DICOM)."""
    from cfx_desktop.core.imaging.dicom_tree import tree_for

    return path, tree_for(path, cancel)


def twin_or_reason(model_name: str) -> tuple[object, str | None]:
    """The model's shuffled-label twin, or None with the reason the data-randomisation check is skipped."""
    model = load_image_model(model_name)
    try:
        twin = shuffled_twin(model)
    except BundleError as exc:
        return None, f"the shuffled-label twin was refused: {exc}"
    return (twin, None) if twin is not None else (None, f"{model_name}'s card names no shuffled-label twin")


def sanity(image_id: int, pixels: np.ndarray, method: str, model_name: str = DEFAULT_MODEL, progress=no_progress,  # noqa: ANN001
           cancel: CancelToken = NEVER_CANCELLED) -> Sanity:
    model = load_image_model(model_name)
    twin, note = twin_or_reason(model_name)
    report = sanity_mod.run(model, pixels, method, twin, progress=progress, cancel=cancel)  # type: ignore[arg-type]
    return Sanity(image_id, model_name, report, note)
