"""Shared test set-up: headless Qt, throw-away settings and logs, and the real-data locator."""

from __future__ import annotations

import faulthandler
import gc
import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_TMP = Path(tempfile.mkdtemp(prefix="cfx-tests-"))
os.environ.setdefault("CFX_SETTINGS_DIR", str(_TMP / "settings"))
os.environ.setdefault("CFX_USER_DATA_DIR", str(_TMP / "user-data"))  # datasets the tests build stay out of ~
os.environ.setdefault("CFX_LOG_DIR", str(_TMP / "logs"))

from cfx_desktop import paths  # noqa: E402

REAL_DATA = paths.shared_data_dir()
NO_DATA_REASON = "real data not found (../shared/data or CFX_DATA_DIR); this test runs in the project's CI"


# A test that hangs must fail fast with every thread's stack, not run CI into its own time limit: the process
# prints the stacks and exits. The slow (installer) test gets more room.
TEST_LIMIT_S = float(os.environ.get("CFX_TEST_LIMIT_S", "600"))
SLOW_TEST_LIMIT_S = 3 * TEST_LIMIT_S


@pytest.fixture(autouse=True)
def _collect_garbage_on_this_thread():  # noqa: ANN202
    """Once a worker pool exists, automatic garbage collection is off (`workers.gc_guard`) and the app collects
    from a GUI-thread timer; a test that does not spin the event loop long gets its collection here, on the main
    thread, between tests (the young generations: a full collection after every test cost 80 s in all; old
    garbage is collected by the timer or when a window closes)."""
    yield
    gc.collect(1)


def _terminal_fd(config) -> int:  # noqa: ANN001
    """The stderr pytest itself saw at start: during a test, fd 2 is redirected into pytest's capture file,
    which a process that exits from the watchdog never prints."""
    capture = config.pluginmanager.getplugin("capturemanager")
    saved = getattr(getattr(getattr(capture, "_global_capturing", None), "err", None), "targetfd_save", None)
    return saved if isinstance(saved, int) else sys.__stderr__.fileno()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ANN001, ANN201
    limit = SLOW_TEST_LIMIT_S if item.get_closest_marker("slow") else TEST_LIMIT_S
    faulthandler.dump_traceback_later(limit, exit=True, file=_terminal_fd(item.config))
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def real_data_file(name: str) -> Path:
    """Path of a real data file, or skip the calling test with the reason."""
    path = paths.data_file(name)
    if path is None:
        pytest.skip(f"{name}: {NO_DATA_REASON}")
    return path


@pytest.fixture
def subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", CFX_SETTINGS_DIR=str(tmp_path / "s"), CFX_LOG_DIR=str(tmp_path / "l"),
               CFX_USER_DATA_DIR=str(tmp_path / "u"))
    return env


def close_window(win) -> None:  # noqa: ANN001
    """Tear a main window down now, in a fixed order, instead of whenever the garbage collector runs.

    A window left to pytest-qt's close-then-deleteLater has its Python side freed by whichever later collection
    finds it, in the middle of another test; full runs crashed there (the app-side causes, collection on pool
    threads and pool-thread signals reaching Python, are fixed in `workers/`; this keeps the tests' own order).
    Here: stop the jobs, hide the window, let pending events reach it while it still exists, delete the C++
    side, drop what was posted for it, and collect the Python side, all before the next test starts.
    """
    from PySide6.QtCore import QCoreApplication, QEvent
    from shiboken6 import Shiboken

    if not Shiboken.isValid(win):
        return
    win.pool.shutdown(60_000)
    win.close()
    QCoreApplication.processEvents()
    Shiboken.delete(win)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()


@pytest.fixture
def make_window(qtbot):  # noqa: ANN001, ANN201
    """``make_window(show=True)`` builds the real main window; every window made is closed by `close_window`."""
    from cfx_desktop.app import build_window

    made = []

    def make(show: bool = True, loaded: bool = True):  # noqa: ANN202
        win = build_window()
        made.append(win)
        if show:
            win.show()
        if loaded:  # the model libraries load in the pool once the window has painted (issue 15)
            win.start_loading()
            qtbot.waitUntil(lambda: win.models_loaded and win.tab_list[1].inner is not None, timeout=120_000)
        return win

    yield make
    for win in made:
        close_window(win)
    from cfx_desktop.workers.pool import in_flight_count

    assert in_flight_count() == 0, "a job was still running after its window was closed"


@pytest.fixture
def header_only_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests of the X-ray tab's mechanics on synthetic images, which the shipped guard rightly withholds:
    the guard checks headers only. Tests of the guard itself do not use this."""
    from cfx_desktop.core.imaging.guard import model as guard
    from cfx_desktop.core.imaging import live

    monkeypatch.setattr(live, "load_guard", lambda model: guard.Guard(model.name, None, {}))


@pytest.fixture
def app_window(make_window):  # noqa: ANN001, ANN201
    """The real main window at 1400 x 900, shown offscreen; torn down by `close_window`."""
    win = make_window(show=False)
    win.resize(1400, 900)
    win.show()
    return win


def settle_patient(qtbot, tab, timeout: int = 30_000) -> None:
    """Wait until the Patient tab is idle and both its results answer the patient as it is now."""
    def current() -> bool:
        p, s = tab.prediction, tab.suggestions_result
        return (tab.is_idle() and p is not None and s is not None and tab.session.answers_current(p.model_name, p.x)
                and tab.session.answers_current(s.model_name, s.x))
    qtbot.waitUntil(current, timeout=timeout)
