"""A training of the user's own data (a patient dataset's model set, an image model), Qt-free: one at a time,
its progress, and an outcome that is said only once it is true.

Why `Scheduler.stop` and not `cancel`: a cancelled training removes what it had written on its way out, so
"cancelled" is reported when the job has returned, never while a half-made dataset or model is still on disk. The
two "your own data" flows in `ui/` render these events and open dialogs; neither builds a worker channel.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from cfx_desktop.sessions.events import Event
from cfx_desktop.sessions.scheduler import Callbacks, Scheduler


class Training:
    def __init__(self, scheduler: Scheduler, key: str) -> None:
        self.scheduler, self.key = scheduler, key
        self.name: str | None = None  # what is being trained, while it is
        self.progressed = Event()  # (fraction, text)
        self.trained = Event()  # (name, result)
        self.failed = Event()  # (name, message, details): nothing half-made was kept
        self.stopped = Event()  # (name): cancelled, and what it had written is gone

    @property
    def running(self) -> bool:
        return self.name is not None

    def start(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs, progress=..., cancel=...)``, which must remove what it wrote when it fails or
        is cancelled (`user_datasets.train_or_remove`, `user_models.train`)."""
        self.name = name
        self.scheduler.request(self.key, partial(fn, *args, **kwargs), callbacks=Callbacks(
            self._done, self._failed, lambda fraction, text, _payload: self.progressed.emit(fraction, text), self._stopped))

    def stop(self) -> None:
        if self.running:
            self.scheduler.stop(self.key)

    def _ended(self) -> str:
        name, self.name = self.name or "", None
        return name

    def _done(self, result: Any) -> None:
        self.trained.emit(self._ended(), result)

    def _failed(self, message: str, details: str) -> None:
        self.failed.emit(self._ended(), message, details)

    def _stopped(self) -> None:
        self.stopped.emit(self._ended())
