"""Image views on pyqtgraph: window/level (histogram and right-drag), zoom, pan, fit, 1:1, invert, and a corner
readout (window/level, zoom, the value under the cursor). The overlay and its colour legend are
`overlay_layer.OverlayLayer`, as ``view.overlay``; the reader's marks (ruler and angle in mm, text notes) are
`marks.Marks`, as ``view.marks``; `linked_views` moves several views together."""

from __future__ import annotations


import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from cfx_desktop.core.imaging.explain.render import OVERLAY_COLORMAPS
from cfx_desktop.ui.xray.level_box import LevelViewBox
from cfx_desktop.ui.xray.marks import Marks
from cfx_desktop.ui.xray.overlay_layer import Legend, OverlayLayer
from cfx_desktop.ui.xray.readout import CornerReadout

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

COLORMAPS = list(OVERLAY_COLORMAPS)  # the same list the reports draw in (core.imaging.explain.render)
GRAY = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)


class ImageView(QWidget):
    """One image with an optional overlay. Levels are in the image's own units (modality values for DICOM)."""

    levels_changed = Signal(float, float)
    view_changed = Signal()
    annotations_changed = Signal()

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
        self.box.addItem(self.image_item)
        self.overlay = OverlayLayer(self.box, self.graphics)  # with the colour legend of any colour layer
        self.histogram: pg.HistogramLUTItem | None = None
        if histogram:
            self.histogram = pg.HistogramLUTItem(image=self.image_item, orientation="vertical")
            self.histogram.sigLevelsChanged.connect(self._histogram_levels)
            self.histogram.axis.setPen(pg.mkPen(200, 200, 200))  # the viewer is black in light and dark mode alike
            self.histogram.axis.setTextPen(pg.mkPen(225, 225, 225))
            self.graphics.addItem(self.histogram, row=0, col=2)
        self.legend_text = ""  # the legend's label of a colour-mapped image (a difference map)
        self.box.levels_dragged.connect(self._drag_levels)
        self.box.sigRangeChanged.connect(lambda *_: (self.view_changed.emit(), self.readout.update_cursor()))
        self.marks = Marks(self)
        self.box.tool_dragged.connect(lambda start, now, done: self.marks.ruler(start, now, done))
        self.box.tool_clicked.connect(self.marks.click)
        self.readout = CornerReadout(self)  # window/level, zoom, the value under the cursor
        self.graphics.scene().sigMouseMoved.connect(self.readout.follow)
        self.readout.setVisible(histogram)  # the main viewer; the comparison's small views keep their titles
        self.pixels: np.ndarray | None = None
        self.overlay_values: np.ndarray | None = None
        self.inverted = False
        self.levels = (0.0, 1.0)
        self.default_levels: tuple[float, float] | None = None  # what R (reset) returns to
        self.unit = ""  # "HU" for CT
        self.spacing: dict | None = None  # pixel spacing for the ruler and angle
        self.extra_readout = ""  # e.g. "frame 3 of 30"
        self.colormap: str | None = None  # a colour-mapped image's map (None: grey)
        self._quiet = False

    # ----- image --------------------------------------------------------------------------------------------
    def set_image(self, pixels: np.ndarray | None, keep_view: bool = False, levels: tuple[float, float] | None = None,
                  colormap: str | None = None, rect: tuple[float, float, float, float] | None = None) -> None:
        """Show ``pixels``; ``rect`` (x, y, w, h) draws it into that rectangle of image coordinates instead
        (a model-resolution frame shown over the crop of the full image)."""
        self.pixels = pixels
        if pixels is None:
            self.image_item.clear()
            self.overlay.clear()
            self.readout.update_cursor()
            return
        self.colormap = colormap
        if colormap is not None:
            self.image_item.setLookupTable(pg.colormap.get(colormap).getLookupTable(nPts=256))
        else:
            self.image_item.setLookupTable(GRAY[::-1] if self.inverted else GRAY)  # inversion by LUT: any units
        self.image_item.setImage(pixels, autoLevels=False)
        h, w = pixels.shape
        self.image_item.setRect(QRectF(*(rect or (0, 0, w, h))))
        self.set_levels(*(levels or self.levels))
        if colormap is not None and self.legend_text:
            self.overlay.set_legend(self._image_legend())
        if not keep_view:
            self.fit()
        self.readout.update_cursor()  # this image's value under the mouse, not the last one's

    def set_levels(self, low: float, high: float) -> None:
        if high - low < 1e-4:
            high = low + 1e-4
        self.levels = (low, high)
        self._quiet = True
        self.image_item.setLevels((low, high))
        if self.histogram is not None:
            self.histogram.setLevels(low, high)
        self._quiet = False
        self.readout.refresh()

    def _histogram_levels(self, *_: object) -> None:
        if self._quiet or self.histogram is None:
            return
        low, high = self.histogram.getLevels()
        self.levels = (float(low), float(high))
        self.levels_changed.emit(*self.levels)

    def _drag_levels(self, d_width: float, d_center: float) -> None:
        low, high = self.levels
        span = high - low
        width = max(span * 1e-3, span * (1 + d_width * 2))
        center = (low + high) / 2 + d_center * span  # relative to the width, so HU and [0, 1] images feel alike
        self.set_levels(center - width / 2, center + width / 2)
        self.levels_changed.emit(*self.levels)

    def reset_levels(self) -> None:
        self.set_levels(*(self.default_levels or (0.0, 1.0)))
        self.levels_changed.emit(*self.levels)

    def set_inverted(self, inverted: bool) -> None:
        self.inverted = inverted
        if self.pixels is not None:
            self.set_image(self.pixels, keep_view=True, colormap=self.colormap)

    # ----- corner readout -----------------------------------------------------------------------------------
    def zoom_factor(self) -> float:
        """Screen pixels per image pixel."""
        rect = self.box.viewRect()
        return float(self.box.width() / rect.width()) if rect.width() > 0 else 1.0

    def leaveEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt's name
        self.readout.follow(None)
        super().leaveEvent(event)

    def _image_legend(self) -> Legend | None:
        """The colour scale of a colour-mapped image, shown while no overlay is."""
        return None if self.colormap is None or not self.legend_text else (self.colormap, self.levels, self.legend_text)

    # ----- tools: ruler, angle, text (drawn by `marks.Marks`) ---------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().resizeEvent(event)
        self.readout.refresh()

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
        self.readout.refresh()

    # ----- overlay ------------------------------------------------------------------------------------------
    def set_overlay(self, values: np.ndarray | None, label: str | None = None) -> None:
        """Positive saliency in image coordinates, any scale; ``label`` names it on the colour legend."""
        self.overlay.set(values, label, self._image_legend())

    def set_overlay_style(self, opacity: float | None = None, threshold: float | None = None, colormap: str | None = None,
                          visible: bool | None = None) -> None:
        self.overlay.style(opacity, threshold, colormap, visible, self._image_legend())


__all__ = ["COLORMAPS", "ImageView"]
