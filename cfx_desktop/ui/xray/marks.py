"""The reader's marks on an image view: rulers and angles (in mm when the file gives a pixel spacing) and text
notes. `ImageView` forwards its tool gestures here; the numbers come from `core.imaging.measure`."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

from cfx_desktop.core.imaging.io import measure

TOOLS = ("pan", "ruler", "angle", "text")
COLOUR = (255, 235, 59)


class Canvas(Protocol):
    """What the marks need of the view they draw on, a QWidget (`viewer.ImageView` is one): written here so that
    the marks do not import the viewer that imports them."""

    box: Any  # the view box: addItem / removeItem, and the tool in use
    spacing: dict | None  # pixel spacing, when the file gives one
    pixels: np.ndarray | None
    annotations_changed: Any  # a signal


class Marks(QObject):
    def __init__(self, view: Canvas) -> None:
        super().__init__(view)
        self.view = view
        self.items: list[list[pg.GraphicsObject]] = []  # each measurement or note: its graphics items
        self._angle_points: list[tuple[float, float]] = []
        self._preview: list[pg.GraphicsObject] = []

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; choose from {', '.join(TOOLS)}")
        self.view.box.tool = tool
        self._angle_points = []
        self._clear_preview()

    # ----- drawing ------------------------------------------------------------------------------------------
    def _label(self, text: str, at: tuple[float, float], tip: str = "") -> pg.TextItem:
        item = pg.TextItem(text, color=COLOUR, anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 160))
        item.setPos(*at)
        item.setZValue(30)
        item.setToolTip(tip)
        self.view.box.addItem(item)
        return item

    def _line(self, points: list[tuple[float, float]]) -> pg.PlotDataItem:
        xs, ys = zip(*points)
        item = pg.PlotDataItem(list(xs), list(ys), pen=pg.mkPen(COLOUR, width=2), symbol="o", symbolSize=5, symbolBrush=COLOUR)
        item.setZValue(29)
        self.view.box.addItem(item)
        return item

    def _clear_preview(self) -> None:
        for item in self._preview:
            self.view.box.removeItem(item)
        self._preview = []

    def _keep(self, items: list[pg.GraphicsObject]) -> None:
        self.items.append(items)
        self.view.annotations_changed.emit()

    # ----- gestures -----------------------------------------------------------------------------------------
    def ruler(self, start: tuple[float, float], now: tuple[float, float], finished: bool) -> measure.Length:
        """A drag in progress shows a preview; a finished drag of some length is kept."""
        self._clear_preview()
        result = measure.length(start, now, self.view.spacing)
        if self.view.pixels is None:
            return result
        items = [self._line([start, now]), self._label(result.text(), now, result.note)]
        if not finished:
            self._preview = items
        elif result.value > 0:
            self._keep(items)
        else:
            for item in items:
                self.view.box.removeItem(item)
        return result

    def click(self, point: tuple[float, float]) -> None:
        if self.view.pixels is None:
            return
        if self.view.box.tool == "angle":
            self._angle_points.append(point)
            self._clear_preview()
            if len(self._angle_points) < 3:
                self._preview = [self._line(self._angle_points)]
                return
            a, vertex, c = self._angle_points
            self._angle_points = []
            self.angle(a, vertex, c)
        elif self.view.box.tool == "text":
            text, ok = QInputDialog.getText(self.view, "Note", "Text to place on the image:")
            if ok and text.strip():
                self.note(text.strip(), point)

    def angle(self, a: tuple[float, float], vertex: tuple[float, float], c: tuple[float, float]) -> float:
        degrees = measure.angle(a, vertex, c, self.view.spacing)
        suffix = "" if self.view.spacing else " (pixel space)"
        self._keep([self._line([a, vertex, c]), self._label(f"{degrees:.1f}°{suffix}", vertex)])
        return degrees

    def note(self, text: str, at: tuple[float, float]) -> None:
        self._keep([self._label(text, at)])

    # ----- list ---------------------------------------------------------------------------------------------
    def texts(self) -> list[str]:
        return [item.textItem.toPlainText() for group in self.items for item in group if isinstance(item, pg.TextItem)]

    def undo(self) -> None:
        if self.items:
            for item in self.items.pop():
                self.view.box.removeItem(item)
            self.view.annotations_changed.emit()

    def clear(self) -> None:
        self._clear_preview()
        self._angle_points = []
        while self.items:
            for item in self.items.pop():
                self.view.box.removeItem(item)
        self.view.annotations_changed.emit()
