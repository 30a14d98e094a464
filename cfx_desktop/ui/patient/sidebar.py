"""The Patient tab's left column: the Dataset and Model boxes, the banner that says where the patient came from,
the form, and Reset / Load / Undo. It renders what the tab hands it and forwards nothing itself: the tab
connects its widgets to the session."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from cfx_desktop.core.tabular.datasets import variants
from cfx_desktop.ui.patient.form import PatientForm

START_HERE = (" <i>Start here: change any value and the prediction, the bars and the suggestions follow; "
              "Ctrl+O opens your own patients (CSV); F1 explains the tab.</i>")


def usable_architectures(schema, refused: dict[str, str]) -> list[tuple[str, str]]:  # noqa: ANN001 - Schema
    """(key, label) of the architectures whose model for ``schema`` is installed and passed the launch check (a
    dataset of the user's may have some architectures only). Called once the pool has loaded the model code."""
    from cfx_desktop.core import bundles
    from cfx_desktop.core.tabular.models import ARCHITECTURES, model_name

    installed = set(bundles.list_bundles())
    return [(key, spec.ui_label) for key, spec in ARCHITECTURES.items()
            if model_name(schema, key) in installed and model_name(schema, key) not in refused]


class PatientSidebar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(560)
        self.setMaximumWidth(620)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        selectors = QFormLayout()
        self.dataset_combo = QComboBox(self)
        self.fill_datasets()
        self.model_combo = QComboBox(self)
        self.model_combo.addItem("loading models...", None)  # filled once the worker pool has loaded them
        self.model_combo.setEnabled(False)
        self.dataset_combo.setToolTip("Which data the models were trained on; shared features carry over when you switch")
        self.model_combo.setToolTip("Which model explains the patient: MLP, BiLSTM, NAM (additive, exact contributions) or "
                                    "Lasso (L1 logistic regression, exact weights). The suggestions must hold for all of them")
        selectors.addRow("Dataset", self.dataset_combo)
        selectors.addRow("Model", self.model_combo)
        layout.addLayout(selectors)
        self.banner = QLabel(self)
        self.banner.setWordWrap(True)
        self.banner.setObjectName("patientBanner")
        # its own text colour too: under a dark palette the default text would be light on this light yellow
        self.banner.setStyleSheet("#patientBanner { background: #fff4d6; color: #3d3000; border: 1px solid #e0c060; padding: 4px; }")
        layout.addWidget(self.banner)
        self.form = PatientForm(self)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        layout.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        self.reset_button = QPushButton("Reset to example patient", self)
        self.load_button = QPushButton("Load CSV...", self)
        self.undo_button = QPushButton("Undo", self)
        self.reset_button.setToolTip("Back to the built-in example patient (Ctrl+R; Undo brings this one back)")
        self.load_button.setToolTip("Open a CSV of patients into the cohort view (Ctrl+O)")
        self.undo_button.setToolTip("Undo the last applied suggestion, reset, loaded row or dataset switch (Ctrl+Z)")
        self.undo_button.setEnabled(False)
        for button in (self.reset_button, self.load_button, self.undo_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)

    def show_banner(self, text: str, is_example: bool) -> None:
        """Where the patient came from; for the example it is also the "start here" card."""
        self.banner.setText(html.escape(text, quote=False) + (START_HERE if is_example else ""))

    def fill_datasets(self) -> None:
        """The Dataset box: the built-in datasets, then the user's own (re-read after one is added or removed)."""
        current = self.dataset_combo.currentData()
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        for _, variant in variants():
            self.dataset_combo.addItem(variant.label, variant.key)
        index = self.dataset_combo.findData(current)
        self.dataset_combo.setCurrentIndex(max(index, 0))
        self.dataset_combo.blockSignals(False)

    def show_dataset(self, key: str) -> None:
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(key))
        self.dataset_combo.blockSignals(False)

    def list_models(self, usable: list[tuple[str, str]], current: str) -> None:
        """The Model box: (key, label) of the architectures usable for this dataset, ``current`` selected; quiet,
        so that filling it is not taken for the user's choice."""
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for key, label in usable:
            self.model_combo.addItem(label, key)
        self.model_combo.setCurrentIndex(self.model_combo.findData(current))
        self.model_combo.blockSignals(False)
