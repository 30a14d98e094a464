"""argparse ``choices`` read from the core registries when first needed.

Why lazy: the registries live in modules that import torch, and building the parser happens on every start
(also of the GUI); argparse only iterates ``choices`` when it checks a value or formats help, so the import is
paid by the sub-command that needs it anyway.
"""

from __future__ import annotations

import argparse

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
    from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS

    return SALIENCY_METHODS.keys()


def overlay_colormaps() -> list[str]:
    from cfx_desktop.core.imaging.explain.render import OVERLAY_COLORMAPS

    return list(OVERLAY_COLORMAPS)


def image_architectures() -> list[str]:
    from cfx_desktop.core.imaging.models.classifier import IMAGE_ARCHITECTURES

    return IMAGE_ARCHITECTURES.keys()


def image_search_methods() -> list[str]:
    from cfx_desktop.core.imaging.counterfactual.searches import IMAGE_SEARCHES

    return IMAGE_SEARCHES.keys()


def autoencoders() -> list[str]:
    from cfx_desktop.core.imaging.counterfactual.autoencoder import AUTOENCODERS

    return AUTOENCODERS.keys()


def image_edit_regions() -> tuple[str, ...]:
    from cfx_desktop.core.imaging.counterfactual.generate import REGIONS

    return REGIONS


def _max_shift(text: str) -> float | None:
    if text.strip().lower() in ("any", "none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of percentile points (or 'any')") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{value:g} percentile points: give a value above 0 and at most 100 (or 'any')")
    return value


def add_max_shift(p: argparse.ArgumentParser) -> None:
    """``--max-shift``: "how big a change", shared by explain-patient, batch-explain-patients and report-patient."""
    from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT

    p.add_argument("--max-shift", type=_max_shift, default=DEFAULT_MAX_SHIFT, metavar="POINTS",
                   help="how big a change: the largest move of one feature in percentile points of the training patients, "
                        f"each feature also within its feasible change (default {DEFAULT_MAX_SHIFT:g}; 'any' lifts both limits)")
