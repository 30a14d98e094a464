"""The view box of the image views: the right mouse button drags window (horizontally) and level (vertically),
as reading software does, and the wheel zooms by a gentler step than pyqtgraph's."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

WHEEL_STEP = 1.25  # zoom per wheel notch, at most (pyqtgraph's default is ~1.35; five notches made ~25x)


class LevelViewBox(pg.ViewBox):
    """Left drag pans (or measures, with a tool chosen), wheel zooms, right drag changes window (horizontal) and
    level (vertical), like a PACS."""

    levels_dragged = Signal(float, float)  # d_width, d_center as fractions of the current width
    tool_dragged = Signal(object, object, bool)  # start, current (image coordinates), finished
    tool_clicked = Signal(object)  # image coordinates

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.tool = "pan"

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: ANN001, N802 - pyqtgraph override
        """At most `WHEEL_STEP` per notch, whatever the mouse or touchpad reports."""
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        notches = max(-1.0, min(1.0, delta / 120.0))
        if notches == 0:
            return
        factor = WHEEL_STEP ** (-notches)
        center = self.mapToView(ev.pos()) if hasattr(ev, "pos") else None
        self.scaleBy((factor, factor), center=center)
        ev.accept()
        self.sigRangeChangedManually.emit(self.state["mouseEnabled"])

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: ANN001, N802 - pyqtgraph override
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.pos() - ev.lastPos()
            self.levels_dragged.emit(float(delta.x()) / 300.0, float(-delta.y()) / 300.0)
            return
        if ev.button() == Qt.MouseButton.LeftButton and self.tool == "ruler":
            ev.accept()
            start, now = self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos())
            self.tool_dragged.emit((start.x(), start.y()), (now.x(), now.y()), ev.isFinish())
            return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev) -> None:  # noqa: ANN001, N802 - pyqtgraph override
        if ev.button() == Qt.MouseButton.LeftButton and self.tool in ("angle", "text"):
            ev.accept()
            point = self.mapToView(ev.pos())
            self.tool_clicked.emit((point.x(), point.y()))
            return
        super().mouseClickEvent(ev)
