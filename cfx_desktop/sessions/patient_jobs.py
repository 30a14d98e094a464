"""The Patient tab's requests, Qt-free: what runs when a value, a lock, the model, the dataset or a setting
changes, as typed requests (not positional tuples), the suggestions debounced, and their busy state.

An edit runs three jobs, one after another: the prediction (about 6 ms: the gauge follows at once), the
suggestions' search, and then the prediction again with its attributions (Shapley values, 30-45 ms). Never side by
side: each is a stream of small torch calls, and every call hands the interpreter lock over, so two such jobs at
once slowed each other several times over (the 6 ms prediction took 26-43 ms beside the search, and the search's
p50 in the app rose from 91 to 175 ms when it started beside the Shapley values).

Why apart from `PatientSession`: the session holds the patient and which results answer it; this object owns the
work and submits it through the injected `Scheduler` (the pool's in the app, a synchronous one in tests), handing
every result to the session's ``accept_*``. The tab lays out, forwards and renders; it builds no channel, timer
or busy flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import numpy as np

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.lazy import deferred
from cfx_desktop.sessions.events import Event
from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.sessions.scheduler import Callbacks, Scheduler

DEBOUNCE_MS = 50  # coalesces key auto-repeat (25-40 ms apart) and wheel bursts (10-20 ms) into one search for the
# burst's last value; a lone edit (slower typing, a spin-box click) starts its search at once (the debounce's
# leading edge), and a stale search is cancelled anyway (latest wins)

_predict = deferred("cfx_desktop.core.tabular.live", "predict")  # imported on the worker
_predict_and_attribute = deferred("cfx_desktop.core.tabular.live", "predict_and_attribute")
_suggest = deferred("cfx_desktop.core.tabular.live", "suggest")
_predict_cohort = deferred("cfx_desktop.core.tabular.recourse", "predict_cohort")
_global_recourse = deferred("cfx_desktop.core.tabular.recourse", "global_recourse")


@dataclass(frozen=True)
class QuickPredictionRequest:
    """The prediction without attributions (`live.predict`)."""

    model_name: str
    x: np.ndarray

    @classmethod
    def of(cls, session: PatientSession) -> "QuickPredictionRequest":
        return cls(*session.prediction_request()[:2])

    def __call__(self, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Any:  # noqa: ANN001
        return _predict(self.model_name, self.x, progress=progress, cancel=cancel)


@dataclass(frozen=True)
class PredictionRequest:
    """The prediction with its attributions and side view (`live.predict_and_attribute`)."""

    model_name: str
    x: np.ndarray
    shape_feature: str | None

    @classmethod
    def of(cls, session: PatientSession) -> "PredictionRequest":
        return cls(*session.prediction_request())

    def __call__(self, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Any:  # noqa: ANN001
        return _predict_and_attribute(self.model_name, self.x, self.shape_feature, progress=progress, cancel=cancel)


@dataclass(frozen=True)
class SuggestionRequest:
    model_name: str
    x: np.ndarray
    constraints: Any  # core.tabular.counterfactuals.Constraints
    method: str
    k: int
    reference: np.ndarray | None  # the loaded cohort, for neighbour methods and plausibility
    consensus: bool
    consensus_members: int

    @classmethod
    def of(cls, session: PatientSession) -> "SuggestionRequest":
        return cls(*session.suggestion_request())

    def __call__(self, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> Any:  # noqa: ANN001
        return _suggest(self.model_name, self.x, self.constraints, self.method, self.k, self.reference, self.consensus,
                        self.consensus_members, progress=progress, cancel=cancel)


class PatientJobs:
    def __init__(self, session: PatientSession, scheduler: Scheduler, debounce_ms: int = DEBOUNCE_MS) -> None:
        self.session, self.scheduler, self.debounce_ms = session, scheduler, debounce_ms
        self.error_raised = Event()  # (title, message, details)
        self.prediction_failed = Event()  # (message)
        self.suggestions_failed = Event()  # (message)
        self.suggestions_busy = Event()  # (bool): scheduled or running
        self.cohort_failed = Event()  # (message)
        self.recourse_state = Event()  # (running: bool, text)
        self.recourse_progress = Event()  # (fraction)
        self.busy: set[str] = set()
        self.suggestions_pending = False  # debounced, not yet submitted
        self.attributions_pending = False  # waiting for the suggestions' search to end
        self._search_waits = False  # the search, asked for, waits for the prediction to come back
        self._prediction_failed = Event()  # the quick prediction's failure: its attributions are not asked for
        self._prediction_failed.connect(self._quick_prediction_failed)
        session.dataset_changed.connect(self.refresh)
        session.values_changed.connect(self.refresh)
        session.model_changed.connect(self.refresh)
        session.locks_changed.connect(self.schedule_suggestions)
        session.cohort_changed.connect(self.schedule_suggestions)  # the reference for neighbours and plausibility
        session.cohort_changed.connect(self.request_cohort_predictions)
        session.model_changed.connect(self.request_cohort_predictions)
        session.settings_changed.connect(self.schedule_suggestions)
        session.shape_feature_changed.connect(self.request_attributions)

    def refresh(self, *_: object) -> None:
        """A new patient, model or dataset: the prediction, then the search (at once, unless edits come in a burst),
        then the attributions."""
        if not self.session.models_loaded:
            return
        self.suggestions_pending = True  # asked for below: nothing may start beside the prediction meanwhile
        self.request_prediction()
        self.schedule_suggestions()

    def models_loaded(self) -> None:
        """The libraries are in: every request in turn (nothing to debounce yet)."""
        self.suggestions_pending = True
        self.request_prediction()
        self.request_suggestions()

    def is_idle(self) -> bool:
        return not (self.suggestions_pending or self.attributions_pending or self.busy)

    def _submit(self, key: str, request: Any, result: Any, failed: Event, title: str,
                progress: Callable[[float, str, object], None] | None = None,
                cancelled: Callable[[], None] | None = None) -> None:
        def done(value: Any) -> None:
            self.busy.discard(key)
            result(value)
            self._busy_changed()

        def error(message: str, details: str) -> None:
            self.busy.discard(key)
            failed.emit(message)
            self.error_raised.emit(f"{title} failed", message, details)
            self._busy_changed()

        def stopped() -> None:
            self.busy.discard(key)
            if cancelled is not None:
                cancelled()
            self._busy_changed()

        self.busy.add(key)
        self.scheduler.request(key, request, callbacks=Callbacks(done, error, progress or (lambda f, m, p: None), stopped))

    def _busy_changed(self) -> None:
        self.suggestions_busy.emit(self.suggestions_pending or "suggest" in self.busy)
        self._start_what_waits()

    def _start_what_waits(self) -> None:
        """One live job at a time, in the order a reader needs them: the search once the prediction is in, the
        attributions once the search has ended (see the module for why never side by side)."""
        if self._search_waits and "predict" not in self.busy:
            self.request_suggestions()
        if (self.attributions_pending and not self.suggestions_pending
                and not {"predict", "suggest"} & self.busy):
            self.request_attributions()

    def request_prediction(self, *_: object) -> None:
        """The prediction at once (milliseconds); its attributions after the search (`_start_what_waits`)."""
        if not self.session.models_loaded:  # asked again by `models_loaded`
            return
        self.attributions_pending = True
        self._submit("predict", QuickPredictionRequest.of(self.session), self.session.accept_prediction,
                     self._prediction_failed, "Prediction")
        self._start_what_waits()

    def _quick_prediction_failed(self, message: str) -> None:
        self.attributions_pending = False  # they would fail the same way: one message, not two
        self.prediction_failed.emit(message)

    def request_attributions(self, *_: object) -> None:
        self.attributions_pending = False
        if self.session.models_loaded:
            self._submit("attribute", PredictionRequest.of(self.session), self.session.accept_prediction,
                         self.prediction_failed, "Attributions")

    def schedule_suggestions(self, *_: object) -> None:
        if not self.session.models_loaded:
            return
        self.suggestions_pending = True
        self.suggestions_busy.emit(True)
        self.scheduler.debounce("suggest", self.debounce_ms, self.request_suggestions, leading=True)

    def request_suggestions(self) -> None:
        if "predict" in self.busy:  # the prediction first: a few milliseconds alone, far more beside the search
            self._search_waits = True
            return
        self._search_waits = False
        self.suggestions_pending = False
        if self.session.models_loaded:
            self._submit("suggest", SuggestionRequest.of(self.session), self.session.accept_suggestions,
                         self.suggestions_failed, "Counterfactual suggestions")

    # ----- the cohort ---------------------------------------------------------------------------------------
    def request_cohort_predictions(self, *_: object) -> None:
        request = self.session.cohort_request()
        if request is not None:
            self._submit("cohort", partial(_predict_cohort, *request), self.session.accept_cohort_prediction,
                         self.cohort_failed, "Cohort predictions")

    def run_recourse(self) -> bool:
        """Global recourse over the loaded cohort, by the suggestions' rules; False (and says why) without one."""
        request = self.session.recourse_request()
        if request is None:
            self.recourse_state.emit(False, "Load a cohort CSV first (File > Open).")
            return False
        self.recourse_state.emit(True, "searching single changes and pairs...")

        def done(result: Any) -> None:
            self.session.accept_recourse(result)
            self.recourse_state.emit(False, "")

        failed = Event()
        failed.connect(lambda message: self.recourse_state.emit(False, f"failed: {message}"))
        self._submit("recourse", partial(_global_recourse, *request), done, failed, "Global recourse",
                     progress=lambda f, m, p: self.recourse_progress.emit(f),
                     cancelled=lambda: self.recourse_state.emit(False, "cancelled"))
        return True

    def cancel_recourse(self) -> None:
        self.scheduler.cancel("recourse")
