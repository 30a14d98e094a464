"""The training progress dialog: a modal QProgressDialog processes events inside its own setValue, so the job's
result (which closes the dialog) and further reports can arrive while it is still inside that call."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from cfx_desktop.ui.job_progress import close_progress, open_progress, show_progress


def test_a_close_and_a_report_that_arrive_inside_set_value_wait_until_it_returns(qtbot) -> None:
    """Closing (and deleting) the dialog inside its own setValue crashed the process with a segfault in a full
    test run; now the close is carried out after setValue returns, a nested report is dropped, and Cancel is never
    emitted by the close."""
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    cancelled: list[bool] = []
    on_cancel = lambda: cancelled.append(True)  # noqa: E731
    dialog = open_progress(parent, "Training", "Training...", on_cancel)
    show_progress(dialog, 0.1, "first")  # the dialog has been shown: from now on setValue processes events
    seen: list[tuple[bool, bool]] = []

    def arrive_inside() -> None:  # what the job's result and a late report do, delivered by setValue's processEvents
        show_progress(dialog, 0.9, "nested")
        close_progress(dialog, on_cancel)
        seen.append((shiboken6.isValid(dialog), dialog.isVisible()))

    QTimer.singleShot(0, arrive_inside)
    show_progress(dialog, 0.5, "outer")
    assert seen == [(True, False)], "the timer fired inside setValue, and the close only hid the dialog there"
    assert dialog.labelText() == "outer"  # the nested report was dropped, not drawn under the outer one
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=2000)  # deleted once setValue had returned
    assert not cancelled
    show_progress(dialog, 1.0, "after")  # a report for a dialog already gone is ignored


def test_a_close_outside_set_value_deletes_the_dialog_at_once_without_cancel(qtbot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    cancelled: list[bool] = []
    on_cancel = lambda: cancelled.append(True)  # noqa: E731
    dialog = open_progress(parent, "Training", "Training...", on_cancel)
    close_progress(dialog, on_cancel)
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=2000)
    assert not cancelled
