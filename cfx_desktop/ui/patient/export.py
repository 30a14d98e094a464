"""The Patient tab's export: a PDF report with its JSON sidecar, built from the session by the same code as
`cfx-desktop report-patient` (`core.tabular.patient_report`); or a PNG screenshot of the tab."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.ui import report


class NothingToReport(Exception):
    """The session has no answer for the patient on screen yet (models loading, or a search still running)."""


def build(session: PatientSession, out_name: str):  # noqa: ANN201 - core.report.document.Report
    from cfx_desktop.core.bundles import read_card
    from cfx_desktop.core.tabular.counterfactuals import METHODS
    from cfx_desktop.core.tabular.patient_report import Settings, build_patient_report

    prediction = session.prediction
    if (prediction is None or prediction.attribution is None  # its attributions follow the suggestions' search
            or not session.answers_current(prediction.model_name, prediction.x)):
        raise NothingToReport("The prediction for the patient on screen is not ready yet; export again in a moment.")
    suggestions = session.suggestions
    if suggestions is not None and not session.answers_current(suggestions.model_name, suggestions.x):
        suggestions = None
    constraints = session.constraints()
    cohort = session.cohort
    uses_cohort = cohort is not None and suggestions is not None and suggestions.reference_source == "loaded cohort"
    s = session.settings
    settings = Settings(s.method, session.k, s.margin, s.consensus, s.consensus_members, constraints.locked,
                        constraints.unlocked, s.max_changes, s.allow_markers, cohort.source if uses_cohort else None,
                        s.max_shift)
    spec = METHODS.get(s.method)
    return build_patient_report(session.schema, read_card(session.model_name), prediction, suggestions, session.source,
                                settings, spec.label, spec.description, out_name=out_name)


def export(path: Path, session: PatientSession, tab: QWidget) -> bool:
    if path.suffix.lower() == ".png":
        return report.write_png(path, tab)
    from cfx_desktop.core.report.pdf import write_report  # ReportLab: paid when a report is written

    write_report(build(session, str(path)), path)
    return True


def subject(session: PatientSession) -> str:
    """The report's file-name stem: dataset and where the patient came from (example, a CSV row, or edited)."""
    source = session.source
    who = {"example": "example", "csv": f"{Path(source.file or 'csv').stem}-row-{source.row}"}.get(source.kind, "edited")
    return f"patient-{session.variant}-{who}"
