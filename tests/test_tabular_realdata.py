"""Shipped patient models: cards are complete, and the training command reproduces them (real data)."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest

from cfx_desktop.core import bundles
from cfx_desktop.core.hashing import sha256_file
from cfx_desktop.core.tabular import train
from cfx_desktop.core.tabular.datasets import variants
from cfx_desktop.core.tabular.models import ARCHITECTURES, load_model, model_name
from tests.conftest import real_data_file

SHIPPED = [model_name(variant.schema, arch) for _, variant in variants() for arch in ARCHITECTURES]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cards_are_complete_and_load(name: str) -> None:
    card = bundles.read_card(name)
    for key in ("task", "schema", "architecture", "features", "threshold", "data", "seed", "command", "metrics", "licence", "attribution", "reference_stats"):
        assert key in card, key
    assert len(card["data"]["sha256"]) == 64
    assert card["command"].startswith("cfx-desktop train-tabular")
    assert (bundles.paths.weights_dir() / f"{name}.pt").stat().st_size < 2_000_000
    model = load_model(name)
    p = model.predict_proba(model.schema.example_vector())
    assert 0 <= p[0] <= 1
    if card["excluded_features"]:
        assert card["why_excluded"] and "follow-up" in card["why_excluded"]


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["heart-failure-no-time-lasso", "heart-failure-no-time-mlp"])
def test_training_command_reproduces_the_card(name: str, tmp_path: Path) -> None:
    card = bundles.read_card(name)
    data = real_data_file(card["data"]["file"])
    assert sha256_file(data) == card["data"]["sha256"]
    args = shlex.split(card["command"])
    dataset = args[args.index("--dataset") + 1]
    exclude = args[args.index("--exclude") + 1 : args.index("--seed")] if "--exclude" in args else []
    again = train.train_and_save(dataset, card["architecture"], exclude=exclude, seed=card["seed"], cv_repeats=0, out=tmp_path)
    for metric in ("roc_auc", "balanced_accuracy", "brier"):
        assert again["metrics"]["validation"][metric] == pytest.approx(card["metrics"]["validation"][metric], abs=0.02), metric
    assert again["threshold"] == pytest.approx(card["threshold"], abs=0.05)
    assert again["data"]["validation_rows"] == card["data"]["validation_rows"]
    assert np.isfinite(again["metrics"]["validation"]["roc_auc"])
