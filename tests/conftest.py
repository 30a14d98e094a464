"""Shared test set-up: headless Qt, throw-away settings and logs, and the real-data locator."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_TMP = Path(tempfile.mkdtemp(prefix="cfx-tests-"))
os.environ.setdefault("CFX_SETTINGS_DIR", str(_TMP / "settings"))
os.environ.setdefault("CFX_LOG_DIR", str(_TMP / "logs"))

from cfx_desktop import paths  # noqa: E402

REAL_DATA = paths.shared_data_dir()
NO_DATA_REASON = "real data not found (../shared/data or CFX_DATA_DIR); this test runs in the project's CI"


def real_data_file(name: str) -> Path:
    """Path of a real data file, or skip the calling test with the reason."""
    path = paths.data_file(name)
    if path is None:
        pytest.skip(f"{name}: {NO_DATA_REASON}")
    return path


@pytest.fixture
def subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", CFX_SETTINGS_DIR=str(tmp_path / "s"), CFX_LOG_DIR=str(tmp_path / "l"))
    return env


@pytest.fixture
def app_window(qtbot):
    """The real main window at 1400 x 900, shown offscreen; its worker pool is shut down afterwards."""
    from cfx_desktop.app import build_window

    win = build_window()
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    win.pool.shutdown()


def settle_patient(qtbot, tab, timeout: int = 30_000) -> None:
    """Wait until the Patient tab is idle and both its results answer the patient as it is now."""
    def current() -> bool:
        p, s = tab.prediction, tab.suggestions_result
        return (tab.is_idle() and p is not None and s is not None and tab._answers_current(p.model_name, p.x)
                and tab._answers_current(s.model_name, s.x))
    qtbot.waitUntil(current, timeout=timeout)
