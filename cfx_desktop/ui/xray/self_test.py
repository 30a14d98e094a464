"""What `cfx-desktop --self-test` checks in the Chest X-ray tab: a synthetic film opens, gets a prediction and
the default saliency map, through the real pool."""

from __future__ import annotations

from typing import Any

from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS
from cfx_desktop.ui.tab_base import DoneFn, SelfTestStep, poll_until
from cfx_desktop.ui.xray import export


def xray_self_test(tab: Any) -> list[SelfTestStep]:  # noqa: ANN401 - the XrayTab
    def start(done: DoneFn) -> None:
        path = export.synthetic_image()
        tab.overlay_panel.method.setCurrentIndex(tab.overlay_panel.method.findData(SALIENCY_METHODS.default))
        tab.open_path(path)

        def finished() -> None:
            prediction, overlay = tab.prediction, tab.overlay_result
            if prediction is None or overlay is None:
                done(False, "no prediction or saliency map arrived")
                return
            method = SALIENCY_METHODS.get(overlay.result.method).label
            done(True, f"{prediction.guard.level}: p({prediction.positive}) = {prediction.probability or float('nan'):.2f}; "
                       f"{method} in {overlay.result.seconds * 1000:.0f} ms")

        poll_until(tab, lambda: tab.is_idle() and tab.image is not None and tab.image.source == str(path)
                   and tab.prediction is not None and tab.overlay_result is not None, finished)

    return [SelfTestStep("chest X-ray prediction and saliency map", start, 120)]
