"""The four patient models behind one interface (`TabularModel`) and the registry that builds them from cards."""

from cfx_desktop.core.tabular.models.base import Preprocessor, TabularModel
from cfx_desktop.core.tabular.models.registry import ARCHITECTURES, build_net, load_model, model_name

__all__ = ["ARCHITECTURES", "Preprocessor", "TabularModel", "build_net", "load_model", "model_name"]
