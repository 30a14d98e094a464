"""One worker abstraction for every long job in the app.

Core functions are plain callables taking ``progress`` and ``cancel`` keyword arguments, so the same code runs
from the CLI and tests without Qt. This module wraps them in `QRunnable`s on a `QThreadPool` and turns their
callbacks into Qt signals, which Qt delivers on the GUI thread (queued connections), so a job never touches a
widget.

superqt's thread workers were considered: they cancel only generator functions and have no "latest request
wins" channel, and our core functions take an explicit cancel token instead, so a thin runnable is simpler.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import weakref
from dataclasses import dataclass
from itertools import count
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from cfx_desktop.core.cancel import CancelToken, Cancelled
from cfx_desktop.workers import gc_guard

log = logging.getLogger(__name__)
_ids = count(1)

# Every submitted job, kept alive here until its `run` has returned. A window (and with it its pool) can be
# deleted while a job is still running on a pool thread; if the last reference to that job went with it, the
# C++ runnable and its signal object would be freed under the running thread. A job is dropped from here a
# grace period after `run` returns, because the thread pool still reads the runnable just after `run`.
_in_flight: dict[int, Job] = {}
_in_flight_lock = threading.Lock()
_GRACE_S = 2.0


def _keep_alive(job: Job) -> None:
    now = time.monotonic()
    with _in_flight_lock:
        for key in [k for k, j in _in_flight.items() if j.returned_at is not None and now - j.returned_at > _GRACE_S]:
            del _in_flight[key]
        _in_flight[job.id] = job


def in_flight_count() -> int:
    """Jobs whose `run` has not yet returned (tests and shutdown)."""
    with _in_flight_lock:
        return sum(1 for j in _in_flight.values() if j.returned_at is None and j.started)


@dataclass(frozen=True)
class JobError:
    """What the UI shows when a job raised: a one-line message plus the traceback for a details box."""

    title: str
    message: str
    details: str
    exception_type: str

    @classmethod
    def from_exception(cls, title: str, exc: BaseException) -> JobError:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(title, str(exc) or type(exc).__name__, details, type(exc).__name__)


class JobSignals(QObject):
    """Signals live on a QObject created on the GUI thread, so queued delivery lands there."""

    started = Signal()
    progress = Signal(float, str, object)  # fraction 0..1, message, optional payload (e.g. an image frame)
    result = Signal(object)
    error = Signal(object)  # JobError
    cancelled = Signal()
    finished = Signal()  # always last, whatever happened


class Job(QRunnable):
    """Runs ``fn(*args, progress=..., cancel=..., **kwargs)`` on a pool thread.

    ``fn`` must accept ``progress`` and ``cancel`` keywords when ``pass_context`` is true (the default).
    A job's signals are emitted on the pool thread: connect them only to a `Slot` of a QObject living on the GUI
    thread (as `_PoolReceiver` and `_ChannelReceiver` do), which makes the delivery queued. A lambda, a bound
    method of a plain object or another signal can be called on the pool thread by PySide, and full test runs
    crashed in the GUI thread's event processing right after such a connection. Everything else listens to the
    pool (`job_failed`) or to a `LatestOnly` channel, whose signals are emitted on the GUI thread.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        title: str = "job",
        pass_context: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the pool keeps the Python object alive until `finished`
        self.id = next(_ids)
        self.title = title
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.pass_context = pass_context
        self.token = CancelToken()
        self.signals = JobSignals()
        self.seconds: float | None = None
        self.started = False
        self.returned_at: float | None = None  # monotonic time `run` returned (see `_in_flight`)

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.token.cancelled

    def _progress(self, fraction: float, message: str = "", payload: object | None = None) -> None:
        self.token.raise_if_cancelled()  # progress is a natural cancellation point too
        self.signals.progress.emit(float(fraction), message, payload)

    def run(self) -> None:  # executed on a pool thread
        signals = self.signals
        start = time.perf_counter()
        self.started = True
        try:
            if self.token.cancelled:
                signals.cancelled.emit()
                return
            signals.started.emit()
            kwargs = dict(self.kwargs)
            if self.pass_context:
                kwargs.update(progress=self._progress, cancel=self.token)
            value = self.fn(*self.args, **kwargs)
            if self.token.cancelled:
                signals.cancelled.emit()
            else:
                signals.result.emit(value)
        except Cancelled:
            signals.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure must reach the UI as a message
            log.exception("job %s (%s) failed", self.id, self.title)
            signals.error.emit(JobError.from_exception(self.title, exc))
        finally:
            self.seconds = time.perf_counter() - start
            signals.finished.emit()
            self.returned_at = time.monotonic()


