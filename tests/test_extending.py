"""Adding a tabular dataset, a counterfactual method, a saliency method, an image architecture, an autoencoder or
an image counterfactual search is done from one module each: this test module registers a toy of each, and the
CLI's choices and the app's combo boxes offer them without any other file edited. Each toy is also used for real,
through the same code paths as the built-ins."""

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
from cfx_desktop.core.imaging.explain import saliency
from cfx_desktop.core.imaging.counterfactual.autoencoder import AUTOENCODERS, load_autoencoder, register_autoencoder
from cfx_desktop.core.imaging.counterfactual.generate import generate
from cfx_desktop.core.imaging.models.classifier import IMAGE_ARCHITECTURES, load_image_model, register_architecture
from cfx_desktop.core.imaging.counterfactual.searches import IMAGE_SEARCHES, SearchProblem, SearchSettings, register_search
from cfx_desktop.core.tabular import train
from cfx_desktop.core.tabular.counterfactuals import METHODS, Constraints, find_counterfactuals
from cfx_desktop.core.tabular.counterfactuals.methods import CounterfactualMethod
from cfx_desktop.core.tabular.counterfactuals.methods import register as register_method
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


@register_autoencoder("toy-ae", "a 4 x 8 x 8 latent, nothing bypasses it (test only)")
class ToyAE(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (8,), latent: int = 4) -> None:
        super().__init__()
        self.widths, self.latent_channels = widths, latent
        self.enc = nn.Conv2d(1, latent, 4, stride=4)
        self.dec = nn.ConvTranspose2d(latent, 1, 4, stride=4)

    def encode_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.enc(x), None

    def decode_latent(self, z: torch.Tensor, context: None = None) -> torch.Tensor:
        return torch.sigmoid(self.dec(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_latent(self.encode_latent(x)[0])

    def training_loss(self, x: torch.Tensor, kl_weight: float = 0.0) -> torch.Tensor:
        return (self(x) - x).pow(2).mean()


@register_search("toy-random-walk", "Random walk (test only)")
def random_walk(problem: SearchProblem) -> tuple[torch.Tensor, int]:
    """Growing random steps from the film's own code, kept when they move the logit toward the goal."""
    generator = torch.Generator().manual_seed(0)
    direction = torch.randn(problem.z0.shape, generator=generator).to(problem.z0)
    with torch.no_grad():
        toward = problem.logit(problem.compose(problem.autoencoder.decode_latent(problem.z0 + direction, None)))
        away = problem.logit(problem.compose(problem.autoencoder.decode_latent(problem.z0 - direction, None)))
    sign = 1.0 if (toward < away) == problem.want_negative else -1.0
    return problem.walk(lambda step: problem.z0 + sign * 0.5 * step * direction)


def _one_feature(ctx, reference, k: int = 1, seed: int = 0) -> list[np.ndarray]:  # noqa: ANN001
    """Each changeable feature alone over an even grid of its allowed range; the engine checks every proposal."""
    proposals = []
    for j in range(len(ctx.x)):
        if ctx.lo[j] == ctx.hi[j]:
            continue
        for value in np.linspace(ctx.lo[j], ctx.hi[j], 21):
            row = ctx.x.copy()
            row[j] = value
            proposals.append(row)
    proposals = ctx.snap(np.array(proposals))
    return list(proposals[ctx.is_valid(ctx.proba(proposals))])


@pytest.fixture(scope="module", autouse=True)
def toy_dataset():
    register(TabularDataset("toy-clinic", "Toy clinic", "toy.csv", "CC0", "made up for a test",
                            (Variant(TOY_SCHEMA, "Toy clinic (test only)"),)))
    register_method(CounterfactualMethod("toy-one-feature", "One feature at a time (test only)", _one_feature,
                                         "each feature alone over a grid"))
    yield
    DATASETS.unregister("toy-clinic")
    METHODS.unregister("toy-one-feature")
    saliency.SALIENCY_METHODS.unregister("toy-saliency")
    IMAGE_ARCHITECTURES.unregister("toy-cnn")
    AUTOENCODERS.unregister("toy-ae")
    IMAGE_SEARCHES.unregister("toy-random-walk")


@pytest.fixture
def weights(tmp_path: Path, monkeypatch) -> Path:
    """The shipped weights plus a toy image model trained by nobody (random init is enough for the plumbing)."""
    folder = tmp_path / "weights"
    shutil.copytree(bundles.paths.weights_dir(), folder)
    torch.manual_seed(0)
    card = {"name": "toy-image-model", "kind": "image-classifier", "architecture": "toy-cnn", "label": "Toy image model",
            "input_size": 32, "mean": 0.5, "std": 0.25, "threshold": 0.5, "labels": ["normal", "pneumonia"]}
    bundles.save("toy-image-model", ToyCNN().state_dict(), card, folder)
    bundles.save("toy-ae-32", ToyAE().state_dict(), {"name": "toy-ae-32", "kind": "autoencoder", "architecture": "toy-ae",
                                                     "architecture_args": {"widths": [8], "latent_channels": 4}, "input_size": 32}, folder)
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
    assert "toy-one-feature" in _choices(parser, "explain-patient", "--method")
    assert "toy-ae" in _choices(parser, "train-autoencoder", "--architecture")
    assert "toy-random-walk" in _choices(parser, "counterfactual-image", "--search")


def test_the_app_offers_each_toy(make_window, weights: Path) -> None:
    from cfx_desktop.ui.about import about_html

    patient, xray = make_window(show=False).tab_list
    assert patient.dataset_combo.findData("toy-clinic") >= 0
    assert xray.overlay_panel.method.findData("toy-saliency") >= 0
    assert xray.prediction_panel.model.findData("toy-image-model") >= 0
    assert patient.suggestions.method.findData("toy-one-feature") >= 0
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
    by_toy = find_counterfactuals(toy, x, Constraints(), k=3, method="toy-one-feature")
    assert by_toy and all(cf.values[0] == x[0] for cf in by_toy)  # the marker alone flips it; age never moves
    assert all(cf.method == "One feature at a time (test only)" and toy.predict(cf.values)[0] == 0 for cf in by_toy)


def test_a_toy_autoencoder_and_search_make_a_counterfactual_image(weights: Path) -> None:
    model = load_image_model("toy-image-model")
    autoencoder, card = load_autoencoder("toy-ae-32")
    assert isinstance(autoencoder, ToyAE) and card["architecture"] == "toy-ae"
    image = np.random.default_rng(2).uniform(size=(48, 48))
    result = generate(model, autoencoder, image, search=SearchSettings(method="toy-random-walk", steps=40))
    assert result.metrics["method"] == "toy-random-walk" and result.metrics["steps"] >= 1
    assert len(result.probability_path) == result.metrics["steps"] + 1  # every step went through the shared recorder
    assert result.counterfactual.shape == (32, 32)
    with pytest.raises(ValueError, match="unknown image counterfactual search 'nope'"):
        generate(model, autoencoder, image, search=SearchSettings(method="nope"))
