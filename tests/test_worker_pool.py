"""The one worker abstraction: results, progress, cancel, latest-wins, and errors that never crash the app."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject, Slot

from cfx_desktop.core.cancel import CancelToken
from cfx_desktop.workers.pool import Job, JobError, LatestOnly, WorkerPool


@pytest.fixture
def pool(qtbot):
    p = WorkerPool(max_threads=4)
    yield p
    p.shutdown()


def _square(x: int, progress, cancel: CancelToken) -> int:
    progress(0.5, "half")
    return x * x


class Inbox(QObject):
    """Listens to one job the way the app's receivers do: `Slot`s of a GUI-thread QObject (see `Job`)."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.results: list[object] = []
        self.progress: list[float] = []
        self.cancelled = self.finished = False
        job.signals.result.connect(self.on_result)
        job.signals.progress.connect(self.on_progress)
        job.signals.cancelled.connect(self.on_cancelled)
        job.signals.finished.connect(self.on_finished)

    @Slot(object)
    def on_result(self, value: object) -> None:
        self.results.append(value)

    @Slot(float, str, object)
    def on_progress(self, fraction: float, message: str, payload: object) -> None:
        self.progress.append(fraction)

    @Slot()
    def on_cancelled(self) -> None:
        self.cancelled = True

    @Slot()
    def on_finished(self) -> None:
        self.finished = True


def test_result_and_progress_arrive(qtbot, pool: WorkerPool) -> None:
    job = Job(_square, 7, title="square")
    inbox = Inbox(job)
    pool.submit(job)
    qtbot.waitUntil(lambda: inbox.finished and pool.active_count == 0, timeout=5000)
    assert inbox.results == [49] and inbox.progress == [0.5]


def _spin(progress, cancel: CancelToken, started: threading.Event) -> str:
    started.set()
    for _ in range(2000):
        cancel.raise_if_cancelled()
        time.sleep(0.005)
    return "ran to the end"


def test_cancel_stops_a_running_job(qtbot, pool: WorkerPool) -> None:
    started = threading.Event()
    job = Job(_spin, started=started)
    inbox = Inbox(job)
    pool.submit(job)
    assert started.wait(5)
    t0 = time.perf_counter()
    job.cancel()
    qtbot.waitUntil(lambda: inbox.cancelled, timeout=5000)
    assert time.perf_counter() - t0 < 1.0  # well before the 10 s the job would take
    qtbot.waitUntil(lambda: pool.active_count == 0, timeout=5000)
    assert inbox.results == []


def _slow_echo(value: int, delay: float, progress, cancel: CancelToken) -> int:
    end = time.perf_counter() + delay
    while time.perf_counter() < end:
        time.sleep(0.002)
    return value  # deliberately ignores cancel: staleness must still be filtered


def test_latest_request_wins(qtbot, pool: WorkerPool) -> None:
    channel = LatestOnly(pool, "live")
    delivered: list[int] = []
    channel.result.connect(delivered.append)
    # the first request finishes last, so a naive channel would deliver it after the newer ones
    channel.request(_slow_echo, 1, 0.4)
    channel.request(_slow_echo, 2, 0.2)
    channel.request(_slow_echo, 3, 0.05)
    qtbot.waitUntil(lambda: pool.active_count == 0, timeout=5000)
    qtbot.wait(50)
    assert delivered == [3]
    assert channel.delivered == 1


def _boom(progress, cancel) -> None:
    raise ValueError("serum sodium must be a number")


def test_exception_becomes_an_error_message(qtbot, pool: WorkerPool) -> None:
    errors: list[JobError] = []
    pool.job_failed.connect(errors.append)
    job = Job(_boom, title="explain")
    inbox = Inbox(job)
    pool.submit(job)
    qtbot.waitUntil(lambda: inbox.finished and len(errors) == 1, timeout=5000)
    assert len(errors) == 1
    assert errors[0].title == "explain"
    assert errors[0].message == "serum sodium must be a number"
    assert "ValueError" in errors[0].details
    # the pool still works afterwards
    again = Job(_square, 3)
    inbox = Inbox(again)
    pool.submit(again)
    qtbot.waitUntil(lambda: inbox.results == [9], timeout=5000)


