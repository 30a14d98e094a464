"""What a new user read instead of words (issue 27): codes ("M", "ASY", "anaemia -1"), raw column names in
messages, and a report whose settings and table disagreed about markers."""

from __future__ import annotations

import numpy as np

from cfx_desktop.core.tabular.counterfactuals import Constraints
from cfx_desktop.core.tabular.counterfactuals.engine import diagnose
from cfx_desktop.core.tabular.datasets.heart_disease import HEART_DISEASE
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME
from cfx_desktop.core.tabular.models import load_model
from cfx_desktop.core.tabular.patient_report import Settings, _can_change, _settings_section
from cfx_desktop.core.tabular.recourse import typical_change
from cfx_desktop.core.tabular.schema import Actionability, Mutability


def test_categories_and_findings_are_shown_in_words() -> None:
    shown = {f.name: [f.display(float(i)) for i in range(f.n_levels)] for f in HEART_DISEASE.features if f.categories}
    assert shown["Sex"] == ["female", "male"]
    assert shown["ChestPainType"][3] == "asymptomatic" and shown["ExerciseAngina"] == ["no", "yes"]
    assert all(len(word) > 1 and word not in ("M", "F", "ASY", "N", "Y") for words in shown.values() for word in words)


def test_global_recourse_says_the_state_reached_not_a_signed_code() -> None:
    anaemia = HEART_FAILURE_NO_TIME["anaemia"]
    assert typical_change(anaemia, np.ones(4), np.zeros(4)) == "without anaemia"
    pain = HEART_DISEASE["ChestPainType"]
    assert typical_change(pain, np.zeros(4), np.array([3.0, 3.0, 3.0, 2.0])) == "chest pain type: asymptomatic (75% of them)"
    ef = HEART_FAILURE_NO_TIME["ejection_fraction"]
    assert typical_change(ef, np.array([20.0, 25.0]), np.array([33.0, 38.0])) == "ejection fraction +13 %"


def test_messages_name_features_by_their_labels() -> None:
    model = load_model("heart-failure-no-time-mlp")
    schema = model.schema
    everything = frozenset(f.name for f in schema.features)
    message = diagnose(model, schema.example_vector(), Constraints(locked=everything), None)
    assert "Serum creatinine" in message and "serum_creatinine" not in message


def test_the_report_table_and_its_settings_agree_on_markers() -> None:
    schema = HEART_FAILURE_NO_TIME
    kept = Settings("sparse", 3, 0.1, True, 1)
    markers = [f for f in schema.features if f.actionability == Actionability.MARKER and f.mutability == Mutability.MUTABLE]
    assert len(markers) >= 2, "heart failure has markers that are otherwise free to change (CPK, platelets)"
    for feature in markers:
        assert _can_change(feature, kept).startswith("no")
        assert _can_change(feature, Settings("sparse", 3, 0.1, True, 1, allow_markers=True)) == "yes"
    facts = dict(_settings_section(schema, kept, None, "Sparse", "").blocks[0].rows)
    assert facts["Observational markers"].startswith("kept as measured") and all(f.label in facts["Observational markers"] for f in markers)
    # the feasible changes the schema sets from the literature, stated where the settings are
    assert facts["Feasible changes from the schema"] == ("Ejection fraction at most 20 %; Serum creatinine at most 50% "
                                                         "of its value")


def test_the_image_header_and_report_title_say_what_the_file_is(tmp_path) -> None:  # noqa: ANN001
    import pydicom

    from cfx_desktop.core.imaging.image_report import compute_and_build
    from tests.imaging_fixtures import write_dicom

    path = write_dicom(tmp_path / "ct.dcm", (np.random.default_rng(0).random((64, 64)) * 2000).astype(np.uint16))
    ds = pydicom.dcmread(path)
    ds.Modality = "CT"
    ds.save_as(path)
    report = compute_and_build(path, "gradcam", None, counterfactual=False, sanity=False)
    text = str(report.to_dict())
    assert report.title == "Image explanation (CT, not a chest X-ray)"
    assert "Transfer syntax" in text and "Transfer_syntax" not in text and "`" not in text


def test_the_cohort_view_and_the_why_chart_fit_a_small_screen(qtbot, make_window, monkeypatch, tmp_path) -> None:
    """At 1280 x 720 a long cohort path once pushed Search and Use patient off the pane, the cohort tab showed one
    patient row, and the Why? chart drew its feature names over each other. (The default layout: an earlier test's
    saved layout, e.g. the help pane docked inside the window, would take width this test does not measure.)"""
    monkeypatch.setenv("CFX_SETTINGS_DIR", str(tmp_path / "fresh"))
    win = make_window(show=True)
    win.resize(1280, 720)
    tab = win.tab_list[0]
    view = tab.cohort_panel.table
    view.info.setText("299 patients from " + "/a/rather/long/folder" * 6 + "/heart_failure.csv. Double-click a row to load it.")
    tab.bottom.setCurrentWidget(tab.cohort_panel)
    qtbot.wait(200)
    assert tab.cohort_panel.scroll.horizontalScrollBar().maximum() == 0  # nothing sticks out to the right
    assert view.table.viewport().height() >= 3 * view.table.verticalHeader().defaultSectionSize()  # three rows at least
    tab.bottom.setCurrentWidget(tab.attributions)
    qtbot.waitUntil(lambda: tab.attributions.values is not None, timeout=60_000)
    rows = len(tab.schema.features)
    assert tab.attributions.bars.height() >= rows * (tab.attributions.fontMetrics().height() + 4)  # a line per label


