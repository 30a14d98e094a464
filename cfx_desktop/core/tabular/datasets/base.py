"""What a tabular dataset declares, and the registry that holds them.

A dataset is one module (see `heart_failure.py`): its schema, the development file the models are trained on,
licence and attribution, its variants (e.g. "without follow-up time"), the default architecture and the
reference results it is compared with. Everything else (UI, CLI choices, training, the models report,
Help > About) reads it from `DATASETS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from cfx_desktop.core.registry import Registry, RegistryError
from cfx_desktop.core.tabular.schema import Schema


@dataclass(frozen=True)
class Variant:
    """One schema a dataset is offered with; its key is the schema's name (and prefixes its bundles' names)."""

    schema: Schema
    label: str  # what the Dataset combo box shows
    excluded: tuple[str, ...] = ()  # features of the full schema left out
    why_excluded: str | None = None  # recorded in the model cards
    report_title: str = ""  # heading in docs/models.md
    anchors: Mapping[str, float] = field(default_factory=dict)  # reference ROC AUCs (same data, same protocol)

    @property
    def key(self) -> str:
        return self.schema.name


@dataclass(frozen=True)
class TabularDataset:
    key: str
    title: str
    dev_file: str  # development file in ../shared/data (an official test split is never named here)
    licence: str
    attribution: str
    variants: tuple[Variant, ...]
    default_architecture: str = "mlp"
    user_folder: str = ""  # set for a dataset built from the user's own CSV (its schema, bundles and cards live there)

    def __post_init__(self) -> None:
        if not self.variants:
            raise ValueError(f"dataset {self.key!r} declares no variant")

    @property
    def schema(self) -> Schema:
        """The full schema (the variant without exclusions, else the first)."""
        return next((v.schema for v in self.variants if not v.excluded), self.variants[0].schema)

    def variant_for(self, excluded: list[str] | tuple[str, ...]) -> Variant:
        wanted = set(excluded)
        for variant in self.variants:
            if set(variant.excluded) == wanted:
                return variant
        schema = self.schema.without(*excluded) if excluded else self.schema
        return Variant(schema, f"{self.title} without {', '.join(excluded)}", tuple(excluded))


DATASETS: Registry[TabularDataset] = Registry("dataset", default="heart-failure",
                                               builtins=("cfx_desktop.core.tabular.user_datasets",))


def register(dataset: TabularDataset) -> TabularDataset:
    return DATASETS.register(dataset.key, dataset)


def variants() -> list[tuple[TabularDataset, Variant]]:
    """Every (dataset, variant) in registry order: the Dataset combo box and the schema look-up."""
    return [(dataset, variant) for dataset in DATASETS.values() for variant in dataset.variants]


def find_variant(key: str) -> tuple[TabularDataset, Variant]:
    for dataset, variant in variants():
        if variant.key == key:
            return dataset, variant
    raise RegistryError(f"unknown dataset variant {key!r}; choose from: {', '.join(v.key for _, v in variants())}")


def schema_for(key: str) -> Schema:
    return find_variant(key)[1].schema


def default_variant() -> str:
    return DATASETS.get(DATASETS.default).variants[0].key
