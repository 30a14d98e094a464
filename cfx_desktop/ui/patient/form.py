"""One row per schema feature: label with unit, editor (+ slider for ordered features), lock, direction mark.

The form only holds values; it emits `changed` and the tab decides what to compute. Values go in and out as
vectors in schema order, so the same form serves every schema.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QSlider, QSpinBox, QWidget,
)

from cfx_desktop.core.tabular.schema import Direction, Feature, Kind, Mutability, Schema

SLIDER_STEPS = 1000


class FeatureRow:
    """The widgets of one feature and the conversions between them."""

    def __init__(self, feature: Feature, parent: QWidget, on_change, on_lock) -> None:  # noqa: ANN001
        self.feature = feature
        self.slider: QSlider | None = None
        unit = f" ({feature.unit})" if feature.unit else ""
        self.label = QLabel(f"{feature.label}{unit}", parent)
        tip = feature.description or feature.label
        if feature.kind in (Kind.INTEGER, Kind.CONTINUOUS):
            tip += f"\nClinical range {feature.format(feature.min)}-{feature.format(feature.max)}{unit}"
        self.label.setToolTip(tip)
        if feature.kind == Kind.CATEGORICAL or (feature.kind == Kind.BINARY and feature.categories):
            editor = QComboBox(parent)
            editor.addItems(list(feature.categories))
            editor.currentIndexChanged.connect(on_change)
        elif feature.kind == Kind.BINARY:
            editor = QCheckBox("yes", parent)
            editor.toggled.connect(on_change)
        else:
            editor = QSpinBox(parent) if feature.kind == Kind.INTEGER else QDoubleSpinBox(parent)
            if isinstance(editor, QDoubleSpinBox):
                editor.setDecimals(feature.decimals)
            editor.setRange(feature.min, feature.max) if isinstance(editor, QDoubleSpinBox) else editor.setRange(int(feature.min), int(feature.max))
            editor.setSingleStep(feature.step if isinstance(editor, QDoubleSpinBox) else max(int(feature.step), 1))
            editor.setKeyboardTracking(False)  # typed digits commit on Enter/focus-out, not per keystroke
            editor.setStepType(QAbstractSpinBox.StepType.DefaultStepType)
            editor.setMinimumWidth(100)
            editor.setAlignment(Qt.AlignmentFlag.AlignRight)
            editor.valueChanged.connect(self._spin_to_slider)
            editor.valueChanged.connect(on_change)
            self.slider = QSlider(Qt.Orientation.Horizontal, parent)
            self.slider.setRange(0, SLIDER_STEPS)
            self.slider.setMinimumWidth(60)
            self.slider.valueChanged.connect(self._slider_to_spin)
        editor.setToolTip(tip)
        self.editor = editor
        self.lock = QCheckBox(parent)
        self.lock.setToolTip("Locked: suggestions never change this feature")
        immutable = feature.mutability == Mutability.IMMUTABLE
        self.lock.setChecked(immutable or feature.mutability == Mutability.LOCKABLE)
        self.lock.setEnabled(not immutable)
        if immutable:
            self.lock.setToolTip("Immutable: never changed by a counterfactual")
            self.label.setText(self.label.text() + "  [immutable]")
        self.lock.toggled.connect(on_lock)
        marks = {Direction.INCREASE: "↑ only", Direction.DECREASE: "↓ only", Direction.ANY: ""}
        self.direction = QLabel(marks[feature.direction], parent)
        self.direction.setToolTip({Direction.INCREASE: "Suggestions may only increase this",
                                   Direction.DECREASE: "Suggestions may only decrease this"}.get(feature.direction, ""))

    def widgets(self) -> list[QWidget | None]:
        return [self.label, self.editor, self.slider, self.lock, self.direction]

    def _spin_to_slider(self, value: float) -> None:
        if self.slider is None:
            return
        f = self.feature
        position = round((float(value) - f.min) / (f.max - f.min) * SLIDER_STEPS)
        self.slider.blockSignals(True)
        self.slider.setValue(int(position))
        self.slider.blockSignals(False)

    def _slider_to_spin(self, position: int) -> None:
        f = self.feature
        self._set_spin(f.snap(f.min + (f.max - f.min) * position / SLIDER_STEPS))

    def _set_spin(self, number: float) -> None:
        if isinstance(self.editor, QSpinBox):
            self.editor.setValue(int(round(number)))
        else:
            self.editor.setValue(float(number))

    def value(self) -> float:
        editor = self.editor
        if isinstance(editor, QComboBox):
            return float(editor.currentIndex())
        if isinstance(editor, QCheckBox):
            return float(editor.isChecked())
        return float(editor.value())

    def set_value(self, number: float) -> None:
        """Show ``number`` clipped and snapped to what this feature can hold (any float is accepted)."""
        editor = self.editor
        f = self.feature
        low, high = (0.0, float(f.n_levels - 1)) if f.kind in (Kind.CATEGORICAL, Kind.BINARY) else (f.min, f.max)
        number = (low + high) / 2 if np.isnan(number) else min(max(float(number), low), high)
        number = f.snap(number)
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(int(round(number)))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(round(number)))
        else:
            self._set_spin(self.feature.snap(number))
            self._spin_to_slider(editor.value())

    def set_highlight(self, on: bool) -> None:
        self.label.setStyleSheet("font-weight: bold; color: #0a5fb4;" if on else "")


class PatientForm(QWidget):
    changed = Signal()
    locks_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.schema: Schema | None = None
        self.rows: list[FeatureRow] = []
        self._grid = QGridLayout(self)
        self._grid.setColumnStretch(2, 1)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(4)
        self._quiet = False
        self._headers: list[QLabel] = []

    def set_schema(self, schema: Schema, values: np.ndarray | None = None) -> None:
        """Rebuild the rows for ``schema``; keep any previous values and locks of features with the same name."""
        previous = {row.feature.name: (row.value(), row.lock.isChecked()) for row in self.rows}
        for row in self.rows:
            for widget in row.widgets():
                if widget is not None:
                    self._grid.removeWidget(widget)
                    widget.hide()  # gone from view now; deleted when control returns to the event loop
                    widget.setParent(None)
                    widget.deleteLater()
        self.schema = schema
        self.rows = []
        if not self._headers:
            for header, column in (("Feature", 0), ("Value", 1), ("", 2), ("Lock", 3), ("Rule", 4)):
                label = QLabel(f"<b>{header}</b>", self)
                self._grid.addWidget(label, 0, column)
                self._headers.append(label)
        for i, feature in enumerate(schema.features):
            row = FeatureRow(feature, self, self._emit_changed, self._emit_locks)
            for column, widget in enumerate(row.widgets()):
                if widget is not None:
                    self._grid.addWidget(widget, i + 1, column)
            self.rows.append(row)
        for r in range(self._grid.rowCount()):
            self._grid.setRowStretch(r, 0)
        self._grid.setRowStretch(len(schema.features) + 1, 1)  # rows pack at the top; spare space goes below
        start = schema.example_vector() if values is None else values
        for row, value in zip(self.rows, start):
            name = row.feature.name
            if values is None and name in previous:
                value, locked = previous[name]
                if row.lock.isEnabled():
                    row.lock.setChecked(locked)
            self._quiet = True
            row.set_value(value)
            self._quiet = False
        self.changed.emit()

    def _emit_changed(self, *_: object) -> None:
        if not self._quiet:
            self.changed.emit()

    def _emit_locks(self, *_: object) -> None:
        self.locks_changed.emit()

    def vector(self) -> np.ndarray:
        return np.array([row.value() for row in self.rows], dtype=np.float64)

    def set_vector(self, values: np.ndarray, highlight: bool = False) -> None:
        """Set every value, emitting `changed` once (not once per feature)."""
        current = self.vector() if self.rows else None
        self._quiet = True
        try:
            for row, value in zip(self.rows, values):
                row.set_value(float(value))
        finally:
            self._quiet = False
        for i, row in enumerate(self.rows):
            row.set_highlight(highlight and current is not None and not np.isclose(current[i], self.vector()[i]))
        self.changed.emit()

    def row(self, name: str) -> FeatureRow:
        return next(r for r in self.rows if r.feature.name == name)

    def set_value(self, name: str, value: float) -> None:
        self.row(name).set_value(value)

    def user_locked(self) -> frozenset[str]:
        """Mutable features the user locked."""
        return frozenset(r.feature.name for r in self.rows if r.feature.mutability == Mutability.MUTABLE and r.lock.isChecked())

    def user_unlocked(self) -> frozenset[str]:
        """Lockable features (locked by default) the user unlocked."""
        return frozenset(r.feature.name for r in self.rows if r.feature.mutability == Mutability.LOCKABLE and not r.lock.isChecked())

    def set_locked(self, name: str, locked: bool) -> None:
        row = self.row(name)
        if row.lock.isEnabled():
            row.lock.setChecked(locked)
