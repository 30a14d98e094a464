"""The tabular-architecture registry, and loading shipped models (one shared cache, see `core.model_cache`).

An architecture is one module that calls `register(TabularArchitecture(...))`: how to build its body for an
encoded width, how it is trained (torch hyper-parameters, or its own ``fit``), the arguments its cards record,
and optionally exact attributions and a side view (NAM shape functions, Lasso weights) that the Patient tab
shows beside the Shapley bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from cfx_desktop.core import bundles, model_cache
from cfx_desktop.core.registry import Registry
from cfx_desktop.core.tabular.datasets import schema_for
from cfx_desktop.core.tabular.models.base import Hyper, Preprocessor, TabularModel, TabularNet
from cfx_desktop.core.tabular.schema import Schema

ExactFn = Callable[[TabularModel, np.ndarray, np.ndarray], np.ndarray]
"""(model, x, baseline) -> per-feature logit contributions that add up exactly."""
SideViewFn = Callable[[TabularModel, np.ndarray, "str | None"], Any]
"""(model, x, chosen feature or None) -> what the side panel renders (e.g. a shape function)."""
FitFn = Callable[[TabularNet, np.ndarray, np.ndarray, int], dict[str, Any]]
"""(net with fitted preprocessing, X_train, y_train, seed) -> training info; replaces the torch loop."""


@dataclass(frozen=True)
class TabularArchitecture:
    key: str
    label: str  # short name in tables ("NAM")
    ui_label: str  # the Model combo box ("NAM (additive)")
    body: Callable[[int], nn.Module]
    args: dict[str, Any] = field(default_factory=dict)  # recorded in the card
    hyper: Hyper = Hyper()
    fit: FitFn | None = None
    class_weighting: str = "pos_weight = n_neg / n_pos"
    exact_attribution: ExactFn | None = None
    exact_label: str = ""
    side_view: SideViewFn | None = None


BUILTINS = tuple(f"cfx_desktop.core.tabular.models.{m}" for m in ("mlp", "bilstm", "nam", "lasso"))
"""The built-in architectures, in the order the Model combo box lists them; imported on the first read."""

ARCHITECTURES: Registry[TabularArchitecture] = Registry("tabular architecture", default="mlp", builtins=BUILTINS)


def register(architecture: TabularArchitecture) -> TabularArchitecture:
    return ARCHITECTURES.register(architecture.key, architecture)


def build_net(architecture: str, schema: Schema) -> TabularNet:
    width = Preprocessor(schema).width
    return TabularNet(schema, ARCHITECTURES.get(architecture).body(width))




def _build(name: str, bundle: bundles.Bundle, device: torch.device) -> TabularModel:
    card = bundle.card
    schema = schema_for(card["schema"])
    net = build_net(card["architecture"], schema)
    try:
        net.load_state_dict(bundle.state)
    except RuntimeError as exc:
        raise bundles.BundleError(f"{name}.pt does not match the architecture in its card: {exc}") from exc
    return TabularModel(name, card["architecture"], schema, net, float(card["threshold"]), card, device)


def load_model(name: str, device: torch.device | None = None, root=None) -> TabularModel:  # noqa: ANN001
    """Load a shipped bundle once per (folder, name, device); later calls return the same object."""
    return model_cache.load(name, _build, device, root)

