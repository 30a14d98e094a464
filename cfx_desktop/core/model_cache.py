"""One cache for every loaded model (tabular, image, autoencoder): each bundle is hash-checked and built once
per (weights folder, name, device), then shared read-only between worker threads.

Why one: the hash check reads the whole file, so a second cache (or none, as the autoencoder once had) means
re-hashing on every request; and `clear` must reset every kind at once when the weights folder changes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, TypeVar

import torch

from cfx_desktop.core import bundles
from cfx_desktop.core import device as device_mod

T = TypeVar("T")
_cache: dict[tuple[str, str, str], object] = {}
_lock = threading.Lock()


def load(name: str, build: Callable[[str, bundles.Bundle, torch.device], T], device: torch.device | None = None,
         root: Path | None = None) -> T:
    """``build(name, bundle, device)`` once for a verified bundle; later calls return the same object."""
    device = device or device_mod.current()
    key = (str(root or bundles.root_of(name)), name, str(device))
    with _lock:
        if key not in _cache:
            _cache[key] = build(name, bundles.load(name, root), device)
        return _cache[key]  # type: ignore[return-value]


def clear() -> None:
    with _lock:
        _cache.clear()
