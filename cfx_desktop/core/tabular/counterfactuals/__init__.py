"""Counterfactuals for one patient: "what would have to change for the model to predict the other outcome?"

Methods are registered in `METHODS` (one module each; see `methods.py`); one interface,
`find_counterfactuals(model, x, constraints, k, method)`. Every returned counterfactual has passed the hard
constraint check in `constraints.py`.
"""

from cfx_desktop.core.lazy import lazy_attributes
from cfx_desktop.core.tabular.counterfactuals.constraints import Constraints
from cfx_desktop.core.tabular.counterfactuals.methods import DEFAULT_METHOD, METHODS, CounterfactualMethod, register

# The search code imports torch: loaded on first use (see `core.lazy`); the built-in methods register when
# `METHODS` is first read (see `methods.BUILTINS`).
__getattr__ = lazy_attributes(__name__, {
    "diagnose": "engine", "find_counterfactuals": "engine", "Reference": "reference",
    "Change": "types", "Counterfactual": "types", "CounterfactualList": "types",
})

__all__ = ["DEFAULT_METHOD", "METHODS", "Change", "Constraints", "Counterfactual", "CounterfactualList", "CounterfactualMethod",
           "Reference", "diagnose", "find_counterfactuals", "register"]
