"""Loading the model libraries in the worker pool once per pool, and telling every tab when they are there.

The main window and each tab ask `libraries_for(pool)` for the one loader; the main window `start`s it once
it has painted (starting earlier measured worse: the importing thread holds the GIL for most of those seconds,
and the first paint came after torch, at 3.8x a bare window instead of ~1.1x). Tabs stay in their "loading
models..." state until `when_loaded` calls them back; nothing on the GUI thread imports torch before that.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from cfx_desktop.core.startup import IntegrityReport, LoadReport, StageLoaded, load_model_libraries
from cfx_desktop.workers.pool import JobError, LatestOnly, WorkerPool


class ModelLibraries(QObject):
    integrity_checked = Signal(object)  # IntegrityReport, well before `loaded`
    stage_loaded = Signal(str)  # a stage of `core.startup.STAGES` ("tabular", then "imaging")
    loaded = Signal(object)  # LoadReport
    failed = Signal(object)  # JobError: the app keeps running, without models

    def __init__(self, pool: WorkerPool) -> None:
        super().__init__(pool)
        self.integrity: IntegrityReport | None = None
        self.report: LoadReport | None = None
        self.stages: set[str] = set()
        self.error: JobError | None = None
        self.channel = LatestOnly(pool, "Loading models", self)
        self.channel.progress.connect(self._on_progress)
        self.channel.result.connect(self._on_loaded)
        self.channel.error.connect(self._on_failed)
        self.started = False

    def start(self) -> None:
        """Begin loading (once; later calls do nothing)."""
        if not self.started:
            self.started = True
            self.channel.request(load_model_libraries)  # imports the heavy modules on the pool thread

    @property
    def is_loaded(self) -> bool:
        return self.report is not None

    def when_loaded(self, callback: Callable[[object], None], context: QObject, stage: str | None = None) -> None:
        """Call ``callback(report)`` on the GUI thread once everything (or just ``stage``) is loaded, soon if it
        already is; never after ``context`` is deleted. For a stage the argument is the stage's name."""
        if stage is None and self.report is not None:
            QTimer.singleShot(0, context, lambda: callback(self.report))
        elif stage is not None and stage in self.stages:
            QTimer.singleShot(0, context, lambda: callback(stage))
        elif stage is None:
            self.loaded.connect(_Callback(callback, context).call)
        else:
            receiver = _Callback(lambda name: callback(name) if name == stage else None, context)
            self.stage_loaded.connect(receiver.call)

    def _on_progress(self, fraction: float, message: str, payload: object) -> None:
        if isinstance(payload, IntegrityReport):
            self.integrity = payload
            self.integrity_checked.emit(payload)
        elif isinstance(payload, StageLoaded):
            self.stages.add(payload.name)
            self.stage_loaded.emit(payload.name)

    def _on_loaded(self, report: LoadReport) -> None:
        self.integrity = report.integrity
        self.report = report
        self.loaded.emit(report)

    def _on_failed(self, error: JobError) -> None:
        self.error = error
        self.failed.emit(error)


class _Callback(QObject):
    """A child of the waiting object: deleted with it, which drops the connection (no call into a dead tab)."""

    def __init__(self, callback: Callable[[object], None], context: QObject) -> None:
        super().__init__(context)
        self._callback = callback

    @Slot(object)
    def call(self, report: object) -> None:
        self._callback(report)  # type: ignore[arg-type]


def libraries_for(pool: WorkerPool) -> ModelLibraries:
    """The pool's one `ModelLibraries` (started on first use)."""
    found = getattr(pool, "_model_libraries", None)
    if found is None:
        found = ModelLibraries(pool)
        pool._model_libraries = found  # noqa: SLF001 - one per pool, owned by it
    return found
