"""QApplication start-up: logging, main window, and the scripted modes (--self-test, --screenshot)."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QStandardPaths, QTimer
from PySide6.QtWidgets import QApplication

from cfx_desktop import __version__
from cfx_desktop.core import device
from cfx_desktop.ui.main_window import MainWindow
from cfx_desktop.ui.tab_base import SelfTestStep, ToolTab
from cfx_desktop.workers.pool import LatestOnly, WorkerPool

log = logging.getLogger("cfx_desktop")


def log_dir() -> Path:
    override = os.environ.get("CFX_LOG_DIR")
    if override:
        return Path(override)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".cfx-desktop") / "logs"


def setup_logging() -> Path:
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cfx-desktop.log"
    root = logging.getLogger()
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    return path


def get_app() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("cfx-desktop")
    app.setOrganizationName("cfx-desktop")
    app.setApplicationVersion(__version__)
    if not getattr(app, "_cfx_themed", False):  # once per process: the user's choice, else the system's scheme
        from cfx_desktop import settings as settings_mod
        from cfx_desktop.ui import theme

        theme.apply(str(settings_mod.make_settings().value("appearance/scheme", "system") or "system"))
        theme.follow_system()
        app._cfx_themed = True  # type: ignore[attr-defined]
    return app  # type: ignore[return-value]


def build_tabs(pool: WorkerPool) -> list[ToolTab]:
    """The Patient tab is built at once (its form shows the example patient at first paint); the X-ray tab's
    body waits for the model libraries (see `DeferredTab`)."""
    from cfx_desktop.ui.deferred_tab import DeferredTab
    from cfx_desktop.ui.patient.tab import PatientTab
    from cfx_desktop.ui.xray.formats import FILE_ACTIONS, IMAGE_FILTER

    return [PatientTab(pool), DeferredTab(pool, "cfx_desktop.ui.xray.tab:XrayTab", "Chest X-ray", IMAGE_FILTER,
                                          file_actions=FILE_ACTIONS)]


def build_window() -> MainWindow:
    jobs, _threads = device.plan_cpu_threads()  # torch's own threads are set when it loads, in the pool
    pool = WorkerPool(max_threads=jobs)
    return MainWindow(pool, build_tabs(pool))


def _device_round_trip(progress: Callable[..., None], cancel) -> str:  # noqa: ANN001 - core CancelToken
    """Self-test step: a tensor op on the chosen device, run through the pool like every real job."""
    import torch

    target = device.current()
    progress(0.5, "matmul")
    cancel.raise_if_cancelled()
    x = torch.eye(4, device=target) * 2
    value = float((x @ x).trace().cpu())
    if value != 16.0:
        raise RuntimeError(f"device arithmetic check failed on {target}: {value}")
    return device.describe(target)


def _integrity_step(window: MainWindow) -> SelfTestStep:
    """Every weight file against the manifest: the first check, reported within a second of start-up."""
    def start(done: Callable[[bool, str], None]) -> None:
        def report(integrity) -> None:  # noqa: ANN001 - core.startup.IntegrityReport
            if integrity.refused:
                done(False, "; ".join(integrity.lines()))
            else:
                done(True, f"{integrity.checked} bundles match the manifest ({integrity.seconds:.2f} s)")

        libraries = window.libraries
        if libraries.integrity is not None:
            report(libraries.integrity)
        else:
            libraries.integrity_checked.connect(report)
            # loading failed before the check could report (a failure after it belongs to the later steps)
            libraries.failed.connect(lambda error: done(False, f"model loading failed: {error.message}")
                                     if libraries.integrity is None else None)

    return SelfTestStep("model files (sha256 against the manifest)", start, 30, fatal=True)


def _codec_check(progress: Callable[..., None], cancel) -> str:  # noqa: ANN001 - core CancelToken
    """Self-test step: every bundled DICOM decoder on its sample (see `core.imaging.codec_check`)."""
    from cfx_desktop.core.imaging.io.codec_check import SAMPLES, check_codecs

    problems = check_codecs()
    if problems:
        raise RuntimeError("; ".join(problems))
    return f"{len(SAMPLES)} compressed samples decode exactly: " + ", ".join(SAMPLES.values())


def _pool_step(window: MainWindow, name: str, fn: Callable[..., str], timeout_s: float = 60) -> SelfTestStep:
    """A self-test step that runs ``fn`` in the worker pool, like every real job; its text is the detail."""
    channel = LatestOnly(window.pool, name, window)  # its signals arrive on the GUI thread

    def start(done: Callable[[bool, str], None]) -> None:
        channel.result.connect(lambda text: done(True, text))
        channel.error.connect(lambda err: done(False, err.message))
        channel.request(fn)

    return SelfTestStep(name, start, timeout_s)


def window_self_test_steps(window: MainWindow) -> list[SelfTestStep]:
    steps = [_integrity_step(window), _pool_step(window, "worker pool and compute device", _device_round_trip),
             _pool_step(window, "DICOM codecs", _codec_check)]
    for tab in window.tab_list:
        steps.extend(tab.self_test_steps())
    return steps


class SelfTest:
    """Runs steps one after another on the event loop, each with a timeout, and exits 0 only if all pass."""

    def __init__(self, app: QApplication, steps: list[SelfTestStep], out: Callable[[str], None] = print) -> None:
        self.app, self.steps, self.out = app, steps, out
        self.index = -1
        self.failures = 0
        self.passed = 0
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._finish_step(False, "timed out"))
        self._started = 0.0
        self._waiting = False

    def start(self) -> None:
        QTimer.singleShot(0, self._next)

    def _next(self) -> None:
        self.index += 1
        if self.index >= len(self.steps):
            skipped = len(self.steps) - self.passed - self.failures
            self.out(f"self-test: {self.passed} passed, {self.failures} failed" + (f", {skipped} not run" if skipped else ""))
            self.app.exit(1 if self.failures else 0)
            return
        step = self.steps[self.index]
        self._started = time.perf_counter()
        self._waiting = True
        self._timer.start(int(step.timeout_s * 1000))
        try:
            step.start(self._finish_step)
        except Exception as exc:  # noqa: BLE001 - a broken step is a failed step, not a crash
            self._finish_step(False, f"{type(exc).__name__}: {exc}")

    def _finish_step(self, ok: bool, detail: str) -> None:
        if not self._waiting:
            return
        self._waiting = False
        self._timer.stop()
        step = self.steps[self.index]
        seconds = time.perf_counter() - self._started
        self.out(f"self-test: {'PASS' if ok else 'FAIL'} {step.name} ({seconds:.2f} s) {detail}")
        self.passed += ok
        if not ok:
            self.failures += 1
            if step.fatal:
                self.index = len(self.steps)  # `_next` reports and exits
        QTimer.singleShot(0, self._next)


def save_screenshot(app: QApplication, window: MainWindow, path: Path, timeout_s: float = 120.0) -> int:
    """Wait until every tab is idle (results rendered), then grab the window into a PNG."""
    deadline = time.perf_counter() + timeout_s
    settle = {"since": None}

    def poll() -> None:
        now = time.perf_counter()
        if window.is_idle():
            settle["since"] = settle["since"] or now
            if now - settle["since"] >= 0.6 or now > deadline:
                path.parent.mkdir(parents=True, exist_ok=True)
                ok = window.grab().save(str(path))
                print(f"screenshot: {'wrote' if ok else 'could not write'} {path}")
                app.exit(0 if ok else 1)
                return
        else:
            settle["since"] = None
            if now > deadline:
                print("screenshot: window did not become idle in time; capturing anyway")
                window.grab().save(str(path))
                app.exit(1)
                return
        QTimer.singleShot(100, poll)

    QTimer.singleShot(300, poll)
    return app.exec()


def run_gui(
    *,
    self_test: bool = False,
    screenshot: Path | None = None,
    size: tuple[int, int] | None = None,
    tab: str | None = None,
    files: list[Path] | None = None,
) -> int:
    app = get_app()
    log_path = setup_logging()
    log.info("cfx-desktop %s starting (device preference: %s); log at %s", __version__, device.preference(), log_path)
    window = build_window()
    if os.environ.get("CFX_STARTUP_PROBE"):
        from cfx_desktop.ui.startup_probe import StartupProbe

        window._startup_probe = StartupProbe(window, Path(os.environ["CFX_STARTUP_PROBE"]))  # noqa: SLF001
    if size:
        window.resize(*size)
    if tab:
        fold = lambda text: "".join(c for c in text.lower() if c.isalnum())  # noqa: E731 - "Chest X-ray" ~ "xray"
        matches = [i for i, candidate in enumerate(window.tab_list) if fold(tab) and fold(tab) in fold(candidate.title)]
        if matches:
            window.tabs.setCurrentIndex(matches[0])
        else:
            log.warning("--tab %s: no such tab (%s)", tab, ", ".join(t.title for t in window.tab_list))
    window.show()
    for path in files or []:
        window.open_path(path)
    if self_test:
        runner = SelfTest(app, window_self_test_steps(window))
        runner.start()
        return finish(window, app.exec())
    if screenshot is not None:
        return finish(window, save_screenshot(app, window, screenshot))
    return finish(window, app.exec())


def finish(window: MainWindow, code: int) -> int:
    """End promptly after Quit. Cancelled jobs had `EXIT_GRACE_MS` to return (in `closeEvent`); one still inside a
    long library call (a torch kernel, a scikit-learn fit) cannot be interrupted, and waiting for it kept the
    process alive for seconds after the window had gone. With nothing running, the interpreter's own teardown
    (destroying every Qt object and torch module one by one) still took 0.7-3 s after the window had gone. So:
    settings, exit handlers and logs are flushed, then the process ends at once; nothing it would free is kept."""
    import atexit

    from cfx_desktop.ui.main_window import EXIT_GRACE_MS
    from cfx_desktop.workers.pool import in_flight_count

    window.pool.shutdown(EXIT_GRACE_MS if window.isVisible() else 0)  # a closed window has waited already
    stuck = window.pool.active_count + in_flight_count()
    if stuck:  # its exit handlers could wait for that thread: only settings and logs are flushed
        log.info("exit: %d job(s) still inside a library call; not waiting for them", stuck)
    window.settings.sync()
    if not stuck:
        atexit._run_exitfuncs()  # what the interpreter would run at exit (temporary files, logging), run now
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
