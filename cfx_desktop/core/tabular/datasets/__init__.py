"""Tabular datasets: the registry and the built-in datasets (each registers itself on import)."""

from cfx_desktop.core.tabular.datasets.base import (
    DATASETS, TabularDataset, Variant, default_variant, find_variant, register, schema_for, variants,
)
# The built-ins register on import, in the order the Dataset combo box lists them.
from cfx_desktop.core.tabular.datasets import heart_failure  # noqa: E402,F401,I001
from cfx_desktop.core.tabular.datasets import heart_disease  # noqa: E402,F401
# the datasets the user built from their own CSVs register on the registry's first read (`DATASETS` names
# cfx_desktop.core.tabular.user_datasets as its built-in module), so importing either module first works

__all__ = ["DATASETS", "TabularDataset", "Variant", "default_variant", "find_variant", "register", "schema_for", "variants"]
