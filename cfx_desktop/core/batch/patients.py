"""Batch explanation of a patient CSV: one job item per row, numbered from 1 as in the app's cohort table."""

from __future__ import annotations

import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from cfx_desktop.core.batch.runner import BatchJob, Item
from cfx_desktop.core.hashing import sha256_file
from cfx_desktop.core.tabular.data import load_csv
from cfx_desktop.core.tabular.explanation import Explainer, ExplainSettings
from cfx_desktop.core.tabular.models import TabularModel

WORK = "cfx_desktop.core.batch.patients:explain_chunk"


def build_job(csv: Path, model: TabularModel, settings: ExplainSettings, chunk_size: int = 8) -> BatchJob:
    """Every row of ``csv`` (missing values filled with the example patient's and said so, as the app does)."""
    schema = model.schema
    cohort = load_csv(csv, schema, allow_extra=True, missing_ok=True)
    example = schema.example_vector()
    items = []
    for i, row in enumerate(cohort.X):
        missing = [f.name for f, v in zip(schema.features, row) if np.isnan(v)]
        values = np.where(np.isnan(row), example, row)
        items.append(Item(str(i + 1), {"row": i + 1, "line": int(cohort.lines[i]), "values": values.tolist(), "filled": missing}))
    resolved = settings.resolved(schema.name)
    job_settings = {"model": model.name, "dataset": schema.name, "csv": str(csv),
                    "csv_sha256": sha256_file(csv), "explain": asdict(resolved)}
    return BatchJob("patients", job_settings, items, WORK, chunk_size)


_explainers: dict[str, Explainer] = {}
_lock = threading.Lock()


def _explainer(settings: dict[str, Any]) -> Explainer:
    """One per worker process and model: the model set and reference cohort are loaded once, not per chunk."""
    from cfx_desktop.core.tabular.live import default_reference
    from cfx_desktop.core.tabular.models import load_model

    key = repr((settings["model"], sorted(settings["explain"].items())))
    with _lock:
        if key not in _explainers:
            model = load_model(settings["model"])
            explain = dict(settings["explain"])
            explain["locked"], explain["unlocked"] = tuple(explain["locked"]), tuple(explain["unlocked"])
            _explainers[key] = Explainer.load(model, ExplainSettings(**explain), default_reference(model))
        return _explainers[key]


def explain_chunk(payloads: list[dict[str, Any]], settings: dict[str, Any]) -> list[dict[str, Any]]:
    explainer = _explainer(settings)
    records = []
    for p in payloads:
        base = {"id": str(p["row"]), "row": p["row"], "line": p["line"]}
        try:
            payload, _ = explainer.explain(np.asarray(p["values"], dtype=np.float64))
        except Exception as exc:  # noqa: BLE001 - one patient's failure is its line in errors.jsonl, not the batch's end
            records.append({**base, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if p["filled"]:
            payload["note"] = f"missing {', '.join(p['filled'])}: filled with the example patient's value"
        records.append({**base, **payload})
    return records
