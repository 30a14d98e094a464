"""The Patient tab: panels that render a `PatientSession` and forward what the user does to it.

Data flow (DESIGN.md): an edit goes to the session; `PatientJobs` (sessions/) hears the session's event and
requests the prediction at once and the suggestions after a short debounce, as typed requests through the pool's
scheduler; results go back to the session, which keeps them only if they answer its current state. The tab is not
on that path: it lays out, forwards and renders.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QTabWidget,
    QVBoxLayout, QWidget,
)

from cfx_desktop.core.tabular.data import CsvError, load_csv
from cfx_desktop.core.tabular.datasets import variants
from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.ui.patient import export
from cfx_desktop.ui.patient.attribution_view import AttributionView
from cfx_desktop.ui.patient.cohort_panel import CohortPanel
from cfx_desktop.ui.patient.form import PatientForm
from cfx_desktop.ui.patient.model_card import model_card_dialog
from cfx_desktop.ui.patient.prediction_view import RiskGauge
from cfx_desktop.ui.patient.own_data import OwnDatasetFlow
from cfx_desktop.ui.patient.suggestions import SuggestionsPanel, change_text
from cfx_desktop.ui.tab_base import DoneFn, SelfTestStep, ToolTab, poll_until
from cfx_desktop.workers.pool import JobError, WorkerPool
from cfx_desktop.workers.startup import libraries_for

if TYPE_CHECKING:  # results come from the worker pool, which has imported these (and torch)
    from cfx_desktop.core.tabular.live import PredictionResult, SuggestionResult



class PatientTab(ToolTab):
    title = "Patient"
    open_filter = "Patient CSV (*.csv *.txt);;All files (*)"

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(pool, parent)
        self.session = PatientSession()
        from cfx_desktop.sessions.patient_jobs import PatientJobs
        from cfx_desktop.workers.binding import PoolScheduler

        scheduler = self.scheduler = PoolScheduler(pool, self)
        self._build()
        self.jobs = PatientJobs(self.session, scheduler)
        self.predict_channel = scheduler.channel("predict")  # counted by the stress tests
        self.cohort_panel.bind(self.jobs)
        self.jobs.prediction_failed.connect(self._on_predict_error)
        self.jobs.suggestions_failed.connect(self._on_suggest_error)
        self.jobs.suggestions_busy.connect(self.suggestions.set_busy)
        self.jobs.error_raised.connect(self.error_raised.emit)
        self._connect_session()
        self._show_dataset()
        self.refused: dict[str, str] = {}
        libraries = libraries_for(pool)
        libraries.when_loaded(self._on_models_loaded, self, stage="tabular")
        libraries.failed.connect(self._on_models_failed)

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
        self._fill_datasets()
        self.model_combo = QComboBox(left)
        self.model_combo.addItem("loading models...", None)  # filled once the worker pool has loaded them
        self.model_combo.setEnabled(False)
        self.dataset_combo.setToolTip("Which data the models were trained on; shared features carry over when you switch")
        self.model_combo.setToolTip("Which model explains the patient: MLP, BiLSTM, NAM (additive, exact contributions) or "
                                    "Lasso (L1 logistic regression, exact weights). The suggestions must hold for all of them")
        selectors.addRow("Dataset", self.dataset_combo)
        selectors.addRow("Model", self.model_combo)
        left_layout.addLayout(selectors)
        self.banner = QLabel(left)
        self.banner.setWordWrap(True)
        self.banner.setObjectName("patientBanner")
        # its own text colour too: under a dark palette the default text would be light on this light yellow
        self.banner.setStyleSheet("#patientBanner { background: #fff4d6; color: #3d3000; border: 1px solid #e0c060; padding: 4px; }")
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
        self.reset_button.setToolTip("Back to the built-in example patient (Ctrl+R; Undo brings this one back)")
        self.load_button.setToolTip("Open a CSV of patients into the cohort view (Ctrl+O)")
        self.undo_button.setToolTip("Undo the last applied suggestion, reset, loaded row or dataset switch (Ctrl+Z)")
        self.undo_button.setEnabled(False)
        for b in (self.reset_button, self.load_button, self.undo_button):
            buttons.addWidget(b)
        left_layout.addLayout(buttons)
        outer.addWidget(left)

        right = QSplitter(Qt.Orientation.Vertical, self)
        # in a scroll area: its wrapped labels need more height when narrow than a splitter would give them on a
        # 720 px screen, and scrolling beats overlapping text
        top_scroll = QScrollArea(right)
        top_scroll.setWidgetResizable(True)
        top_scroll.setFrameShape(QFrame.Shape.NoFrame)
        top = QWidget(top_scroll)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(4, 4, 4, 4)
        self.gauge = RiskGauge(top)
        top_layout.addWidget(self.gauge)
        card_row = QHBoxLayout()
        self.model_label = QLabel("Loading models... the form is ready; predictions follow in a few seconds.", top)
        self.model_label.setWordWrap(True)
        self.card_button = QPushButton("Model card...", top)
        self.card_button.setToolTip("Validation metrics and calibration (Brier score, reliability curve) of this model")
        self.card_button.setEnabled(False)
        card_row.addWidget(self.model_label, 1)
        card_row.addWidget(self.card_button)
        top_layout.addLayout(card_row)
        box = QGroupBox("Counterfactual suggestions: what would have to change?", top)
        box_layout = QVBoxLayout(box)
        self.suggestions = SuggestionsPanel(box)
        box_layout.addWidget(self.suggestions)
        top_layout.addWidget(box, 1)
        self.bottom = QTabWidget(right)
        self.attributions = AttributionView(self.bottom)
        self.cohort_panel = CohortPanel(self.session, self.bottom)
        self.own_data = OwnDatasetFlow(self.scheduler, self)
        self.own_data.dataset_ready.connect(self._on_dataset_ready)
        self.own_data.dataset_removed.connect(lambda _name: self._fill_datasets())
        self.own_data.message.connect(self.error_raised)
        self.cohort_view = self.cohort_panel.table
        self.bottom.addTab(self.attributions, "Why? Attributions")
        self.bottom.addTab(self.cohort_panel, "Cohort and global recourse")
        top_scroll.setWidget(top)
        right.addWidget(top_scroll)
        right.addWidget(self.bottom)
        right.setSizes([540, 310])  # the suggestions table shows about three rows at 900 px
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        self.right = right
        self.bottom.currentChanged.connect(self._share_height)
        outer.addWidget(right, 1)

    def _connect_session(self) -> None:
        session = self.session
        self.dataset_combo.currentIndexChanged.connect(lambda _: session.set_dataset(self.dataset_combo.currentData()))
        self.model_combo.currentIndexChanged.connect(self._on_model_chosen)
        self.form.value_edited.connect(session.set_value)
        self.form.lock_toggled.connect(session.set_locked)
        self.suggestions.settings_changed.connect(lambda: session.set_settings(**self.suggestions.settings()))
        self.suggestions.apply_requested.connect(self.apply_suggestion)
        self.attributions.shape_feature_changed.connect(session.set_shape_feature)
        self.cohort_panel.error_raised.connect(self.error_raised)
        self.reset_button.clicked.connect(session.reset_to_example)
        self.load_button.clicked.connect(self._load_dialog)
        self.cohort_view.open_requested.connect(self._load_dialog)
        self.card_button.clicked.connect(lambda: model_card_dialog(self, session.prediction).open() if session.prediction else None)
        self.undo_button.clicked.connect(self.undo)
        QShortcut(QKeySequence.StandardKey.Undo, self, activated=self.undo)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=session.reset_to_example)

        session.dataset_changed.connect(self._show_dataset)
        session.values_changed.connect(self._on_values_changed)
        session.locks_changed.connect(lambda: self.form.show_locks(session.locks))
        session.banner_changed.connect(self._show_banner)
        session.model_changed.connect(self._on_model_changed)
        session.prediction_changed.connect(self._show_prediction)
        session.suggestions_changed.connect(lambda result: self.suggestions.show_result(result, session.schema))
        session.undo_changed.connect(self.undo_button.setEnabled)

    def shortcuts(self) -> list[tuple[str, str]]:
        return [("Ctrl+Z", "undo the last applied suggestion, reset, loaded row or dataset switch"),
                ("Ctrl+R", "reset to the example patient")]

    def _show_banner(self, text: str) -> None:
        """The banner says where the patient came from; for the example it is also the "start here" card."""
        start = (" <i>Start here: change any value and the prediction, the bars and the suggestions follow; "
                 "Ctrl+O opens your own patients (CSV); F1 explains the tab.</i>") if self.session.is_example else ""
        self.banner.setText(html.escape(text, quote=False) + start)

    # ----- views of the session -----------------------------------------------------------------------------
    @property
    def schema(self):  # noqa: ANN201
        return self.session.schema

    @property
    def model_name(self) -> str:
        return self.session.model_name

    @property
    def prediction(self) -> PredictionResult | None:
        return self.session.prediction

    @property
    def suggestions_result(self) -> SuggestionResult | None:
        return self.session.suggestions

    def _answers_current(self, model_name: str, x) -> bool:  # noqa: ANN001
        return self.session.answers_current(model_name, x)

    # ----- models loading in the background ------------------------------------------------------------------
    def _on_models_loaded(self, _stage: str) -> None:
        from cfx_desktop.core import bundles

        self.refused = bundles.refused_bundles()  # the launch check ran before this stage
        self.session.mark_models_loaded()
        self.suggestions.list_methods(self.session.settings.method)
        self.suggestions.show_settings(self.session.settings)
        self.model_combo.setEnabled(True)
        self._list_models()
        self.gauge.set_stale(True)
        self.jobs.models_loaded()

    def _on_models_failed(self, error: JobError) -> None:
        self.model_label.setText(f"<b>The models could not be loaded:</b> {error.message}. The form keeps what you enter.")

    def _list_models(self) -> None:
        """The Model box: the architectures whose model for this dataset passed the launch integrity check."""
        from cfx_desktop.core.tabular.models import ARCHITECTURES, model_name  # loaded by now (see `_on_models_loaded`)

        session = self.session
        from cfx_desktop.core import bundles

        installed = set(bundles.list_bundles())  # a dataset of the user's may have some architectures only
        usable = [(key, spec) for key, spec in ARCHITECTURES.items()
                  if model_name(session.schema, key) in installed and model_name(session.schema, key) not in self.refused]
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for key, spec in usable:
            self.model_combo.addItem(spec.ui_label, key)
        self.model_combo.blockSignals(False)
        if usable and session.architecture not in dict(usable):
            session.set_architecture(usable[0][0])  # the chosen one was refused at launch: the banner says so
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(self.model_combo.findData(session.architecture))
        self.model_combo.blockSignals(False)

    def _on_model_chosen(self, _index: int) -> None:
        key = self.model_combo.currentData()
        if key is not None:
            self.session.set_architecture(key)

    @property
    def models_loaded(self) -> bool:
        return self.session.models_loaded

    # ----- rendering ----------------------------------------------------------------------------------------
    def _show_dataset(self) -> None:
        session = self.session
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(session.variant))
        self.dataset_combo.blockSignals(False)
        if session.models_loaded:
            self._list_models()
        self.attributions.set_schema(session.schema)
        self.form.set_schema(session.schema, session.values, session.locks)
        self.suggestions.set_feature_count(len(session.schema.features))
        self.suggestions.show_settings(session.settings)
        self._show_banner(session.banner)
        self._on_model_changed()

    def _on_values_changed(self) -> None:
        self.form.show_values(self.session.values, self.session.highlighted)
        self.gauge.set_stale(True)

    def _on_model_changed(self) -> None:
        self.gauge.set_stale(True)

    def _show_prediction(self, result: PredictionResult) -> None:
        self.gauge.set_prediction(result.probability, result.threshold, f"p({self.schema.target_label})", result.outcome)
        spread = result.set_probabilities
        self.gauge.set_spread(float(spread.min()) if len(spread) else 0.0, float(spread.max()) if len(spread) else 0.0,
                              result.set_votes, len(spread), self.schema.outcome_words[1])
        self.model_label.setText(f"Model card: <b>{result.card_label}</b> ({result.model_name}); {result.metrics_summary}")
        self.attributions.show_result(result, self.schema)
        self.card_button.setEnabled(True)

    # ----- failures (the message box comes from the jobs' error_raised) -------------------------------------
    def _on_predict_error(self, message: str) -> None:
        self.gauge.set_stale(True)
        self.model_label.setText(f"<b>Model unavailable:</b> {message}. Choose another model.")

    def _on_suggest_error(self, message: str) -> None:
        self.suggestions.clear(f"<b>Suggestions failed:</b> {message}")

    # ----- user actions -------------------------------------------------------------------------------------
    def apply_suggestion(self, index: int) -> None:
        result = self.session.suggestions
        if result is not None and 0 <= index < len(result.counterfactuals):
            if self.session.apply(index, change_text(self.schema, result.counterfactuals[index])):
                self.status_message.emit("Suggestion applied; Ctrl+Z undoes it")

    def undo(self) -> None:
        self.session.undo()

    def reset_to_example(self) -> None:
        self.session.reset_to_example()

    def _share_height(self, index: int) -> None:
        """The cohort view needs rows (its table and global recourse), Why? needs fewer: the lower half gets 60 % of
        the height while the cohort is shown (the gauge and suggestions above scroll), and its old share after."""
        total = sum(self.right.sizes())
        share = 0.6 if self.bottom.widget(index) is self.cohort_panel else 310 / 850
        self.right.setSizes([round(total * (1 - share)), round(total * share)])

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
        self.session.set_cohort(cohort)
        self.bottom.setCurrentWidget(self.cohort_panel)
        self.file_opened.emit(str(path))
        self.status_message.emit(f"Loaded {len(cohort)} patients from {path.name}; it is also the reference cohort now")
        return True

    # ----- your own data ------------------------------------------------------------------------------------
    def file_actions(self) -> list[tuple[str, object, str]]:
        return [("New dataset from CSV...", self.own_data.choose_csv,
                 "Make a dataset from your own CSV: check the inferred schema, train its models, explain its patients"),
                ("Remove this dataset...", self.remove_current_dataset,
                 "Delete the selected dataset of yours (its schema, models and cards; never the CSV)")]

    def _fill_datasets(self) -> None:
        """The Dataset box: the built-in datasets, then the user's own (re-read after one is added or removed)."""
        current = self.dataset_combo.currentData()
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        for _, variant in variants():
            self.dataset_combo.addItem(variant.label, variant.key)
        index = self.dataset_combo.findData(current)
        self.dataset_combo.setCurrentIndex(max(index, 0))
        self.dataset_combo.blockSignals(False)

    def _on_dataset_ready(self, name: str) -> None:
        from cfx_desktop.core.tabular.datasets import find_variant

        self._fill_datasets()
        _, variant = find_variant(name)
        self.session.set_dataset(variant.key)
        self.status_message.emit(f"Dataset {variant.label} is ready: its models are trained and selected")

    def remove_current_dataset(self, confirm=None) -> bool:  # noqa: ANN001 - a test's stand-in for the question box
        from cfx_desktop.core.tabular.datasets import DATASETS, default_variant, find_variant

        dataset, _ = find_variant(self.session.variant)
        if not dataset.user_folder:
            self.error_raised.emit("Built-in dataset", f"{dataset.title} ships with the app and cannot be removed; "
                                   "only datasets you made from your own CSV can.", "")
            return False
        name = dataset.key
        self.session.set_dataset(default_variant())
        removed = self.own_data.remove(name, confirm)
        if not removed and name in DATASETS:
            self.session.set_dataset(name)
        return removed

    def export_to(self, path: Path) -> bool:
        try:
            return export.export(path, self.session, self)
        except export.NothingToReport as exc:
            self.error_raised.emit("Nothing to report yet", str(exc), "")
            return False

    def export_subject(self) -> str:
        source = self.session.source
        who = {"example": "example", "csv": f"{Path(source.file or 'csv').stem}-row-{source.row}"}.get(source.kind, "edited")
        return f"patient-{self.session.variant}-{who}"

    # ----- idle / self-test ---------------------------------------------------------------------------------
    def is_idle(self) -> bool:
        if not self.session.models_loaded:
            return False
        return self.jobs.is_idle() and self.cohort_panel.is_idle()

    def self_test_steps(self) -> list[SelfTestStep]:
        def start(done: DoneFn) -> None:
            self.session.reset_to_example()

            libraries = libraries_for(self.pool)

            def finished() -> None:
                result, prediction = self.session.suggestions, self.session.prediction
                if libraries.error is not None:
                    done(False, f"the models could not be loaded: {libraries.error.message}")
                elif prediction is None or result is None:
                    done(False, "no prediction or suggestions arrived")
                elif not result.counterfactuals:
                    done(False, f"no counterfactual: {result.counterfactuals.reason}")
                else:
                    cf = result.counterfactuals[0]
                    done(True, f"p = {prediction.probability:.2f}; {change_text(self.schema, cf)} -> p = {cf.probability:.2f}")

            def ready() -> bool:
                if libraries.error is not None:
                    return True  # fail now, not at the timeout
                result = self.session.suggestions
                return self.is_idle() and result is not None and self.session.answers_current(result.model_name, result.x)

            poll_until(self, ready, finished)

        def report(done: DoneFn) -> None:
            """The PDF report and its sidecar, written and read back (ReportLab's fonts and data in a frozen build)."""
            import json
            import tempfile

            try:
                out = Path(tempfile.mkdtemp(prefix="cfx-selftest-")) / "report.pdf"
                export.export(out, self.session, self)
                sections = [s["title"] for s in json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["sections"]]
                ok = out.read_bytes()[:5] == b"%PDF-" and "What would have to change" in sections
                done(ok, f"{out.stat().st_size // 1024} KB PDF, {len(sections)} sections")
            except Exception as exc:  # noqa: BLE001 - the self-test reports any failure
                done(False, f"{type(exc).__name__}: {exc}")

        return [SelfTestStep("patient prediction and counterfactual suggestion", start, 120),
                SelfTestStep("patient PDF report", report, 30)]
