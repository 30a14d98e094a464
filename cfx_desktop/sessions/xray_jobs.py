"""The X-ray tab's requests and the rules that chain them, Qt-free: what runs when a film opens, a frame or a model
changes, a method is chosen, a map arrives (its sanity check) or a prediction arrives (the counterfactual's
one-time preparation), and the rule that a withheld film gets no counterfactual.

Why apart from `XraySession`: the session holds what is on screen and which results answer it; this object owns
the work. It submits through the injected `Scheduler` (the pool's in the app, a synchronous one in tests) and
hands every result to the session's ``accept_*``, so the tab neither builds a channel nor decides what to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from cfx_desktop.core.imaging import live
from cfx_desktop.core.imaging.counterfactual.generate import MaskSettings
from cfx_desktop.sessions.events import Event
from cfx_desktop.sessions.scheduler import Callbacks, Scheduler
from cfx_desktop.sessions.xray import JobState, XraySession

TITLES = {"open": "Open image", "predict": "Prediction", "overlay": "Saliency overlay", "counterfactual": "Counterfactual image",
          "sanity": "Sanity check", "folder": "Folder predictions", "tree": "Reading the DICOM folder",
          "prepare": "Preparing counterfactuals"}


class XrayJobs:
    def __init__(self, session: XraySession, scheduler: Scheduler, cf_steps: int = 200) -> None:
        self.session, self.scheduler, self.cf_steps = session, scheduler, cf_steps
        self.error_raised = Event()  # (title, message, details)
        self.progress = Event()  # (key, fraction, message, payload): the counterfactual's steps, the folder's thumbnails
        self.prediction_requested = Event()  # () a prediction is on its way (the panel says "waiting")
        self.prediction_failed = Event()  # (message)
        self.tree_ready = Event()  # (folder, DicomTree | None)
        self.busy: set[str] = set()
        session.image_changed.connect(lambda _image: self.request_image_work())
        session.frame_changed.connect(lambda _image: self.request_image_work())
        session.model_changed.connect(lambda _name: self.request_image_work())
        session.overlay_changed.connect(self._after_overlay)
        session.prediction_changed.connect(self._after_prediction)

    def _submit(self, key: str, fn: Callable[..., Any], *args: Any, result: Callable[[Any], Any],
                failed: Callable[[str], None] | None = None, cancelled: Callable[[], None] | None = None,
                quiet: bool = False, **kwargs: Any) -> None:
        def on_result(value: Any) -> None:
            self.busy.discard(key)
            result(value)

        def on_error(message: str, details: str) -> None:
            self.busy.discard(key)
            if failed is not None:
                failed(message)
            if not quiet:  # background work (the preparation) fails silently: the counterfactual itself will say
                self.error_raised.emit(f"{TITLES[key]} failed", message, details)

        def on_cancelled() -> None:
            self.busy.discard(key)
            if cancelled is not None:
                cancelled()

        self.busy.add(key)
        job = (lambda *a, progress, cancel: fn(*a, progress=progress, cancel=cancel, **kwargs)) if kwargs else fn
        self.scheduler.request(key, job, *args, callbacks=Callbacks(
            on_result, on_error, lambda f, m, p: self.progress.emit(key, f, m, p), on_cancelled))

    def _cancel(self, key: str) -> None:
        """The scheduler reports the cancel through the request's own ``cancelled`` callback (when one runs)."""
        self.scheduler.cancel(key)
        self.busy.discard(key)

    @staticmethod
    def _stated(set_state: Callable[[JobState], None]) -> dict[str, Callable[..., None]]:
        """``failed`` / ``cancelled`` callbacks that put a job's end into the session's job state for its panel."""
        return {"failed": lambda message: set_state(JobState("failed", f"failed: {message}")),
                "cancelled": lambda: set_state(JobState("cancelled", "cancelled"))}

    def is_idle(self) -> bool:
        """Nothing runs but the folder's thumbnails (the counterfactual's preparation counts: the first counterfactual
        waits for it)."""
        return not (self.busy - {"folder"})

    # ----- opening ------------------------------------------------------------------------------------------
    def open(self, path: str) -> None:
        s = self.session

        def failed(message: str, details: str) -> None:
            self.busy.discard("open")
            shown = f"; still showing {Path(s.image.source).name}" if s.image else ""
            self.error_raised.emit("Could not open the image", message + shown, details)

        self.busy.add("open")
        self.scheduler.request("open", live.open_image, *s.open_request(path), callbacks=Callbacks(
            lambda opened: (self.busy.discard("open"), s.accept_opened(opened)), failed,
            cancelled=lambda: self.busy.discard("open")))

    def read_folder(self, folder: str) -> None:
        """A DICOMDIR or a folder of DICOM files, read as a patient / study / series tree in the pool."""
        self._submit("tree", live.dicom_tree, folder, result=lambda found: self.tree_ready.emit(Path(found[0]), found[1]))

    def predict_folder(self, files: list[str]) -> None:
        self._submit("folder", live.predict_folder, files, self.session.model_name, result=lambda _rows: None)

    # ----- the film's work ----------------------------------------------------------------------------------
    def request_image_work(self) -> None:
        if self.session.image is None:
            return
        self.prediction_requested.emit()
        self._submit("predict", live.predict, *self.session.prediction_request(), result=self.session.accept_prediction,
                     failed=self.prediction_failed.emit)
        self.request_overlay()

    def choose_method(self, method: str) -> None:
        self.session.set_method(method)
        self.request_overlay()

    def request_overlay(self) -> None:
        s = self.session
        if s.image is None:
            return
        s.overlay_started()
        self._submit("overlay", live.overlay, *s.overlay_request(), result=s.accept_overlay, **self._stated(s.set_overlay_state))

    def cancel_overlay(self) -> None:
        self._cancel("overlay")

    @property
    def counterfactual_allowed(self) -> bool:
        """No counterfactual for a film the model was not made for: "what would flip it" has no meaning there."""
        p = self.session.prediction
        return self.session.image is not None and not (p is not None and p.guard.withheld)

    def generate_counterfactual(self) -> bool:
        s = self.session
        if not self.counterfactual_allowed:
            return False
        s.counterfactual_started()
        self._submit("counterfactual", live.counterfactual, s.image_id, s.pixels, s.model_name, result=s.accept_counterfactual,
                     **self._stated(s.set_counterfactual_state), steps=self.cf_steps, mask=MaskSettings(method=s.method))
        return True

    def cancel_counterfactual(self) -> None:
        self._cancel("counterfactual")

    def run_sanity(self) -> None:
        s = self.session
        if s.image is None:
            return
        s.sanity_started()
        self._submit("sanity", live.sanity, *s.sanity_request(), result=s.accept_sanity, **self._stated(s.set_sanity_state))

    # ----- chained rules ------------------------------------------------------------------------------------
    def _after_overlay(self, overlay: live.Overlay | None, state: JobState) -> None:
        prediction = self.session.prediction
        withheld = prediction is not None and prediction.guard.withheld
        if overlay is not None and state.state == "done" and not withheld:
            self.run_sanity()  # every map drawn is checked on the film it explains; a failing one is marked

    def _after_prediction(self, prediction: live.Prediction | None) -> None:
        if prediction is not None and not prediction.guard.withheld and prediction.probability is not None:
            # the first counterfactual's one-time work, done while the user reads the film (cached after that)
            self._submit("prepare", live.prepare_counterfactuals, prediction.model_name, result=lambda _done: None, quiet=True)
