"""Pneumonia classifiers: the image-architecture registry, the built-in CNNs, and the `ImageModel` wrapper.

An architecture is one class registered with `@register_architecture`; it must declare ``cam_layer`` (the layer
Grad-CAM reads). A trained model's card names its architecture, its autoencoder (for counterfactual images) and
its shuffled-label twin (for the data-randomisation sanity check); nothing finds those by a naming convention.

The seed CNN keeps the seed's widths (32-64-64-128-256, batch norm, max pooling, dense 128, one logit) but ends
in global average pooling instead of flattening, so the same weights work at any input size and the weight
file stays under 2 MB. ResNet-18 (11 M parameters, ~45 MB) is trainable with the same command but not shipped,
to keep the installer small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from cfx_desktop.core import bundles, model_cache
from cfx_desktop.core import device as device_mod
from cfx_desktop.core.imaging.models.preprocess import preprocess
from cfx_desktop.core.registry import Registry


@runtime_checkable
class ImageArchitecture(Protocol):
    """What every image classifier provides: one logit per image, and the layer Grad-CAM explains."""

    @property
    def cam_layer(self) -> nn.Module: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class ImageArchitectureSpec:
    key: str
    label: str
    build: Callable[[], nn.Module]
    description: str = ""


IMAGE_ARCHITECTURES: Registry[ImageArchitectureSpec] = Registry("image architecture", default="slim-cnn")


def register_architecture(key: str, label: str, description: str = "") -> Callable[[type], type]:
    """Class decorator: the class (no-argument constructor) becomes trainable and loadable under ``key``."""
    def decorate(cls: type) -> type:
        IMAGE_ARCHITECTURES.register(key, ImageArchitectureSpec(key, label, cls, description or (cls.__doc__ or "").strip().split("\n")[0]))
        return cls
    return decorate


class ConvBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=False))


@register_architecture("seed-cnn", "Seed CNN (5 blocks, 32-256 channels)")
class SeedCNN(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (32, 64, 64, 128, 256), dense: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        blocks, c_in = [], 1
        for width in widths:
            blocks.append(ConvBlock(c_in, width))
            c_in = width
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, dense), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(dense, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = self.pool(x)
        return self.head(x).reshape(-1)

    @property
    def cam_layer(self) -> nn.Module:
        """Grad-CAM target: the last conv block's output (before the head)."""
        return self.blocks[-1]

    @property
    def cam_layers(self) -> dict[str, nn.Module]:
        """Layers Grad-CAM may explain, by the name its ``layer`` parameter takes."""
        return {"last": self.blocks[-1], "previous": self.blocks[-2]}


@register_architecture("slim-cnn", "Slim CNN (5 blocks, 16-128 channels)")
class SlimCNN(SeedCNN):
    """The seed's five-block design at half the widths (16-32-32-64-128): 4x fewer operations, which is what lets
    Integrated Gradients (50 steps) run in about 0.3 s on two CPU cores at 128 px."""

    def __init__(self) -> None:
        super().__init__(widths=(16, 32, 32, 64, 128), dense=128)


@register_architecture("slim-cnn-linear", "Slim CNN with a linear head (5 blocks, 16-128 channels)")
class SlimLinearCNN(SeedCNN):
    """The slim CNN's blocks read by one linear layer over the pooled channels. Why: behind a hidden dense layer
    the 128 channels reached the output through an effectively one-dimensional path, so randomizing the top layer
    only flipped the sign of every saliency map (|Spearman| 0.65-0.98) instead of scrambling it; with a linear head
    each channel's weight is its own, and Grad-CAM is exactly that weighting."""

    def __init__(self) -> None:
        super().__init__(widths=(16, 32, 32, 64, 128), dense=128)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, 1))


@register_architecture("slim-cnn-regions", "Slim CNN with a read-out over 4 x 4 regions of the film")
class SlimRegionCNN(SeedCNN):
    """The slim CNN's blocks read by one linear layer over the channels pooled in each of 4 x 4 regions. Why: every
    head over globally pooled channels tried before reads features whose input Jacobian one direction dominates,
    so a randomized top layer retraced the trained saliency map or its negative (Adebayo's top-layer check failed
    on most films whatever the method); a read-out that weighs where the evidence lies makes the map depend on what
    that layer learned, which is what the check asks of an explanation."""

    grid = 4

    def __init__(self) -> None:
        super().__init__(widths=(16, 32, 32, 64, 128), dense=128)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(self.grid), nn.Flatten(), nn.Dropout(0.2),
                                  nn.Linear(128 * self.grid * self.grid, 1))


