"""The Cohort tab of the Patient tab: the cohort table with predictions above, global recourse below; it renders
the session's cohort results; their requests are `PatientJobs`' (bound with `bind`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.ui.patient.cohort import CohortView
from cfx_desktop.ui.patient.recourse_view import RecourseView


class CohortPanel(QWidget):
    error_raised = Signal(str, str, str)

    def __init__(self, session: PatientSession, parent: QWidget | None = None) -> None:
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
        self.table.row_chosen.connect(session.load_row)
        self.recourse.run_requested.connect(self.run_recourse)
        self.recourse.export_requested.connect(self._export_dialog)
        session.cohort_changed.connect(self._on_cohort)
        session.cohort_prediction_changed.connect(lambda result: self.table.set_predictions(result) if result else None)
        session.recourse_changed.connect(self.recourse.display)

    def bind(self, jobs) -> None:  # noqa: ANN001 - sessions.patient_jobs.PatientJobs
        """The cohort's requests are the jobs' (made after the layout): the panel forwards and renders."""
        self.jobs = jobs
        self.recourse.cancel_requested.connect(jobs.cancel_recourse)
        jobs.recourse_progress.connect(self.recourse.set_progress)
        jobs.recourse_state.connect(lambda running, text: self.recourse.set_running(running, text or self.recourse.status.text()))
        jobs.cohort_failed.connect(lambda message: self.recourse.set_running(False, f"failed: {message}"))

    def _on_cohort(self, cohort) -> None:  # noqa: ANN001 - Cohort | None
        self.table.set_cohort(cohort) if cohort is not None else self.table.clear()

    def request_predictions(self) -> None:
        self.jobs.request_cohort_predictions()

    def run_recourse(self) -> None:
        self.jobs.run_recourse()

    def export_csv(self, path: Path) -> bool:
        if self.session.recourse is None:
            return False
        path.write_text(self.session.recourse.to_csv(), encoding="utf-8")
        return True

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export global recourse", "global-recourse.csv", "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def is_idle(self) -> bool:
        return not ({"cohort", "recourse"} & self.jobs.busy)
