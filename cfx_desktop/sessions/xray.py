"""The Chest X-ray tab's state: the image on screen, the chosen model and saliency method, and the prediction,
overlay, counterfactual and sanity results keyed to that image.

Every result names the image id and model that made it (and the overlay its method); `accept_*` keeps it only
if that is still what is on screen, and opening an image, choosing a model or a method clears whatever no
longer answers. So a sanity table never outlives its image, and a Grad-CAM map is never drawn under
"Occlusion".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cfx_desktop.core.imaging import live
from cfx_desktop.core.imaging.io.load import LoadedImage
from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL
from cfx_desktop.core.imaging.explain.render import OverlayStyle
from cfx_desktop.core import bundles
from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS, default_method
from cfx_desktop.sessions.events import Event


@dataclass(frozen=True)
class JobState:
    """Where a piece of work stands, for a panel to show: idle, running, done, cancelled or failed."""

    state: str = "idle"
    message: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"


def model_default_method(name: str) -> str:
    """The saliency method the model's card chose by its sanity checks (`saliency.default_method`); a card that
    cannot be read leaves the registry's default (loading the model says what is wrong with it)."""
    try:
        card = bundles.read_card(name)
    except (bundles.BundleError, OSError, ValueError):
        card = None
    return default_method(card)


class XraySession:
    def __init__(self, model_name: str = DEFAULT_MODEL) -> None:
        self.image_changed = Event()  # (LoadedImage)
        self.frame_changed = Event()  # (LoadedImage) another frame of the same multi-frame file
        self.model_changed = Event()  # (name)
        self.method_changed = Event()  # (key) the method changed without the reader picking it (a model's default)
        self.prediction_changed = Event()  # (Prediction | None)
        self.overlay_changed = Event()  # (Overlay | None, JobState)
        self.counterfactual_changed = Event()  # (Counterfactual | None, JobState)
        self.sanity_changed = Event()  # (Sanity | None, JobState)
        self.overlay_style_changed = Event()  # (OverlayStyle)
        self.image: LoadedImage | None = None
        self.image_id = 0
        self._next_id = 0  # ids for opened files and for frames shown: unique, so results match one frame
        self._pending_open = 0
        self.model_name = model_name
        self.method = model_default_method(model_name)
        self.method_picked = False  # the reader chose a method: a model's own default no longer replaces it
        self.prediction: live.Prediction | None = None
        self.overlay: live.Overlay | None = None
        self.counterfactual: live.Counterfactual | None = None
        self.sanity: live.Sanity | None = None
        self.overlay_state = JobState()
        self.counterfactual_state = JobState()
        self.sanity_state = JobState()
        self.overlay_style = OverlayStyle(threshold=0.2)  # the viewer draws what the session says; so does the report
        self.window: tuple[float, float, str] | None = None  # (low, high, unit) the film is read at, for the report

    # ----- opening ------------------------------------------------------------------------------------------
    def open_request(self, path: str) -> tuple[int, str]:
        """Arguments of `live.open_image`: a fresh id, so only the newest open is ever shown."""
        self._next_id += 1
        self._pending_open = self._next_id
        return (self._next_id, path)

    def accept_opened(self, opened: live.Opened) -> bool:
        if opened.image_id != self._pending_open:
            return False
        self.image, self.image_id, self.window = opened.image, opened.image_id, None
        self._clear_results()  # first, so the work the new image triggers shows as running
        self.image_changed.emit(opened.image)
        return True

    def set_frame(self, index: int) -> bool:
        """Show another frame of a multi-frame file. It gets a new image id: every result answers one frame,
        so what was computed for the previous frame is dropped, and late results for it too."""
        if self.image is None or self.image.frame_count <= 1 or index == self.image.frame:
            return False
        self._next_id += 1
        self.image, self.image_id = self.image.with_frame(index), self._next_id
        self._clear_results()
        self.frame_changed.emit(self.image)
        return True

    # ----- choices ------------------------------------------------------------------------------------------
    def set_model(self, name: str) -> None:
        if name != self.model_name:
            self.model_name = name
            self._clear_results()
            if not self.method_picked:
                own = model_default_method(name)
                if own != self.method:
                    self.method = own
                    self.method_changed.emit(own)
            self.model_changed.emit(name)

    def set_method(self, method: str) -> None:
        """The reader's choice; it stays when the model changes."""
        SALIENCY_METHODS.get(method)
        if method != self.method:
            self.method = method
            self.method_picked = True
            self.set_overlay_state(JobState(), clear=True)

    # ----- requests -----------------------------------------------------------------------------------------
    def set_overlay_style(self, **changes: object) -> None:
        """The reader's opacity, threshold, colour map or visibility: view state the report needs as well."""
        style = replace(self.overlay_style, **changes)
        if style != self.overlay_style:
            self.overlay_style = style
            self.overlay_style_changed.emit(style)

    def set_window(self, low: float, high: float, unit: str = "") -> None:
        """The window the reader has the film at (the viewer's levels, in its stored units): view state the report
        states beside the finding."""
        self.window = (float(low), float(high), unit)

    def prediction_request(self) -> tuple:
        return (self.image_id, self.pixels, self.model_name, self.image.metadata if self.image else None)

    def overlay_request(self) -> tuple:
        """Arguments of `live.overlay` (and of `live.sanity`) for the image, method and model on screen; pure: the
        state changes when the work starts (`overlay_started`, `sanity_started`)."""
        return (self.image_id, self.pixels, self.method, self.model_name)

    sanity_request = overlay_request

    def overlay_started(self) -> None:
        self.set_overlay_state(JobState("running", f"computing {SALIENCY_METHODS.get(self.method).label}..."),
                               clear=self.overlay is not None and self.overlay.result.method != self.method)

    def sanity_started(self) -> None:
        self.sanity, self.sanity_state = None, JobState("running", "running...")
        self.sanity_changed.emit(None, self.sanity_state)

    def counterfactual_started(self) -> None:
        self.counterfactual, self.counterfactual_state = None, JobState("running", "editing the image until the model's answer changes...")
        self.counterfactual_changed.emit(None, self.counterfactual_state)

    @property
    def pixels(self):  # noqa: ANN201 - numpy array of the image on screen
        if self.image is None:
            raise RuntimeError("no image is open")
        return self.image.pixels

    # ----- results ------------------------------------------------------------------------------------------
    def _answers(self, image_id: int, model_name: str) -> bool:
        return self.image is not None and image_id == self.image_id and model_name == self.model_name

    def accept_prediction(self, result: live.Prediction) -> bool:
        if not self._answers(result.image_id, result.model_name):
            return False
        self.prediction = result
        self.prediction_changed.emit(result)
        return True

    def accept_overlay(self, result: live.Overlay) -> bool:
        if not self._answers(result.image_id, result.model_name) or result.result.method != self.method:
            return False
        self.overlay = result
        self.overlay_state = JobState("done")
        self.overlay_changed.emit(result, self.overlay_state)
        return True

    def accept_counterfactual(self, result: live.Counterfactual) -> bool:
        if not self._answers(result.image_id, result.model_name):
            return False
        self.counterfactual, self.counterfactual_state = result, JobState("done")
        self.counterfactual_changed.emit(result, self.counterfactual_state)
        return True

    def accept_sanity(self, result: live.Sanity) -> bool:
        if not self._answers(result.image_id, result.model_name):
            return False
        self.sanity, self.sanity_state = result, JobState("done")
        self.sanity_changed.emit(result, self.sanity_state)
        return True

    def overlay_sanity(self) -> list | None:
        """The sanity verdicts (`sanity.Verdict`) of the map on screen: same film, model and method; None until the
        check has run on it. The viewer marks a map that fails, and the report says so."""
        if self.sanity is None or self.overlay is None or self.sanity.report.method != self.overlay.result.method:
            return None
        return self.sanity.report.verdicts()

    def set_overlay_state(self, state: JobState, clear: bool = False) -> None:
        """Cancelled or failed work says so (never "computing..." forever); ``clear`` drops the shown map."""
        if clear:
            self.overlay = None
        self.overlay_state = state
        self.overlay_changed.emit(self.overlay, state)

    def set_counterfactual_state(self, state: JobState) -> None:
        self.counterfactual_state = state
        self.counterfactual_changed.emit(self.counterfactual, state)

    def set_sanity_state(self, state: JobState) -> None:
        self.sanity_state = state
        self.sanity_changed.emit(self.sanity, state)

    def _clear_results(self) -> None:
        self.prediction = self.overlay = self.counterfactual = self.sanity = None
        self.overlay_state, self.counterfactual_state, self.sanity_state = JobState(), JobState(), JobState()
        self.prediction_changed.emit(None)
        self.overlay_changed.emit(None, self.overlay_state)
        self.counterfactual_changed.emit(None, self.counterfactual_state)
        self.sanity_changed.emit(None, self.sanity_state)
