"""How the Chest X-ray tab shows its session: each session event (image, frame, prediction, overlay,
counterfactual, sanity, progress) drawn into the panels it concerns. Decisions stay in the session and `XrayJobs`
(what runs, whether a counterfactual is allowed); this only renders them, so the tab only lays out and forwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cfx_desktop.core.imaging import live
from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS
from cfx_desktop.core.imaging.io.load import LoadedImage
from cfx_desktop.sessions.xray import JobState


class XrayRender:
    def __init__(self, tab: Any) -> None:  # the XrayTab, which imports this module
        self.tab = tab

    def image_changed(self, image: LoadedImage) -> None:
        self.tab.empty_hint.hide()
        self.tab.viewer_page.show_image(image)
        self.tab.session.set_window(*self.tab.viewer.levels, self.tab.viewer.unit)  # the file's own window, until the reader moves it
        self.tab.compare.clear()
        self.tab.folder_panel.show_metadata(image)
        if not self.tab.folder_panel.is_current(image.source):
            self.tab.file_opened.emit(image.source)
        self.tab.status_message.emit(f"Opened {Path(image.source).name}")

    def frame_changed(self, image: LoadedImage) -> None:
        self.tab.viewer_page.show_image(image, keep_view=True)
        self.tab.compare.clear()
        self.tab.status_message.emit(f"{Path(image.source).name}: {image.frame_note()}; the models run on this frame")

    def prediction(self, prediction: live.Prediction | None) -> None:
        self.tab.prediction_panel.scope = self.tab.image.frame_note() if self.tab.image is not None else ""
        self.tab.prediction_panel.display(prediction, waiting=False)
        banner = "" if prediction is None else prediction.guard.banner()
        self.tab.guard_banner.setText(banner)
        self.tab.guard_banner.setVisible(bool(banner))
        # no counterfactual for an image the model was not made for: "what would flip it" has no meaning there
        withheld = prediction is not None and prediction.guard.withheld
        if withheld:  # no saliency drawn over an image the model was not made for
            self.tab.viewer.set_overlay(None)
        self.tab.cf_panel.button.setEnabled(self.tab.jobs.counterfactual_allowed)
        self.tab.cf_panel.button.setToolTip("Prediction withheld for this image (see the banner)" if withheld else "")
        if prediction is not None:
            # the counterfactual curve is the film as it is (the single view), read against its own threshold
            own = prediction.threshold if prediction.model_threshold is None else prediction.model_threshold
            self.tab.cf_panel.set_model(own, prediction.positive)

    def overlay(self, overlay: live.Overlay | None, state: JobState) -> None:
        prediction = self.tab.session.prediction
        withheld = prediction is not None and prediction.guard.withheld
        label = None if overlay is None else self._label(overlay)
        self.tab.viewer.set_overlay(None if overlay is None or withheld else overlay.result.values, label)
        self.tab.overlay_panel.display(overlay, state)
        if withheld and overlay is not None:
            self.tab.overlay_panel.status.setText("Overlay not drawn: the prediction is withheld for this image.")

    def sanity(self, *_: object) -> None:
        verdicts = self.tab.session.overlay_sanity()
        self.tab.overlay_panel.show_sanity(verdicts, self.tab.session.sanity_state.running)
        overlay = self.tab.session.overlay
        if overlay is not None and verdicts is not None:
            failed = any(not v.passed for v in verdicts)
            self.tab.viewer.set_overlay(self.tab.viewer.overlay.values,
                                    self._label(overlay) + (" - FAILS its sanity check on this film" if failed else ""))

    def _label(self, overlay: live.Overlay) -> str:
        """The legend's name of a map: its method, and the frame it explains in a multi-frame file."""
        note = self.tab.image.frame_note() if self.tab.image is not None else ""
        return SALIENCY_METHODS.get(overlay.result.method).label + (f" ({note})" if note else "")

    def counterfactual(self, result: live.Counterfactual | None, state: JobState) -> None:
        self.tab.cf_panel.display(result, state)
        if result is not None:
            self.tab.compare.show_result(result.result)
        elif state.state in ("idle", "running"):
            self.tab.compare.clear()

    def progress(self, key: str, fraction: float, message: str, payload: object) -> None:
        if key == "folder":
            self.tab.folder_panel.show_folder_result(payload)
        elif key == "overlay":
            self.tab.overlay_panel.set_progress(fraction)
        elif key == "sanity":
            self.tab.sanity_panel.set_progress(message)
        elif key == "counterfactual" and isinstance(payload, dict):
            self.tab.cf_panel.add_step(fraction, payload["probability"])
            if payload.get("frame") is not None and self.tab.image is not None:
                self.tab.compare.show_live_frame(self.tab.image.pixels, payload["frame"])