class WorkerPool(QObject):
    """Owns the QThreadPool; counts running jobs for the status-bar indicator; forwards every error."""

    busy_changed = Signal(int)  # number of jobs queued or running
    job_failed = Signal(object)  # JobError from any job

    def __init__(self, max_threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        gc_guard.install()  # worker threads run Python: garbage with Qt objects must be collected on this thread
        self._pool = QThreadPool(self)
        if max_threads:
            self._pool.setMaxThreadCount(max_threads)
        self._active: dict[int, Job] = {}
        self._closed = False  # after `shutdown`: a debounce timer that fires while the window closes starts nothing

    @property
    def active_count(self) -> int:
        return len(self._active)

    def submit(self, job: Job, *, report_errors: bool = True) -> Job:
        """Start ``job``; with ``report_errors`` its failure is also forwarded to `job_failed`. After `shutdown`
        the job is cancelled and never runs."""
        if self._closed:
            job.cancel()
            job.returned_at = time.monotonic()
            return job
        self._active[job.id] = job
        _keep_alive(job)
        _PoolReceiver(self, job, report_errors)
        self.busy_changed.emit(len(self._active))
        self._pool.start(job)
        return job

    def run(self, fn: Callable[..., Any], *args: Any, title: str = "job", **kwargs: Any) -> Job:
        """Fire and forget. A caller that connects to the job's signals must build the `Job`, connect, then
        `submit`: a queued signal emitted before the connection exists reaches nobody."""
        return self.submit(Job(fn, *args, title=title, **kwargs))

    def _done(self, job_id: int) -> None:
        self._active.pop(job_id, None)
        self.busy_changed.emit(len(self._active))

    def cancel_all(self) -> None:
        for job in list(self._active.values()):
            job.cancel()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the pool is idle (shutdown and tests only; never on a live GUI path)."""
        return self._pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 5_000) -> None:
        """Cancel everything, drop what never started, and wait a while for the rest (which stays alive in
        `_in_flight` if the wait runs out). The pool takes no new job after this."""
        self._closed = True
        self.cancel_all()
        for job in list(self._active.values()):
            if self._pool.tryTake(job):  # still queued: it will never run, so nothing needs to keep it alive
                job.returned_at = time.monotonic()
                self._done(job.id)
        self._pool.waitForDone(msecs)


class LatestOnly(QObject):
    """A channel for live updates: each request cancels the one before, and only the newest result is delivered.

    The staleness check runs on the GUI thread when a job's result arrives, so there is no race with a newer
    `request`: a result whose generation is no longer the latest is dropped.
    """

    started = Signal()
    progress = Signal(float, str, object)
    result = Signal(object)
    error = Signal(object)
    cancelled = Signal()  # the latest request was cancelled (by `cancel`, or by the pool's cancel-all)
    idle = Signal()  # the latest request has finished, one way or another

    def __init__(self, pool: WorkerPool, title: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._title = title
        self._generation = 0
        self._current: Job | None = None
        self.delivered = 0  # results passed on (for tests and the stress benchmark)
        self.dropped = 0  # stale results swallowed

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def busy(self) -> bool:
        return self._current is not None

    def request(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
        if self._current is not None:
            self._current.cancel()
        self._generation += 1
        generation = self._generation
        job = Job(fn, *args, title=self._title, **kwargs)
        _ChannelReceiver(self, job, generation)
        self._current = job
        # a stale job's error is not the user's concern: the channel's own `error` forwards only the latest
        return self._pool.submit(job, report_errors=False)

    def cancel(self) -> None:
        """Cancel the request in flight; the channel is idle at once (its late result is dropped as stale)."""
        was_busy = self._current is not None
        if self._current is not None:
            self._current.cancel()
        self._generation += 1  # whatever is in flight is now stale
        self._current = None
        if was_busy:
            self.cancelled.emit()
            self.idle.emit()

    def stop(self) -> None:
        """Ask the request in flight to stop, and stay with it: its `cancelled` (or its result, had it finished
        first) and `idle` come when the job has returned, after any cleanup it does on the way out."""
        if self._current is not None:
            self._current.cancel()

    def _is_latest(self, generation: int) -> bool:
        return generation == self._generation

    def _deliver(self, generation: int, value: object) -> None:
        if self._is_latest(generation):
            self.delivered += 1
            self.result.emit(value)
        else:
            self.dropped += 1

    def _finished(self, generation: int) -> None:
        if self._is_latest(generation):
            self._current = None
            self.idle.emit()


class _PoolReceiver(QObject):
    """Receives one job's `finished` on behalf of the pool.

    A job can outlive the object that started it (a window closed mid-job). Connecting the job's signals to
    lambdas would leave them pointing at a deleted C++ object ("Signal source has been deleted"); a receiver
    that is a child of the owner is destroyed with it, and Qt then drops its connections. It also pins the
    delivery to the owner's (GUI) thread.
    """

    def __init__(self, pool: WorkerPool, job: Job, report_errors: bool) -> None:
        super().__init__(pool)
        self._pool = weakref.ref(pool)  # never a strong one: see `_ChannelReceiver`
        self._job_id = job.id
        job.signals.finished.connect(self.on_finished)
        if report_errors:  # through a slot, never signal-to-signal or a plain callable: see `Job`
            job.signals.error.connect(self.on_error)

    @Slot(object)
    def on_error(self, error: object) -> None:
        pool = self._pool()
        if pool is not None:
            pool.job_failed.emit(error)

    @Slot()
    def on_finished(self) -> None:
        pool = self._pool()
        if pool is not None:
            pool._done(self._job_id)
        self.deleteLater()


class _ChannelReceiver(QObject):
    """Receives one job's signals on behalf of a `LatestOnly` channel, tagged with the request's generation.

    Same reason as `_PoolReceiver`: owned by the channel, so a job finishing after its channel is gone is
    simply not delivered. It holds its channel only weakly: a strong reference from child to parent kept a channel
    whose owner had let it go alive until the receiver's own deferred deletion, which then destroyed the channel
    from inside the receiver's destructor, and the channel deleted that half-destroyed child a second time (a
    segfault in about one run in eight of the pool's stop test).
    """

    def __init__(self, channel: LatestOnly, job: Job, generation: int) -> None:
        super().__init__(channel)
        self._channel_ref = weakref.ref(channel)
        self._generation = generation
        signals = job.signals
        signals.started.connect(self.on_started)
        signals.progress.connect(self.on_progress)
        signals.result.connect(self.on_result)
        signals.error.connect(self.on_error)
        signals.cancelled.connect(self.on_cancelled)
        signals.finished.connect(self.on_finished)

    @property
    def _latest(self) -> LatestOnly | None:
        """The channel while this receiver's request is its latest, else None (gone, or superseded)."""
        channel = self._channel_ref()
        return channel if channel is not None and channel._is_latest(self._generation) else None

    @Slot()
    def on_started(self) -> None:
        if (channel := self._latest) is not None:
            channel.started.emit()

    @Slot(float, str, object)
    def on_progress(self, fraction: float, message: str, payload: object) -> None:
        if (channel := self._latest) is not None:
            channel.progress.emit(fraction, message, payload)

    @Slot(object)
    def on_result(self, value: object) -> None:
        if (channel := self._channel_ref()) is not None:
            channel._deliver(self._generation, value)

    @Slot(object)
    def on_error(self, error: object) -> None:
        if (channel := self._latest) is not None:
            channel.error.emit(error)

    @Slot()
    def on_cancelled(self) -> None:
        if (channel := self._latest) is not None:
            channel.cancelled.emit()

    @Slot()
    def on_finished(self) -> None:
        if (channel := self._channel_ref()) is not None:
            channel._finished(self._generation)
        self.deleteLater()
