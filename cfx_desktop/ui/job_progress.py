"""The progress dialog with Cancel that a long training job shows (own datasets, own image models).

One place so that both flows behave alike: window-modal (the rest of the app stays usable), never closed or reset by
Qt on reaching 100 % (the flow closes it when the result arrives), and Cancel forwarded to the flow.
"""

from __future__ import annotations

from typing import Callable

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


def show_progress(dialog: QProgressDialog | None, fraction: float, text: str) -> None:
    """A job's progress report; a modal dialog's setValue processes events, so the result may have closed it."""
    if dialog is not None:
        dialog.setLabelText(text)
        dialog.setValue(int(fraction * STEPS))


def close_progress(dialog: QProgressDialog | None, on_cancel: Callable[[], None]) -> None:
    """Close without emitting Cancel: the slot is disconnected first."""
    if dialog is not None:
        dialog.canceled.disconnect(on_cancel)
        dialog.close()
        dialog.deleteLater()
