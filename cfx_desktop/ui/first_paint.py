"""Noticing the first paint of a window: when the main window starts loading the models, and what the start-up
probe records."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget


class FirstPaint(QObject):
    """Calls ``callback()`` during the first paint of any widget in ``window``, then stops watching."""

    def __init__(self, window: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(window)
        self._window, self._callback = window, callback
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget) and watched.window() is self._window:
            QApplication.instance().removeEventFilter(self)
            self._callback()
        return False
