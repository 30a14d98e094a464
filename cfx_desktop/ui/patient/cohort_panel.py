"""The Cohort tab of the Patient tab: the cohort table with predictions above, global recourse below; it renders
the session's cohort results and runs their requests on its own latest-request-wins channels."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from cfx_desktop.core.lazy import deferred
from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.ui.patient.cohort import CohortView
from cfx_desktop.ui.patient.recourse_view import RecourseView
from cfx_desktop.workers.pool import JobError, LatestOnly, WorkerPool

predict_cohort = deferred("cfx_desktop.core.tabular.recourse", "predict_cohort")  # imported on the worker thread
global_recourse = deferred("cfx_desktop.core.tabular.recourse", "global_recourse")


class CohortPanel(QWidget):
    error_raised = Signal(str, str, str)

    def __init__(self, pool: WorkerPool, session: PatientSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll = scroll = QScrollArea(self)  # scrolls on a small screen instead of making the window taller than it
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        splitter = QSplitter(Qt.Orientation.Vertical, scroll)
        self.table = CohortView(splitter)
        self.recourse = RecourseView(splitter)
        splitter.addWidget(self.table)
        splitter.addWidget(self.recourse)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([300, 260])  # about five patient rows above the recourse table
        scroll.setWidget(splitter)
        layout.addWidget(scroll)
        self.predict_channel = LatestOnly(pool, "Cohort predictions", self)
        self.recourse_channel = LatestOnly(pool, "Global recourse", self)
        self.predict_channel.result.connect(session.accept_cohort_prediction)
        self.predict_channel.error.connect(self._failed)
        self.recourse_channel.result.connect(session.accept_recourse)
        self.recourse_channel.error.connect(self._failed)
        self.recourse_channel.progress.connect(lambda f, m, p: self.recourse.set_progress(f))
        self.recourse_channel.idle.connect(lambda: self.recourse.set_running(False, self.recourse.status.text()))
        self.recourse_channel.cancelled.connect(lambda: self.recourse.set_running(False, "cancelled"))
        self.table.row_chosen.connect(session.load_row)
        self.recourse.run_requested.connect(self.run_recourse)
        self.recourse.cancel_requested.connect(self.recourse_channel.cancel)
        self.recourse.export_requested.connect(self._export_dialog)
        session.cohort_changed.connect(self._on_cohort)
        session.model_changed.connect(self.request_predictions)
        session.cohort_prediction_changed.connect(lambda result: self.table.set_predictions(result) if result else None)
        session.recourse_changed.connect(self.recourse.display)

    def _on_cohort(self, cohort) -> None:  # noqa: ANN001 - Cohort | None
        self.table.set_cohort(cohort) if cohort is not None else self.table.clear()
        self.request_predictions()

    def request_predictions(self) -> None:
        request = self.session.cohort_request()
        if request is not None:
            self.predict_channel.request(predict_cohort, *request)

    def run_recourse(self) -> None:
        request = self.session.recourse_request()
        if request is None:
            self.recourse.set_running(False, "Load a cohort CSV first (File > Open).")
            return
        self.recourse.set_running(True, "searching single changes and pairs...")
        self.recourse_channel.request(global_recourse, *request)

    def export_csv(self, path: Path) -> bool:
        if self.session.recourse is None:
            return False
        path.write_text(self.session.recourse.to_csv(), encoding="utf-8")
        return True

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export global recourse", "global-recourse.csv", "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def _failed(self, error: JobError) -> None:
        self.recourse.set_running(False, f"failed: {error.message}")
        self.error_raised.emit(f"{error.title} failed", error.message, error.details)

    def is_idle(self) -> bool:
        return not (self.predict_channel.busy or self.recourse_channel.busy)
