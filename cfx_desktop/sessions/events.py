"""A minimal event: the Qt-free stand-in for a signal, so sessions can be driven from tests and scripts.

Hand-written rather than psygnal (napari's choice): sessions need connect and emit only, on one thread, and
this keeps one more compiled dependency out of the installer.
"""

from __future__ import annotations

from typing import Any, Callable


class Event:
    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)
