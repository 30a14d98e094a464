"""One small typed registry per extension point (datasets, tabular architectures, counterfactual methods,
saliency methods, image architectures).

Why a registry rather than module-level dicts and if-chains: the UI's combo boxes, the CLI's ``choices``, the
models report, Help > About and the parametrised tests all iterate the same object, so adding an extension is
one module that calls `Registry.register` and nothing else is edited. Insertion order is kept: the first
entry is what a combo box shows first, and a registry's `default` is stated explicitly where it matters.

Built-ins load on first read: a registry names the modules that register its built-in entries, and imports them
the first time anyone lists or gets an entry. Those modules import torch; the GUI imports the registry itself
(a light module) and reads it only after the worker pool has warmed up, so the window paints before torch loads.
"""

from __future__ import annotations

import importlib
import threading
from typing import Generic, Iterator, Sequence, TypeVar

T = TypeVar("T")


class RegistryError(KeyError, ValueError):
    """An unknown key; the message lists the valid ones (so a CLI or UI can show it as it is). A ValueError too,
    so callers that report bad arguments catch it without knowing about registries."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str, default: str | None = None, builtins: Sequence[str] = ()) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._default = default
        self._builtins = tuple(builtins)
        self._loaded = not self._builtins
        self._load_lock = threading.RLock()

    def _load(self) -> None:
        """Import the built-in modules once, in order (their order is the combo boxes' order)."""
        if self._loaded:
            return
        with self._load_lock:
            if self._loaded:
                return
            self._loaded = True  # a built-in module that reads the registry while importing must not recurse
            try:
                for module in self._builtins:
                    importlib.import_module(module)
            except BaseException:
                self._loaded = False
                raise

    def register(self, key: str, item: T, *, replace: bool = False) -> T:
        """Add ``item`` under ``key``; registering a key twice is a mistake unless ``replace`` says otherwise."""
        if not key or key != key.strip():
            raise ValueError(f"{self.kind} key must be a non-empty name without surrounding spaces: {key!r}")
        if key in self._items and not replace:
            raise ValueError(f"{self.kind} {key!r} is already registered")
        self._items[key] = item
        return item

    def unregister(self, key: str) -> None:
        """Remove an entry (tests and user-removed datasets)."""
        self._items.pop(key, None)

    def get(self, key: str) -> T:
        self._load()
        try:
            return self._items[key]
        except KeyError:
            raise RegistryError(f"unknown {self.kind} {key!r}; choose from: {', '.join(self._items) or '(none registered)'}") from None

    __getitem__ = get

    def __contains__(self, key: object) -> bool:
        self._load()
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(list(self._items))

    def __len__(self) -> int:
        self._load()
        return len(self._items)

    def keys(self) -> list[str]:
        self._load()
        return list(self._items)

    def values(self) -> list[T]:
        self._load()
        return list(self._items.values())

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return list(self._items.items())

    @property
    def default(self) -> str:
        """The stated default, else the first registered key."""
        self._load()
        if self._default is not None and self._default in self._items:
            return self._default
        if not self._items:
            raise RegistryError(f"no {self.kind} is registered")
        return next(iter(self._items))
