"""A loaded cohort CSV as a searchable, sortable table with each patient's prediction (and the model set's spread)
and true outcome, the confusion matrix at the threshold; picking a row loads that patient into the form."""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QPushButton, QTableView, QVBoxLayout, QWidget

from cfx_desktop.core.tabular.data import Cohort
from cfx_desktop.ui.empty_state import CentreOver, EmptyStateCard

if TYPE_CHECKING:  # results come from the worker pool, which has imported these (and torch)
    from cfx_desktop.core.tabular.recourse import CohortPrediction

PREDICTION_COLUMNS = ["p (model)", "models of the set", "outcome"]
PREDICTION_TIPS = ["The selected model's probability of the event for this patient",
                   "Lowest to highest probability over the model set, and how many of its models predict the event",
                   "The outcome recorded in the file (when it has an outcome column)"]
ROW_TIP = ("Patients numbered from 1 under the header, as in the banner, the report and the command line's --row; "
           "the tooltip gives the file line")

ROW_ROLE = Qt.ItemDataRole.UserRole + 1


class CohortView(QWidget):
    row_chosen = Signal(int)
    open_requested = Signal()  # the empty-state card's "Load CSV..."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.info = QLabel("No cohort loaded. File > Open (Ctrl+O) a CSV of patients to browse it here.", self)
        self.info.setWordWrap(True)  # a long file path wraps instead of pushing Search and Use patient off the pane
        top.addWidget(self.info, 1)
        self.search = QLineEdit(self)
        self.search.setMinimumWidth(120)
        self.search.setPlaceholderText("Search...")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show only the rows that contain this text in any column")
        top.addWidget(self.search)
        self.use = QPushButton("Use patient", self)
        self.use.setEnabled(False)
        self.use.setToolTip("Put the selected patient into the form (or double-click the row)")
        top.addWidget(self.use)
        layout.addLayout(top)
        self.model = QStandardItemModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)  # one row number, the "row" column's, not a second one
        layout.addWidget(self.table)
        self.empty = EmptyStateCard(
            "No cohort loaded",
            ["Open a CSV of patients (Ctrl+O, or Load CSV...): one row per patient, columns named as the features.",
             "Each patient gets the model's prediction and the model set's range; the outcome column, if any, "
             "gives sensitivity and specificity.",
             "Double-click a row (or select it and press Use patient) to explain that patient.",
             "Global recourse: what the patients predicted to have the event would most often need to change."],
            [("Load CSV...", "Open a CSV of patients", self.open_requested.emit)],
            "A malformed file is refused with the line and column at fault; the form keeps its patient.", self.table)
        self._empty_place = CentreOver(self.empty, self.table)
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table.doubleClicked.connect(lambda _: self._choose())
        self.use.clicked.connect(self._choose)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.use.setEnabled(self.selected_row() is not None))
        self.cohort: Cohort | None = None

    def set_cohort(self, cohort: Cohort) -> None:
        self.cohort = cohort
        schema = cohort.schema
        headers = ["row"] + PREDICTION_COLUMNS + [f.label for f in schema.features]
        self.model.clear()
        self.model.setHorizontalHeaderLabels(headers)
        tips = [ROW_TIP] + PREDICTION_TIPS + [f"{f.description or f.label}" + (f" ({f.unit})" if f.unit else "") for f in schema.features]
        for c, tip in enumerate(tips):
            self.model.horizontalHeaderItem(c).setToolTip(tip)
        for r in range(len(cohort)):
            cells = [QStandardItem(str(r + 1))]  # the number the banner, the report and `--row` use
            cells[0].setData(r + 1, Qt.ItemDataRole.UserRole)
            cells[0].setToolTip(f"row {r + 1}: line {int(cohort.lines[r])} of the file")
            cells += [QStandardItem("...") for _ in PREDICTION_COLUMNS]
            if cohort.y is not None:
                cells[3].setText(schema.outcome_words[int(cohort.y[r])])
                cells[3].setData(int(cohort.y[r]), Qt.ItemDataRole.UserRole)
            for j, f in enumerate(schema.features):
                item = QStandardItem(f.display(cohort.X[r, j]))
                item.setData(float(np.nan_to_num(cohort.X[r, j], nan=-1e18)), Qt.ItemDataRole.UserRole)
                cells.append(item)
            cells[0].setData(r, ROW_ROLE)
            self.model.appendRow(cells)
        self.table.resizeColumnsToContents()
        self.info.setText(f"{len(cohort)} patients from {Path(str(cohort.source)).name}. Double-click a row to load it.")
        self.info.setToolTip(str(cohort.source))
        self.empty.hide()
        self.summary.setText("predicting the cohort...")

    def set_predictions(self, prediction: CohortPrediction) -> None:
        """Fill the prediction columns (the model's p, the set's range and votes) and the confusion matrix."""
        for r in range(self.model.rowCount()):
            row = int(self.model.item(r, 0).data(ROW_ROLE))
            p, low, high = prediction.probability[row], prediction.set_low[row], prediction.set_high[row]
            for column, text, key in ((1, f"{p:.2f}", p), (2, f"{low:.2f}-{high:.2f} ({prediction.votes[row]}/{prediction.set_size})", high - low)):
                item = self.model.item(r, column)
                item.setText(text)
                item.setData(float(key), Qt.ItemDataRole.UserRole)
        schema = self.cohort.schema if self.cohort else None
        confusion = prediction.confusion()
        if confusion is None or schema is None:
            self.summary.setText(f"{int(prediction.predicted.sum())} of {len(prediction.probability)} predicted to have "
                                 f"{schema.target_label if schema else 'the event'} (no outcome column in the file).")
            return
        fpr, tpr = prediction.roc_point() or (float("nan"), float("nan"))
        c = confusion
        self.summary.setText(
            f"At the threshold {prediction.threshold:.2f}: true positives {c['tp']}, false positives {c['fp']}, "
            f"false negatives {c['fn']}, true negatives {c['tn']}; sensitivity {tpr:.2f}, specificity {1 - fpr:.2f} "
            f"(ROC point: false-positive rate {fpr:.2f}, true-positive rate {tpr:.2f}).")

    def clear(self) -> None:
        self.cohort = None
        self.model.clear()
        self.info.setText("No cohort for this dataset: File > Open a CSV to browse patients.")
        self.empty.show()
        self.summary.setText("")

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        source = self.proxy.mapToSource(rows[0])
        return int(self.model.item(source.row(), 0).data(ROW_ROLE))

    def _choose(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.row_chosen.emit(row)
