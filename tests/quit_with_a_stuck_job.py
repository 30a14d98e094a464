"""Run by `test_quit_does_not_wait_for_a_job_stuck_in_a_library_call`: the app's own start-up path (`run_gui`);
once idle, a job that ignores cancellation (like a long torch or scikit-learn call) starts and Quit is chosen."""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QTimer

import cfx_desktop.app as app_mod

STUCK_S = 60


def build():  # noqa: ANN201
    window = original()

    def when_idle() -> None:
        if not window.is_idle():
            QTimer.singleShot(100, when_idle)
            return
        window.pool.run(lambda **_: time.sleep(STUCK_S), title="a long library call")
        QTimer.singleShot(200, quit_now)

    def quit_now() -> None:
        print(f"running jobs: {window.pool.active_count}", flush=True)
        window.quit_action.trigger()

    QTimer.singleShot(300, when_idle)
    return window


original = app_mod.build_window
app_mod.build_window = build
sys.exit(app_mod.run_gui())
