"""The Qt-free session models: the rules for which result answers the current state, what Undo restores and what
survives a dataset switch, tested without a window."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cfx_desktop.core.imaging import live
from cfx_desktop.core.imaging.io.load import LoadedImage
from cfx_desktop.core.tabular.datasets.heart_disease import HEART_DISEASE
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE, HEART_FAILURE_NO_TIME
from cfx_desktop.sessions.patient import PatientSession, carry_over, default_locks
from cfx_desktop.sessions.xray import JobState, XraySession


class Recorder:
    def __init__(self, *events) -> None:  # noqa: ANN002
        self.calls: list[str] = []
        for name, event in events:
            event.connect(lambda *args, n=name: self.calls.append(n))


def test_a_fresh_session_holds_the_example_patient_of_the_default_dataset() -> None:
    session = PatientSession()
    assert session.variant == "heart-failure-no-time" and session.model_name == "heart-failure-no-time-mlp"
    np.testing.assert_array_equal(session.values, HEART_FAILURE_NO_TIME.example_vector())
    assert session.is_example and session.locks == default_locks(HEART_FAILURE_NO_TIME) == {"diabetes"}


def test_an_edit_marks_the_patient_edited_and_emits_once() -> None:
    session = PatientSession()
    record = Recorder(("values", session.values_changed), ("banner", session.banner_changed))
    session.set_value("ejection_fraction", 44.4)
    assert session.values[HEART_FAILURE_NO_TIME.index("ejection_fraction")] == 44  # snapped to the feature's grid
    assert record.calls == ["banner", "values"] and not session.is_example and "Edited" in session.banner
    session.set_value("ejection_fraction", 44)
    assert record.calls == ["banner", "values"]  # no change, no event


def test_locks_become_constraints() -> None:
    session = PatientSession()
    session.set_locked("ejection_fraction", True)
    session.set_locked("diabetes", False)  # a lockable feature the user unlocks
    session.set_locked("age", False)  # immutable: not the user's to change
    constraints = session.constraints()
    assert constraints.locked == {"ejection_fraction"} and constraints.unlocked == {"diabetes"}


def test_carry_over_matches_features_by_concept_and_reports_the_rest() -> None:
    values = HEART_FAILURE_NO_TIME.example_vector()
    values[HEART_FAILURE_NO_TIME.index("age")] = 104  # outside heart disease's range (18-100)
    values[HEART_FAILURE_NO_TIME.index("sex")] = 0
    moved = carry_over(HEART_FAILURE_NO_TIME, values, frozenset({"ejection_fraction"}), HEART_DISEASE)
    assert moved.values[HEART_DISEASE.index("Age")] == 100 and moved.values[HEART_DISEASE.index("Sex")] == 0
    assert moved.kept == ["Age", "Sex"] and "Ejection fraction" in moved.dropped and "Age" not in moved.dropped
    assert moved.locks == default_locks(HEART_DISEASE)
    back = carry_over(HEART_FAILURE_NO_TIME, values, frozenset({"ejection_fraction"}), HEART_FAILURE)
    assert back.dropped == [] and "ejection_fraction" in back.locks and "time" in back.locks


def test_undo_after_a_dataset_switch_restores_dataset_patient_and_locks() -> None:
    session = PatientSession()
    session.set_value("serum_creatinine", 2.5)
    session.set_locked("ejection_fraction", True)
    before = session.values.copy()
    record = Recorder(("dataset", session.dataset_changed))
    session.set_dataset("heart-disease")
    assert session.schema == HEART_DISEASE and session.model_name == "heart-disease-mlp"
    assert "could not carry over" in session.banner and "Serum creatinine" in session.banner
    assert session.undo()
    assert session.variant == "heart-failure-no-time" and record.calls == ["dataset", "dataset"]
    np.testing.assert_array_equal(session.values, before)
    assert "ejection_fraction" in session.locks and not session.undo_stack


def _prediction(session: PatientSession, **changes):  # noqa: ANN003, ANN202
    from cfx_desktop.core.tabular.live import PredictionResult

    base = PredictionResult(session.model_name, session.values.copy(), 0.7, 0.5, 1, "death", None, None)  # type: ignore[arg-type]
    return replace(base, **changes)


def test_only_a_result_for_the_current_model_and_values_is_kept() -> None:
    session = PatientSession()
    stale = _prediction(session)
    session.set_value("serum_sodium", 140)
    assert not session.accept_prediction(stale) and session.prediction is None
    assert not session.accept_prediction(_prediction(session, model_name="heart-failure-no-time-nam"))
    fresh = _prediction(session)
    assert session.accept_prediction(fresh) and session.prediction is fresh


def _image(path: str = "a.png") -> LoadedImage:
    return LoadedImage(np.zeros((8, 8), np.float32), path, "PNG", {})


def _opened(session: XraySession, path: str) -> live.Opened:
    image_id, _ = session.open_request(path)
    return live.Opened(image_id, _image(path))


def test_only_the_newest_open_is_shown_and_it_clears_every_result() -> None:
    session = XraySession("m")
    assert session.accept_opened(_opened(session, "a.png"))
    first = session.image_id
    session.sanity = object()  # type: ignore[assignment]
    older = _opened(session, "b.png")
    newer = _opened(session, "c.png")
    assert not session.accept_opened(older)
    cleared = []
    session.sanity_changed.connect(lambda result, state: cleared.append(result))
    assert session.accept_opened(newer) and session.image.source == "c.png"
    assert session.sanity is None and cleared == [None]
    assert not session.accept_sanity(live.Sanity(first, "m", None, None))  # type: ignore[arg-type]


def test_a_new_method_clears_the_shown_map_and_a_cancel_says_so() -> None:
    session = XraySession("m")
    session.accept_opened(_opened(session, "a.png"))
    from cfx_desktop.core.imaging.explain.saliency import SaliencyMap

    gradcam = live.Overlay(session.image_id, "m", SaliencyMap(np.zeros((8, 8)), np.zeros((8, 8)), "gradcam", "normal", 0.1, 0.0))
    before = session.overlay_state
    assert session.overlay_request() == (session.image_id, session.pixels, "gradcam", "m")
    assert session.overlay_state == before  # asking for the arguments changes nothing
    session.overlay_started()
    assert session.overlay_state.running and "computing" in session.overlay_state.message
    assert session.accept_overlay(gradcam)
    shown = []
    session.overlay_changed.connect(lambda overlay, state: shown.append((overlay, state.state)))
    session.set_method("occlusion")
    assert session.overlay is None and shown[-1] == (None, "idle")
    assert not session.accept_overlay(gradcam)  # a Grad-CAM map never answers "occlusion"
    session.overlay_started()
    session.set_overlay_state(JobState("cancelled", "cancelled"))
    assert shown[-1] == (None, "cancelled") and not session.overlay_state.running


def test_an_unknown_method_or_model_is_refused_with_the_valid_keys() -> None:
    with pytest.raises(KeyError, match="choose from: gradcam"):
        XraySession().set_method("lime")
    with pytest.raises(KeyError, match="unknown tabular architecture 'svm'"):
        PatientSession().set_architecture("svm")


def test_results_are_cleared_before_the_new_image_is_announced() -> None:
    """Panels start the new image's work on `image_changed`; a clear after it would hide that work's progress."""
    session = XraySession("m")
    order = Recorder(("image", session.image_changed), ("overlay", session.overlay_changed),
                     ("prediction", session.prediction_changed))
    session.image_changed.connect(lambda image: session.overlay_started())
    session.accept_opened(_opened(session, "a.png"))
    assert order.calls == ["prediction", "overlay", "image", "overlay"]
    assert session.overlay_state.running
    session.set_model("other")
    assert session.overlay_state.state == "idle" and order.calls[-1] == "overlay"


def test_suggestions_for_another_requirement_are_not_shown() -> None:
    from cfx_desktop.core.tabular.counterfactuals import CounterfactualList
    from cfx_desktop.core.tabular.live import SuggestionResult

    session = PatientSession()

    def result(consensus: bool, members: int) -> SuggestionResult:
        return SuggestionResult(session.model_name, session.values.copy(), session.constraints(), session.settings.method,
                                session.k, CounterfactualList([]), "survival", None, consensus, 4, members)

    assert session.settings.consensus and session.settings.margin >= 0.05
    assert not session.accept_suggestions(result(False, 1))  # "this model only" does not answer a consensus request
    assert not session.accept_suggestions(result(True, 5))  # nor does a consensus of another size
    assert session.accept_suggestions(result(True, session.settings.consensus_members))
    session.set_settings(consensus=False)
    assert not session.accept_suggestions(result(True, 1)) and session.accept_suggestions(result(False, 1))


def _film(tmp_path, name: str, pixels: np.ndarray):  # noqa: ANN001, ANN202
    from PIL import Image

    path = tmp_path / name
    Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(path)
    return str(path)


def test_the_xray_jobs_chain_the_films_work_without_a_window(tmp_path, header_only_guard) -> None:
    """Opening a film runs its prediction and saliency map, a drawn map gets its sanity check, a prediction
    prepares the counterfactual; the tab is not on this path (the synchronous scheduler stands in for the pool)."""
    from cfx_desktop.sessions.scheduler import ImmediateScheduler
    from cfx_desktop.sessions.xray_jobs import XrayJobs
    from tests.test_xray_tab import _chest_like

    session, scheduler = XraySession(), ImmediateScheduler()
    jobs = XrayJobs(session, scheduler, cf_steps=5)
    errors: list[tuple] = []
    jobs.error_raised.connect(lambda *e: errors.append(e))
    jobs.open(_film(tmp_path, "chest.png", _chest_like(0)))
    assert errors == [] and session.image is not None and jobs.is_idle()
    assert session.prediction is not None and session.overlay is not None and session.sanity is not None
    assert scheduler.requests[:2] == ["open", "predict"] and {"overlay", "sanity"} <= set(scheduler.requests)
    assert "prepare" in scheduler.requests or session.prediction.probability is None
    assert jobs.generate_counterfactual() and session.counterfactual is not None
    jobs.choose_method("occlusion")
    assert session.overlay.result.method == "occlusion" and scheduler.requests[-1] == "sanity"
    jobs.open(str(tmp_path / "missing.png"))
    assert errors and errors[-1][0] == "Could not open the image" and "still showing chest.png" in errors[-1][1]


def test_a_withheld_film_gets_no_counterfactual_and_no_sanity_check(tmp_path) -> None:
    from cfx_desktop.core.imaging.train.synthetic_images import ct_slice
    from cfx_desktop.sessions.scheduler import ImmediateScheduler
    from cfx_desktop.sessions.xray_jobs import XrayJobs

    session, scheduler = XraySession(), ImmediateScheduler()
    jobs = XrayJobs(session, scheduler)
    jobs.open(_film(tmp_path, "ct.png", ct_slice(np.random.default_rng(0))))
    assert session.prediction is not None and session.prediction.guard.withheld
    assert not jobs.counterfactual_allowed and not jobs.generate_counterfactual()
    assert "sanity" not in scheduler.requests and "prepare" not in scheduler.requests
    assert session.counterfactual_state.state == "idle"


def test_the_patient_jobs_predict_and_suggest_without_a_window() -> None:
    """An edit asks for the quick prediction, the search (through the leading-edge debounce) and the attributions,
    in that order, as typed requests; the results land in the session only while they answer it; a lock or a
    setting asks for suggestions only."""
    from cfx_desktop.sessions.patient_jobs import PatientJobs, PredictionRequest, QuickPredictionRequest, SuggestionRequest
    from cfx_desktop.sessions.scheduler import ImmediateScheduler

    class Recording(ImmediateScheduler):
        def __init__(self) -> None:
            super().__init__()
            self.debounced: list[tuple[str, bool]] = []
            self.kinds: list[type] = []

        def request(self, key, fn, *args, callbacks):  # noqa: ANN001, ANN201
            self.kinds.append(type(fn))
            return super().request(key, fn, *args, callbacks=callbacks)

        def debounce(self, key, milliseconds, fn, leading=False):  # noqa: ANN001, ANN201
            self.debounced.append((key, leading))
            fn()

    session, scheduler = PatientSession(), Recording()
    jobs = PatientJobs(session, scheduler)
    busy: list[bool] = []
    jobs.suggestions_busy.connect(busy.append)
    session.set_value("ejection_fraction", 30)
    assert scheduler.requests == []  # nothing before the model libraries are in
    session.mark_models_loaded()
    jobs.models_loaded()
    assert scheduler.requests == ["predict", "suggest", "attribute"]
    assert scheduler.kinds == [QuickPredictionRequest, SuggestionRequest, PredictionRequest]
    assert session.prediction is not None and session.suggestions is not None and jobs.is_idle() and busy[-1] is False
    assert session.prediction.attribution is not None  # the full prediction replaced the quick one
    session.set_value("serum_creatinine", 1.2)
    assert scheduler.requests[3:] == ["predict", "suggest", "attribute"] and scheduler.debounced == [("suggest", True)]
    assert session.answers_current(session.prediction.model_name, session.prediction.x)
    np.testing.assert_array_equal(session.suggestions.x, session.values)
    session.set_locked("serum_sodium", True)
    assert scheduler.requests[6:] == ["suggest"]  # a lock changes the suggestions, not the prediction
    session.set_shape_feature("age")
    assert scheduler.requests[7:] == ["attribute"]  # the side view follows another feature: attributions only


def test_the_attributions_wait_for_the_search_and_a_quick_prediction_never_replaces_a_full_one() -> None:
    """The prediction, the search and the attributions are streams of small torch calls that slow each other
    several times over side by side, so each waits for the one before (the search for the quick prediction, the
    attributions for the search); the quick prediction never overwrites the full one for the same patient,
    whichever lands first, and when it fails its attributions are not asked for."""
    from cfx_desktop.sessions.patient_jobs import PatientJobs
    from cfx_desktop.sessions.scheduler import Callbacks, ImmediateScheduler

    class Manual(ImmediateScheduler):
        """Holds every request until the test runs it; the debounce fires at once (its leading edge)."""

        def __init__(self) -> None:
            super().__init__()
            self.held: dict[str, tuple] = {}

        def request(self, key, fn, *args, callbacks):  # noqa: ANN001, ANN201
            self.requests.append(key)
            self.held[key] = (fn, args, callbacks)

        def finish(self, key: str) -> None:
            fn, args, callbacks = self.held.pop(key)
            at = len(self.requests)
            ImmediateScheduler.request(self, key, fn, *args, callbacks=callbacks)
            del self.requests[at]  # counted when asked for, not again when run

        def debounce(self, key, milliseconds, fn, leading=False):  # noqa: ANN001, ANN201
            assert leading  # a lone edit must not wait out the debounce
            fn()

    session, scheduler = PatientSession(), Manual()
    jobs = PatientJobs(session, scheduler)
    session.mark_models_loaded()
    jobs.models_loaded()
    assert scheduler.requests == ["predict"] and not jobs.is_idle()  # the search waits for the prediction
    scheduler.finish("predict")
    quick = session.prediction
    assert quick is not None and quick.attribution is None
    assert scheduler.requests == ["predict", "suggest"]  # asked for as the prediction came back, and nothing beside it
    scheduler.finish("suggest")
    assert scheduler.requests == ["predict", "suggest", "attribute"]  # asked for as the search ended
    scheduler.finish("attribute")
    full = session.prediction
    assert full.attribution is not None and jobs.is_idle()
    assert not session.accept_prediction(quick) and session.prediction is full  # a late quick one changes nothing

    session.set_locked("serum_sodium", True)  # a search without a new prediction: nothing else waits for it
    assert scheduler.requests[3:] == ["suggest"]
    scheduler.finish("suggest")
    assert jobs.is_idle()

    failed: list[str] = []
    jobs.prediction_failed.connect(failed.append)
    session.set_value("serum_creatinine", 2.0)
    fn, args, callbacks = scheduler.held.pop("predict")
    callbacks.error("the model file is gone", "")  # the quick prediction failed: its attributions would too
    scheduler.finish("suggest")
    assert failed == ["the model file is gone"] and "attribute" not in scheduler.held and jobs.is_idle()


def test_the_overlay_style_is_the_sessions_and_the_report_draws_the_map_as_read(tmp_path, header_only_guard) -> None:
    """Opacity, threshold and colour map are view state the report needs: the session holds them (one event per
    real change), and the report built from the session states them and draws its overlay with them."""
    from cfx_desktop.core.imaging.explain import render
    from cfx_desktop.sessions.scheduler import ImmediateScheduler
    from cfx_desktop.sessions.xray_jobs import XrayJobs
    from cfx_desktop.ui.xray import export
    from tests.test_xray_tab import _chest_like

    session = XraySession()
    seen: list = []
    session.overlay_style_changed.connect(seen.append)
    session.set_overlay_style(opacity=0.8, colormap="viridis")
    session.set_overlay_style(opacity=0.8)  # no change: no event
    assert seen == [render.OverlayStyle(0.8, 0.2, "viridis")]
    XrayJobs(session, ImmediateScheduler(), cf_steps=5).open(_film(tmp_path, "chest.png", _chest_like(0)))
    assert session.overlay is not None
    doc = export.build(session, 5, "report.pdf")
    text = str(doc.to_dict())
    assert "opacity 80%, viridis; below 20% of the strongest not drawn" in text
    from cfx_desktop.core.report.document import Image

    evidence = session.overlay.result.positive()
    drawn = Image.from_rgb(render.overlay(session.image.pixels, evidence, 0.8, "viridis", 0.2), "", 80).png
    default = Image.from_rgb(render.overlay(session.image.pixels, evidence), "", 80).png
    section = next(sec for sec in doc.sections if sec.title == "Why: saliency overlay")
    shown = [image.png for block in section.blocks if hasattr(block, "images") for image in block.images]
    assert drawn in shown and default not in shown  # the picture is the one the reader saw
    assert "--overlay-opacity 0.8 --overlay-threshold 0.2 --overlay-colormap viridis" in doc.reproduce
    session.set_window(750.0, 1250.0, "HU")
    assert "window 500, level 1000 HU" in str(export.build(session, 5, "report.pdf").to_dict())


def _card_choosing(label: str, method: str, params: dict) -> dict:
    return {"saliency_sanity": {"default": label, "pass_rates": {label: {"method": method, "params": params}}}}


def test_a_models_card_chooses_its_default_saliency_method_only_at_default_parameters() -> None:
    from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS, default_method

    assert default_method(None) == SALIENCY_METHODS.default == "gradcam"
    assert default_method(_card_choosing("IG, black", "ig", {"baseline": "black"})) == "ig"
    assert default_method(_card_choosing("IG, blurred", "ig", {"baseline": "blurred"})) == "gradcam"  # the key alone would not reproduce it
    assert default_method(_card_choosing("LIME", "lime", {})) == "gradcam"
    assert default_method(_card_choosing("IG, old", "ig", {"no_such_parameter": 1})) == "gradcam"


def test_the_session_follows_each_models_default_method_until_the_reader_picks_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from cfx_desktop.sessions import xray

    cards = {"chose-ig": _card_choosing("IG", "ig", {}), "plain": {}}
    monkeypatch.setattr(xray.bundles, "read_card", lambda name: cards[name])
    session = XraySession("chose-ig")
    assert session.method == "ig"
    shown: list[str] = []
    session.method_changed.connect(shown.append)
    session.set_model("plain")
    assert session.method == "gradcam" and shown == ["gradcam"]
    session.set_method("occlusion")
    session.set_model("chose-ig")
    assert session.method == "occlusion" and shown == ["gradcam"]  # the reader's choice stays


def test_an_unreadable_card_leaves_the_registry_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from cfx_desktop.core import bundles
    from cfx_desktop.sessions import xray

    def refuse(name: str) -> dict:
        raise bundles.BundleError(f"{name}.json: sha256 mismatch")

    monkeypatch.setattr(xray.bundles, "read_card", refuse)
    assert XraySession("tampered").method == "gradcam"
