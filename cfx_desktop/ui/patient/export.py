"""The Patient tab's PNG and PDF export (the PDF is laid out from the session, not read off widgets)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.ui import report
from cfx_desktop.ui.patient.suggestions import change_text, plausibility_text


def export(path: Path, session: PatientSession, tab: QWidget, attributions: QWidget) -> bool:
    if path.suffix.lower() == ".png":
        return report.write_png(path, tab)
    schema = session.schema

    def shown(f, v) -> str:  # noqa: ANN001
        return ("yes" if v else "no") if f.kind.value == "binary" and not f.categories else f.format(v)

    patient_rows = [[f.label, shown(f, v), f.unit] for f, v in zip(schema.features, session.values)]
    sections = [("Patient", report.table_html(["Feature", "Value", "Unit"], patient_rows))]
    prediction = session.prediction
    if prediction is not None:
        sections.append(("Prediction", f"<p>p({schema.target_label}) = {prediction.probability:.2f} (threshold "
                                       f"{prediction.threshold:.2f}): predicted {prediction.outcome}</p>"))
    result = session.suggestions
    if result is not None and result.counterfactuals:
        rows = [[change_text(schema, cf), f"{cf.probability:.2f}", str(cf.l0), plausibility_text(cf.metrics)]
                for cf in result.counterfactuals]
        sections.append(("Counterfactual suggestions", report.table_html(["What would have to change", "New p", "Changed", "Plausibility"], rows)))
    elif result is not None:
        sections.append(("Counterfactual suggestions", f"<p>{result.counterfactuals.reason}</p>"))
    sections.append(("Attributions", report.pixmap_html(attributions.grab())))
    report.write_pdf(path, report.report_html("Patient explanation", session.model_name, sections))
    return True
