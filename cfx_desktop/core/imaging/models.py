"""Pneumonia classifiers: the seed's five-block CNN and a one-channel ResNet-18, behind one wrapper.

The seed CNN keeps the seed's widths (32-64-64-128-256, batch norm, max pooling, dense 128, one logit) but ends
in global average pooling instead of flattening, so the same weights work at any input size and the weight
file stays under 2 MB. ResNet-18 (11 M parameters, ~45 MB) is trainable with the same command but not shipped,
to keep the installer small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from cfx_desktop.core import bundles
from cfx_desktop.core import device as device_mod
from cfx_desktop.core.imaging.preprocess import preprocess


class ConvBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=False))


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


class SlimCNN(SeedCNN):
    """The seed's five-block design at half the widths (16-32-32-64-128): 4x fewer operations, which is what lets
    Integrated Gradients (50 steps) run in about 0.3 s on two CPU cores at 128 px."""

    def __init__(self) -> None:
        super().__init__(widths=(16, 32, 32, 64, 128), dense=128)


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


ARCHITECTURES = {"seed-cnn": SeedCNN, "slim-cnn": SlimCNN, "resnet18": ResNet18Gray}


def build(architecture: str) -> nn.Module:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown image architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture]()


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

    def label(self, probability: float) -> str:
        return self.labels[int(probability >= self.threshold)]

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
                      float(card.get("threshold", 0.5)), card, device)


_cache: dict[tuple[str, str, str], ImageModel] = {}
_lock = threading.Lock()
DEFAULT_MODEL = "pneumonia-slim-cnn"


def load_image_model(name: str = DEFAULT_MODEL, device: torch.device | None = None, root=None) -> ImageModel:  # noqa: ANN001
    """Load a shipped image model once per (folder, name, device); later calls share it (read-only)."""
    device = device or device_mod.current()
    key = (str(root or ""), name, str(device))
    with _lock:
        if key not in _cache:
            bundle = bundles.load(name, root)
            _cache[key] = from_state(name, bundle.state, bundle.card, device)
        return _cache[key]


def clear_cache() -> None:
    with _lock:
        _cache.clear()