def test_the_help_pane_never_covers_the_window_on_the_first_start(qtbot, make_window, monkeypatch, tmp_path) -> None:
    """On a first start (no saved layout) the help pane once floated over the window's right edge, on the gauge and
    the suggestions' Apply column; it now floats beside the window where the screen has room, else it stays closed
    and the status bar says how to open it."""
    monkeypatch.setenv("CFX_SETTINGS_DIR", str(tmp_path / "fresh"))  # no saved layout: a first start
    win = make_window(show=True)
    qtbot.wait(100)
    if win.help_dock.isVisible():
        assert win.help_dock.isFloating() and not win.help_dock.frameGeometry().intersects(win.frameGeometry())
    else:
        assert "F1 opens 'What am I looking at?'" in win.statusBar().currentMessage()


def test_a_partial_agreement_suggestion_is_headed_and_worded_as_such(qtbot) -> None:
    """The second tier (3 of the 4 consensus models) must never read as a suggestion the whole set agrees on."""
    from cfx_desktop.core.tabular.counterfactuals import CounterfactualList, find_counterfactuals
    from cfx_desktop.core.tabular.live import SuggestionResult
    from cfx_desktop.core.tabular.model_set import load_model_set
    from cfx_desktop.ui.patient.suggestions import COLUMNS, SuggestionsPanel

    model = load_model("heart-failure-no-time-mlp")
    schema = model.schema
    x = schema.example_vector()
    cfs = find_counterfactuals(model, x, Constraints(margin=0.1), model_set=load_model_set(schema.name, per_architecture=1))
    assert cfs and cfs[0].quorum is None, "the premise: the example patient has a full-consensus suggestion"
    panel = SuggestionsPanel()
    qtbot.addWidget(panel)

    def shown(found: CounterfactualList) -> None:
        panel.show_result(SuggestionResult(model.name, x, Constraints(margin=0.1), "sparse", 1, found,
                                           schema.outcome_words[0], None, True, 4), schema)

    shown(cfs)
    assert panel.table.horizontalHeaderItem(0).text() == COLUMNS[0]
    assert "for all 4 models of the set" in panel.status.text() and "partial" not in panel.status.text()
    cfs[0].quorum = (3, 4)
    shown(CounterfactualList(cfs, note="no suggestion moves all 4 models"))
    assert "partial agreement" in panel.table.horizontalHeaderItem(0).text()
    panel.show()
    panel.resize(1000, 400)
    qtbot.waitUntil(lambda: panel.table.columnWidth(0) > 300, timeout=2000)
    qtbot.wait(50)  # the rows are fitted once the layout has settled
    wide = panel.table.rowHeight(0)
    panel.resize(420, 400)  # a narrower first column wraps the text onto more lines: the row grows
    qtbot.waitUntil(lambda: panel.table.rowHeight(0) > wide, timeout=2000)
    assert "3 of the 4 models" in panel.status.text() and "less certain" in panel.status.text()
    assert "for all 4 models" not in panel.status.text()
    cfs[0].without_margin = True  # the last tier: only the thresholds are reached
    shown(CounterfactualList(cfs, note="these only reach 3 of the 4 models' thresholds, without the margin (fragile)"))
    assert panel.table.horizontalHeaderItem(0).text() == "Change (fragile)"
    assert "at the thresholds of 3 of the 4 models" in panel.status.text() and "without the margin" in panel.status.text()


def test_a_reason_reads_as_a_sentence_before_the_reference_line(qtbot) -> None:
    """A reason carries no final stop of its own (each reader frames it); the panel ends it before the next line."""
    from cfx_desktop.core.tabular.counterfactuals import CounterfactualList
    from cfx_desktop.core.tabular.live import SuggestionResult
    from cfx_desktop.ui.patient.suggestions import SuggestionsPanel

    model = load_model("heart-failure-no-time-mlp")
    panel = SuggestionsPanel()
    qtbot.addWidget(panel)
    empty = CounterfactualList([], reason="the lock on Serum creatinine blocks it")
    panel.show_result(SuggestionResult(model.name, model.schema.example_vector(), Constraints(margin=0.1), "sparse", 1,
                                       empty, model.schema.outcome_words[0], "training rows", True, 4), model.schema)
    assert "The lock on Serum creatinine blocks it. Reference cohort: training rows." in panel.status.text()
