"""Batch explanation of an image folder: one job item per file (its path relative to the folder), saliency maps
computed for a whole chunk in one batch (one pass on a GPU), counterfactuals per image.

Each line holds the guard's verdict and the prediction by the rule every other reader shows (`decision.decide`: the
label read from the card's decision score and threshold, or "uncertain" where the selective rule abstains), and the
single view's own probability, which the maps and the counterfactual explain; an image the guard withholds (not a
chest radiograph of the kind the model learnt) gets no maps and no counterfactual, as in the app. Maps are written at the model's
input resolution: the centred square crop of the image (``crop`` in the line, in the image's pixels) resized to
S x S, signed (positive = evidence for the explained class).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cfx_desktop.core.batch.runner import ARRAYS, BatchJob, Item
from cfx_desktop.core.imaging.io.load import ImageLoadError, walk_images

WORK = "cfx_desktop.core.batch.images:explain_chunk"


def _read(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        return {"path": path, "data": p.read_bytes()}
    except OSError as exc:
        return {"path": path, "data": None, "error": f"cannot read the file: {exc.strerror or exc}"}


def build_job(folder: Path, model_name: str, methods: list[str], counterfactuals: bool = False,
              chunk_size: int = 16) -> BatchJob:
    folder = Path(folder)
    items = [Item(p.relative_to(folder).as_posix(), str(p)) for p in walk_images(folder)]
    settings = {"model": model_name, "folder": str(folder), "methods": list(methods), "counterfactuals": counterfactuals}
    return BatchJob("images", settings, items, WORK, chunk_size, load=_read)


def explain_chunk(payloads: list[dict[str, Any]], settings: dict[str, Any]) -> list[dict[str, Any]]:
    from cfx_desktop.core.imaging.explain import saliency
    from cfx_desktop.core.imaging.guard.model import load_guard
    from cfx_desktop.core.imaging.io.load import load_image
    from cfx_desktop.core.imaging.models.classifier import load_image_model, referee_or_none
    from cfx_desktop.core.imaging.models.decision import decide
    from cfx_desktop.core.imaging.models.preprocess import crop_box

    model = load_image_model(settings["model"])
    guard = load_guard(model)
    referee = referee_or_none(model)
    folder = Path(settings["folder"])
    records: dict[int, dict[str, Any]] = {}
    scored: list[tuple[int, np.ndarray]] = []
    for i, p in enumerate(payloads):
        rel = Path(p["path"]).relative_to(folder).as_posix() if Path(p["path"]).is_relative_to(folder) else p["path"]
        record: dict[str, Any] = {"id": rel, "path": rel, "model": model.name}
        records[i] = record
        if p.get("error"):
            record["error"] = p["error"]
            continue
        try:
            image = load_image(p["path"], p["data"])
        except ImageLoadError as exc:
            record["error"] = str(exc)
            continue
        verdict = guard.check(model, image)
        h, w = image.shape
        box = crop_box(h, w)
        record.update({"size": [w, h], "frame": image.frame_note() or None,
                       "guard": {"level": verdict.level, "reason": verdict.reason, "score": verdict.score},
                       "crop": {"top": box.top, "left": box.left, "side": box.side, "map_size": model.input_size}})
        if verdict.withheld:
            record["prediction"] = {"probability": None, "label": "", "withheld": verdict.banner()}
            continue
        scored.append((i, image.pixels))
    if scored:
        pixels = [px for _, px in scored]
        for (i, px), p in zip(scored, model.probabilities(pixels)):  # the single view: one batch
            level = records[i]["guard"]["level"]
            decision = decide(model, px, level, referee)  # as the panel, predict-image and the PACS finding read it
            records[i]["prediction"] = {
                "probability": decision.probability, "threshold": decision.threshold,
                "label": decision.label if level == "ok" else "",  # unusual: a number, no verdict
                "of": model.labels[1], "source": decision.source or "the film as it is",
                "uncertain_because": decision.reasons, "single_view": {"probability": p, "threshold": model.threshold}}
        for method in settings["methods"]:
            for (i, _), m in zip(scored, saliency.saliency_maps(model, pixels, method)):  # one batch per method
                records[i].setdefault("saliency", {})[method] = {"target": m.target, "seconds": m.seconds, "params": m.params}
                records[i].setdefault(ARRAYS, {})[method] = m.model_values
        if settings["counterfactuals"]:
            for i, px in scored:
                _counterfactual(model, px, records[i])
    return [records[i] for i in range(len(payloads))]


def _counterfactual(model: Any, pixels: np.ndarray, record: dict[str, Any]) -> None:
    from cfx_desktop.core.imaging.counterfactual.generate import confirmation, verdict_line
    from cfx_desktop.core.imaging.live import make_counterfactual

    try:
        cf = make_counterfactual(model, pixels)
    except Exception as exc:  # noqa: BLE001 - the prediction and maps stand; the line says why there is no counterfactual
        record["counterfactual"] = {"error": f"{type(exc).__name__}: {exc}"}
        return
    metrics = {k: v for k, v in cf.metrics.items() if isinstance(v, (int, float, str, bool, type(None)))}
    record["counterfactual"] = {"target": cf.target, "verdict": verdict_line(cf.metrics), "confirmation": confirmation(cf.metrics),
                                "metrics": metrics,
                                "final_probability": cf.probability_path[-1] if cf.probability_path else None}
    record.setdefault(ARRAYS, {}).update({"counterfactual": cf.counterfactual, "difference": cf.difference,
                                          "mask": cf.mask})
