"""Several image views that move together (the counterfactual comparison): one pan and zoom, and window/level
shared where the pictures are comparable; `mix` blends or swipes the original into the counterfactual."""

from __future__ import annotations

import numpy as np

from cfx_desktop.ui.xray.viewer import ImageView


class LinkedViews:
    """Keep pan/zoom and (optionally) window/level in sync across views."""

    def __init__(self, views: list[ImageView], share_levels: list[ImageView]) -> None:
        self.views = views
        for other in views[1:]:
            other.box.setXLink(views[0].box)
            other.box.setYLink(views[0].box)
        self.share_levels = share_levels
        for view in share_levels:
            view.levels_changed.connect(lambda low, high, source=view: self._sync(source, low, high))

    def _sync(self, source: ImageView, low: float, high: float) -> None:
        for view in self.share_levels:
            if view is not source and (view.levels != (low, high)):
                view.set_levels(low, high)


def mix(original: np.ndarray, counterfactual: np.ndarray, amount: float, mode: str) -> np.ndarray:
    """Blend (cross-fade) or swipe (counterfactual left of a vertical line at ``amount`` of the width)."""
    if mode == "swipe":
        out = original.copy()
        column = int(round(amount * original.shape[1]))
        out[:, :column] = counterfactual[:, :column]
        return out
    return (1 - amount) * original + amount * counterfactual
