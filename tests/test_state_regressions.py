"""Regression tests for four bugs that came from keeping state inside widgets (issue 12).

Each was written before the fix and seen failing on the code of that time; they drive the real window as a user
would (offscreen) and check what the user sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import settle_patient

TIMEOUT = 60_000


def _settle_patient(qtbot, tab) -> None:
    settle_patient(qtbot, tab, TIMEOUT)


@pytest.fixture
def patient(qtbot, app_window):
    tab = app_window.tab_list[0]
    _settle_patient(qtbot, tab)
    return tab


def _value(tab, name: str) -> float:
    return float(tab.form.vector()[tab.schema.index(name)])


def _locked(tab, name: str) -> bool:
    row = next(r for r in tab.form.rows if r.feature.name == name)
    return row.lock.isChecked()


def test_undo_after_a_dataset_switch_restores_the_dataset_and_its_patient(qtbot, patient) -> None:
    """Bug 1: Undo after switching dataset put heart-failure values into heart-disease fields."""
    tab = patient
    tab.form.set_value("ejection_fraction", 45)
    _settle_patient(qtbot, tab)
    before_schema, before = tab.schema.name, tab.form.vector()
    tab.dataset_combo.setCurrentIndex(tab.dataset_combo.findData("heart-disease"))
    _settle_patient(qtbot, tab)
    assert tab.schema.name == "heart-disease"
    tab.undo()
    _settle_patient(qtbot, tab)
    assert tab.schema.name == before_schema
    assert tab.dataset_combo.currentData() == before_schema
    np.testing.assert_array_equal(tab.form.vector(), before)


def test_a_dataset_switch_keeps_shared_values_and_locks_and_says_what_it_dropped(qtbot, patient) -> None:
    """Bug 4: switching dataset silently discarded the edited patient and the locks."""
    tab = patient
    tab.form.set_value("age", 71)
    tab.form.set_locked("ejection_fraction", True)
    _settle_patient(qtbot, tab)
    tab.dataset_combo.setCurrentIndex(tab.dataset_combo.findData("heart-failure"))  # the same features plus `time`
    _settle_patient(qtbot, tab)
    assert _value(tab, "age") == 71
    assert _locked(tab, "ejection_fraction"), "the user's lock was dropped when toggling follow-up time"
    tab.dataset_combo.setCurrentIndex(tab.dataset_combo.findData("heart-disease"))
    _settle_patient(qtbot, tab)
    assert _value(tab, "Age") == 71, "age is shared by both schemas and must be carried over"
    banner = tab.banner.text().lower()
    assert "could not" in banner and "ejection fraction" in banner


def _png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(np.round(np.clip(rng.normal(0.5, 0.15, (200, 180)), 0, 1) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def xray(qtbot, app_window, tmp_path: Path, header_only_guard):
    qtbot.waitUntil(app_window.is_idle, timeout=TIMEOUT)
    app_window.tabs.setCurrentIndex(1)
    return app_window.tab_list[1], _png(tmp_path / "a.png", 0), _png(tmp_path / "b.png", 1)


def _open_and_wait(qtbot, tab, path: Path) -> None:
    assert tab.open_path(path)
    qtbot.waitUntil(lambda: tab.image is not None and tab.image.source == str(path) and tab.is_idle(), timeout=TIMEOUT)


def test_sanity_results_never_outlive_their_image(qtbot, xray) -> None:
    """Bug 2: after opening another image the Sanity checks tab still showed the previous image's maps."""
    tab, first, second = xray
    _open_and_wait(qtbot, tab, first)
    tab.run_sanity()
    qtbot.waitUntil(lambda: tab.sanity_result is not None and tab.is_idle(), timeout=TIMEOUT)
    assert tab.sanity_panel.table.rowCount() > 0
    first_id = tab.session.image_id
    _open_and_wait(qtbot, tab, second)
    # every drawn map is checked on its own film now: a result may be there, but only the second image's
    assert tab.session.image_id != first_id
    assert tab.sanity_result is None or tab.sanity_result.image_id == tab.session.image_id
    if tab.sanity_result is None:
        assert tab.sanity_panel.table.rowCount() == 0


def test_cancelling_an_overlay_leaves_no_stale_map_and_no_endless_progress(qtbot, xray, app_window) -> None:
    """Bug 3: Esc while occlusion ran left "computing Occlusion..." forever and the old Grad-CAM map drawn."""
    tab, first, _ = xray
    tab.overlay_panel.method.setCurrentIndex(tab.overlay_panel.method.findData("gradcam"))
    _open_and_wait(qtbot, tab, first)
    assert tab.viewer.overlay.item.image is not None  # the Grad-CAM map is drawn
    tab.overlay_panel.method.setCurrentIndex(tab.overlay_panel.method.findData("occlusion"))
    app_window.pool.cancel_all()  # what Esc and the status bar's Stop do
    qtbot.waitUntil(lambda: app_window.pool.active_count == 0 and tab.is_idle(), timeout=TIMEOUT)
    qtbot.wait(100)
    assert "computing" not in tab.overlay_panel.status.text()
    assert tab.viewer.overlay.item.image is None, "a Grad-CAM map is still drawn under Method = Occlusion"
