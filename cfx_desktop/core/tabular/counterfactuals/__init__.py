"""Counterfactuals for one patient: "what would have to change for the model to predict the other outcome?"

Methods (one interface, `explain(model, x, constraints, k, method)`): the seed's 1-NN Hamming baseline, the
nearest feasible neighbour, sparse optimisation and a diverse set. Every returned counterfactual has passed the
hard constraint check in `constraints.py`.
"""

from cfx_desktop.core.tabular.counterfactuals.constraints import Constraints
from cfx_desktop.core.tabular.counterfactuals.engine import METHODS, diagnose, explain
from cfx_desktop.core.tabular.counterfactuals.reference import Reference
from cfx_desktop.core.tabular.counterfactuals.types import Change, Counterfactual, CounterfactualList

__all__ = ["METHODS", "Change", "Constraints", "Counterfactual", "CounterfactualList", "Reference", "diagnose", "explain"]
