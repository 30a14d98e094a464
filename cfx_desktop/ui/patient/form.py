"""One row per schema feature: label with unit, editor (+ slider for ordered features), lock, direction mark.

The form renders the patient session and forwards edits; values go in as vectors in schema order, so the same
form serves every schema.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QSlider, QSpinBox, QWidget,
)

from cfx_desktop.ui import theme
from cfx_desktop.ui.retire import retire
from cfx_desktop.core.tabular.schema import Direction, Feature, Kind, Mutability, Schema

SLIDER_STEPS = 1000


class FeatureRow:
    """The widgets of one feature and the conversions between them."""

    def __init__(self, feature: Feature, parent: QWidget, on_change, on_lock) -> None:  # noqa: ANN001
        self.feature = feature
        self.slider: QSlider | None = None
        self._highlighted = False
        unit = f" ({feature.unit})" if feature.unit else ""
        self.label = QLabel(f"{feature.label}{unit}", parent)
        tip = feature.description or feature.label
        if feature.kind in (Kind.INTEGER, Kind.CONTINUOUS):
            tip += f"\nClinical range {feature.format(feature.min)}-{feature.format(feature.max)}{unit}"
            if feature.describe_feasible():  # set by the schema, with its reason in the editor's tooltip
                tip += (f"\nA suggestion moves it {feature.describe_feasible()} (its feasible change; the schema "
                        "editor says why)")
        self.label.setToolTip(tip)
        if feature.kind == Kind.CATEGORICAL or (feature.kind == Kind.BINARY and feature.categories):
            editor = QComboBox(parent)
            # words, not codes ("male", "asymptomatic"; "no"/"yes" for an N/Y finding); the index is the value
            editor.addItems([feature.display(float(i)) for i in range(len(feature.categories))])
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
            # recompute as the user types (the session's debounce collapses the keystrokes into one request);
            # a half-typed value outside the range is not emitted by the spin box
            editor.setKeyboardTracking(True)
            editor.setStepType(QAbstractSpinBox.StepType.DefaultStepType)
            editor.setMinimumWidth(100)
            editor.setAlignment(Qt.AlignmentFlag.AlignRight)
            editor.valueChanged.connect(self._spin_to_slider)
            editor.valueChanged.connect(on_change)
            self.slider = QSlider(Qt.Orientation.Horizontal, parent)
            self.slider.setRange(0, SLIDER_STEPS)
            self.slider.setMinimumWidth(60)
            self.slider.valueChanged.connect(self._slider_to_spin)
            self.slider.setToolTip(f"{feature.label}: drag to change (the box beside it takes exact values)")
            self.slider.setAccessibleName(f"{feature.label} slider")
            editor.setGroupSeparatorShown(True)  # 262,000 platelets, not 262000
        editor.setToolTip(tip)
        editor.setAccessibleName(feature.label)
        self.editor = editor
        self.lock = QCheckBox(parent)
        self.lock.setToolTip("Locked: suggestions never change this feature" if not feature.mutability == Mutability.IMMUTABLE
                             else "Never changed by a suggestion (a fact about the patient, not something to act on)")
        self.lock.setAccessibleName(f"Lock {feature.label}")
        immutable = feature.mutability == Mutability.IMMUTABLE
        self.lock.setChecked(immutable or feature.mutability == Mutability.LOCKABLE)
        self.lock.setEnabled(not immutable)
        if immutable:
            self.lock.setToolTip("Immutable: never changed by a counterfactual")
            self.label.setText(self.label.text() + "  [immutable]")
        self.lock.toggled.connect(on_lock)
        marks = {Direction.INCREASE: "↑ only", Direction.DECREASE: "↓ only", Direction.TOWARD_NORMAL: "→ normal"}
        self.direction = QLabel(marks.get(feature.direction, ""), parent)
        if feature.direction != Direction.ANY:
            self.direction.setToolTip(f"Suggestions: {feature.label} {feature.describe_direction()}")

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
        if on != self._highlighted:  # a style sheet change re-polishes the widget: only when it changes
            self._highlighted = on
            self.label.setStyleSheet(f"font-weight: bold; color: {theme.colour('accent')};" if on else "")


class PatientForm(QWidget):
    """Renders the session's schema, values and locks; a user's edit is forwarded as `value_edited` /
    `lock_toggled` and the session decides what follows (the form never keeps a patient of its own)."""

    value_edited = Signal(str, float)
    lock_toggled = Signal(str, bool)

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

    def set_schema(self, schema: Schema, values: np.ndarray, locks: frozenset[str]) -> None:
        """Rebuild the rows for ``schema`` and show ``values`` and ``locks`` (without emitting edits)."""
        for row in self.rows:
            for widget in row.widgets():
                if widget is not None:
                    self._grid.removeWidget(widget)
                    retire(widget)
        self.schema = schema
        self.rows = []
        if not self._headers:
            for header, column in (("Feature", 0), ("Value", 1), ("", 2), ("Lock", 3), ("Rule", 4)):
                label = QLabel(f"<b>{header}</b>", self)
                self._grid.addWidget(label, 0, column)
                self._headers.append(label)
        for i, feature in enumerate(schema.features):
            row = FeatureRow(feature, self, lambda *_, n=feature.name: self._edited(n), lambda on, n=feature.name: self._locked(n, on))
            for column, widget in enumerate(row.widgets()):
                if widget is not None:
                    self._grid.addWidget(widget, i + 1, column)
            self.rows.append(row)
        for r in range(self._grid.rowCount()):
            self._grid.setRowStretch(r, 0)
        self._grid.setRowStretch(len(schema.features) + 1, 1)  # rows pack at the top; spare space goes below
        self.show_values(values)
        self.show_locks(locks)

    def _edited(self, name: str) -> None:
        if not self._quiet:
            self.value_edited.emit(name, self.row(name).value())

    def _locked(self, name: str, on: bool) -> None:
        if not self._quiet:
            self.lock_toggled.emit(name, bool(on))

    def show_values(self, values: np.ndarray, highlighted: frozenset[str] = frozenset()) -> None:
        self._quiet = True
        try:
            for row, value in zip(self.rows, values):
                if not np.isclose(row.value(), value):  # the edited row already shows it
                    row.set_value(float(value))
                row.set_highlight(row.feature.name in highlighted)
        finally:
            self._quiet = False

    def show_locks(self, locks: frozenset[str]) -> None:
        self._quiet = True
        try:
            for row in self.rows:
                if row.lock.isEnabled():
                    row.lock.setChecked(row.feature.name in locks)
        finally:
            self._quiet = False

    def vector(self) -> np.ndarray:
        return np.array([row.value() for row in self.rows], dtype=np.float64)

    def row(self, name: str) -> FeatureRow:
        return next(r for r in self.rows if r.feature.name == name)

    def set_value(self, name: str, value: float) -> None:
        """Type ``value`` into the feature's editor, as a user would (an edit follows)."""
        self.row(name).set_value(value)

    def set_locked(self, name: str, locked: bool) -> None:
        """Toggle the feature's lock box, as a user would."""
        row = self.row(name)
        if row.lock.isEnabled():
            row.lock.setChecked(locked)
