"""Image views on pyqtgraph: window/level (histogram and right-drag), zoom, pan, fit, 1:1, invert, overlay.

`LinkedViews` keeps several views on the same pan, zoom and window/level, for the counterfactual comparison.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

COLORMAPS = ["inferno", "viridis", "plasma", "magma", "CET-L8"]


class LevelViewBox(pg.ViewBox):
    """Left drag pans, wheel zooms, right drag changes window (horizontal) and level (vertical), like a PACS."""

    levels_dragged = Signal(float, float)  # d_width, d_center in image units

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: ANN001, N802 - pyqtgraph override
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.pos() - ev.lastPos()
            self.levels_dragged.emit(float(delta.x()) / 300.0, float(-delta.y()) / 300.0)
            return
        super().mouseDragEvent(ev, axis)


class ImageView(QWidget):
    """One image with an optional overlay. Levels are in image units (images are floats in [0, 1])."""

    levels_changed = Signal(float, float)
    view_changed = Signal()

    def __init__(self, parent: QWidget | None = None, title: str = "", histogram: bool = True) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setBackground("k")
        layout.addWidget(self.graphics)
        self.box = LevelViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.graphics.addItem(self.box, row=0, col=0)
        if title:
            self.title = pg.TextItem(title, color=(230, 230, 230), anchor=(0, 0))
            self.title.setZValue(20)
            self.title.setParentItem(self.box)
            self.title.setPos(4, 2)
        self.image_item = pg.ImageItem()
        self.overlay_item = pg.ImageItem()
        self.overlay_item.setZValue(10)
        self.box.addItem(self.image_item)
        self.box.addItem(self.overlay_item)
        self.histogram: pg.HistogramLUTItem | None = None
        if histogram:
            self.histogram = pg.HistogramLUTItem(image=self.image_item, orientation="vertical")
            self.histogram.sigLevelsChanged.connect(self._histogram_levels)
            self.graphics.addItem(self.histogram, row=0, col=1)
        self.box.levels_dragged.connect(self._drag_levels)
        self.box.sigRangeChanged.connect(lambda *_: self.view_changed.emit())
        self.pixels: np.ndarray | None = None
        self.overlay_values: np.ndarray | None = None
        self.inverted = False
        self.levels = (0.0, 1.0)
        self.overlay_opacity = 0.5
        self.overlay_threshold = 0.2
        self.overlay_colormap = "inferno"
        self.overlay_visible = True
        self._quiet = False

    # ----- image --------------------------------------------------------------------------------------------
    def set_image(self, pixels: np.ndarray | None, keep_view: bool = False, levels: tuple[float, float] | None = None,
                  colormap: str | None = None, rect: tuple[float, float, float, float] | None = None) -> None:
        """Show ``pixels``; ``rect`` (x, y, w, h) draws it into that rectangle of image coordinates instead
        (a model-resolution frame shown over the crop of the full image)."""
        self.pixels = pixels
        if pixels is None:
            self.image_item.clear()
            self.overlay_item.clear()
            return
        shown = 1.0 - pixels if self.inverted and colormap is None else pixels
        if colormap is not None:
            self.image_item.setLookupTable(pg.colormap.get(colormap).getLookupTable(nPts=256))
        self.image_item.setImage(shown, autoLevels=False)
        h, w = pixels.shape
        self.image_item.setRect(QRectF(*(rect or (0, 0, w, h))))
        self.set_levels(*(levels or self.levels))
        if not keep_view:
            self.fit()

    def set_levels(self, low: float, high: float) -> None:
        if high - low < 1e-4:
            high = low + 1e-4
        self.levels = (low, high)
        self._quiet = True
        self.image_item.setLevels((low, high))
        if self.histogram is not None:
            self.histogram.setLevels(low, high)
        self._quiet = False

    def _histogram_levels(self, *_: object) -> None:
        if self._quiet or self.histogram is None:
            return
        low, high = self.histogram.getLevels()
        self.levels = (float(low), float(high))
        self.levels_changed.emit(*self.levels)

    def _drag_levels(self, d_width: float, d_center: float) -> None:
        low, high = self.levels
        width = max(1e-3, (high - low) * (1 + d_width * 2))
        center = (low + high) / 2 + d_center
        self.set_levels(center - width / 2, center + width / 2)
        self.levels_changed.emit(*self.levels)

    def reset_levels(self) -> None:
        self.set_levels(0.0, 1.0)
        self.levels_changed.emit(*self.levels)

    def set_inverted(self, inverted: bool) -> None:
        self.inverted = inverted
        if self.pixels is not None:
            self.set_image(self.pixels, keep_view=True)

    # ----- view ---------------------------------------------------------------------------------------------
    def fit(self) -> None:
        if self.pixels is not None:
            h, w = self.pixels.shape
            self.box.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, centred where the view is now."""
        if self.pixels is None:
            return
        rect = self.box.viewRect()
        width, height = self.box.width(), self.box.height()
        center = rect.center()
        self.box.setRange(xRange=(center.x() - width / 2, center.x() + width / 2),
                          yRange=(center.y() - height / 2, center.y() + height / 2), padding=0)

    def zoom(self, factor: float) -> None:
        self.box.scaleBy((1 / factor, 1 / factor), center=self.box.viewRect().center())

    # ----- overlay ------------------------------------------------------------------------------------------
    def set_overlay(self, values: np.ndarray | None) -> None:
        """Positive saliency in image coordinates, any scale (normalised here for display)."""
        self.overlay_values = values
        self._render_overlay()

    def set_overlay_style(self, opacity: float | None = None, threshold: float | None = None, colormap: str | None = None,
                          visible: bool | None = None) -> None:
        if opacity is not None:
            self.overlay_opacity = opacity
        if threshold is not None:
            self.overlay_threshold = threshold
        if colormap is not None:
            self.overlay_colormap = colormap
        if visible is not None:
            self.overlay_visible = visible
        self._render_overlay()

    def _render_overlay(self) -> None:
        values = self.overlay_values
        if values is None or not self.overlay_visible:
            self.overlay_item.clear()
            return
        positive = np.clip(values, 0, None)
        top = float(positive.max()) or 1.0
        scaled = positive / top
        lut = pg.colormap.get(self.overlay_colormap).getLookupTable(nPts=256, alpha=False)
        rgba = np.zeros(scaled.shape + (4,), dtype=np.uint8)
        rgba[..., :3] = lut[np.round(scaled * 255).astype(np.int64)]
        alpha = np.where(scaled >= self.overlay_threshold, np.clip(scaled * 1.5, 0, 1), 0.0) * self.overlay_opacity
        rgba[..., 3] = np.round(alpha * 255).astype(np.uint8)
        self.overlay_item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.overlay_item.setRect(QRectF(0, 0, scaled.shape[1], scaled.shape[0]))


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


__all__ = ["COLORMAPS", "ImageView", "LinkedViews", "mix"]
