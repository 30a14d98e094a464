"""What the main window expects of a tab, so File > Open/Export, shortcuts and the self-test stay generic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from cfx_desktop.workers.pool import WorkerPool

DoneFn = Callable[[bool, str], None]


@dataclass(frozen=True)
class SelfTestStep:
    """One check of a tab's main path: ``start(done)`` begins async work and calls ``done(ok, detail)``."""

    name: str
    start: Callable[[DoneFn], None]
    timeout_s: float = 60.0
    fatal: bool = False  # a failure ends the self-test at once (a tampered installation is not exercised)


class ToolTab(QWidget):
    """Base for the Patient and Chest X-ray tabs."""

    title = "tab"
    open_filter = "All files (*)"
    export_filter = "PDF report with JSON sidecar (*.pdf);;Screenshot of the tab (*.png)"
    status_message = Signal(str)
    file_opened = Signal(str)  # for the recent-files list
    error_raised = Signal(str, str, str)  # title, message, details: shown by the main window, never fatal

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool

    def open_path(self, path: Path) -> bool:
        """Open a user file; show any problem to the user and return False, keeping the current state."""
        self.status_message.emit(f"{self.title}: opening files is not available yet")
        return False

    def export_to(self, path: Path) -> bool:
        self.status_message.emit(f"{self.title}: export is not available yet")
        return False

    def shortcuts(self) -> list[tuple[str, str]]:
        return []

    def file_actions(self) -> list[tuple[str, Callable[[], object], str]]:
        """(text, slot, tip) entries this tab adds to the File menu."""
        return []

    def help_topic(self):  # noqa: ANN201 - ui.help_pane.HelpTopic | None
        """What the "What am I looking at?" pane says for this tab."""
        from cfx_desktop.ui.help_topics import TOPICS

        return TOPICS.get(self.title)

    def export_subject(self) -> str:
        """What the export is of, for its suggested file name (dataset and patient, or the image)."""
        return self.title.lower().replace(" ", "-")

    def suggested_export_name(self, suffix: str = ".pdf") -> str:
        """E.g. ``patient-heart-failure-no-time-example-2026-11-23.pdf``: subject and date, file-name safe."""
        import datetime as dt
        import re

        subject = re.sub(r"[^A-Za-z0-9._-]+", "-", self.export_subject()).strip("-") or "export"
        return f"{subject}-{dt.date.today().isoformat()}{suffix}"

    def self_test_steps(self) -> list[SelfTestStep]:
        return []

    def is_idle(self) -> bool:
        return True


def poll_until(parent: QWidget, predicate: Callable[[], bool], then: Callable[[], None], every_ms: int = 100) -> None:
    """Call ``then`` once ``predicate`` holds, checking on the event loop (self-tests and screenshots)."""
    from PySide6.QtCore import QTimer

    def check() -> None:
        if predicate():
            then()
        else:
            QTimer.singleShot(every_ms, parent, check)  # no call once parent is gone

    QTimer.singleShot(every_ms, parent, check)  # no call once parent is gone
