"""A loaded cohort CSV as a searchable, sortable table; picking a row loads that patient into the form."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QPushButton, QTableView, QVBoxLayout, QWidget

from cfx_desktop.core.tabular.data import Cohort

ROW_ROLE = Qt.ItemDataRole.UserRole + 1


class CohortView(QWidget):
    row_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.info = QLabel("No cohort loaded. File > Open (Ctrl+O) a CSV of patients to browse it here.", self)
        top.addWidget(self.info, 1)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search...")
        self.search.setClearButtonEnabled(True)
        top.addWidget(self.search)
        self.use = QPushButton("Use patient", self)
        self.use.setEnabled(False)
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
        layout.addWidget(self.table)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table.doubleClicked.connect(lambda _: self._choose())
        self.use.clicked.connect(self._choose)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.use.setEnabled(self.selected_row() is not None))
        self.cohort: Cohort | None = None

    def set_cohort(self, cohort: Cohort) -> None:
        self.cohort = cohort
        schema = cohort.schema
        headers = ["line"] + [f.label for f in schema.features] + ([schema.target] if cohort.y is not None else [])
        self.model.clear()
        self.model.setHorizontalHeaderLabels(headers)
        for r in range(len(cohort)):
            cells = [QStandardItem(str(int(cohort.lines[r])))]
            cells[0].setData(int(cohort.lines[r]), Qt.ItemDataRole.UserRole)
            for j, f in enumerate(schema.features):
                item = QStandardItem(f.format(cohort.X[r, j]))
                item.setData(float(np.nan_to_num(cohort.X[r, j], nan=-1e18)), Qt.ItemDataRole.UserRole)
                cells.append(item)
            if cohort.y is not None:
                item = QStandardItem(str(int(cohort.y[r])))
                item.setData(int(cohort.y[r]), Qt.ItemDataRole.UserRole)
                cells.append(item)
            cells[0].setData(r, ROW_ROLE)
            self.model.appendRow(cells)
        self.table.resizeColumnsToContents()
        self.info.setText(f"{len(cohort)} patients from {cohort.source}. Double-click a row to load it.")

    def clear(self) -> None:
        self.cohort = None
        self.model.clear()
        self.info.setText("No cohort for this dataset: File > Open a CSV to browse patients.")

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
