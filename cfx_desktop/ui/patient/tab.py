"""The Patient tab: panels that render a `PatientSession` and forward what the user does to it. The tab is not on
a request's path: `PatientJobs` hears the session's events and asks the pool (docs/architecture.md, "One live
edit"); the tab lays out, forwards and renders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QWidget

from cfx_desktop.core.tabular.data import CsvError, load_csv
from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.ui.patient import export
from cfx_desktop.ui.patient.model_card import model_card_dialog
from cfx_desktop.ui.patient.own_data import OwnDatasetFlow
from cfx_desktop.ui.patient.self_test import patient_self_test
from cfx_desktop.ui.patient.sidebar import PatientSidebar, usable_architectures
from cfx_desktop.ui.patient.results_area import ResultsArea
from cfx_desktop.ui.patient.suggestions import change_text
from cfx_desktop.ui.tab_base import SelfTestStep, ToolTab
from cfx_desktop.workers.pool import WorkerPool
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
        self.jobs.prediction_failed.connect(self.right.prediction_failed)
        self.jobs.suggestions_failed.connect(self.right.suggestions_failed)
        self.jobs.suggestions_busy.connect(self.suggestions.set_busy)
        self.jobs.error_raised.connect(self.error_raised.emit)
        self._connect_session()
        self._show_dataset()
        self.refused: dict[str, str] = {}
        libraries = libraries_for(pool)
        libraries.when_loaded(self._on_models_loaded, self, stage="tabular")
        libraries.failed.connect(self.right.models_failed)  # a bound slot: dropped when the tab goes

    # ----- layout -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        self.sidebar = PatientSidebar(self)
        sb = self.sidebar  # the widgets tests and the help tour reach by their old names
        self.dataset_combo, self.model_combo, self.banner, self.form = sb.dataset_combo, sb.model_combo, sb.banner, sb.form
        self.reset_button, self.load_button, self.undo_button = sb.reset_button, sb.load_button, sb.undo_button
        outer.addWidget(self.sidebar)

        self.right = ResultsArea(self.session, self)
        r = self.right  # the widgets tests and the help tour reach by their old names
        self.gauge, self.model_label, self.card_button, self.suggestions = r.gauge, r.model_label, r.card_button, r.suggestions
        self.bottom, self.attributions, self.cohort_panel = r.bottom, r.attributions, r.cohort_panel
        self.cohort_view = self.cohort_panel.table
        self.own_data = OwnDatasetFlow(self.scheduler, self)
        self.own_data.dataset_ready.connect(self._on_dataset_ready)
        self.own_data.dataset_removed.connect(lambda _name: self.sidebar.fill_datasets())
        self.own_data.message.connect(self.error_raised)
        outer.addWidget(self.right, 1)

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
        session.model_changed.connect(lambda *_: self.gauge.set_stale(True))
        session.prediction_changed.connect(lambda result: self.right.show_prediction(result, session.schema))
        session.suggestions_changed.connect(lambda result: self.suggestions.show_result(result, session.schema))
        session.undo_changed.connect(self.undo_button.setEnabled)

    def shortcuts(self) -> list[tuple[str, str]]:
        return [("Ctrl+Z", "undo the last applied suggestion, reset, loaded row or dataset switch"),
                ("Ctrl+R", "reset to the example patient")]

    def _show_banner(self, text: str) -> None:
        self.sidebar.show_banner(text, self.session.is_example)

    # ----- views of the session -----------------------------------------------------------------------------
    @property
    def schema(self):  # noqa: ANN201
        return self.session.schema

    @property
    def prediction(self) -> PredictionResult | None:
        return self.session.prediction

    @property
    def suggestions_result(self) -> SuggestionResult | None:
        return self.session.suggestions

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

    def _list_models(self) -> None:
        """The Model box: the architectures whose model for this dataset passed the launch integrity check."""
        usable = usable_architectures(self.session.schema, self.refused)
        if usable and self.session.architecture not in dict(usable):
            self.session.set_architecture(usable[0][0])  # the chosen one was refused at launch: the banner says so
        self.sidebar.list_models(usable, self.session.architecture)

    def _on_model_chosen(self, _index: int) -> None:
        key = self.model_combo.currentData()
        if key is not None:
            self.session.set_architecture(key)

    # ----- rendering ----------------------------------------------------------------------------------------
    def _show_dataset(self) -> None:
        session = self.session
        self.sidebar.show_dataset(session.variant)
        if session.models_loaded:
            self._list_models()
        self.attributions.set_schema(session.schema)
        self.form.set_schema(session.schema, session.values, session.locks)
        self.suggestions.set_feature_count(len(session.schema.features))
        self.suggestions.show_settings(session.settings)
        self._show_banner(session.banner)
        self.gauge.set_stale(True)

    def _on_values_changed(self) -> None:
        self.form.show_values(self.session.values, self.session.highlighted)
        self.gauge.set_stale(True)

    # ----- user actions -------------------------------------------------------------------------------------
    def apply_suggestion(self, index: int) -> None:
        result = self.session.suggestions
        if result is not None and 0 <= index < len(result.counterfactuals):
            if self.session.apply(index, change_text(self.schema, result.counterfactuals[index])):
                self.status_message.emit("Suggestion applied; Ctrl+Z undoes it")

    def undo(self) -> None:
        self.session.undo()

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
        return self.own_data.file_actions(self.remove_current_dataset)

    def _on_dataset_ready(self, name: str) -> None:
        from cfx_desktop.core.tabular.datasets import find_variant

        self.sidebar.fill_datasets()
        _, variant = find_variant(name)
        self.session.set_dataset(variant.key)
        self.status_message.emit(f"Dataset {variant.label} is ready: its models are trained and selected")

    def remove_current_dataset(self, confirm=None) -> bool:  # noqa: ANN001 - a test's stand-in for the question box
        return self.own_data.remove_selected(self.session, confirm)

    def export_to(self, path: Path) -> bool:
        try:
            return export.export(path, self.session, self)
        except export.NothingToReport as exc:
            self.error_raised.emit("Nothing to report yet", str(exc), "")
            return False

    def export_subject(self) -> str:
        return export.subject(self.session)

    # ----- idle / self-test ---------------------------------------------------------------------------------
    def is_idle(self) -> bool:
        if not self.session.models_loaded:
            return False
        return self.jobs.is_idle() and self.cohort_panel.is_idle()

    def self_test_steps(self) -> list[SelfTestStep]:
        return patient_self_test(self)
