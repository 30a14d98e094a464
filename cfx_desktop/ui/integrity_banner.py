"""The red line above the tabs that names every model bundle refused at launch (its weight file does not match
the manifest), so a tampered or damaged file is said once, where everyone sees it, while the rest keeps working."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QLabel, QWidget

log = logging.getLogger(__name__)


class IntegrityBanner(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("integrityBanner")
        self.setWordWrap(True)
        self.setStyleSheet("QLabel#integrityBanner { background: #fadbd8; color: #641e16; "
                           "border: 1px solid #c0392b; padding: 6px; }")
        self.hide()

    def show_report(self, report) -> None:  # noqa: ANN001 - core.startup.IntegrityReport
        """A refused bundle is named here (and left out of every model list by the tabs)."""
        if not report.refused:
            self.hide()
            return
        names = ", ".join(f"<b>{name}</b> ({reason})" for name, reason in
                          ((n, r.split(": ", 1)[-1]) for n, r in sorted(report.refused.items())))
        self.setText(f"Refused at launch (weight file does not match the manifest): {names}. "
                     "These models are left out; everything else works. Reinstall to restore them.")
        self.setToolTip("\n".join(report.refused.values()))
        self.show()
        for name, reason in report.refused.items():
            log.error("refused at launch: %s: %s", name, reason)