@register_architecture("slim-cnn-subtypes", "Slim CNN with a head over normal, bacterial and viral films")
class SlimSubtypeCNN(SeedCNN):
    """The slim CNN whose head scores three classes (normal, bacterial, viral pneumonia, which Kermany's file names
    carry); its one logit is log(p bacterial + p viral) - log(p normal). Why: a two-class model's hidden layer
    reaches the output along one direction (the first singular direction of its Jacobian holds a median 0.96 of
    the energy), so randomizing the top layer only flips the sign of every saliency map; a head that must also tell
    bacterial from viral has to be read along more than one."""

    classes = ("normal", "bacterial", "viral")

    def __init__(self) -> None:
        super().__init__(widths=(16, 32, 32, 64, 128), dense=128)
        self.head[-1] = nn.Linear(128, len(self.classes))

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = self.pool(x)
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.class_logits(x)
        return torch.logsumexp(logits[:, 1:], dim=1) - logits[:, 0]


@register_architecture("strided-cnn", "Strided CNN (4 stages, 24-128 channels, no pooling layers)")
class StridedCNN(nn.Module):
    """The referee's architecture, deliberately unlike the slim CNN: a 5x5 stride-2 stem, strided convolutions
    instead of max pooling, SiLU instead of ReLU, and a head over both average- and max-pooled features. A
    counterfactual that only exploits the explained model's quirks should not move this one."""

    def __init__(self, widths: tuple[int, ...] = (24, 48, 96, 128), dropout: float = 0.2) -> None:
        super().__init__()

        def unit(c_in: int, c_out: int, stride: int, k: int = 3) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.SiLU())

        layers: list[nn.Module] = [unit(1, widths[0], 2, 5)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers.append(nn.Sequential(unit(c_in, c_out, 2), unit(c_out, c_out, 1)))
        self.stages = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * widths[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.stages(x)
        pooled = torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1)
        return self.fc(self.drop(pooled)).reshape(-1)

    @property
    def cam_layer(self) -> nn.Module:
        return self.stages[-1]

    @property
    def cam_layers(self) -> dict[str, nn.Module]:
        return {"last": self.stages[-1], "previous": self.stages[-2]}


@register_architecture("resnet18", "ResNet-18 (one input channel)")
class ResNet18Gray(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from cfx_desktop import _torchvision_compat  # noqa: F401
        from torchvision.models import resnet18

        net = resnet18(num_classes=1)
        net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(-1)

    @property
    def cam_layer(self) -> nn.Module:
        return self.net.layer4

    @property
    def cam_layers(self) -> dict[str, nn.Module]:
        return {"last": self.net.layer4, "previous": self.net.layer3}


def build(architecture: str) -> nn.Module:
    net = IMAGE_ARCHITECTURES.get(architecture).build()
    if not isinstance(getattr(net, "cam_layer", None), nn.Module):
        raise TypeError(f"image architecture {architecture!r} declares no cam_layer (the layer Grad-CAM explains)")
    return net


@dataclass
class ImageModel:
    """A trained image classifier: raw grayscale image in, probability of pneumonia out."""

    name: str
    architecture: str
    net: nn.Module
    input_size: int
    mean: float
    std: float
    threshold: float = 0.5
    card: dict[str, Any] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    labels: tuple[str, str] = ("normal", "pneumonia")
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    """Held while the net runs: Grad-CAM attaches hooks for the duration of a call, and a forward pass from
    another thread in that window would corrupt its captured activations."""

    def __post_init__(self) -> None:
        device_mod.prepare_for_inference(self.net, self.device)

    def tensor(self, pixels: np.ndarray) -> torch.Tensor:
        return preprocess(pixels, self.input_size, self.mean, self.std).to(self.device)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(self.device))

    def probability(self, pixels: np.ndarray) -> float:
        with self.lock, torch.inference_mode():
            return float(torch.sigmoid(self.logits(self.tensor(pixels)))[0])

    def probabilities(self, images: list[np.ndarray]) -> list[float]:
        """p(positive) of several images in one batch (one pass on a GPU)."""
        with self.lock, torch.inference_mode():
            x = torch.cat([self.tensor(p) for p in images])
            return torch.sigmoid(self.logits(x)).reshape(len(images)).tolist()

    def label(self, probability: float) -> str:
        return self.labels[int(probability >= self.threshold)]

    @property
    def decision_views(self) -> str:
        """What the app's label is read from: "single" (the film as it is) or "tta" (the mean over the test-time
        views of `shift.TTA_VIEWS`), as the shift-validation rule chose for this model (``decision_views`` in its
        card). Saliency and counterfactuals always explain the single view, the model itself, against ``threshold``."""
        return "tta" if self.card.get("decision_views") == "tta" and "decision_threshold" in self.card else "single"

    @property
    def decision_threshold(self) -> float:
        """The threshold of the score the label is read from: a threshold belongs to the score it was chosen for,
        so the views' mean has its own (``decision_threshold``) and the single view keeps ``threshold``."""
        return float(self.card["decision_threshold"]) if self.decision_views == "tta" else self.threshold

    @property
    def cam_layer(self) -> nn.Module:
        return self.net.cam_layer


def from_state(name: str, state: dict[str, torch.Tensor], card: dict[str, Any], device: torch.device) -> ImageModel:
    net = build(card["architecture"])
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise bundles.BundleError(f"{name}.pt does not match the architecture in its card: {exc}") from exc
    return ImageModel(name, card["architecture"], net, int(card["input_size"]), float(card["mean"]), float(card["std"]),
                      float(card.get("threshold", 0.5)), card, device, tuple(card.get("labels", ("normal", "pneumonia"))))


DEFAULT_MODEL = "pneumonia-slim-cnn"


def load_image_model(name: str = DEFAULT_MODEL, device: torch.device | None = None, root=None) -> ImageModel:  # noqa: ANN001
    """Load an installed image model once per (folder, name, device); later calls share it (read-only)."""
    _user_models()
    return model_cache.load(name, lambda n, bundle, dev: from_state(n, bundle.state, bundle.card, dev), device, root)


def _user_models() -> None:
    """Image models the user trained on their own folders join the list (their folders' manifests are checked)."""
    from cfx_desktop.core.user_store import IMAGE_MODELS

    IMAGE_MODELS.register_bundles()


def is_sanity_twin(card: dict[str, Any]) -> bool:
    return bool(card.get("training", {}).get("shuffled_labels"))


def image_models(root=None) -> list[tuple[str, dict[str, Any]]]:  # noqa: ANN001
    """Installed classifiers the user can choose (cards hash-checked; refused ones, sanity twins and referees left
    out), the default first."""
    if root is None:
        _user_models()
    found = []
    for name, card in bundles.readable_cards(root):
        if (card.get("kind") == "image-classifier" and not is_sanity_twin(card) and card.get("role", "classifier") == "classifier"
                and card.get("architecture") in IMAGE_ARCHITECTURES):
            found.append((name, card))
    return sorted(found, key=lambda item: item[0] != DEFAULT_MODEL)


def referee_for(model: ImageModel, root=None) -> ImageModel | None:  # noqa: ANN001
    """The independent classifier that judges this model's counterfactuals: the one its card names, else the
    installed bundle whose card has ``role: referee`` (never the model itself); None when there is none."""
    name = model.card.get("referee")
    if not name:
        for candidate, card in bundles.readable_cards(root):
            if card.get("kind") == "image-classifier" and card.get("role") == "referee" and candidate != model.name:
                name = candidate
                break
    if not name:
        return None
    referee = load_image_model(name, model.device, root)
    if referee.architecture == model.architecture and referee.card.get("seed") == model.card.get("seed"):
        raise bundles.BundleError(f"{name} has the same architecture and seed as {model.name}: not an independent referee")
    return referee


def referee_or_none(model: ImageModel) -> ImageModel | None:
    """The model's referee, or None when none is installed or it is refused (the verdict then says so)."""
    try:
        return referee_for(model)
    except bundles.BundleError:
        return None


def shuffled_twin(model: ImageModel) -> ImageModel | None:
    """The same architecture trained on permuted labels, as named by the model's card; None when the card names
    none (the data-randomisation check is then skipped, and says so)."""
    name = model.card.get("shuffled_twin")
    if not name:
        return None
    twin = load_image_model(name, model.device)
    if twin.architecture != model.architecture:
        raise bundles.BundleError(f"{name} is a {twin.architecture}, not a {model.architecture}: not a twin of {model.name}")
    return twin
