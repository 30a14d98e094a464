"""The Patient tab: edit a patient, see the prediction, its explanation and what would have to change, live.

Data flow (DESIGN.md): the form emits `changed`; the prediction is requested at once and the suggestions after
a 150 ms debounce, each on its own latest-request-wins channel in the worker pool. A result is shown only if it
answers the form's current values, model and constraints, so a stale one can never appear.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QTabWidget,
    QVBoxLayout, QWidget,
)
from superqt.utils import QSignalDebouncer

from cfx_desktop.core.tabular.counterfactuals import Constraints
from cfx_desktop.core.tabular.data import CsvError, Cohort, load_csv
from cfx_desktop.core.tabular.live import PredictionResult, SuggestionResult, predict_and_attribute, suggest
from cfx_desktop.core.tabular.schema import SCHEMAS, Schema
from cfx_desktop.ui import report
from cfx_desktop.ui.patient.attribution_view import AttributionView
from cfx_desktop.ui.patient.cohort import CohortView
from cfx_desktop.ui.patient.form import PatientForm
from cfx_desktop.ui.patient.prediction_view import RiskGauge
from cfx_desktop.ui.patient.suggestions import SuggestionsPanel, change_text, plausibility_text
from cfx_desktop.ui.tab_base import DoneFn, SelfTestStep, ToolTab, poll_until
from cfx_desktop.workers.pool import JobError, LatestOnly, WorkerPool

DATASETS = [
    ("heart-failure-no-time", "Heart failure, without follow-up time (default)"),
    ("heart-failure", "Heart failure, with follow-up time"),
    ("heart-disease", "Heart disease"),
]
ARCHITECTURES = [("mlp", "MLP"), ("bilstm", "BiLSTM"), ("nam", "NAM (additive)"), ("lasso", "Lasso (L1 logistic)")]
DEBOUNCE_MS = 150


class PatientTab(ToolTab):
    title = "Patient"
    open_filter = "Patient CSV (*.csv *.txt);;All files (*)"

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(pool, parent)
        self.schema: Schema = SCHEMAS[DATASETS[0][0]]
        self.cohorts: dict[str, Cohort] = {}
        self.undo_stack: list[np.ndarray] = []
        self.prediction: PredictionResult | None = None
        self.suggestions_result: SuggestionResult | None = None
        self._suggest_pending = False
        self._build()
        self.predict_channel = LatestOnly(pool, "Prediction", self)
        self.suggest_channel = LatestOnly(pool, "Counterfactual suggestions", self)
        self.predict_channel.result.connect(self._on_prediction)
        self.predict_channel.error.connect(self._on_predict_error)
        self.suggest_channel.result.connect(self._on_suggestions)
        self.suggest_channel.error.connect(self._on_suggest_error)
        self.suggest_channel.started.connect(lambda: self.suggestions.set_busy(True))
        self.suggest_channel.idle.connect(lambda: self.suggestions.set_busy(self._suggest_pending))
        self.debouncer = QSignalDebouncer(parent=self)
        self.debouncer.setTimeout(DEBOUNCE_MS)
        self.debouncer.triggered.connect(self._request_suggestions)
        self.form.changed.connect(self._on_form_changed)
        self.form.locks_changed.connect(self._schedule_suggestions)
        self.suggestions.settings_changed.connect(self._schedule_suggestions)
        self.suggestions.apply_requested.connect(self.apply_suggestion)
        self.attributions.shape_feature_changed.connect(lambda _: self._request_prediction())
        self.set_dataset(DATASETS[0][0])

    # ----- layout -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        left = QWidget(self)
        left.setMinimumWidth(560)
        left.setMaximumWidth(620)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        selectors = QFormLayout()
        self.dataset_combo = QComboBox(left)
        for key, label in DATASETS:
            self.dataset_combo.addItem(label, key)
        self.model_combo = QComboBox(left)
        for key, label in ARCHITECTURES:
            self.model_combo.addItem(label, key)
        selectors.addRow("Dataset", self.dataset_combo)
        selectors.addRow("Model", self.model_combo)
        left_layout.addLayout(selectors)
        self.banner = QLabel(left)
        self.banner.setWordWrap(True)
        self.banner.setObjectName("patientBanner")
        self.banner.setStyleSheet("#patientBanner { background: #fff4d6; border: 1px solid #e0c060; padding: 4px; }")
        left_layout.addWidget(self.banner)
        self.form = PatientForm(left)
        scroll = QScrollArea(left)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        left_layout.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        self.reset_button = QPushButton("Reset to example patient", left)
        self.load_button = QPushButton("Load CSV...", left)
        self.undo_button = QPushButton("Undo", left)
        self.undo_button.setEnabled(False)
        for b in (self.reset_button, self.load_button, self.undo_button):
            buttons.addWidget(b)
        left_layout.addLayout(buttons)
        outer.addWidget(left)

        right = QSplitter(Qt.Orientation.Vertical, self)
        top = QWidget(right)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(4, 4, 4, 4)
        self.gauge = RiskGauge(top)
        top_layout.addWidget(self.gauge)
        self.model_label = QLabel(top)
        self.model_label.setWordWrap(True)
        top_layout.addWidget(self.model_label)
        box = QGroupBox("Counterfactual suggestions: what would have to change?", top)
        box_layout = QVBoxLayout(box)
        self.suggestions = SuggestionsPanel(box)
        box_layout.addWidget(self.suggestions)
        top_layout.addWidget(box, 1)
        self.bottom = QTabWidget(right)
        self.attributions = AttributionView(self.bottom)
        self.cohort_view = CohortView(self.bottom)
        self.bottom.addTab(self.attributions, "Why? Attributions")
        self.bottom.addTab(self.cohort_view, "Cohort")
        right.addWidget(top)
        right.addWidget(self.bottom)
        right.setSizes([430, 420])
        outer.addWidget(right, 1)

        self.dataset_combo.currentIndexChanged.connect(lambda _: self.set_dataset(self.dataset_combo.currentData()))
        self.model_combo.currentIndexChanged.connect(lambda _: self._on_model_changed())
        self.reset_button.clicked.connect(self.reset_to_example)
        self.load_button.clicked.connect(self._load_dialog)
        self.undo_button.clicked.connect(self.undo)
        QShortcut(QKeySequence.StandardKey.Undo, self, activated=self.undo)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.reset_to_example)
        self.cohort_view.row_chosen.connect(self.load_row)

    def shortcuts(self) -> list[tuple[str, str]]:
        return [("Ctrl+Z", "undo the last applied suggestion, reset or loaded row"), ("Ctrl+R", "reset to the example patient")]

    # ----- state --------------------------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return f"{self.schema.name}-{self.model_combo.currentData()}"

    def constraints(self) -> Constraints:
        return Constraints(
            locked=self.form.user_locked(), unlocked=self.form.user_unlocked(),
            max_changes=self.suggestions.max_changes_value(), margin=self.suggestions.margin.value(),
        )

    def set_dataset(self, key: str) -> None:
        index = self.dataset_combo.findData(key)
        if index != self.dataset_combo.currentIndex():
            self.dataset_combo.setCurrentIndex(index)  # re-enters through the signal
            return
        previous = self.schema
        self.schema = SCHEMAS[key]
        shared = previous.name.startswith("heart-failure") and key.startswith("heart-failure") and self.form.rows
        values = None
        if shared:  # keep what the user typed when toggling follow-up time
            current = dict(zip(previous.names, self.form.vector()))
            values = np.array([current.get(n, self.schema.example_vector()[i]) for i, n in enumerate(self.schema.names)])
        self.attributions.set_schema(self.schema)
        self.form.set_schema(self.schema, values if values is not None else self.schema.example_vector())
        self._set_banner(self.schema.example_label if values is None else "Edited patient")
        cohort = self.cohorts.get(self.schema.name)
        if cohort is not None:
            self.cohort_view.set_cohort(cohort)

    def _on_model_changed(self) -> None:
        self._request_prediction()
        self._schedule_suggestions()

    def _set_banner(self, text: str) -> None:
        self.banner.setText(text)

    # ----- requests -----------------------------------------------------------------------------------------
    def _on_form_changed(self) -> None:
        if self.banner.text() == self.schema.example_label and not np.allclose(self.form.vector(), self.schema.example_vector()):
            self._set_banner("Edited from the example patient (not a real person)")
        self.gauge.set_stale(True)
        self._request_prediction()
        self._schedule_suggestions()

    def _request_prediction(self) -> None:
        if not self.form.rows:
            return
        self.predict_channel.request(predict_and_attribute, self.model_name, self.form.vector(),
                                     self.attributions.shape_feature.currentData())

    def _schedule_suggestions(self) -> None:
        self._suggest_pending = True
        self.suggestions.set_busy(True)
        self.debouncer.throttle()

    def _request_suggestions(self) -> None:
        self._suggest_pending = False
        if not self.form.rows:
            return
        cohort = self.cohorts.get(self.schema.name)
        self.suggest_channel.request(
            suggest, self.model_name, self.form.vector(), self.constraints(), self.suggestions.method_key(),
            self.suggestions.k_value(), None if cohort is None else cohort.X,
        )

    def _answers_current(self, model_name: str, x: np.ndarray) -> bool:
        return model_name == self.model_name and len(x) == len(self.form.rows) and np.allclose(x, self.form.vector(), equal_nan=True)

    def _on_prediction(self, result: PredictionResult) -> None:
        if not self._answers_current(result.model_name, result.x):
            return  # answers an older form state; a newer request is on its way
        self.prediction = result
        words = self.schema.target_label
        self.gauge.set_prediction(result.probability, result.threshold, f"p({words})", result.outcome)
        self.model_label.setText(f"Model card: <b>{result.card_label}</b> ({result.model_name}); {result.metrics_summary}")
        self.attributions.show_result(result, self.schema)

    def _on_suggestions(self, result: SuggestionResult) -> None:
        if not self._answers_current(result.model_name, result.x):
            return
        if result.constraints != self.constraints() or result.method != self.suggestions.method_key() or result.k != self.suggestions.k_value():
            return
        self.suggestions_result = result
        self.suggestions.show_result(result, self.schema)

    def _on_predict_error(self, error: JobError) -> None:
        self.gauge.set_stale(True)
        self.model_label.setText(f"<b>Model unavailable:</b> {error.message}. Choose another model.")
        self.error_raised.emit(f"{error.title} failed", error.message, error.details)

    def _on_suggest_error(self, error: JobError) -> None:
        self.suggestions.clear(f"<b>Suggestions failed:</b> {error.message}")
        self.error_raised.emit(f"{error.title} failed", error.message, error.details)

    # ----- user actions -------------------------------------------------------------------------------------
    def _push_undo(self) -> None:
        self.undo_stack.append(self.form.vector())
        self.undo_button.setEnabled(True)

    def apply_suggestion(self, index: int) -> None:
        result = self.suggestions_result
        if result is None or index >= len(result.counterfactuals):
            return
        cf = result.counterfactuals[index]
        self._push_undo()
        self.form.set_vector(cf.values, highlight=True)
        self._set_banner(f"Suggestion applied: {change_text(self.schema, cf)} (Undo restores the patient)")
        self.status_message.emit("Suggestion applied; Ctrl+Z undoes it")

    def undo(self) -> None:
        if not self.undo_stack:
            return
        self.form.set_vector(self.undo_stack.pop())
        self.undo_button.setEnabled(bool(self.undo_stack))
        self._set_banner("Previous patient restored")

    def reset_to_example(self) -> None:
        self._push_undo()
        self.form.set_vector(self.schema.example_vector())
        self._set_banner(self.schema.example_label)

    def _load_dialog(self) -> None:
        window = self.window()
        if hasattr(window, "open_dialog"):
            window.open_dialog()

    def open_path(self, path: Path) -> bool:
        """Load a cohort CSV for the current dataset; on any problem show it and keep the current patient."""
        try:
            cohort = load_csv(path, self.schema, allow_extra=True, missing_ok=True)
        except CsvError as exc:
            self.error_raised.emit("Could not load the CSV", f"{path.name} does not fit the {self.schema.title} schema; "
                                   "the current patient is unchanged.", str(exc))
            self.status_message.emit(f"{path.name}: not loaded (see details)")
            return False
        self.cohorts[self.schema.name] = cohort
        self.cohort_view.set_cohort(cohort)
        self.bottom.setCurrentWidget(self.cohort_view)
        self.file_opened.emit(str(path))
        self.status_message.emit(f"Loaded {len(cohort)} patients from {path.name}; it is also the reference cohort now")
        self._schedule_suggestions()
        return True

    def load_row(self, row: int) -> None:
        cohort = self.cohorts.get(self.schema.name)
        if cohort is None:
            return
        values = cohort.X[row].copy()
        missing = [f.label for f, v in zip(self.schema.features, values) if np.isnan(v)]
        values = np.where(np.isnan(values), self.schema.example_vector(), values)
        self._push_undo()
        self.form.set_vector(values)
        note = f"; missing {', '.join(missing)} filled with the example value" if missing else ""
        self._set_banner(f"Patient from {Path(cohort.source).name}, line {int(cohort.lines[row])}{note}")

    # ----- export -------------------------------------------------------------------------------------------
    def export_to(self, path: Path) -> bool:
        if path.suffix.lower() == ".png":
            return report.write_png(path, self)
        def shown(f, v) -> str:  # noqa: ANN001
            return ("yes" if v else "no") if f.kind.value == "binary" and not f.categories else f.format(v)

        patient_rows = [[f.label, shown(f, v), f.unit] for f, v in zip(self.schema.features, self.form.vector())]
        sections = [("Patient", report.table_html(["Feature", "Value", "Unit"], patient_rows)),
                    ("Prediction", f"<p>{self.gauge.text()}</p>")]
        result = self.suggestions_result
        if result is not None and result.counterfactuals:
            rows = [[change_text(self.schema, cf), f"{cf.probability:.2f}", str(cf.l0), plausibility_text(cf.metrics)]
                    for cf in result.counterfactuals]
            sections.append(("Counterfactual suggestions", report.table_html(["What would have to change", "New p", "Changed", "Plausibility"], rows)))
        elif result is not None:
            sections.append(("Counterfactual suggestions", f"<p>{result.counterfactuals.reason}</p>"))
        sections.append(("Attributions", report.pixmap_html(self.attributions.grab())))
        report.write_pdf(path, report.report_html("Patient explanation", self.model_name, sections))
        return True

    # ----- idle / self-test ---------------------------------------------------------------------------------
    def is_idle(self) -> bool:
        return not (self._suggest_pending or self.predict_channel.busy or self.suggest_channel.busy)

    def self_test_steps(self) -> list[SelfTestStep]:
        def start(done: DoneFn) -> None:
            self.reset_to_example()

            def finished() -> None:
                result, prediction = self.suggestions_result, self.prediction
                if prediction is None or result is None:
                    done(False, "no prediction or suggestions arrived")
                elif not result.counterfactuals:
                    done(False, f"no counterfactual: {result.counterfactuals.reason}")
                else:
                    cf = result.counterfactuals[0]
                    done(True, f"p = {prediction.probability:.2f}; {change_text(self.schema, cf)} -> p = {cf.probability:.2f}")

            poll_until(self, lambda: self.is_idle() and self.suggestions_result is not None
                       and self._answers_current(self.suggestions_result.model_name, self.suggestions_result.x), finished)

        return [SelfTestStep("patient prediction and counterfactual suggestion", start, 120)]
