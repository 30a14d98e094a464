"""How a session asks for work without knowing about threads or Qt: a `Scheduler` with one latest-request-wins
lane per key, injected into the session. The app injects `workers.binding.PoolScheduler` (the worker pool);
tests and scripts inject `ImmediateScheduler`, which runs the work at once on the caller's thread, so a session's
whole request lifecycle (busy, progress, result, error, cancel) is tested without a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from cfx_desktop.core.cancel import CancelToken, Cancelled


@dataclass(frozen=True)
class Callbacks:
    """Where a request's outcome goes; all are called on the session's thread."""

    result: Callable[[Any], None]
    error: Callable[[str, str], None] = lambda message, details: None  # one line, and the traceback for "details"
    progress: Callable[[float, str, object], None] = lambda fraction, message, payload: None
    cancelled: Callable[[], None] = lambda: None


class Scheduler(Protocol):
    def request(self, key: str, fn: Callable[..., Any], *args: Any, callbacks: Callbacks) -> None:
        """Run ``fn(*args, progress=..., cancel=...)``; a newer request on ``key`` cancels this one, whose
        outcome is then never delivered."""

    def cancel(self, key: str) -> None:
        """Cancel what runs on ``key``; its ``cancelled`` callback says so."""

    def stop(self, key: str) -> None:
        """Ask what runs on ``key`` to stop, and report it once it has: its ``cancelled`` callback (or its result,
        had it finished first) comes when the work has returned. For work that cleans up before it ends (a training
        that removes what it wrote), so that "cancelled" is said only when nothing is left half-made."""

    def post(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` soon on the session's thread; safe from any thread (a network listener's, for one)."""

    def debounce(self, key: str, milliseconds: int, fn: Callable[[], None], leading: bool = False) -> None:
        """Call ``fn`` once ``milliseconds`` have passed without another `debounce` on ``key`` (key repeat, wheel
        scrolling: one request for a burst of edits). With ``leading``, also at once when nothing was asked on
        ``key`` in the last ``milliseconds``: a lone edit is not kept waiting, and a burst still ends in one
        request for its last value."""


class ImmediateScheduler:
    """Runs each request to the end before `request` returns (tests, scripts). ``cancel_after`` cancels a
    request once it has reported that many progress steps, to test Cancel deterministically."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.cancel_after = cancel_after
        self.requests: list[str] = []

    def request(self, key: str, fn: Callable[..., Any], *args: Any, callbacks: Callbacks) -> None:
        self.requests.append(key)
        token, steps = CancelToken(), [0]

        def progress(fraction: float, message: str = "", payload: object = None) -> None:
            callbacks.progress(fraction, message, payload)
            steps[0] += 1
            if self.cancel_after is not None and steps[0] >= self.cancel_after:
                token.cancel()

        try:
            value = fn(*args, progress=progress, cancel=token)
        except Cancelled:
            callbacks.cancelled()
        except Exception as exc:  # noqa: BLE001 - delivered as the request's error, as the pool does
            import traceback

            callbacks.error(str(exc) or type(exc).__name__, traceback.format_exc())
        else:
            callbacks.result(value)

    def cancel(self, key: str) -> None:
        """Nothing is ever in flight here."""

    def stop(self, key: str) -> None:
        """Nothing is ever in flight here."""

    def post(self, fn: Callable[[], None]) -> None:
        fn()

    def debounce(self, key: str, milliseconds: int, fn: Callable[[], None], leading: bool = False) -> None:
        fn()
