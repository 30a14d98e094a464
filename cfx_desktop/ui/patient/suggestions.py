"""The counterfactual suggestions panel: method and constraint controls, then one row per suggestion."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QSpinBox,
    QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from cfx_desktop.core.tabular.counterfactuals import METHODS, Counterfactual
from cfx_desktop.core.tabular.live import SuggestionResult
from cfx_desktop.core.tabular.schema import Schema

COLUMNS = ["What would have to change", "New p", "Features changed", "Distance (MAD)", "Plausibility", ""]


def change_text(schema: Schema, cf: Counterfactual) -> str:
    """'lower serum creatinine 1.9 -> 1.2 mg/dL (-0.7)' for each change, joined by semicolons."""
    parts = []
    for c in cf.changes:
        f = schema[c.feature]
        if c.delta is None or f.categories or f.kind.value == "binary":
            parts.append(f"{f.label}: {c.before} -> {c.after}")
            continue
        verb = "raise" if c.delta > 0 else "lower"
        unit = f" {f.unit}" if f.unit else ""
        step = f"{abs(c.delta):.{f.decimals}f}"
        parts.append(f"{verb} {f.label.lower()} {c.before} -> {c.after}{unit} ({'+' if c.delta > 0 else '-'}{step})")
    return "; ".join(parts)


def plausibility_text(metrics: dict[str, float]) -> str:
    if "lof_outlier" not in metrics:
        return "n/a (no reference cohort)"
    verdict = "outlier" if metrics["lof_outlier"] else "typical"
    return f"{verdict} (kNN {metrics.get('knn_distance', float('nan')):.1f})"


class SuggestionsPanel(QWidget):
    settings_changed = Signal()
    apply_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        controls = QHBoxLayout()
        self.method = QComboBox(self)
        for key, spec in METHODS.items():
            self.method.addItem(spec.label, key)
        self.method.setToolTip("\n".join(f"{spec.label}: {spec.description}" for spec in METHODS.values()))
        self.k = QSpinBox(self)
        self.k.setRange(1, 6)
        self.k.setValue(3)
        self.k.setPrefix("k = ")
        self.max_changes = QSpinBox(self)
        self.max_changes.setRange(0, 1)  # up to the schema's feature count: set_feature_count
        self.max_changes.setSpecialValueText("any number")
        self.max_changes.setPrefix("max changes: ")
        self.margin = QDoubleSpinBox(self)
        self.margin.setRange(0.0, 0.4)
        self.margin.setSingleStep(0.01)
        self.margin.setDecimals(2)
        self.margin.setPrefix("margin: ")
        self.margin.setToolTip("How far past the decision threshold a suggestion must move the probability")
        for w in (self.method, self.k, self.max_changes, self.margin):
            controls.addWidget(w)
        controls.addStretch(1)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(90)
        self.busy.setVisible(False)
        controls.addWidget(self.busy)
        layout.addLayout(controls)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table)
        self.method.currentIndexChanged.connect(self._method_changed)
        for w in (self.k, self.max_changes):
            w.valueChanged.connect(self.settings_changed)
        self.margin.valueChanged.connect(self.settings_changed)
        self.result: SuggestionResult | None = None
        self._method_changed()

    def _method_changed(self) -> None:
        self.k.setEnabled(METHODS.get(self.method.currentData()).uses_k)
        self.settings_changed.emit()

    def set_feature_count(self, count: int) -> None:
        self.max_changes.setMaximum(count)

    def settings(self) -> dict[str, object]:
        """What the controls ask for, as `PatientSession.set_settings` keywords."""
        return {"method": self.method.currentData(), "k": self.k.value(), "max_changes": self.max_changes.value() or None,
                "margin": self.margin.value()}

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    def show_result(self, result: SuggestionResult, schema: Schema) -> None:
        self.result = result
        cfs = result.counterfactuals
        self.table.setRowCount(len(cfs))
        for row, cf in enumerate(cfs):
            values = [change_text(schema, cf), f"{cf.probability:.2f}", f"{cf.l0}", f"{cf.metrics.get('mad_l1', 0):.2f}",
                      plausibility_text(cf.metrics)]
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(cf.summary(result.outcome) if col == 0 else text)
                self.table.setItem(row, col, item)
            button = QPushButton("Apply", self.table)
            button.setToolTip("Put this suggestion into the form (Undo restores the patient)")
            button.clicked.connect(lambda _=False, i=row: self.apply_requested.emit(i))
            self.table.setCellWidget(row, len(COLUMNS) - 1, button)
        self.table.resizeRowsToContents()
        where = f" Reference cohort: {result.reference_source}." if result.reference_source else ""
        if cfs:
            self.status.setText(f"{len(cfs)} suggestion{'s' if len(cfs) > 1 else ''} that flip the prediction to "
                                f"<b>{result.outcome}</b> ({METHODS.get(result.method).label}, {cfs.seconds * 1000:.0f} ms).{where}")
        else:
            self.status.setText(f"<b>No suggestion.</b> {cfs.reason}")

    def clear(self, message: str) -> None:
        self.result = None
        self.table.setRowCount(0)
        self.status.setText(message)
