"""What `cfx-desktop --self-test` checks in the Patient tab: the example patient's prediction and first
suggestion arrive through the real pool, and the PDF report is written and read back (ReportLab's fonts and
data in a frozen build)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from cfx_desktop.ui.patient import export
from cfx_desktop.ui.patient.suggestions import change_text
from cfx_desktop.ui.tab_base import DoneFn, SelfTestStep, poll_until
from cfx_desktop.workers.startup import libraries_for


def patient_self_test(tab: Any) -> list[SelfTestStep]:  # noqa: ANN401 - the PatientTab
    session = tab.session

    def start(done: DoneFn) -> None:
        session.reset_to_example()
        libraries = libraries_for(tab.pool)

        def finished() -> None:
            result, prediction = session.suggestions, session.prediction
            if libraries.error is not None:
                done(False, f"the models could not be loaded: {libraries.error.message}")
            elif prediction is None or result is None:
                done(False, "no prediction or suggestions arrived")
            elif not result.counterfactuals:
                done(False, f"no counterfactual: {result.counterfactuals.reason}")
            else:
                cf = result.counterfactuals[0]
                done(True, f"p = {prediction.probability:.2f}; {change_text(session.schema, cf)} -> p = {cf.probability:.2f}")

        def ready() -> bool:
            if libraries.error is not None:
                return True  # fail now, not at the timeout
            result = session.suggestions
            return tab.is_idle() and result is not None and session.answers_current(result.model_name, result.x)

        poll_until(tab, ready, finished)

    def report(done: DoneFn) -> None:
        try:
            out = Path(tempfile.mkdtemp(prefix="cfx-selftest-")) / "report.pdf"
            export.export(out, session, tab)
            sections = [s["title"] for s in json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["sections"]]
            ok = out.read_bytes()[:5] == b"%PDF-" and "What would have to change" in sections
            done(ok, f"{out.stat().st_size // 1024} KB PDF, {len(sections)} sections")
        except Exception as exc:  # noqa: BLE001 - the self-test reports any failure
            done(False, f"{type(exc).__name__}: {exc}")

    return [SelfTestStep("patient prediction and counterfactual suggestion", start, 120),
            SelfTestStep("patient PDF report", report, 30)]
