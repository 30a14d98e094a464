"""The counterfactual-method registry: one protocol for every search the engine can run.

A method is one module that registers a `CounterfactualMethod`; the engine, the Patient tab's Method box (and
whether its k box is enabled), the CLI's ``--method`` choices and the benchmark all read it from `METHODS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from cfx_desktop.core.registry import Registry

if TYPE_CHECKING:
    from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
    from cfx_desktop.core.tabular.counterfactuals.reference import Reference

SearchFn = Callable[["SearchContext", "Reference | None", int, int], list[np.ndarray]]
"""(context, reference cohort or None, k, seed) -> raw candidate patients; the engine checks every one."""


@dataclass(frozen=True)
class CounterfactualMethod:
    key: str
    label: str
    search: SearchFn
    description: str = ""  # one line for tooltips
    needs_reference: bool = False  # fails (with a message) without reference patients
    uses_k: bool = True  # k options are meaningful (else the engine asks for one)
    keeps_order: bool = False  # its own order is the answer (else the engine sorts by cost)
    ignores_constraints: bool = False  # a faithful baseline: what it breaks is reported, never shown
    is_set: bool = False  # the k results are judged together (set diversity is reported)


DEFAULT_METHOD = "sparse"
BUILTINS = tuple(f"cfx_desktop.core.tabular.counterfactuals.{m}" for m in ("sparse", "diverse", "nearest", "baseline_nn"))
"""The built-in methods, in the order the Method combo box lists them; imported when `METHODS` is first read."""

METHODS: Registry[CounterfactualMethod] = Registry("counterfactual method", default=DEFAULT_METHOD, builtins=BUILTINS)


def register(method: CounterfactualMethod) -> CounterfactualMethod:
    return METHODS.register(method.key, method)
