"""File > New dataset from CSV: the schema editor, pre-filled by inference (`core.tabular.infer`).

One row per column: whether it is used, its kind, range and step, unit, whether a suggestion may change it, what
a change would mean, its direction rule and feasible change, and where inference's tag came from (a name rule,
the data, or nothing). Changeability is a review: a column no rule knows is kept as measured until the user says
otherwise, and the dialog counts what awaits review. Inference only proposes; the user decides. A
mistake is said in the dialog and nothing typed is lost; the dialog only closes with a valid schema.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
    QLineEdit, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from cfx_desktop.core.tabular.infer import Inference, InferenceError, apply_edits, infer_schema, read_table
from cfx_desktop.core.tabular.schema import Kind, Schema
from cfx_desktop.ui import theme
from cfx_desktop.ui.accessibility import fill_names, set_header_tips
from cfx_desktop.ui.patient.schema_columns import (
    ACTIONABILITY, COLUMNS, DIRECTIONS, KINDS, MUTABILITY, NOTES, TIPS, as_shown, review_summary,
)


class SchemaEditor(QDialog):
    def __init__(self, csv_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"New dataset from {csv_path.name}")
        self.resize(1260, 660)
        self.csv_path = csv_path
        self.inference: Inference | None = None
        self.schema: Schema | None = None
        self.csv_table = read_table(csv_path)  # read once; InferenceError goes to the caller, before the dialog opens
        header, body = self.csv_table.header, self.csv_table.body
        layout = QVBoxLayout(self)
        intro = QLabel(f"<b>{html.escape(csv_path.name)}</b>: {len(body)} rows, {len(header)} columns. Check what "
                       "inference proposes (it only suggests), then create the dataset: its models train in the "
                       "background and it appears under Dataset.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        top = QFormLayout()
        self.name = QLineEdit(csv_path.stem, self)
        self.name.setToolTip("The dataset's name under Dataset (and in the command line's --dataset)")
        self.target = QComboBox(self)
        self.target.addItems(header)
        self.target.setToolTip("The outcome the models predict; it must have exactly two values")
        guess = next((h for h in reversed(header) if h.lower() in ("outcome", "target", "label", "class", "y", "death_event")), header[-1])
        self.target.setCurrentText(guess)
        self.positive = QComboBox(self)
        self.positive.setToolTip("Which outcome value is the event (probability 1)")
        self.margin = QDoubleSpinBox(self)
        self.margin.setRange(0, 100)
        self.margin.setSuffix(" %")
        self.margin.setValue(10)
        self.margin.setToolTip("How far the accepted ranges reach beyond the values seen in the file")
        row = QHBoxLayout()
        for widget in (self.target, QLabel("event:", self), self.positive, QLabel("range margin:", self), self.margin):
            row.addWidget(widget)
        row.addStretch(1)
        top.addRow("Dataset name", self.name)
        top.addRow("Outcome column", row)
        layout.addLayout(top)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        set_header_tips(self.table, TIPS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        training = QHBoxLayout()
        self.architectures: dict[str, QCheckBox] = {}
        from cfx_desktop.core.tabular.models import ARCHITECTURES

        training.addWidget(QLabel("Train:", self))
        for key, spec in ARCHITECTURES.items():
            box = QCheckBox(spec.label, self)
            box.setChecked(True)
            box.setToolTip(f"Train the {spec.label} model set")
            self.architectures[key] = box
            training.addWidget(box)
        self.members = QSpinBox(self)
        self.members.setRange(1, 5)
        self.members.setValue(2)
        self.members.setPrefix("models each: ")
        self.members.setToolTip("Models per architecture: the base model plus bootstrap members; the suggestions' "
                                "robustness is judged by all of them")
        self.cv = QSpinBox(self)
        self.cv.setRange(0, 5)
        self.cv.setValue(1)
        self.cv.setPrefix("CV repeats: ")
        self.cv.setToolTip("Repeats of 5-fold cross-validation of each base model (0 skips it)")
        training.addWidget(self.members)
        training.addWidget(self.cv)
        training.addStretch(1)
        layout.addLayout(training)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setObjectName("schemaMessage")
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create and train")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setToolTip("Create the dataset and train its models")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.edits: dict[str, dict[str, object]] = {}  # what the user changed, kept across re-inference
        self.target.currentTextChanged.connect(lambda _: self._infer(reset_positive=True))
        self.positive.currentTextChanged.connect(lambda _: self._infer())
        self.margin.valueChanged.connect(lambda _: self._infer())
        self._infer(reset_positive=True)
        fill_names(self)

    # ----- inference and the table ------------------------------------------------------------------------
    def _infer(self, reset_positive: bool = False) -> None:
        self._collect()
        positive = None if reset_positive else (self.positive.currentText() or None)
        try:
            inference = infer_schema(self.csv_path, self.target.currentText(), self.name.text() or None,
                                     self.margin.value() / 100, positive, table=self.csv_table)
        except InferenceError as exc:
            self.inference = None
            self.table.setRowCount(0)
            self._say(str(exc), error=True)
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
            return
        self.inference = inference
        if reset_positive:
            self.positive.blockSignals(True)
            self.positive.clear()
            self.positive.addItems(sorted(inference.class_counts))
            positive_value = inference.schema.target_values[1] if inference.schema.target_values else "1"
            self.positive.setCurrentText(positive_value if positive_value in inference.class_counts else
                                         next(iter(sorted(inference.class_counts))))
            self.positive.blockSignals(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(True)
        self._fill(inference)
        counts = ", ".join(f"{k}: {v}" for k, v in inference.class_counts.items())
        notes = "; ".join(inference.notes)
        self._say(f"Outcome {html.escape(self.target.currentText())} ({counts}). {html.escape(notes)} {review_summary(inference)}")

    def _fill(self, inference: Inference) -> None:
        by_name = {f.name: f for f in inference.schema.features}
        rows = [c for c in inference.columns if c.role != "target"]
        self.table.setRowCount(len(rows))
        for r, column in enumerate(rows):
            feature = by_name.get(column.name)
            edit = self.edits.get(column.name, {})
            use = QCheckBox(self.table)
            use.setChecked(bool(edit.get("use", feature is not None)) and feature is not None)
            use.setEnabled(feature is not None)
            use.setToolTip(TIPS[0])
            use.setAccessibleName(f"Use {column.name}")
            self.table.setCellWidget(r, 0, use)
            name = QTableWidgetItem(column.name)
            name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(r, 1, name)
            notes = column.reason + (f"; missing in {column.missing:.0%} of rows" if column.missing and "missing" not in column.reason else "")
            note = QTableWidgetItem(notes or "")
            note.setToolTip(notes)
            note.setFlags(note.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(r, NOTES, note)
            if feature is None:
                kind = QTableWidgetItem(column.kind)
                kind.setFlags(kind.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(r, 2, kind)
                for c in range(3, NOTES):
                    empty = QTableWidgetItem("")
                    empty.setFlags(empty.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.table.setItem(r, c, empty)
                continue
            kinds = [k for k in KINDS if (k in ("binary", "categorical")) == (feature.kind.value in ("binary", "categorical"))]
            self._combo(r, 2, kinds, str(edit.get("kind", feature.kind.value)), f"Kind of {column.name}")
            numeric = feature.kind in (Kind.INTEGER, Kind.CONTINUOUS)
            for c, key, value in ((3, "min", feature.min), (4, "max", feature.max), (5, "step", feature.step)):
                item = QTableWidgetItem(str(edit.get(key, f"{value:g}")) if numeric else "")
                if not numeric:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(r, c, item)
            self.table.setItem(r, 6, QTableWidgetItem(str(edit.get("unit", feature.unit))))
            self._combo(r, 7, MUTABILITY, str(edit.get("mutability", feature.mutability.value)), f"Can {column.name} change")
            self._combo(r, 8, ACTIONABILITY, str(edit.get("actionability", feature.actionability.value)),
                        f"What a change of {column.name} means")
            self._combo(r, 9, DIRECTIONS, str(edit.get("direction", feature.direction.value)), f"Direction rule of {column.name}")
            reach = QTableWidgetItem(str(edit.get("feasible_change", f"{feature.feasible_change:g}")) if numeric else "")
            reach.setToolTip(feature.feasible_note or TIPS[10])
            if not numeric:
                reach.setFlags(reach.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(r, 10, reach)
            edited = any(key in edit for key in ("mutability", "actionability", "direction"))
            source = "review: set by you" if edited else feature.tag_source or "none"
            tag = QTableWidgetItem(source.split(":")[0])
            tag.setToolTip(source)
            tag.setFlags(tag.flags() & ~Qt.ItemFlag.ItemIsEditable)
            if source.startswith("none"):
                tag.setForeground(QColor(theme.colour("warn")))
            self.table.setItem(r, 11, tag)
        self.table.resizeColumnsToContents()
        for column, least in ((3, 70), (4, 70), (5, 56), (6, 90)):  # room to type a range or a unit
            self.table.setColumnWidth(column, max(self.table.columnWidth(column), least))

    def _combo(self, row: int, column: int, items: list[str], current: str, name: str) -> None:
        box = QComboBox(self.table)
        box.addItems(items)
        box.setCurrentText(current)
        box.setToolTip(TIPS[column])
        box.setAccessibleName(name)
        self.table.setCellWidget(row, column, box)

    def _collect(self) -> None:
        """Remember what the user changed: the cells that differ from the inference shown. Re-inference (another
        margin, outcome or event) then updates every other cell, and a refused OK loses nothing."""
        if self.inference is None:
            return  # the table is empty; the edits made before stay
        by_name = {f.name: f for f in self.inference.schema.features}
        for r in range(self.table.rowCount()):
            name_item = self.table.item(r, 1)
            if name_item is None:
                continue
            name = name_item.text()
            shown = self._shown(r)
            inferred = as_shown(by_name.get(name))
            self.edits[name] = {key: value for key, value in shown.items() if inferred.get(key) != value}

    def _shown(self, r: int) -> dict[str, object]:
        """Row ``r`` of the table as edit entries (``use``, ``kind``, ``min`` ... ``actionability``)."""
        use = self.table.cellWidget(r, 0)
        edit: dict[str, object] = {"use": bool(use.isChecked()) if isinstance(use, QCheckBox) else False}
        kind = self.table.cellWidget(r, 2)
        if isinstance(kind, QComboBox):
            edit["kind"] = kind.currentText()
            for c, key in ((3, "min"), (4, "max"), (5, "step")):
                item = self.table.item(r, c)
                if item is not None and item.text().strip():
                    edit[key] = item.text().strip()
            unit = self.table.item(r, 6)
            edit["unit"] = unit.text() if unit is not None else ""
            for c, key in ((7, "mutability"), (8, "actionability"), (9, "direction")):
                box = self.table.cellWidget(r, c)
                if isinstance(box, QComboBox):
                    edit[key] = box.currentText()
            reach = self.table.item(r, 10)
            if reach is not None and reach.text().strip():
                edit["feasible_change"] = reach.text().strip()
        return edit

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(f"<span style='color: #b00020'><b>{text}</b></span>" if error else text)

    # ----- result -------------------------------------------------------------------------------------------
    def training_settings(self) -> dict[str, object]:
        return {"architectures": [k for k, box in self.architectures.items() if box.isChecked()],
                "members": self.members.value(), "cv_repeats": self.cv.value()}

    def accept(self) -> None:  # noqa: D102 - validates first; on a problem the dialog stays, with everything kept
        self._collect()
        if self.inference is None:
            return
        if not self.training_settings()["architectures"]:
            self._say("Tick at least one model to train.", error=True)
            return
        try:
            schema = apply_edits(self.inference, self.edits, self.name.text())
        except InferenceError as exc:
            self._say(html.escape(str(exc)), error=True)
            return
        from cfx_desktop.core.tabular.datasets import DATASETS

        if schema.name in DATASETS:
            self._say(f"A dataset named {html.escape(schema.name)} exists already: choose another name "
                      "(or remove that one: File > Remove dataset).", error=True)
            return
        self.schema = schema
        super().accept()
