"""The colour layers of one image view: the saliency overlay drawn over the film, and the colour bar with its scale
beside it whenever a colour layer (the overlay, or a colour-mapped image such as a difference map) is shown.

Why the legend lives with the overlay: both answer "what does this colour mean", and the legend must follow every
change of the overlay's map or label, yet stay put while the opacity and threshold sliders re-render it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

Legend = tuple[str, tuple[float, float], str]  # (colour map, values, label)


class OverlayLayer:
    """Positive saliency in image coordinates (any scale: normalised for display) with its style."""

    def __init__(self, box: pg.ViewBox, graphics: pg.GraphicsLayoutWidget) -> None:
        self.item = pg.ImageItem()
        self.item.setZValue(10)
        box.addItem(self.item)
        self.graphics = graphics
        self.legend: pg.ColorBarItem | None = None
        self._legend_key: Legend | None = None
        self.values: np.ndarray | None = None
        self.opacity = 0.5
        self.threshold = 0.2
        self.colormap = "inferno"
        self.visible = True
        self.label = "saliency"

    def set(self, values: np.ndarray | None, label: str | None = None, image_legend: Legend | None = None) -> None:
        self.values = values
        if label is not None:
            self.label = label
        self.render(image_legend)

    def style(self, opacity: float | None = None, threshold: float | None = None, colormap: str | None = None,
              visible: bool | None = None, image_legend: Legend | None = None) -> None:
        self.opacity = self.opacity if opacity is None else opacity
        self.threshold = self.threshold if threshold is None else threshold
        self.colormap = self.colormap if colormap is None else colormap
        self.visible = self.visible if visible is None else visible
        self.render(image_legend)

    def render(self, image_legend: Legend | None = None) -> None:
        """Draw the overlay; with none shown, the legend is the colour-mapped image's (``image_legend``) or none."""
        if self.values is None or not self.visible:
            self.item.clear()
            self.set_legend(image_legend)
            return
        positive = np.clip(self.values, 0, None)
        top = float(positive.max()) or 1.0
        self.set_legend((self.colormap, (0.0, 1.0), f"{self.label}: share of max {number(top)}"))
        scaled = positive / top
        lut = pg.colormap.get(self.colormap).getLookupTable(nPts=256, alpha=False)
        rgba = np.zeros(scaled.shape + (4,), dtype=np.uint8)
        rgba[..., :3] = lut[np.round(scaled * 255).astype(np.int64)]
        alpha = np.where(scaled >= self.threshold, np.clip(scaled * 1.5, 0, 1), 0.0) * self.opacity
        rgba[..., 3] = np.round(alpha * 255).astype(np.uint8)
        self.item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.item.setRect(QRectF(0, 0, scaled.shape[1], scaled.shape[0]))

    def clear(self) -> None:
        self.item.clear()
        self.set_legend(None)

    def set_legend(self, key: Legend | None) -> None:
        """A colour bar with its scale; kept as it is when nothing it shows changed."""
        key = None if key is None else (key[0], tuple(key[1]), key[2])  # type: ignore[assignment]
        if self.legend is not None and key == self._legend_key:
            return
        if self.legend is not None:
            self.graphics.removeItem(self.legend)
            self.legend = None
        self._legend_key = key
        if key is None:
            return
        colormap, (low, high), label = key
        self.legend = pg.ColorBarItem(values=(low, high if high > low else low + 1e-6), colorMap=pg.colormap.get(colormap),
                                      interactive=False, width=12)
        axis = self.legend.axis  # readable on the black background: light ticks, numbers and the label
        axis.setPen(pg.mkPen(220, 220, 220))
        axis.setTextPen(pg.mkPen(235, 235, 235))
        axis.enableAutoSIPrefix(False)
        axis.setLabel(label, color="#ebebeb")
        self.legend.setToolTip(label)
        self.graphics.addItem(self.legend, row=0, col=1)


def number(value: float) -> str:
    """Readout numbers: integers for stored values, three significant digits for [0, 1] images."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
