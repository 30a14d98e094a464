"""The main window's status bar: the job indicator (an indeterminate bar, "n jobs running", Stop) and the compute
device. Messages go through `QStatusBar.showMessage` as usual."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QPushButton

from cfx_desktop.workers.pool import WorkerPool


class JobIndicator:
    """Built into ``window``'s status bar; follows ``pool.busy_changed``; Stop cancels every job (as Esc does)."""

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
        pool.busy_changed.connect(self.show_busy)

    def show_busy(self, count: int) -> None:
        self.busy_bar.setVisible(count > 0)
        self.stop_button.setVisible(count > 0)
        self.busy_label.setText("Idle" if count == 0 else f"{count} job{'s' if count > 1 else ''} running")
