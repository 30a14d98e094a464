"""Counterfactuals for one patient: "what would have to change for the model to predict the other outcome?"

Methods are registered in `METHODS` (one module each; see `methods.py`); one interface,
`find_counterfactuals(model, x, constraints, k, method)`. Every returned counterfactual has passed the hard
constraint check in `constraints.py`.
"""

from cfx_desktop.core.tabular.counterfactuals.constraints import Constraints
from cfx_desktop.core.tabular.counterfactuals.methods import METHODS, CounterfactualMethod, register

# The built-in methods register on import, in the order the Method combo box lists them.
from cfx_desktop.core.tabular.counterfactuals import sparse  # noqa: E402,F401,I001
from cfx_desktop.core.tabular.counterfactuals import diverse  # noqa: E402,F401
from cfx_desktop.core.tabular.counterfactuals import nearest  # noqa: E402,F401
from cfx_desktop.core.tabular.counterfactuals import baseline_nn  # noqa: E402,F401
from cfx_desktop.core.tabular.counterfactuals.engine import diagnose, find_counterfactuals  # noqa: E402
from cfx_desktop.core.tabular.counterfactuals.reference import Reference  # noqa: E402
from cfx_desktop.core.tabular.counterfactuals.types import Change, Counterfactual, CounterfactualList  # noqa: E402

__all__ = ["METHODS", "Change", "Constraints", "Counterfactual", "CounterfactualList", "CounterfactualMethod", "Reference",
           "diagnose", "find_counterfactuals", "register"]
