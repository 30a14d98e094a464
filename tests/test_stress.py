"""Stress: 1000 rapid patient edits and 100 rapid image switches with overlays; the final display always
answers the final input and no stale result is ever shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME as SCHEMA
TIMEOUT = 120_000


def test_thousand_rapid_edits(qtbot, make_window) -> None:
    window = make_window()
    tab = window.tab_list[0]
    shown: list[bool] = []
    # every result the tab accepts must answer the form as it was at that moment
    tab.predict_channel.result.connect(lambda r: shown.append(tab.session.answers_current(r.model_name, r.x)))
    rng = np.random.default_rng(1)
    names = ["serum_creatinine", "ejection_fraction", "serum_sodium", "platelets", "creatinine_phosphokinase"]
    for i in range(1000):
        name = names[i % len(names)]
        f = SCHEMA[name]
        tab.form.set_value(name, float(rng.uniform(f.min, f.max)))
        if i % 50 == 0:
            qtbot.wait(1)
    final = tab.form.vector()
    qtbot.waitUntil(lambda: tab.is_idle() and tab.suggestions_result is not None
                    and np.array_equal(tab.suggestions_result.x, final) and np.array_equal(tab.prediction.x, final), timeout=TIMEOUT)
    assert window.isVisible()
    assert shown and all(shown)  # no delivered result ever answered an older form state
    assert tab.predict_channel.delivered < 1000  # superseded requests were dropped, not queued up


def test_hundred_rapid_image_switches(qtbot, make_window, tmp_path: Path) -> None:
    paths = []
    rng = np.random.default_rng(2)
    for i in range(5):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (160 + 10 * i, 150), dtype=np.uint8)).save(path)
        paths.append(path)
    window = make_window()
    qtbot.waitUntil(window.is_idle, timeout=TIMEOUT)
    tab = window.tab_list[1]
    window.tabs.setCurrentWidget(tab)
    for i in range(100):
        tab.open_path(paths[i % 5])
        if i % 10 == 0:
            qtbot.wait(2)
    final = str(paths[99 % 5])
    qtbot.waitUntil(lambda: tab.is_idle() and tab.image is not None and tab.image.source == final
                    and tab.overlay_result is not None and tab.overlay_result.image_id == tab.session.image_id
                    and tab.prediction is not None and tab.prediction.image_id == tab.session.image_id, timeout=TIMEOUT)
    assert tab.viewer.pixels.shape == (160 + 10 * (99 % 5), 150)
    assert tab.overlay_result.result.values.shape == tab.viewer.pixels.shape
    assert window.isVisible()