def test_stale_errors_are_not_reported(qtbot, pool: WorkerPool) -> None:
    channel = LatestOnly(pool, "live")
    errors: list[JobError] = []
    channel.error.connect(errors.append)
    pool.job_failed.connect(errors.append)
    results: list[int] = []
    channel.result.connect(results.append)
    channel.request(lambda progress, cancel: (time.sleep(0.2), _boom(progress, cancel)))
    channel.request(_slow_echo, 5, 0.01)
    qtbot.waitUntil(lambda: pool.active_count == 0, timeout=5000)
    qtbot.wait(50)
    assert results == [5] and errors == []


def _wait_for(gate: threading.Event, progress, cancel: CancelToken) -> str:
    gate.wait(5)
    progress(1.0, "done")
    return "late"


def test_job_finishing_after_its_channel_was_deleted_is_harmless(qtbot) -> None:
    """A window closed while its live job still runs must not receive that job's signals (CI found this)."""
    from PySide6.QtWidgets import QWidget

    pool = WorkerPool(max_threads=2)
    owner = QWidget()
    channel = LatestOnly(pool, "late job", owner)
    gate = threading.Event()
    job = channel.request(_wait_for, gate)
    owner.deleteLater()  # deletes the channel with it, as closing a window does
    qtbot.waitUntil(lambda: not _alive(channel), timeout=2000)
    gate.set()
    assert pool.wait(5000)
    qtbot.wait(100)  # deliver the job's queued signals; pytest-qt fails the test if a slot raised
    assert job.seconds is not None
    pool.shutdown()


def test_pool_deleted_before_its_job_finishes_is_harmless(qtbot) -> None:
    gate = threading.Event()
    pool = WorkerPool(max_threads=2)
    qpool = pool._pool
    qpool.setParent(None)  # keep the threads alive so the job can finish after its pool object is gone
    job = pool.run(_wait_for, gate)
    pool.deleteLater()
    qtbot.waitUntil(lambda: not _alive(pool), timeout=2000)
    gate.set()
    assert qpool.waitForDone(5000)
    qtbot.wait(100)
    assert job.seconds is not None


def test_a_running_job_outlives_every_reference_to_its_pool(qtbot) -> None:
    """The job's only owner, the pool, is deleted and collected while the job runs: the job must stay alive
    until its run returns (a freed runnable under a running thread crashed a full test run once)."""
    import gc

    from cfx_desktop.workers import pool as pool_mod

    gate, ran = threading.Event(), []
    pool = WorkerPool(max_threads=2)
    qpool = pool._pool
    qpool.setParent(None)  # keep the threads alive so the job can finish after its pool object is gone
    pool.run(lambda progress, cancel: (gate.wait(5), ran.append(True)))
    qtbot.waitUntil(lambda: pool_mod.in_flight_count() == 1, timeout=2000)
    import shiboken6

    shiboken6.delete(pool)
    del pool
    gc.collect()
    gate.set()
    assert qpool.waitForDone(5000)
    qtbot.wait(100)
    assert ran == [True] and pool_mod.in_flight_count() == 0


def test_shutdown_drops_jobs_that_never_started(qtbot) -> None:
    gate = threading.Event()
    pool = WorkerPool(max_threads=1)
    first = pool.run(_wait_for, gate)
    queued = pool.run(_wait_for, gate)
    qtbot.waitUntil(lambda: first.started, timeout=2000)
    pool.shutdown(100)  # the first job is still blocked on the gate; the second is still queued
    assert not queued.started and queued.returned_at is not None
    gate.set()
    assert pool.wait(5000)
    qtbot.waitUntil(lambda: pool.active_count == 0, timeout=2000)
    assert not queued.started


def _alive(obj) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


def test_cancel_makes_the_channel_idle_at_once_and_drops_the_late_result(qtbot, pool: WorkerPool) -> None:
    channel = LatestOnly(pool, "live")
    results: list[int] = []
    events: list[str] = []
    channel.result.connect(results.append)
    channel.cancelled.connect(lambda: events.append("cancelled"))
    channel.idle.connect(lambda: events.append("idle"))
    channel.request(_slow_echo, 7, 0.2)  # ignores its cancel token: finishes anyway
    channel.cancel()
    assert not channel.busy and events == ["cancelled", "idle"]
    qtbot.waitUntil(lambda: pool.active_count == 0, timeout=5000)
    qtbot.wait(50)
    assert results == [] and events == ["cancelled", "idle"]


