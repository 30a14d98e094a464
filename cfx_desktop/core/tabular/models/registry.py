"""Build a network from its architecture name and load shipped models (once per device, shared read-only)."""

from __future__ import annotations

import threading
from typing import Callable

import torch
from torch import nn

from cfx_desktop.core import bundles
from cfx_desktop.core import device as device_mod
from cfx_desktop.core.tabular.models.base import Preprocessor, TabularModel, TabularNet
from cfx_desktop.core.tabular.models.bilstm import BiLSTMBody
from cfx_desktop.core.tabular.models.lasso import lasso_body
from cfx_desktop.core.tabular.models.mlp import mlp_body
from cfx_desktop.core.tabular.models.nam import NAMBody
from cfx_desktop.core.tabular.schema import Schema, get_schema

ARCHITECTURES: dict[str, Callable[[int], nn.Module]] = {
    "mlp": mlp_body,
    "bilstm": BiLSTMBody,
    "nam": NAMBody,
    "lasso": lasso_body,
}
LABELS = {"mlp": "MLP", "bilstm": "BiLSTM", "nam": "NAM", "lasso": "Lasso"}


def build_net(architecture: str, schema: Schema) -> TabularNet:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown tabular architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    width = Preprocessor(schema).width
    return TabularNet(schema, ARCHITECTURES[architecture](width))


def model_name(schema: Schema, architecture: str) -> str:
    return f"{schema.name}-{architecture}"


_cache: dict[tuple[str, str, str], TabularModel] = {}
_lock = threading.Lock()


def load_model(name: str, device: torch.device | None = None, root=None) -> TabularModel:  # noqa: ANN001
    """Load a shipped bundle once per (folder, name, device); later calls return the same object."""
    device = device or device_mod.current()
    key = (str(root or ""), name, str(device))
    with _lock:
        if key in _cache:
            return _cache[key]
        bundle = bundles.load(name, root)
        card = bundle.card
        schema = get_schema(card["schema"])
        net = build_net(card["architecture"], schema)
        try:
            net.load_state_dict(bundle.state)
        except RuntimeError as exc:
            raise bundles.BundleError(f"{name}.pt does not match the architecture in its card: {exc}") from exc
        model = TabularModel(name, card["architecture"], schema, net, float(card["threshold"]), card, device)
        _cache[key] = model
        return model


def clear_cache() -> None:
    with _lock:
        _cache.clear()
