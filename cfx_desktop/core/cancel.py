"""Cooperative cancellation shared by the CLI, the tests and the worker pool.

It lives in core (not in workers/) so core algorithms can check it without knowing about threads or Qt: a
long search calls `token.raise_if_cancelled()` between steps and the caller decides what cancelling means.
"""

from __future__ import annotations

import threading

class Cancelled(Exception):
    """Raised inside a job when its token was cancelled; the pool treats it as a quiet stop, not an error."""


class CancelToken:
    """A thread-safe flag. Cheap to check, so loops may test it every step."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def no_progress(fraction: float, message: str = "", payload: object | None = None) -> None:
    """Default progress sink for callers (CLI, tests) that do not show progress."""


NEVER_CANCELLED = CancelToken()
"""A token nobody holds a reference to cancel; the default for synchronous callers."""
