"""The Patient tab, driven as a user would (offscreen): live prediction, suggestions, locks, stress, bad CSV."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from tests.conftest import settle_patient

from cfx_desktop.core.model_cache import clear as clear_cache
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME as SCHEMA
TIMEOUT = 30_000


@pytest.fixture
def window(qtbot, app_window):
    _settle(qtbot, app_window.tab_list[0])
    return app_window


def _settle(qtbot, tab) -> None:
    settle_patient(qtbot, tab, TIMEOUT)


def test_editing_a_field_updates_the_prediction(qtbot, window) -> None:
    tab = window.tab_list[0]
    before = tab.prediction.probability
    tab.form.set_value("serum_creatinine", 0.7)
    tab.form.set_value("ejection_fraction", 60)
    _settle(qtbot, tab)
    assert tab.prediction.probability < before
    assert tab.prediction.x[SCHEMA.index("ejection_fraction")] == 60
    assert f"{tab.prediction.probability:.2f}" in tab.gauge.text()


def test_suggestions_appear_and_each_applied_one_flips_the_prediction(qtbot, window) -> None:
    tab = window.tab_list[0]
    assert tab.prediction.label == 1  # the example patient is predicted to die
    result = tab.suggestions_result
    assert len(result.counterfactuals) >= 1 and tab.suggestions.table.rowCount() == len(result.counterfactuals)
    for index, cf in enumerate(result.counterfactuals):
        tab.session.reset_to_example()
        _settle(qtbot, tab)
        tab.apply_suggestion(index)
        _settle(qtbot, tab)
        if cf.metrics.get("lof_outlier"):  # shown greyed, never applied
            np.testing.assert_allclose(tab.form.vector(), SCHEMA.example_vector())
            continue
        assert tab.prediction.label == 0, f"suggestion {index} did not flip"
        assert tab.prediction.probability < tab.prediction.threshold
        assert tab.prediction.set_votes == cf.robustness["members_total"] - cf.robustness["members_crossed"]
    tab.undo()
    _settle(qtbot, tab)
    np.testing.assert_allclose(tab.form.vector(), SCHEMA.example_vector())


def test_suggestions_carry_a_robustness_badge_and_the_gauge_the_set_spread(qtbot, window) -> None:
    tab = window.tab_list[0]
    assert tab.session.settings.consensus and tab.session.settings.margin >= 0.05
    assert "models of the set" in tab.gauge.spread_text() and "/20 predict death" in tab.gauge.spread_text()
    result = tab.suggestions_result
    assert result.consensus and result.set_size == 4
    for row, cf in enumerate(result.counterfactuals):
        assert cf.robustness["members_total"] == 20 and cf.robustness["members_crossed"] >= 4
        assert tab.suggestions.table.item(row, 2).text().startswith(f"{cf.robustness['members_crossed']}/20 models")
    tab.suggestions.consensus.setCurrentIndex(tab.suggestions.consensus.findData(0))  # this model only
    _settle(qtbot, tab)
    assert not tab.suggestions_result.consensus and "fragile" in tab.suggestions.status.text()


def test_an_outlier_suggestion_is_shown_but_cannot_be_applied(qtbot, window) -> None:
    from cfx_desktop.core.tabular.counterfactuals.types import Counterfactual, CounterfactualList
    from cfx_desktop.core.tabular.live import SuggestionResult

    tab = window.tab_list[0]
    session = tab.session
    values = session.values.copy()
    values[SCHEMA.index("ejection_fraction")] = 80
    outlier = Counterfactual(values, 0.1, [], "test", {"lof_outlier": 1.0, "knn_distance": 9.0})
    result = SuggestionResult(session.model_name, session.values.copy(), session.constraints(), session.settings.method,
                              session.k, CounterfactualList([outlier]), "survival", None, True, 4, 1)
    assert session.accept_suggestions(result)
    assert tab.suggestions.table.cellWidget(0, 6).text() == "not offered"
    assert not session.apply(0, "test") and session.values[SCHEMA.index("ejection_fraction")] == 25


def test_locking_a_feature_removes_it_from_all_suggestions(qtbot, window) -> None:
    tab = window.tab_list[0]
    tab.suggestions.method.setCurrentIndex(tab.suggestions.method.findData("diverse"))
    _settle(qtbot, tab)
    changed = {c.feature for cf in tab.suggestions_result.counterfactuals for c in cf.changes}
    assert changed, "the premise: some features are suggested"
    for name in changed:
        tab.form.set_locked(name, True)
    _settle(qtbot, tab)
    result = tab.suggestions_result
    assert result.constraints.locked >= changed
    for cf in result.counterfactuals:
        assert not {c.feature for c in cf.changes} & changed
    if not result.counterfactuals:
        assert result.counterfactuals.reason


def test_two_hundred_rapid_edits_end_in_the_final_state(qtbot, window) -> None:
    tab = window.tab_list[0]
    rng = np.random.default_rng(0)
    for i in range(200):
        tab.form.set_value("serum_sodium", float(rng.integers(120, 150)))
        tab.form.set_value("ejection_fraction", float(rng.integers(15, 60)))
        if i % 20 == 0:
            qtbot.wait(5)  # let some jobs start so that some really are superseded
    final = tab.form.vector()
    _settle(qtbot, tab)
    np.testing.assert_array_equal(tab.suggestions_result.x, final)
    np.testing.assert_array_equal(tab.prediction.x, final)
    assert tab.predict_channel.dropped + (200 - tab.predict_channel.delivered) > 0  # stale work was discarded
    assert tab.suggestions_result.counterfactuals or tab.suggestions_result.counterfactuals.reason
    for cf in tab.suggestions_result.counterfactuals:
        assert cf.values[SCHEMA.index("age")] == final[SCHEMA.index("age")]


def test_bad_csv_shows_an_error_and_keeps_the_patient(qtbot, window, tmp_path: Path) -> None:
    tab = window.tab_list[0]
    tab.form.set_value("serum_creatinine", 2.4)
    _settle(qtbot, tab)
    before = tab.form.vector()
    bad = tmp_path / "bad.csv"
    bad.write_text("age,sex\n60,1\n")
    assert window.open_path(bad) is False
    box = window.findChild(QMessageBox)
    assert box is not None and box.isVisible() and "does not fit" in box.text()
    assert "missing columns" in box.detailedText()
    np.testing.assert_array_equal(tab.form.vector(), before)
    assert window.isVisible()


def test_cohort_csv_loads_rows_into_the_form(qtbot, window, tmp_path: Path) -> None:
    tab = window.tab_list[0]
    good = tmp_path / "cohort.csv"
    rows = [SCHEMA.example_vector(), SCHEMA.example_vector()]
    rows[1][SCHEMA.index("serum_creatinine")] = 0.9
    header = ",".join(SCHEMA.names) + ",time,DEATH_EVENT\n"
    good.write_text(header + "".join(",".join(f"{v:g}" for v in r) + ",100,0\n" for r in rows))
    assert window.open_path(good) is True
    assert tab.cohort_view.model.rowCount() == 2
    tab.session.load_row(1)
    _settle(qtbot, tab)
    assert tab.form.vector()[SCHEMA.index("serum_creatinine")] == pytest.approx(0.9)
    assert "row 2 (file line 3)" in tab.banner.text()
    assert tab.suggestions_result.reference_source == "loaded cohort"


def test_export_png_and_pdf(qtbot, window, tmp_path: Path) -> None:
    from tests.report_helpers import facts, pdf_text, section, sidecar, squash

    tab = window.tab_list[0]
    assert tab.export_to(tmp_path / "patient.png")
    assert (tmp_path / "patient.png").read_bytes()[:4] == b"\x89PNG"
    good = tmp_path / "cohort.csv"
    rows = [SCHEMA.example_vector(), SCHEMA.example_vector()]
    rows[1][SCHEMA.index("platelets")] = 310000
    good.write_text(",".join(SCHEMA.names) + ",DEATH_EVENT\n" + "".join(",".join(f"{v:g}" for v in r) + ",1\n" for r in rows))
    assert window.open_path(good)
    tab.session.load_row(1)
    tab.session.set_locked("serum_sodium", True)
    _settle(qtbot, tab)
    assert tab.suggested_export_name().startswith("patient-heart-failure-no-time-cohort-row-2-")
    out = tmp_path / "patient.pdf"
    assert tab.export_to(out)
    doc = sidecar(out)
    text = squash(" ".join(pdf_text(out)))
    for title in ("Patient", "Model", "Settings", "Prediction", "Why: feature attributions", "What would have to change", "Caveats"):
        assert title in text and (title == "Caveats" or section(doc, title))
    assert f"{good}, row 2 (file line 3)" in section(doc, "Patient")["blocks"][0]["text"] and "310,000" in text
    assert facts(doc, "Settings")["Locked by the user"] == "Serum sodium"
    assert facts(doc, "Model")["Model"].endswith(tab.session.model_name)
    # the report's command names the same file, row, lock and reference cohort the app used
    assert f"--csv {good} --row 2" in doc["reproduce"] and "--lock serum_sodium" in doc["reproduce"]
    assert f"--reference {good}" in doc["reproduce"]
    tab.session.set_value("age", 70)  # an edited patient is reproduced from its values
    _settle(qtbot, tab)
    assert tab.export_to(out)
    assert "--values age=70" in sidecar(out)["reproduce"] and "edited from" in sidecar(out)["subject"]


def test_every_model_and_dataset_renders(qtbot, window) -> None:
    tab = window.tab_list[0]
    for dataset in range(tab.dataset_combo.count()):
        tab.dataset_combo.setCurrentIndex(dataset)
        for model in range(tab.model_combo.count()):
            tab.model_combo.setCurrentIndex(model)
            _settle(qtbot, tab)
            assert tab.prediction.model_name == tab.session.model_name
            assert len(tab.prediction.attribution.values) == len(tab.schema.features)


def test_tampered_model_is_refused_and_others_keep_working(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    from cfx_desktop import paths

    copy = tmp_path / "weights"
    shutil.copytree(paths.weights_dir(), copy)
    target = copy / "heart-failure-no-time-nam.pt"
    data = bytearray(target.read_bytes())
    data[-20] ^= 0xFF
    target.write_bytes(bytes(data))
    monkeypatch.setenv("CFX_WEIGHTS_DIR", str(copy))
    clear_cache()
    tab = window.tab_list[0]
    tab.model_combo.setCurrentIndex(tab.model_combo.findData("nam"))
    qtbot.waitUntil(lambda: window.last_error is not None or window.findChild(QMessageBox) is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: "Model unavailable" in tab.model_label.text(), timeout=TIMEOUT)
    assert "sha256 mismatch" in tab.model_label.text()
    tab.model_combo.setCurrentIndex(tab.model_combo.findData("lasso"))
    _settle(qtbot, tab)
    assert tab.prediction.model_name.endswith("lasso")
    clear_cache()


def test_enter_on_a_focused_suggestion_applies_it_and_tab_leaves_the_table(qtbot, window) -> None:
    from PySide6.QtCore import Qt

    tab = window.tab_list[0]
    _settle(qtbot, tab)
    table = tab.suggestions.table
    assert not table.tabKeyNavigation()  # Tab goes to the next control, not cell by cell
    before = tab.session.values.copy()
    table.setFocus()
    table.setCurrentCell(0, 0)
    qtbot.waitUntil(table.hasFocus, timeout=5000)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not np.allclose(tab.session.values, before), timeout=5000)
    assert "Suggestion applied" in tab.session.banner
    # a second Enter, before or after the new suggestions arrive, applies nothing: no row is chosen any more
    applied = tab.session.values.copy()
    assert table.currentRow() == -1
    qtbot.keyClick(table, Qt.Key.Key_Return)
    _settle(qtbot, tab)
    assert table.currentRow() == -1
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert np.allclose(tab.session.values, applied)


def test_typing_a_value_recomputes_without_enter(qtbot, window) -> None:
    """The help says "as you type": digits typed into a box update the prediction with no Enter or Tab."""
    tab = window.tab_list[0]
    editor = tab.form.row("ejection_fraction").editor
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor.lineEdit(), "62")  # no Enter, no focus change
    qtbot.waitUntil(lambda: tab.prediction is not None and tab.prediction.x[SCHEMA.index("ejection_fraction")] == 62,
                    timeout=TIMEOUT)
    assert tab.session.values[SCHEMA.index("ejection_fraction")] == 62


def test_one_suggestion_is_worded_in_the_singular(qtbot, window) -> None:
    tab = window.tab_list[0]
    tab.suggestions.k.setValue(1)
    _settle(qtbot, tab)
    qtbot.waitUntil(lambda: tab.suggestions.result is not None and tab.suggestions.result.k == 1, timeout=TIMEOUT)
    assert len(tab.suggestions.result.counterfactuals) == 1, tab.suggestions.status.text()
    assert "1 suggestion that flips the prediction" in tab.suggestions.status.text()


def test_a_dataset_switch_clears_the_old_global_recourse(qtbot, window, tmp_path: Path) -> None:
    """The cohort tab kept the previous dataset's global-recourse text after a switch."""
    tab = window.tab_list[0]
    cohort = tmp_path / "cohort.csv"
    rows = []
    for creatinine, ef in ((2.5, 20), (1.9, 25), (1.4, 30), (3.0, 20)):
        row = SCHEMA.example_vector()
        row[SCHEMA.index("serum_creatinine")], row[SCHEMA.index("ejection_fraction")] = creatinine, ef
        rows.append(row)
    cohort.write_text(",".join(SCHEMA.names) + ",time,DEATH_EVENT\n"
                      + "".join(",".join(f"{v:g}" for v in r) + ",100,1\n" for r in rows))
    assert window.open_path(cohort) is True
    panel = tab.cohort_panel
    panel.run_recourse()
    qtbot.waitUntil(lambda: tab.session.recourse is not None and panel.is_idle(), timeout=TIMEOUT)
    assert "patients predicted" in panel.recourse.status.text()
    tab.dataset_combo.setCurrentIndex(tab.dataset_combo.findData("heart-disease"))
    _settle(qtbot, tab)
    assert "patients predicted" not in panel.recourse.status.text()
    assert panel.recourse.table.rowCount() == 0 and not panel.recourse.export.isEnabled()


