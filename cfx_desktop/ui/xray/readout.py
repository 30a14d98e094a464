"""The viewer's corner readout: window and level (in the image's units), zoom, the frame, and the value of the
pixel under the mouse, which follows the mouse, a zoom or pan under a still mouse, and a new image under it (it
once kept the previous image's value until the mouse moved)."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QLabel

from cfx_desktop.ui.xray.overlay_layer import number


class CornerReadout(QLabel):
    def __init__(self, view: Any) -> None:  # the ImageView, which builds this
        super().__init__(view.graphics)
        self.view = view
        self.setObjectName("viewerReadout")
        self.setStyleSheet("QLabel#viewerReadout { color: #f0f0f0; background: rgba(0, 0, 0, 150); padding: 3px; "
                           "font-family: monospace; }")
        self.move(6, 6)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.cursor_text = ""
        self.cursor_at: QPointF | None = None  # the mouse's last scene position over the view

    def refresh(self) -> None:
        if not self.isVisible():
            return
        view, lines = self.view, []
        if view.pixels is not None:
            low, high = view.levels
            unit = f" {view.unit}" if view.unit else ""
            lines = [f"W {number(high - low)}  L {number((low + high) / 2)}{unit}", f"zoom {view.zoom_factor():.2f}x",
                     *(line for line in (view.extra_readout, self.cursor_text) if line)]
        self.setText("\n".join(lines))
        self.adjustSize()

    def follow(self, position: QPointF | None) -> None:
        """The mouse moved to ``position`` (a scene position; None: it left the view)."""
        if position is not None and (self.view.pixels is None or not self.view.box.sceneBoundingRect().contains(position)):
            return
        self.cursor_at = None if position is None else QPointF(position)
        self.update_cursor()

    def update_cursor(self) -> None:
        """The value under the still mouse again: after a zoom, a pan or a new image."""
        self.cursor_text = self._value_at(self.cursor_at)
        self.refresh()

    def _value_at(self, position: QPointF | None) -> str:
        """"x 12  y 40  value 0.53" for the image pixel under a scene position, "" when there is none."""
        pixels = self.view.pixels
        if position is None or pixels is None:
            return ""
        point = self.view.box.mapSceneToView(position)
        x, y = int(math.floor(point.x())), int(math.floor(point.y()))
        h, w = pixels.shape
        if not (0 <= x < w and 0 <= y < h):
            return ""
        unit = f" {self.view.unit}" if self.view.unit else ""
        return f"x {x}  y {y}  value {number(float(pixels[y, x]))}{unit}"
