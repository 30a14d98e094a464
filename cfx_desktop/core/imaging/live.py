"""What the Chest X-ray tab asks for, as plain functions for the worker pool. Each result carries the id of the
image it answers and the model (and method) that made it, so the X-ray session can drop a result that no longer
answers what is on screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfx_desktop.core.bundles import BundleError
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging.explain import sanity as sanity_mod, saliency
from cfx_desktop.core.imaging.counterfactual.autoencoder import autoencoder_for
from cfx_desktop.core.imaging.counterfactual.generate import ImageCounterfactual, MaskSettings, SearchSettings, generate
from cfx_desktop.core.imaging.models.decision import guarded_decision, guarded_prediction
from cfx_desktop.core.imaging.guard.model import GuardVerdict, load_guard
from cfx_desktop.core.imaging.io.load import ImageLoadError, LoadedImage, load_image
from cfx_desktop.core.imaging.counterfactual.latent_bank import bank_for
from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model, referee_or_none, shuffled_twin


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
    uncertain: list[str] = field(default_factory=list)  # why the label is "uncertain" (selective prediction)
    referee_probability: float | None = None
    source: str = ""  # what the probability is when not the film as it is ("mean of 4 test-time views")
    model_threshold: float | None = None  # the single view's own (what saliency and counterfactuals are read against)

    def probability_context(self) -> str:
        """'(mean of 4 test-time views; threshold 0.445)': what the probability is and what it is read against."""
        of = f"{self.source}; " if self.source else ""
        return f"({of}threshold {self.threshold:.3f})"

    def probability_words(self) -> str:
        return f"{self.probability:.3f} {self.probability_context()}"


@dataclass
class Overlay:
    image_id: int
    model_name: str
    result: saliency.SaliencyMap
    shortcuts: dict[str, float] = field(default_factory=dict)  # evidence on border / markers / outside the lungs


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
    verdict, decision = guarded_decision(load_guard(model), model, LoadedImage(pixels, "", "", metadata or {}))
    if decision is None:
        return Prediction(image_id, model_name, None, model.decision_threshold, "", model.card.get("label", model_name), verdict,
                          model.labels[1], model_threshold=model.threshold)
    label = decision.label if verdict.in_distribution else ""
    return Prediction(image_id, model_name, decision.probability, decision.threshold, label, model.card.get("label", model_name),
                      verdict, model.labels[1], decision.reasons if verdict.in_distribution else [], decision.referee_probability,
                      decision.source, model.threshold)


def overlay(image_id: int, pixels: np.ndarray, method: str, model_name: str = DEFAULT_MODEL, target: str | None = None,
            params: object = None, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Overlay:  # noqa: ANN001
    model = load_image_model(model_name)
    result = saliency.saliency_map(model, pixels, method, target, params, progress=progress, cancel=cancel)
    return Overlay(image_id, model_name, result, evidence_of(model, result, pixels))


def evidence_of(model, result: saliency.SaliencyMap, pixels: np.ndarray) -> dict[str, float]:  # noqa: ANN001
    """Where a map's evidence lies (`shortcuts.evidence_shares`), at the model's resolution."""
    from cfx_desktop.core.imaging.explain import shortcuts
    from cfx_desktop.core.imaging.counterfactual.latent_bank import lungs_for
    from cfx_desktop.core.imaging.models.preprocess import resize_square

    return shortcuts.evidence_shares(result.model_values, resize_square(pixels, model.input_size)[0, 0].numpy(), lungs_for(model))


def counterfactual(image_id: int, pixels: np.ndarray, model_name: str = DEFAULT_MODEL, steps: int = 200,
                   mask: MaskSettings = MaskSettings(), progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> Counterfactual:
    model = load_image_model(model_name)
    result = make_counterfactual(model, pixels, steps=steps, mask=mask, progress=progress, cancel=cancel)
    return Counterfactual(image_id, model_name, result)


def prepare_counterfactuals(model_name: str, progress=no_progress,  # noqa: ANN001
                            cancel: CancelToken = NEVER_CANCELLED) -> list[str]:
    """What the first counterfactual of a film would otherwise compute while the user waits: for each direction
    whose generator walks toward real films, which of the latent bank's films the model reads clearly as the
    target (`latent_bank.clearly`, seconds on a CPU). Requested in the background once a film has a prediction;
    returns the targets it prepared."""
    from cfx_desktop.core.imaging.counterfactual.latent_bank import clearly

    model = load_image_model(model_name)
    bank = bank_for(model.card.get("autoencoder"), model.device)
    prepared = []
    for target in model.labels if bank is not None else ():
        cancel.raise_if_cancelled()
        search = search_for(model, target, bank)
        if search.method == "data-supported" and search.destination_probability is not None:
            clearly(bank, model.labels.index(target), model, autoencoder_for(model), search.destination_probability)
            prepared.append(target)
    return prepared


def make_counterfactual(model, pixels: np.ndarray, target: str | None = None, steps: int | None = None,  # noqa: ANN001
                        mask: MaskSettings = MaskSettings(), search: SearchSettings | None = None,
                        progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> ImageCounterfactual:  # noqa: ANN001
    """The app's counterfactual of a film, as the tab, the batch and the CLI make it: toward the other class, with
    the generator the card chose for that direction, the latent bank when installed, judged by the referee."""
    target = target or target_of(model, pixels)
    bank = bank_for(model.card.get("autoencoder"), model.device)
    search = search or search_for(model, target, bank, steps)
    return generate(model, autoencoder_for(model), pixels, target, search, mask, progress=progress, cancel=cancel,
                    referee=referee_or_none(model), bank=bank)


def search_for(model, target: str, bank, steps: int | None = None) -> SearchSettings:  # noqa: ANN001
    """`default_search`, degraded to a search without real films where no latent bank is installed (a user's own
    image model): the same settings, but Adam instead of a walk toward films it does not have."""
    from dataclasses import replace

    settings = default_search(model, steps, target)
    if bank is None and settings.method == "data-supported":
        settings = replace(settings, method="adam", steps=steps or SearchSettings().steps)
    return settings


def target_of(model, pixels: np.ndarray) -> str:  # noqa: ANN001
    """The class a counterfactual of this film aims for: the one the model does not give it."""
    return model.labels[1 - model.labels.index(model.label(model.probability(pixels)))]


def default_search(model, steps: int | None = None, target: str | None = None) -> SearchSettings:  # noqa: ANN001
    """The generator the classifier's card names for this direction (`card_search`)."""
    return card_search(model.card, steps, target)


def card_search(card: dict, steps: int | None = None, target: str | None = None) -> SearchSettings:
    """The generator a classifier's card names for this direction (``counterfactual_search_by_target[target]``,
    chosen per direction on validation films), else its ``counterfactual_search``, else the first version's; read
    from the card alone, so a report can say what a search would do without loading the model."""
    from dataclasses import fields, replace

    by_target = card.get("counterfactual_search_by_target") or {}
    given = dict(by_target.get(target) or card.get("counterfactual_search") or {})
    known = {f.name for f in fields(SearchSettings)}
    settings = SearchSettings(**{k: v for k, v in given.items() if k in known})
    if steps is None:
        return settings
    # Adam's steps are the caller's budget; a line search keeps the card's number of points, capped by the budget
    return replace(settings, steps=steps if settings.method == "adam" else min(steps, settings.steps))


def predict_folder(paths: list[str], model_name: str = DEFAULT_MODEL, thumb: int = 96, progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> int:
    """Predict every image; each one is reported through ``progress`` as it is done (thumbnail, p, or error)."""
    from cfx_desktop.core.imaging.models.preprocess import resize_square

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
    from cfx_desktop.core.imaging.io.dicom_tree import tree_for

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
