"""Persistent user settings (window state, recent files, last tab, device) through QSettings.

``CFX_SETTINGS_DIR`` redirects to an INI file so tests and the self-test never touch the user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORG = "cfx-desktop"
APP = "cfx-desktop"
MAX_RECENT = 10


def make_settings() -> QSettings:
    folder = os.environ.get("CFX_SETTINGS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / "cfx-desktop.ini"), QSettings.Format.IniFormat)
    return QSettings(ORG, APP)


def recent_files(settings: QSettings) -> list[str]:
    value = settings.value("recent_files", [])
    if isinstance(value, str):  # QSettings returns a bare string for a one-item list in INI files
        value = [value]
    return [str(v) for v in (value or []) if v]


def add_recent_file(settings: QSettings, path: str) -> list[str]:
    items = [path] + [p for p in recent_files(settings) if p != path]
    items = items[:MAX_RECENT]
    settings.setValue("recent_files", items)
    return items
