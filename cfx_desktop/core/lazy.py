"""Package attributes that import their module on first use (PEP 562).

Why: a package's ``__init__`` that imports its torch-using modules makes every light submodule import torch
too (``import a.b.light`` runs ``a/__init__``). The window must paint before torch loads (issue 15), so the
packages the GUI touches export their heavy names through `lazy_attributes` instead; ``from package import
name`` keeps working everywhere.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_attributes(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``where[name]`` (a submodule of ``package``) on first use."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(importlib.import_module(package), name, value)  # later reads skip this function
        return value

    return __getattr__


def deferred(module: str, name: str) -> Callable[..., Any]:
    """``module.name`` as a callable that imports ``module`` when first called, i.e. on the worker thread that
    runs the job, never on the GUI thread that queued it."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported on first call"
    return call
