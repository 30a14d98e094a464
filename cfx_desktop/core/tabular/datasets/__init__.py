"""Tabular datasets: the registry and the built-in datasets (each registers itself on import)."""

from cfx_desktop.core.tabular.datasets.base import (
    DATASETS, TabularDataset, Variant, default_variant, find_variant, register, schema_for, variants,
)
# The built-ins register on import, in the order the Dataset combo box lists them.
from cfx_desktop.core.tabular.datasets import heart_failure  # noqa: E402,F401,I001
from cfx_desktop.core.tabular.datasets import heart_disease  # noqa: E402,F401

__all__ = ["DATASETS", "TabularDataset", "Variant", "default_variant", "find_variant", "register", "schema_for", "variants"]
