"""A tab whose body is built once the worker pool has loaded the model libraries.

Why: the Chest X-ray tab's modules import the imaging stack (torch, captum) at module level; building it at
start-up would hold the first paint for seconds although the Patient tab is what shows first. Until the
libraries are loaded the tab shows "loading models..."; files opened meanwhile wait and open then.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cfx_desktop.ui.accessibility import fill_names
from cfx_desktop.ui.retire import retire
from cfx_desktop.ui.tab_base import DoneFn, SelfTestStep, ToolTab
from cfx_desktop.workers.pool import JobError, WorkerPool
from cfx_desktop.workers.startup import libraries_for


class DeferredTab(ToolTab):
    """Stands in for ``module:cls`` until loaded, then holds it; reads of its attributes go to the real tab."""

    def __init__(self, pool: WorkerPool, target: str, title: str, open_filter: str, parent: QWidget | None = None,
                 file_actions: list[tuple[str, str, str]] | None = None) -> None:
        super().__init__(pool, parent)
        self.title, self.open_filter, self._target = title, open_filter, target
        self._file_actions = file_actions or []
        self.inner: ToolTab | None = None
        self._pending: list[Path] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.placeholder = QLabel("Loading models...", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self.placeholder)
        libraries = libraries_for(pool)
        libraries.when_loaded(self._on_loaded, self)
        libraries.failed.connect(self._on_failed)

    def _on_loaded(self, _report: object) -> None:
        module, name = self._target.split(":")
        cls = getattr(importlib.import_module(module), name)  # its heavy imports are in sys.modules by now
        inner = cls(self.pool, self)
        inner.status_message.connect(self.status_message)
        inner.file_opened.connect(self.file_opened)
        inner.error_raised.connect(self.error_raised)
        self._layout.removeWidget(self.placeholder)
        retire(self.placeholder)
        self._layout.addWidget(inner)
        fill_names(inner)
        self.inner = inner
        pending, self._pending = self._pending, []
        for path in pending:
            inner.open_path(path)

    def _on_failed(self, error: JobError) -> None:
        self.placeholder.setText(f"The models could not be loaded: {error.message}")

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (its tab is still loading)")
        return getattr(inner, name)

    # ----- the ToolTab protocol, forwarded (or held until loaded) --------------------------------------------
    def open_path(self, path: Path) -> bool:
        if self.inner is None:
            self._pending.append(Path(path))
            self.status_message.emit(f"{Path(path).name} opens once the models have loaded")
            return True
        return self.inner.open_path(path)

    def export_to(self, path: Path) -> bool:
        if self.inner is None:
            self.status_message.emit("Still loading the models; export when they are ready")
            return False
        return self.inner.export_to(path)

    def file_actions(self) -> list[tuple[str, object, str]]:
        """The real tab's File menu entries (named by method), answered with "still loading" until it is there."""
        return [(text, lambda m=method: self._call(m), tip) for text, method, tip in self._file_actions]

    def _call(self, method: str) -> object:
        if self.inner is None:
            self.status_message.emit("Still loading the models; try again in a moment")
            return None
        return getattr(self.inner, method)()

    def shortcuts(self) -> list[tuple[str, str]]:
        return self.inner.shortcuts() if self.inner is not None else []

    def export_subject(self) -> str:
        return self.inner.export_subject() if self.inner is not None else super().export_subject()

    def is_idle(self) -> bool:
        return self.inner is not None and self.inner.is_idle()

    def self_test_steps(self) -> list[SelfTestStep]:
        """The real tab's steps, each started once the tab exists (the steps are listed before it does)."""
        def start(done: DoneFn) -> None:
            def run(_report: object = None) -> None:
                steps = self.inner.self_test_steps() if self.inner is not None else []
                _run_in_turn(steps, done, [])
            libraries = libraries_for(self.pool)
            if libraries.error is not None:
                done(False, f"the models could not be loaded: {libraries.error.message}")
            elif self.inner is None:
                libraries.when_loaded(run, self)
                libraries.failed.connect(lambda error: done(False, f"the models could not be loaded: {error.message}"))
            else:
                run()

        return [SelfTestStep(f"{self.title} tab, once loaded", start, 180)]


def _run_in_turn(steps: list[SelfTestStep], done: DoneFn, details: list[str]) -> None:
    if not steps:
        done(True, "; ".join(details))
        return

    def finished(ok: bool, detail: str) -> None:
        if not ok:
            done(False, f"{steps[0].name}: {detail}")
        else:
            _run_in_turn(steps[1:], done, details + [f"{steps[0].name}: {detail}"])

    steps[0].start(finished)
