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

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QSpinBox, QVBoxLayout, QWidget,
)

from cfx_desktop.core.tabular.infer import Inference, InferenceError, apply_edits, infer_schema, read_table
from cfx_desktop.core.tabular.schema import Schema
from cfx_desktop.ui.accessibility import fill_names
from cfx_desktop.ui.patient.schema_columns import NOTES, review_summary
from cfx_desktop.ui.patient.schema_table import SchemaTable

__all__ = ["NOTES", "SchemaEditor"]


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
        self.table = SchemaTable(self)
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
        self.table.fill(inference, self.edits)
        counts = ", ".join(f"{k}: {v}" for k, v in inference.class_counts.items())
        notes = "; ".join(inference.notes)
        self._say(f"Outcome {html.escape(self.target.currentText())} ({counts}). {html.escape(notes)} {review_summary(inference)}")

    def _collect(self) -> None:
        """Remember what the user changed (`SchemaTable.edits`), so re-inference and a refused OK lose nothing."""
        if self.inference is not None:  # else the table is empty; the edits made before stay
            self.edits.update(self.table.edits(self.inference))

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
