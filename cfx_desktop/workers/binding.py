"""The one binding of Qt-free sessions to the worker pool: `PoolScheduler` implements `sessions.scheduler.Scheduler`
with one `LatestOnly` channel per key, built here (not in `ui/`), and delivers every outcome on the GUI thread."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot
from superqt.utils import qdebounced

from cfx_desktop.sessions.scheduler import Callbacks
from cfx_desktop.workers.pool import JobError, LatestOnly, WorkerPool


class PoolScheduler(QObject):
    _posted = Signal(object)  # emitted from any thread, delivered (queued) on the GUI thread

    def __init__(self, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent or pool)
        self._pool = pool
        self._channels: dict[str, LatestOnly] = {}
        self._callbacks: dict[str, Callbacks] = {}
        self._debouncers: dict[str, Any] = {}  # superqt's ThrottledCallable per key
        self._debounced: dict[str, Callable[[], None]] = {}
        self._posted.connect(self._run_posted)

    def channel(self, key: str) -> LatestOnly:
        """The lane of ``key`` (tests and the stress benchmark count what it delivered and dropped)."""
        return self._channel(key)

    def _channel(self, key: str) -> LatestOnly:
        if key not in self._channels:
            channel = LatestOnly(self._pool, key, self)
            channel.result.connect(lambda value, k=key: self._callbacks[k].result(value))
            channel.error.connect(lambda error, k=key: self._callbacks[k].error(
                *((error.message, error.details) if isinstance(error, JobError) else (str(error), ""))))
            channel.progress.connect(lambda f, m, p, k=key: self._callbacks[k].progress(f, m, p))
            channel.cancelled.connect(lambda k=key: self._callbacks[k].cancelled())
            self._channels[key] = channel
        return self._channels[key]

    def request(self, key: str, fn: Callable[..., Any], *args: Any, callbacks: Callbacks) -> None:
        channel = self._channel(key)
        self._callbacks[key] = callbacks
        channel.request(fn, *args)

    def cancel(self, key: str) -> None:
        if key in self._channels:
            self._channels[key].cancel()

    def stop(self, key: str) -> None:
        if key in self._channels:
            self._channels[key].stop()

    def post(self, fn: Callable[[], None]) -> None:
        self._posted.emit(fn)

    def debounce(self, key: str, milliseconds: int, fn: Callable[[], None], leading: bool = False) -> None:
        if key not in self._debouncers:  # superqt's debouncer; with ``leading`` it also calls the burst's last
            self._debouncers[key] = qdebounced(lambda k=key: self._debounced[k](), milliseconds, leading, parent=self)
        self._debounced[key] = fn
        self._debouncers[key].setTimeout(milliseconds)
        self._debouncers[key]()

    @Slot(object)
    def _run_posted(self, fn: object) -> None:
        fn()  # type: ignore[operator]
