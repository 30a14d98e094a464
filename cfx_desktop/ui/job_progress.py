"""The progress dialog with Cancel that a long training job shows (own datasets, own image models).

One place so that both flows behave alike: window-modal (the rest of the app stays usable), never closed or reset by
Qt on reaching 100 % (the flow closes it when the result arrives), and Cancel forwarded to the flow.
"""

from __future__ import annotations

from typing import Callable

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QWidget

STEPS = 1000


def open_progress(parent: QWidget, title: str, label: str, on_cancel: Callable[[], None]) -> QProgressDialog:
    dialog = QProgressDialog(label, "Cancel", 0, STEPS, parent)
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.canceled.connect(on_cancel)
    dialog.show()
    return dialog


UPDATING, CLOSE_PENDING = "cfx_updating", "cfx_close_pending"  # dialog properties


def show_progress(dialog: QProgressDialog | None, fraction: float, text: str) -> None:
    """A job's progress report. A modal dialog's setValue processes events, so the job's result (which closes the
    dialog) or another report can arrive inside it: a nested report is dropped, and a close asked for meanwhile
    is carried out once setValue has returned. Closing and deleting the dialog under its own setValue crashed the
    process (a segfault in the schema editor's train-and-explain test)."""
    if dialog is None or not shiboken6.isValid(dialog) or dialog.property(UPDATING):
        return
    dialog.setProperty(UPDATING, True)
    try:
        dialog.setLabelText(text)
        dialog.setValue(int(fraction * STEPS))
    finally:
        dialog.setProperty(UPDATING, False)
    if dialog.property(CLOSE_PENDING):
        _dispose(dialog)


def close_progress(dialog: QProgressDialog | None, on_cancel: Callable[[], None]) -> None:
    """Close without emitting Cancel: the slot is disconnected first. Inside the dialog's own setValue (see
    `show_progress`) it is only hidden, and deleted when setValue returns."""
    if dialog is None or not shiboken6.isValid(dialog):
        return
    dialog.canceled.disconnect(on_cancel)
    if dialog.property(UPDATING):
        dialog.setProperty(CLOSE_PENDING, True)
        dialog.hide()
        return
    _dispose(dialog)


def _dispose(dialog: QProgressDialog) -> None:
    dialog.close()
    dialog.deleteLater()
