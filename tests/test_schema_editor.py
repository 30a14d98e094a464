"""File > New dataset from CSV, walked as a user would: the schema editor keeps every edit across re-inference
and refused attempts; training runs in the pool with progress and Cancel; the new dataset is selected and
explained; it can be removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfx_desktop.ui.patient.schema_columns import Col
from PySide6.QtWidgets import QCheckBox, QComboBox, QTableWidget

from tests.conftest import settle_patient
from tests.own_data_fixtures import cohort_csv

TIMEOUT = 120_000


@pytest.fixture
def patient(qtbot, app_window):
    qtbot.waitUntil(app_window.is_idle, timeout=60_000)
    return app_window.tab_list[0]


def _row(editor, column: str) -> int:
    return next(r for r in range(editor.table.rowCount()) if editor.table.item(r, 1).text() == column)


def test_walk_the_schema_editor_train_explain_and_remove(qtbot, patient, tmp_path: Path) -> None:
    from cfx_desktop.core.tabular import user_datasets

    csv = cohort_csv(tmp_path / "clinic.csv")
    editor = patient.own_data.open_editor(csv)
    assert editor is not None and editor.isVisible()
    assert editor.target.currentText() == "outcome"
    table = editor.table
    assert not table.cellWidget(_row(editor, "patient_id"), 0).isEnabled()  # an identifier cannot be used
    assert "different text in every row" in table.item(_row(editor, "notes"), Col.NOTES).text()
    assert "missing in 33%" in table.item(_row(editor, "chol"), Col.NOTES).text()
    # the review: where each tag came from, the direction rule and the feasible change are shown and editable
    assert table.item(_row(editor, "chol"), Col.TAG).text() == "name rule"  # a treatment target by its name
    assert table.cellWidget(_row(editor, "chol"), Col.DIRECTION).currentText() == "decrease-only"  # the way treatment moves lipids
    assert float(table.item(_row(editor, "chol"), Col.FEASIBLE).text()) > 0
    # the guideline's target range, in the unit the values show (a median near 200 is mg/dL), proposed for review
    assert table.item(_row(editor, "chol"), Col.NORMAL).text() == "150-200"
    assert table.item(_row(editor, "chol"), Col.UNIT).text() == "mg/dL"
    assert "Review:" in editor.message.text()
    table.item(_row(editor, "chol"), Col.UNIT).setText("mg/dL")  # the user's unit
    table.item(_row(editor, "age"), Col.MAX).setText("99")  # the user's upper bound for age
    bp_low = float(table.item(_row(editor, "bp"), Col.MIN).text())
    editor.margin.setValue(30)  # a wider margin widens every range the user did not set, and keeps the one they did
    assert float(table.item(_row(editor, "bp"), Col.MIN).text()) < bp_low and table.item(_row(editor, "age"), Col.MAX).text() == "99"
    editor.margin.setValue(10)
    editor.positive.setCurrentText("sick")
    # a wrong outcome column: said in the dialog, the OK button off, and the edits survive going back
    editor.target.setCurrentText("site")
    assert "only one class" in editor.message.text() and not editor.buttons.buttons()[0].isEnabled()
    editor.target.setCurrentText("outcome")
    editor.positive.setCurrentText("sick")
    assert table.item(_row(editor, "chol"), Col.UNIT).text() == "mg/dL"
    mutability = table.cellWidget(_row(editor, "bp"), Col.MUTABILITY)
    assert isinstance(mutability, QComboBox)
    mutability.setCurrentText("immutable")
    for key, box in editor.architectures.items():
        box.setChecked(key == "lasso")
    editor.members.setValue(2)
    editor.cv.setValue(0)
    editor.name.setText("Clinic GUI")
    table.item(_row(editor, "bp"), Col.MIN).setText("abc")  # a mistake: refused, everything kept
    editor.accept()
    assert editor.isVisible() and "not a number" in editor.message.text()
    assert table.item(_row(editor, "chol"), Col.UNIT).text() == "mg/dL" and table.cellWidget(_row(editor, "bp"), Col.MUTABILITY).currentText() == "immutable"
    table.item(_row(editor, "bp"), Col.MIN).setText("60")
    # a 'toward normal' rule needs its normal range: refused once the proposed one is cleared, until one is typed
    table.cellWidget(_row(editor, "chol"), Col.DIRECTION).setCurrentText("toward normal")
    table.item(_row(editor, "chol"), Col.NORMAL).setText("")
    assert table.item(_row(editor, "chol"), Col.TAG).text() == "review"  # the user's own tag, said at once
    editor.accept()
    assert editor.isVisible() and "needs a normal range" in editor.message.text()
    table.item(_row(editor, "chol"), Col.NORMAL).setText("120 to 200")
    table.item(_row(editor, "chol"), Col.FEASIBLE).setText("40; 20%")  # in the unit and a share: the smaller holds
    editor.accept()
    assert not editor.isVisible()
    qtbot.waitUntil(lambda: patient.session.variant == "clinic-gui", timeout=TIMEOUT)
    assert patient.dataset_combo.currentData() == "clinic-gui"
    assert patient.own_data.cv_dialog is not None and patient.own_data.cv_dialog.findChildren(QTableWidget)[0].rowCount() == 1
    settle_patient(qtbot, patient, TIMEOUT)
    assert patient.model_combo.count() == 1 and patient.session.model_name == "clinic-gui-lasso"
    assert patient.schema["chol"].unit == "mg/dL" and patient.schema["bp"].mutability.value == "immutable"
    assert patient.schema["chol"].direction.value == "toward normal" and patient.schema["chol"].normal_range == (120, 200)
    assert (patient.schema["chol"].feasible_change, patient.schema["chol"].feasible_share) == (40.0, 0.2)
    assert patient.prediction.model_name == "clinic-gui-lasso"
    assert len(patient.prediction.set_names) == 2
    # the lock is checked on a patient who has suggestions: the cohort's rows, in order, until one has
    assert patient.open_path(csv)
    for row in range(30):
        if patient.suggestions_result.counterfactuals:
            break
        patient.session.load_row(row)
        settle_patient(qtbot, patient, TIMEOUT)
    assert patient.suggestions_result.counterfactuals, "no row of the first 30 has a suggestion: nothing to check the lock on"
    for cf in patient.suggestions_result.counterfactuals:
        assert all(change.feature not in ("bp", "age", "sex") for change in cf.changes)
    assert patient.remove_current_dataset(confirm=lambda text: True)
    assert patient.dataset_combo.findData("clinic-gui") == -1 and patient.session.variant != "clinic-gui"
    assert not (user_datasets.root() / "clinic-gui").exists() and csv.exists()


def test_cancel_training_keeps_nothing_half_made(qtbot, patient, tmp_path: Path) -> None:
    from cfx_desktop.core.tabular import user_datasets

    editor = patient.own_data.open_editor(cohort_csv(tmp_path / "slow.csv", n=600))
    editor.positive.setCurrentText("sick")
    editor.members.setValue(5)
    editor.cv.setValue(5)
    editor.name.setText("Slow one")
    messages: list[str] = []
    patient.own_data.message.connect(lambda title, text, details: messages.append(title))
    editor.accept()
    qtbot.waitUntil(lambda: patient.own_data.progress is not None and patient.own_data.progress.value() > 0, timeout=TIMEOUT)
    from PySide6.QtWidgets import QPushButton

    patient.own_data.progress.findChild(QPushButton).click()  # the dialog's Cancel button
    qtbot.waitUntil(lambda: messages == ["Training cancelled"], timeout=TIMEOUT)
    assert not (user_datasets.root() / "slow-one").exists()
    assert patient.dataset_combo.findData("slow-one") == -1


def test_a_file_that_cannot_be_a_dataset_is_said_not_opened(qtbot, patient, tmp_path: Path) -> None:
    bad = tmp_path / "one-column.csv"
    bad.write_text("only\n1\n2\n")
    errors: list[str] = []
    patient.error_raised.connect(lambda title, text, details: errors.append(text))
    assert patient.own_data.open_editor(bad) is None
    assert errors and "one column" in errors[0]
