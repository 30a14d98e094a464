"""The PNG half of File > Export: a screenshot of the tab as shown (the PDF half is a report document written by
`core.report`, with its JSON sidecar)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget


def write_png(path: Path, widget: QWidget) -> bool:
    return widget.grab().save(str(path), "PNG")

