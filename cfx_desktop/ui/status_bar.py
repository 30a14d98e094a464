"""The main window's status bar: the job indicator (an indeterminate bar, "n jobs running", Stop) and the compute
device. Messages go through `QStatusBar.showMessage` as usual."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QPushButton

from cfx_desktop.ui.busy import DelayedBusy
from cfx_desktop.workers.pool import WorkerPool


class JobIndicator:
    """Built into ``window``'s status bar; follows ``pool.busy_changed``; Stop cancels every job (as Esc does).
    The bar, the count and Stop appear once jobs have run for a moment (`ui.busy`): a live edit's jobs are over
    before then."""

    def __init__(self, window: QMainWindow, pool: WorkerPool) -> None:
        bar = window.statusBar()
        self.device_label = QLabel("Loading models...", window)
        self.device_label.setObjectName("deviceLabel")
        self.device_label.setToolTip("Compute device used for models (change with --device)")
        self.busy_label = QLabel("Idle", window)
        self.busy_bar = QProgressBar(window)
        self.busy_bar.setRange(0, 0)  # indeterminate
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setVisible(False)
        self.stop_button = QPushButton("Stop", window)
        self.stop_button.setToolTip("Cancel every running job (Esc)")
        self.stop_button.setVisible(False)
        self.stop_button.clicked.connect(pool.cancel_all)
        for widget in (self.busy_bar, self.busy_label, self.stop_button, self.device_label):
            bar.addPermanentWidget(widget)
        self.count = 0
        self.delayed = DelayedBusy(window, self._show)
        pool.busy_changed.connect(self.show_busy)

    def show_busy(self, count: int) -> None:
        self.count = count
        if self.delayed.shown and count > 0:
            self._show(True)  # already shown: only the count changes
        self.delayed.set(count > 0)

    def _show(self, busy: bool) -> None:
        self.busy_bar.setVisible(busy)
        self.stop_button.setVisible(busy)
        self.busy_label.setText(f"{self.count} job{'s' if self.count > 1 else ''} running" if busy else "Idle")
