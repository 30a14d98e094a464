"""A busy indication that appears only once work has lasted a moment, and goes the moment it ends (the job
indicators, and the Why? bars fading while their attributions lag the prediction).

Why: a live edit runs three short jobs in about a tenth of a second. Shown at once, the indeterminate bars flashed
on and off for each of them, and while they animated, every frame was painted through the app's Python style
(`theme.FocusRingStyle`): the GUI thread then kept taking the interpreter lock from the very search it was
waiting for. Work under `SHOW_AFTER_MS` needs no indicator (a reader sees its result instead); longer work shows
one, as before.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QTimer

SHOW_AFTER_MS = 400


class DelayedBusy:
    """Calls ``show(True)`` once busy has lasted ``delay_ms`` and ``show(False)`` as soon as it is not."""

    def __init__(self, parent: QObject, show: Callable[[bool], None], delay_ms: int = SHOW_AFTER_MS) -> None:
        self._show = show
        self.shown = False
        self._timer = QTimer(parent)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._appear)

    def set(self, busy: bool) -> None:
        if busy:
            if not (self.shown or self._timer.isActive()):
                self._timer.start()
            return
        self._timer.stop()
        if self.shown:
            self.shown = False
            self._show(False)

    def _appear(self) -> None:
        self.shown = True
        self._show(True)
