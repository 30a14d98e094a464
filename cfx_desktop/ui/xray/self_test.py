"""What `cfx-desktop --self-test` checks in the Chest X-ray tab: a chest film opens, the guard passes it, and it
gets a prediction and the default saliency map, through the real pool. The film is the model's autoencoder decoding a
code of its latent bank (no patient image ships); without one, a noise image, which only the guard's path can check."""

from __future__ import annotations

from typing import Any

from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS
from cfx_desktop.sessions.xray import model_default_method
from cfx_desktop.ui.tab_base import DoneFn, SelfTestStep, poll_until
from cfx_desktop.ui.xray import export


def xray_self_test(tab: Any) -> list[SelfTestStep]:  # noqa: ANN401 - the XrayTab
    def start(done: DoneFn) -> None:
        path, chest = export.self_test_film(tab.session.model_name)
        tab.overlay_panel.method.setCurrentIndex(tab.overlay_panel.method.findData(model_default_method(tab.session.model_name)))
        tab.open_path(path)

        def finished() -> None:
            prediction, overlay = tab.prediction, tab.overlay_result
            if prediction is None or overlay is None:
                done(False, "no prediction or saliency map arrived")
                return
            if chest and (prediction.guard.withheld or prediction.probability is None):
                done(False, f"the guard withheld the decoded chest film ({prediction.guard.banner()})")
                return
            method = SALIENCY_METHODS.get(overlay.result.method).label
            film = "decoded chest film" if chest else "noise image (no latent bank installed)"
            p = "no probability" if prediction.probability is None else f"p({prediction.positive}) = {prediction.probability:.2f}"
            done(True, f"{film}: guard {prediction.guard.level}; {p}; {method} in {overlay.result.seconds * 1000:.0f} ms")

        poll_until(tab, lambda: tab.is_idle() and tab.image is not None and tab.image.source == str(path)
                   and tab.prediction is not None and tab.overlay_result is not None, finished)

    return [SelfTestStep("chest X-ray prediction and saliency map", start, 120)]
