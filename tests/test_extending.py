"""Adding a dataset, a saliency method and an image model is done from one module each: this test module
registers a toy of each, and the CLI's choices and the app's combo boxes offer them without any other file
edited. Each toy is also used for real, through the same code paths as the built-ins."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cfx_desktop.cli import build_parser
from cfx_desktop.core import bundles, model_cache
from cfx_desktop.core.imaging import saliency
from cfx_desktop.core.imaging.models import IMAGE_ARCHITECTURES, load_image_model, register_architecture
from cfx_desktop.core.tabular import train
from cfx_desktop.core.tabular.counterfactuals import Constraints, find_counterfactuals
from cfx_desktop.core.tabular.datasets import DATASETS, TabularDataset, Variant, register
from cfx_desktop.core.tabular.models import Hyper, TabularModel
from cfx_desktop.core.tabular.schema import Feature, Kind, Mutability, Schema

TOY_SCHEMA = Schema(
    name="toy-clinic", title="Toy clinic", target="event", target_label="event", outcome_words=("no event", "event"),
    features=(
        Feature("age", "Age", Kind.INTEGER, 18, 90, "years", mutability=Mutability.IMMUTABLE),
        Feature("marker", "Marker", Kind.CONTINUOUS, 0.0, 10.0, "mg/dL", step=0.1, decimals=1),
        Feature("dose", "Dose", Kind.INTEGER, 0, 100, "mg"),
    ),
    example={"age": 50, "marker": 6.0, "dose": 20},
    example_label="Toy patient (not a real person)",
)


@register_architecture("toy-cnn", "Toy CNN (test only)")
class ToyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3))).reshape(-1)

    @property
    def cam_layer(self) -> nn.Module:
        return self.conv


@dataclass(frozen=True)
class ToyParams:
    power: int = 1


@saliency.register
class InputTimesGradientSquared(saliency.SaliencyMethod):
    key, label, Params = "toy-saliency", "Toy saliency (test only)", ToyParams

    def attribute(self, forward, model, x, params):  # noqa: ANN001, ANN201
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            forward(x).sum().backward()
        return (x * x.grad).abs() ** params.power, {"toy": True}


@pytest.fixture(scope="module", autouse=True)
def toy_dataset():
    register(TabularDataset("toy-clinic", "Toy clinic", "toy.csv", "CC0", "made up for a test",
                            (Variant(TOY_SCHEMA, "Toy clinic (test only)"),)))
    yield
    DATASETS.unregister("toy-clinic")
    saliency.SALIENCY_METHODS.unregister("toy-saliency")
    IMAGE_ARCHITECTURES.unregister("toy-cnn")


@pytest.fixture
def weights(tmp_path: Path, monkeypatch) -> Path:
    """The shipped weights plus a toy image model trained by nobody (random init is enough for the plumbing)."""
    folder = tmp_path / "weights"
    shutil.copytree(bundles.paths.weights_dir(), folder)
    torch.manual_seed(0)
    card = {"name": "toy-image-model", "kind": "image-classifier", "architecture": "toy-cnn", "label": "Toy image model",
            "input_size": 32, "mean": 0.5, "std": 0.25, "threshold": 0.5, "labels": ["normal", "pneumonia"]}
    bundles.save("toy-image-model", ToyCNN().state_dict(), card, folder)
    monkeypatch.setenv("CFX_WEIGHTS_DIR", str(folder))
    model_cache.clear()
    yield folder
    model_cache.clear()


def _choices(parser: argparse.ArgumentParser, command: str, option: str) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return list(next(a for a in sub._actions if option in a.option_strings).choices)


def test_the_cli_offers_each_toy() -> None:
    parser = build_parser()
    assert "toy-clinic" in _choices(parser, "train-tabular", "--dataset")
    assert "toy-saliency" in _choices(parser, "explain-image", "--method")
    assert "toy-saliency" in _choices(parser, "sanity", "--method")
    assert "toy-cnn" in _choices(parser, "train-imaging", "--model")


def test_the_app_offers_each_toy(make_window, weights: Path) -> None:
    from cfx_desktop.ui.about import about_html

    patient, xray = make_window(show=False).tab_list
    assert patient.dataset_combo.findData("toy-clinic") >= 0
    assert xray.overlay_panel.method.findData("toy-saliency") >= 0
    assert xray.prediction_panel.model.findData("toy-image-model") >= 0
    assert "Toy clinic" in about_html() and "Toy saliency" in about_html() and "Toy CNN" in about_html()


def test_the_toys_work_through_the_shared_code_paths(weights: Path) -> None:
    model = load_image_model("toy-image-model")
    result = saliency.saliency_map(model, np.random.default_rng(0).uniform(size=(40, 40)), "toy-saliency", params={"power": 2})
    assert result.values.shape == (40, 40) and result.params == {"power": 2, "toy": True}
    assert saliency.saliency_map(model, np.zeros((40, 40)), "gradcam").values.shape == (40, 40)  # reads the declared CAM layer

    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(18, 90, 200), rng.uniform(0, 10, 200).round(1), rng.integers(0, 100, 200)]).astype(float)
    y = (X[:, 1] > 5).astype(int)
    net, threshold, _ = train.fit("mlp", TOY_SCHEMA, X, y, hyper=Hyper(lr=1e-2, epochs=60, patience=20))
    toy = TabularModel("toy-clinic-mlp", "mlp", TOY_SCHEMA, net, threshold)
    x = TOY_SCHEMA.example_vector()
    assert toy.predict(x)[0] == 1
    found = find_counterfactuals(toy, x, Constraints())
    assert found and found[0].values[0] == x[0]  # age is immutable
    assert toy.predict(found[0].values)[0] == 0
