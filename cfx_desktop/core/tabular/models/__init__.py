"""The patient models behind one interface (`TabularModel`), the architecture registry and the built-in
architectures (each module registers itself on import)."""

from cfx_desktop.core.tabular.models.base import Hyper, Preprocessor, TabularModel
from cfx_desktop.core.tabular.models.registry import (
    ARCHITECTURES, TabularArchitecture, build_net, load_model, model_name, register,
)
# The built-ins register on import, in the order the Model combo box lists them.
from cfx_desktop.core.tabular.models import mlp  # noqa: E402,F401,I001
from cfx_desktop.core.tabular.models import bilstm  # noqa: E402,F401
from cfx_desktop.core.tabular.models import nam  # noqa: E402,F401
from cfx_desktop.core.tabular.models import lasso  # noqa: E402,F401

__all__ = ["ARCHITECTURES", "Hyper", "Preprocessor", "TabularArchitecture", "TabularModel", "build_net",
           "load_model", "model_name", "register"]
