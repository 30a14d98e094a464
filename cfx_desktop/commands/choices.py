"""argparse ``choices`` read from the core registries when first needed.

Why lazy: the registries live in modules that import torch, and building the parser happens on every start
(also of the GUI); argparse only iterates ``choices`` when it checks a value or formats help, so the import is
paid by the sub-command that needs it anyway.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator


class RegistryChoices:
    def __init__(self, keys: Callable[[], Iterable[str]], *extra: str) -> None:
        self._keys, self._extra = keys, extra

    def _all(self) -> list[str]:
        return [*self._keys(), *self._extra]

    def __contains__(self, value: object) -> bool:
        return value in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def datasets() -> list[str]:
    from cfx_desktop.core.tabular.datasets import DATASETS

    return DATASETS.keys()


def tabular_architectures() -> list[str]:
    from cfx_desktop.core.tabular.models import ARCHITECTURES

    return ARCHITECTURES.keys()


def counterfactual_methods() -> list[str]:
    from cfx_desktop.core.tabular.counterfactuals import METHODS

    return METHODS.keys()


def saliency_methods() -> list[str]:
    from cfx_desktop.core.imaging.saliency import SALIENCY_METHODS

    return SALIENCY_METHODS.keys()


def image_architectures() -> list[str]:
    from cfx_desktop.core.imaging.models import IMAGE_ARCHITECTURES

    return IMAGE_ARCHITECTURES.keys()


def image_search_methods() -> tuple[str, ...]:
    from cfx_desktop.core.imaging.counterfactual import SEARCH_METHODS

    return SEARCH_METHODS


def image_edit_regions() -> tuple[str, ...]:
    from cfx_desktop.core.imaging.counterfactual import REGIONS

    return REGIONS
