"""Python's cyclic garbage collector runs on the GUI thread only.

Why: the collector runs on whichever thread happens to allocate when a generation's threshold is reached, so
with worker threads running Python code it can run on a pool thread. If the garbage it finds holds a Qt object
(a closed window, a channel and its receivers, a timer), that object's C++ destructor then runs on the pool
thread while the object belongs to the GUI thread, and the process crashes later, somewhere unrelated, while
the GUI thread processes events. Two full test runs crashed exactly like that. The cure is the old PyQt recipe:
switch automatic collection off and collect from a GUI-thread timer, generation by generation, with the
collector's own thresholds. Reference counting still frees everything that is not in a cycle, at once.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 500
FULL_EVERY_S = 10.0

_installed: GuiThreadCollector | None = None


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.collections = 0
        self._last_full = time.monotonic()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect each generation whose count has passed its threshold, as the automatic collector would; a full
        collection at most every `FULL_EVERY_S` (CPython also defers those until enough long-lived objects are new,
        a count Python code cannot read, and one pause of the GUI thread per full collection is what it costs)."""
        counts = gc.get_count()
        generation = -1
        for g in range(3):
            if counts[g] > self.thresholds[g]:
                generation = g
            else:
                break
        now = time.monotonic()
        if generation == 2 and now - self._last_full < FULL_EVERY_S:
            generation = 1
        if generation >= 0:
            gc.collect(generation)
            self.collections += 1
            if generation == 2:
                self._last_full = now


def install() -> GuiThreadCollector | None:
    """Once per process, from the GUI thread, when a QCoreApplication exists (else leave the collector alone)."""
    global _installed
    app = QCoreApplication.instance()
    if _installed is not None or app is None or QThread.currentThread() is not app.thread():
        return _installed
    _installed = GuiThreadCollector(app)
    return _installed
