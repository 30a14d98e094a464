"""Global recourse over the loaded cohort: which single changes and pairs flip how many of the patients predicted
to have the event, at what median cost; computed in the worker pool (progress, Cancel), exportable as CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from cfx_desktop.ui.accessibility import set_header_tips
from PySide6.QtWidgets import (
    QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

if TYPE_CHECKING:  # results come from the worker pool, which has imported these (and torch)
    from cfx_desktop.core.tabular.recourse import GlobalRecourse


COLUMNS = ["Change", "Patients flipped", "Coverage", "Median cost (MAD)", "Median change"]
COLUMN_TIPS = ["One feature, or a pair, changed for every patient it helps (same locks and margin as the suggestions)",
               "How many of the patients predicted to have the event this change moves to the other outcome",
               "Those patients as a share of all patients predicted to have the event",
               "Median size of the change over the patients it flips, each feature in units of its median absolute deviation",
               "Median change in the feature's own unit"]


IDLE_TEXT = "Global recourse: which single changes or pairs would flip the most patients of the loaded cohort."


class RecourseView(QWidget):
    run_requested = Signal()
    cancel_requested = Signal()
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.run = QPushButton("Global recourse", self)
        self.run.setToolTip("For the patients of the cohort predicted to have the event: which single changes and pairs "
                            "flip how many of them, at what median cost (same rules as the suggestions)")
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setVisible(False)
        self.cancel.setToolTip("Stop the global recourse run")
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.export = QPushButton("Export CSV...", self)
        self.export.setEnabled(False)
        self.export.setToolTip("Save the global recourse table as CSV")
        self.status = QLabel(IDLE_TEXT, self)
        self.status.setWordWrap(True)
        for widget in (self.run, self.cancel, self.progress, self.export):
            row.addWidget(widget)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        set_header_tips(self.table, COLUMN_TIPS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):  # numbers: as wide as their header, never clipped ("Median cost (MAD)")
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table)
        self.run.clicked.connect(self.run_requested)
        self.cancel.clicked.connect(self.cancel_requested)
        self.export.clicked.connect(self.export_requested)

    def set_running(self, running: bool, message: str = "") -> None:
        self.run.setEnabled(not running)
        self.cancel.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)
        self.status.setText(message)

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 100))

    def display(self, result: GlobalRecourse | None) -> None:
        self.export.setEnabled(result is not None)
        if result is None:  # no result, or one for another dataset or cohort: nothing of it may stay on screen
            self.table.setRowCount(0)
            self.status.setText(IDLE_TEXT)
            return
        self.table.setRowCount(len(result.actions))
        for r, action in enumerate(result.actions):
            cost = f"{action.median_cost:.2f}" if action.flipped else "-"
            for c, text in enumerate([" + ".join(action.features), f"{action.flipped} / {action.population}",
                                      f"{action.coverage:.0%}", cost, action.median_change]):
                item = QTableWidgetItem(text)
                if c in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
        rule = "every model of the set" if result.consensus else f"{result.model_name} only"
        self.status.setText(f"{result.population} patients predicted to have the event; a change counts when {rule} "
                            f"crosses its threshold by {result.margin:.2f}.")