def test_a_failed_model_load_is_said_where_the_prediction_would_be(qtbot) -> None:
    """The results area names the loading failure and keeps the form's promise; its slot is a bound method, so the
    app-wide loader drops it when the tab goes (a lambda would outlive the widgets it touches)."""
    from cfx_desktop.sessions.patient import PatientSession
    from cfx_desktop.ui.patient.results_area import ResultsArea
    from cfx_desktop.workers.pool import JobError

    area = ResultsArea(PatientSession())
    qtbot.addWidget(area)
    area.models_failed(JobError("Loading models", "torch is missing", "", "ImportError"))
    assert "could not be loaded" in area.model_label.text() and "torch is missing" in area.model_label.text()


def test_the_why_chart_fades_until_its_attributions_follow_the_prediction(qtbot) -> None:
    """The quick prediction (no attributions) comes before the search and the Shapley values after it: meanwhile
    the bars and their caption still describe the values before the edit, so once the wait lasts a moment they
    are faded, not left as if current, and they return at full strength with the new attributions."""
    from dataclasses import replace

    from cfx_desktop.core.tabular import live
    from cfx_desktop.ui.busy import SHOW_AFTER_MS
    from cfx_desktop.ui.patient.attribution_view import AttributionView

    view = AttributionView()
    qtbot.addWidget(view)
    view.set_schema(SCHEMA)
    name = live.default_model_name()
    full = live.predict_and_attribute(name, SCHEMA.example_vector())
    view.show_result(full, SCHEMA)
    first_bars = view._bar_item
    assert first_bars.opacity() == 1.0 and view.caption.isEnabled()
    quick = live.predict(name, SCHEMA.example_vector())
    assert quick.attribution is None and quick.probability == full.probability
    view.show_result(quick, SCHEMA)
    assert first_bars.opacity() == 1.0  # a quick answer repaints nothing: the fade waits a moment
    qtbot.waitUntil(lambda: first_bars.opacity() < 0.5 and not view.caption.isEnabled(), timeout=SHOW_AFTER_MS + 2000)
    assert view._bar_item is first_bars
    view.show_result(replace(full), SCHEMA)
    assert view._bar_item is not first_bars and view._bar_item.opacity() == 1.0 and view.caption.isEnabled()
    view.show_result(quick, SCHEMA)  # answered within the moment: never faded
    view.show_result(replace(full), SCHEMA)
    qtbot.wait(SHOW_AFTER_MS + 100)
    assert view._bar_item.opacity() == 1.0 and view.caption.isEnabled()