def _clean_up_then_stop(log: list[str], started: threading.Event, progress, cancel: CancelToken) -> None:  # noqa: ANN001
    started.set()
    try:
        while True:
            cancel.raise_if_cancelled()
            time.sleep(0.01)
    finally:
        time.sleep(0.2)  # cleaning up on the way out (a training removing what it wrote)
        log.append("cleaned up")


def test_stop_reports_cancelled_only_once_the_job_has_cleaned_up(qtbot, pool: WorkerPool) -> None:
    started, log = threading.Event(), []
    channel = LatestOnly(pool, "training")
    channel.cancelled.connect(lambda: log.append("cancelled"))
    channel.idle.connect(lambda: log.append("idle"))
    channel.request(_clean_up_then_stop, log, started)
    assert started.wait(5)
    channel.stop()
    assert channel.busy and log == []  # unlike cancel: the channel stays with the job until it has returned
    qtbot.waitUntil(lambda: "idle" in log, timeout=5000)
    assert log == ["cleaned up", "cancelled", "idle"] and not channel.busy


def test_a_pool_wide_cancel_reaches_the_channel(qtbot, pool: WorkerPool) -> None:
    started = threading.Event()
    channel = LatestOnly(pool, "live")
    events: list[str] = []
    channel.cancelled.connect(lambda: events.append("cancelled"))
    channel.request(_spin, started=started)
    assert started.wait(5)
    pool.cancel_all()  # what Esc does
    qtbot.waitUntil(lambda: not channel.busy, timeout=5000)
    assert events == ["cancelled"]


def test_garbage_is_collected_on_the_gui_thread_only(qtbot, pool: WorkerPool) -> None:
    """A job that allocates many cycles would trigger the collector on its pool thread; with the guard every
    collection happens on the GUI thread, so no Qt object is ever destroyed on a worker (crashes seen in CI)."""
    import gc

    from cfx_desktop.workers import gc_guard

    threads: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            threads.append(threading.get_ident())

    def make_cycles(progress, cancel) -> int:  # noqa: ANN001
        for _ in range(50_000):
            a: list = []
            a.append(a)
        return 1

    assert gc_guard._installed is not None and not gc.isenabled()
    gc.callbacks.append(record)
    try:
        collections = gc_guard._installed.collections
        job = pool.run(make_cycles)
        qtbot.waitUntil(lambda: job.returned_at is not None, timeout=10_000)
        # the timer collects (during the job or after it; the job's garbage passes the threshold either way)
        qtbot.waitUntil(lambda: gc_guard._installed.collections > collections, timeout=5000)
    finally:
        gc.callbacks.remove(record)
    assert threads and set(threads) == {threading.get_ident()}


def test_a_pool_that_was_shut_down_starts_nothing(qtbot) -> None:
    """A debounced request that fires while the window closes (after the pool's shutdown) must not start a job
    that outlives the window."""
    from cfx_desktop.workers.pool import in_flight_count

    pool = WorkerPool(max_threads=2)
    pool.shutdown()
    started = threading.Event()
    job = pool.submit(Job(_spin, started=started))
    assert not started.wait(0.3) and job.returned_at is not None and pool.active_count == 0 and in_flight_count() == 0


@pytest.mark.parametrize("leading", [True, False])
def test_the_schedulers_debounce_coalesces_a_burst_and_leads_a_lone_call(qtbot, pool: WorkerPool, leading: bool) -> None:
    """With ``leading`` a lone call runs at once (a single edit is not kept waiting) and a burst ends in one more
    call, with the burst's last function; without it, only that last call, after the quiet period."""
    from cfx_desktop.workers.binding import PoolScheduler

    scheduler = PoolScheduler(pool)
    calls: list[int] = []
    scheduler.debounce("k", 40, lambda: calls.append(1), leading=leading)
    assert calls == ([1] if leading else [])
    for value in (2, 3, 4):  # a burst, well inside the quiet period
        scheduler.debounce("k", 40, lambda v=value: calls.append(v), leading=leading)
    qtbot.waitUntil(lambda: calls[-1:] == [4], timeout=2000)
    qtbot.wait(120)  # nothing more arrives once the burst is over
    assert calls == ([1, 4] if leading else [4])
    scheduler.debounce("k", 40, lambda: calls.append(5), leading=leading)  # a lone call after the quiet period
    if leading:
        assert calls[-1] == 5
    qtbot.waitUntil(lambda: calls[-1] == 5, timeout=2000)
    qtbot.wait(120)
    assert calls.count(5) == 1
