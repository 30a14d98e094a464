"""Timestamps of start-up for `benchmarks/startup.py`: the window's first paint, which heavy libraries were
already imported at that moment, and when every tab first became idle with its results.

Enabled only by the ``CFX_STARTUP_PROBE=FILE.json`` environment variable; it never changes what the app does,
except that with ``CFX_STARTUP_PROBE_QUIT=1`` it chooses File > Quit once every tab is idle (stamp ``quit``), so
the benchmark can time Quit to the end of the process with nothing running.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from cfx_desktop.ui.first_paint import FirstPaint

HEAVY = ("torch", "torchvision", "captum", "sklearn", "pandas", "scipy", "matplotlib")


class StartupProbe(QObject):
    def __init__(self, window: QWidget, path: Path) -> None:
        super().__init__(window)
        self.window, self.path = window, path
        self.record: dict[str, object] = {}
        self._watch = FirstPaint(window, self._painted)

    def _painted(self) -> None:
        self.record["first_paint"] = time.time()
        self.record["heavy_at_first_paint"] = sorted(m for m in HEAVY if m in sys.modules)
        self.record["threads_at_first_paint"] = threading.active_count()
        QTimer.singleShot(0, self._poll_idle)

    def _poll_idle(self) -> None:
        if self.window.is_idle():  # type: ignore[attr-defined]
            self.record["idle"] = time.time()
            self.record["heavy_at_idle"] = sorted(m for m in HEAVY if m in sys.modules)
            if os.environ.get("CFX_STARTUP_PROBE_QUIT"):
                self.record["quit"] = time.time()
                self.path.write_text(json.dumps(self.record), encoding="utf-8")
                self.window.quit_action.trigger()  # type: ignore[attr-defined]
                return
            self.path.write_text(json.dumps(self.record), encoding="utf-8")
        else:
            QTimer.singleShot(10, self._poll_idle)
