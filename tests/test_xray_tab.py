"""The Chest X-ray tab, driven offscreen with generated images and the shipped models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox, QWidget

from tests.imaging_fixtures import write_dicom

TIMEOUT = 60_000


def _chest_like(seed: int, size: tuple[int, int] = (300, 260)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: size[0], : size[1]]
    lungs = np.exp(-(((xx - size[1] * 0.3) / 40) ** 2 + ((yy - size[0] * 0.5) / 80) ** 2))
    lungs += np.exp(-(((xx - size[1] * 0.7) / 40) ** 2 + ((yy - size[0] * 0.5) / 80) ** 2))
    return np.clip(0.75 - 0.5 * lungs + rng.normal(0, 0.05, size), 0, 1).astype(np.float32)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    png = tmp_path / "chest.png"
    Image.fromarray(np.round(_chest_like(0) * 255).astype(np.uint8)).save(png)
    dcm = write_dicom(tmp_path / "chest.dcm", np.round(_chest_like(1) * 4095).astype(np.uint16), window=(2048.0, 4096.0))
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(png.read_bytes()[:300])
    return {"png": png, "dcm": dcm, "bad": bad}


@pytest.fixture
def window(qtbot, app_window, header_only_guard):
    """The tab's mechanics on synthetic images; `test_a_non_chest_image_gets_the_banner_and_no_verdict` undoes
    the patch and uses the shipped guard."""
    qtbot.waitUntil(app_window.is_idle, timeout=TIMEOUT)
    app_window.tabs.setCurrentIndex(1)
    return app_window


def _open(qtbot, tab, path: Path) -> None:
    assert tab.open_path(path)
    qtbot.waitUntil(lambda: tab.image is not None and tab.image.source == str(path) and tab.is_idle()
                    and tab.prediction is not None and tab.prediction.image_id == tab.session.image_id and tab.overlay_result is not None
                    and tab.overlay_result.image_id == tab.session.image_id, timeout=TIMEOUT)


def test_open_png_and_dicom(qtbot, window, images) -> None:
    tab = window.tab_list[1]
    _open(qtbot, tab, images["png"])
    assert tab.viewer.pixels.shape == (300, 260)
    assert "p(pneumonia)" in tab.prediction_panel.label.text()
    _open(qtbot, tab, images["dcm"])
    fields = {tab.folder_panel.meta.item(r, 0).text(): tab.folder_panel.meta.item(r, 1).text() for r in range(tab.folder_panel.meta.rowCount())}
    assert fields["Format"] == "DICOM" and fields["Modality"] == "CR" and "center" in fields["Stored window"]


def test_a_non_chest_image_gets_the_banner_and_no_verdict(qtbot, window, images, monkeypatch, tmp_path: Path) -> None:
    from cfx_desktop.core.imaging.train.synthetic_images import ct_slice

    monkeypatch.undo()  # the shipped guard
    tab = window.tab_list[1]
    ct = tmp_path / "ct-like.png"
    Image.fromarray(np.round(ct_slice(np.random.default_rng(0)) * 255).astype(np.uint8)).save(ct)
    _open(qtbot, tab, ct)
    assert tab.prediction.guard.withheld and tab.prediction.probability is None and tab.prediction.label == ""
    assert tab.guard_banner.isVisibleTo(tab) and "prediction withheld" in tab.guard_banner.text()
    assert "Prediction withheld" in tab.prediction_panel.label.text() and "pneumonia</b>" not in tab.prediction_panel.label.text()
    assert not tab.cf_panel.button.isEnabled() and tab.viewer.overlay.item.image is None
    tab.generate_counterfactual()  # the shortcut does nothing either
    assert tab.session.counterfactual_state.state == "idle"
    tab.open_folder(tmp_path)  # the folder list runs the guard too: a withheld image shows no probability
    qtbot.waitUntil(lambda: tab.folder_panel.thumbnails.count() > 0, timeout=TIMEOUT)
    rows = {tab.folder_panel.thumbnails.item(i).data(Qt.ItemDataRole.UserRole): i for i in range(tab.folder_panel.thumbnails.count())}
    item = tab.folder_panel.thumbnails.item(rows[str(ct)])
    qtbot.waitUntil(lambda: "waiting" not in item.text(), timeout=TIMEOUT)
    assert "withheld" in item.text() and "p = " not in item.text() and "prediction withheld" in item.toolTip()


def test_overlay_appears_and_opacity_changes_pixels(qtbot, window, images) -> None:
    tab = window.tab_list[1]
    assert tab.overlay_panel.method.currentData() == tab.session.method  # the model's own default, shown
    _open(qtbot, tab, images["png"])
    assert tab.overlay_result.result.values.shape == (300, 260)
    assert tab.overlay_result.result.method == tab.session.method
    assert tab.viewer.overlay.item.image is not None
    style = tab.session.overlay_style  # one source: the panel shows it and the viewer draws it
    assert (tab.overlay_panel.threshold.value() / 100, tab.viewer.overlay.threshold) == (style.threshold, style.threshold)
    assert (tab.overlay_panel.opacity.value() / 100, tab.viewer.overlay.opacity) == (style.opacity, style.opacity)
    tab.overlay_panel.opacity.setValue(10)
    qtbot.wait(50)
    faint = tab.viewer.grab().toImage()
    legend = tab.viewer.overlay.legend
    tab.overlay_panel.opacity.setValue(90)
    qtbot.wait(50)
    strong = tab.viewer.grab().toImage()
    assert faint != strong
    assert legend is not None and tab.viewer.overlay.legend is legend  # same scale: the legend is not rebuilt per slider step
    tab.overlay_panel.show_overlay.setChecked(False)
    qtbot.wait(50)
    assert tab.viewer.overlay.item.image is None and tab.viewer.overlay.legend is None
    for method in ("ig", "occlusion"):
        tab.overlay_panel.method.setCurrentIndex(tab.overlay_panel.method.findData(method))
        qtbot.waitUntil(lambda: tab.is_idle() and tab.overlay_result.result.method == method, timeout=TIMEOUT)


def test_counterfactual_fills_all_three_views(qtbot, window, images) -> None:
    tab = window.tab_list[1]
    _open(qtbot, tab, images["png"])
    getattr(tab, "inner", tab).cf_steps = 6  # on the tab itself, not on the deferred wrapper that forwards reads
    tab.generate_counterfactual()
    qtbot.waitUntil(lambda: tab.cf_result is not None and tab.is_idle(), timeout=TIMEOUT)
    for view in tab.compare.views():
        assert view.pixels is not None and view.pixels.shape == (300, 260)
    metrics = tab.cf_result.result.metrics
    assert metrics["steps"] <= 6 and "SSIM" in tab.cf_panel.metrics.text()
    assert "referee" in tab.compare.verdict.text() and "referee" in tab.cf_panel.metrics.text()
    tab.compare.amount.setValue(30)
    tab.compare.mode.setCurrentText("swipe")
    assert tab.compare.counterfactual.pixels is not None


def test_cancel_stops_the_counterfactual(qtbot, window, images) -> None:
    tab = window.tab_list[1]
    _open(qtbot, tab, images["png"])
    tab.cf_steps = 100_000
    tab.generate_counterfactual()
    qtbot.waitUntil(lambda: len(tab.cf_panel.path) >= 2, timeout=TIMEOUT)
    tab.cancel_counterfactual()
    qtbot.waitUntil(lambda: window.pool.active_count == 0, timeout=10_000)
    assert tab.cf_result is None and tab.cf_panel.metrics.text() == "cancelled" and tab.cf_panel.button.isEnabled()


def test_corrupt_file_shows_an_error_and_keeps_the_image(qtbot, window, images) -> None:
    tab = window.tab_list[1]
    _open(qtbot, tab, images["png"])
    before, shown = tab.image, tab.viewer.pixels
    window.open_path(images["bad"])
    qtbot.waitUntil(lambda: window.findChild(QMessageBox) is not None and window.findChild(QMessageBox).isVisible(), timeout=TIMEOUT)
    box = window.findChild(QMessageBox)
    assert "corrupt.png" in box.text() and "still showing chest.png" in box.text()
    assert tab.image is before and tab.viewer.pixels is shown


def test_folder_thumbnails_get_predictions(qtbot, window, images) -> None:
    tab = window.tab_list[1]
    tab.open_folder(images["png"].parent)
    qtbot.waitUntil(lambda: tab.folder_panel.thumbnails.count() == 3, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: all("waiting" not in tab.folder_panel.thumbnails.item(i).text() for i in range(3)), timeout=TIMEOUT)
    texts = [tab.folder_panel.thumbnails.item(i).text() for i in range(3)]
    assert any("unreadable" in t for t in texts) and sum("p = " in t for t in texts) == 2


def test_sanity_panel_and_export(qtbot, window, images, tmp_path: Path) -> None:
    tab = window.tab_list[1]
    _open(qtbot, tab, images["png"])
    tab.run_sanity()
    qtbot.waitUntil(lambda: tab.sanity_result is not None, timeout=TIMEOUT)
    assert tab.sanity_panel.table.rowCount() >= 6
    assert tab.export_to(tmp_path / "x.png") and tab.export_to(tmp_path / "x.pdf")
    from tests.report_helpers import pdf_text, section, sidecar, squash

    doc, text = sidecar(tmp_path / "x.pdf"), squash(" ".join(pdf_text(tmp_path / "x.pdf")))
    for title in ("Image", "Model", "Settings", "Prediction", "Why: saliency overlay", "Sanity checks", "Caveats"):
        assert title in text
    assert "checks pass" in section(doc, "Sanity checks")["blocks"][0]["text"]
    # no counterfactual was generated in the app: the report says so, and its command leaves it out too
    cf = section(doc, "What would have to change: counterfactual image")["blocks"][0]["text"]
    assert "Not generated in the app" in cf and "--no-counterfactual" in doc["reproduce"]
    assert "--no-sanity" not in doc["reproduce"] and "Play" not in text


def test_a_dicomdir_opens_as_a_patient_study_series_tree(qtbot, window) -> None:
    pydicom = pytest.importorskip("pydicom")
    dicomdir = Path(pydicom.__file__).parent / "data" / "test_files" / "dicomdirtests" / "DICOMDIR"
    if not dicomdir.exists():
        pytest.skip("pydicom's DICOMDIR test set is not bundled")
    tab = window.tab_list[1]
    window.open_path(dicomdir)
    qtbot.waitUntil(lambda: tab.folder_panel.tree.topLevelItemCount() == 2 and tab.image is not None, timeout=TIMEOUT)
    assert not tab.folder_panel.thumbnails.isVisibleTo(tab) and tab.folder_panel.tree.isVisibleTo(tab)
    labels = [tab.folder_panel.tree.topLevelItem(i).text(0) for i in range(2)]
    assert any("Doe^Archibald" in label for label in labels)
    first = tab.folder_panel.first_image_item()
    assert tab.image.source == first.data(0, Qt.ItemDataRole.UserRole)
    qtbot.waitUntil(lambda: "  ->  " in first.text(0), timeout=TIMEOUT)  # the leaf gets its folder prediction
    assert first.text(0).startswith("image ")


def test_multi_frame_dicom_slider_reruns_the_model_on_the_shown_frame(qtbot, window, tmp_path: Path) -> None:
    from tests.imaging_fixtures import gradient_image, write_dicom

    tab = window.tab_list[1]
    raw = np.round(gradient_image(120, 100) * 4095).astype(np.uint16)
    _open(qtbot, tab, write_dicom(tmp_path / "cine.dcm", raw, frames=5))
    page = tab.viewer_page
    assert page.frame_row.isVisibleTo(tab) and page.slider.maximum() == 4
    first_id = tab.session.image_id
    page.slider.setValue(3)  # a click or key on the slider: a deliberate step
    qtbot.waitUntil(lambda: tab.is_idle() and tab.prediction is not None and tab.session.image_id != first_id, timeout=TIMEOUT)
    assert tab.image.frame == 3 and "frame 4 of 5" in tab.prediction_panel.label.text()
    assert tab.viewer.pixels.shape == raw.shape and "frame 4 of 5" in tab.viewer.readout.text()
    page.play.setChecked(True)  # cine: frames change on screen, the models wait
    qtbot.wait(400)
    playing = page.slider.value()
    assert f"frame {playing + 1} of 5" in tab.viewer.readout.text()  # the readout follows the frame shown
    page.play.setChecked(False)
    qtbot.waitUntil(lambda: tab.is_idle() and tab.prediction is not None, timeout=TIMEOUT)
    assert tab.image.frame == page.slider.value()


def test_window_presets_wheel_step_and_ruler_in_mm(qtbot, window, tmp_path: Path) -> None:
    from tests.imaging_fixtures import gradient_image, write_dicom

    tab = window.tab_list[1]
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    path = write_dicom(tmp_path / "w.dcm", raw, window=(1000.0, 500.0))
    import pydicom

    ds = pydicom.dcmread(path)
    ds.PixelSpacing = [0.5, 0.25]
    ds.save_as(path)
    _open(qtbot, tab, path)
    page, viewer = tab.viewer_page, tab.viewer
    assert viewer.levels == pytest.approx((750.0, 1250.0))  # opens with the stored window, in stored units
    assert "W 500" in viewer.readout.text() and "L 1000" in viewer.readout.text()
    assert tab.session.window[:2] == pytest.approx((750.0, 1250.0))  # the session knows the window, for the report
    assert page.apply_preset(0) and viewer.levels == pytest.approx((float(raw.min()), float(raw.max())))
    assert tab.session.window[:2] == pytest.approx(viewer.levels)
    assert page.presets.count() >= 3 and not page.apply_preset(20)
    before = viewer.zoom_factor()
    viewer.zoom(1.25)
    assert viewer.zoom_factor() / before == pytest.approx(1.25, rel=0.02)
    length = viewer.marks.ruler((0.0, 0.0), (40.0, 0.0), finished=True)  # 40 columns x 0.25 mm
    assert (length.value, length.unit) == (pytest.approx(10.0), "mm")
    assert "10.0 mm" in viewer.marks.texts()
    degrees = viewer.marks.angle((10.0, 0.0), (0.0, 0.0), (0.0, 10.0))
    assert degrees == pytest.approx(90.0) and len(viewer.marks.items) == 2
    window.activateWindow()
    viewer.setFocus()
    qtbot.keyClick(viewer, Qt.Key.Key_Backspace)  # the toolbar's "Undo mark", by its shortcut
    assert len(viewer.marks.items) == 1
    qtbot.keyClick(viewer, Qt.Key.Key_Backspace, Qt.KeyboardModifier.ShiftModifier)  # "Clear marks"
    assert len(viewer.marks.items) == 0
    # the tool keys work wherever the focus is in the tab (they once needed the toolbar to have it)
    for focus in (viewer, tab.overlay_panel):
        focus.setFocus()
        for key, tool in ((Qt.Key.Key_M, "ruler"), (Qt.Key.Key_A, "angle"), (Qt.Key.Key_T, "text"), (Qt.Key.Key_P, "pan")):
            qtbot.keyClick(focus, key)
            assert viewer.box.tool == tool and page.tool_actions[tool].isChecked(), (focus, tool)


def test_mouse_gestures_wheel_notch_and_ruler_drag(qtbot, window, images) -> None:
    """Real input events: one wheel notch zooms exactly 1.25x; a left drag with the ruler tool leaves a ruler."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    tab = window.tab_list[1]
    _open(qtbot, tab, images["png"])
    viewer = tab.viewer
    viewport = viewer.graphics.viewport()
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    before = viewer.zoom_factor()
    for _ in range(5):
        event = QWheelEvent(centre, viewport.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(viewport, event)
    assert viewer.zoom_factor() / before == pytest.approx(1.25 ** 5, rel=0.02)  # not ~25x any more
    tab.viewer_page.set_tool("ruler")
    start, end = QPoint(int(centre.x()) - 60, int(centre.y())), QPoint(int(centre.x()) + 60, int(centre.y()))
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 11):
        qtbot.mouseMove(viewport, start + (end - start) * step / 10)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    qtbot.waitUntil(lambda: len(viewer.marks.items) == 1, timeout=5000)
    assert viewer.marks.texts()[0].endswith(" px")  # a PNG has no pixel spacing: pixels, and it says so


def test_the_corner_readout_gives_the_value_of_the_image_shown(qtbot, window) -> None:
    """It kept the previous image's position and value until the mouse moved."""
    viewer = window.tab_list[1].viewer
    viewer.set_image(np.full((40, 50), 0.25, np.float32))
    centre = viewer.box.mapViewToScene(QPointF(25.0, 20.0))
    viewer.readout.follow(centre)  # the mouse rests over the image
    assert "value 0.25" in viewer.readout.text()
    viewer.set_image(np.full((40, 50), 0.75, np.float32))  # the next image opens under the resting mouse
    assert "value 0.75" in viewer.readout.text() and "value 0.25" not in viewer.readout.text()
    viewer.set_image(None)
    assert "value" not in viewer.readout.text()


def test_the_sanity_panel_leaves_no_stale_map_over_its_button(qtbot) -> None:
    """Maps taken out of the grid used to sit at the panel's corner, over the button, until their deferred deletion."""
    from cfx_desktop.core.imaging import live
    from cfx_desktop.core.imaging.explain import sanity
    from cfx_desktop.sessions.xray import JobState
    from cfx_desktop.ui.xray.sanity_panel import SanityPanel

    panel = SanityPanel()
    qtbot.addWidget(panel)
    panel.show()
    trained = np.arange(16.0).reshape(4, 4)
    report = sanity.SanityReport("gradcam", trained, [sanity.SanityRow("cascade up to head", 0.1, 0.0, trained)])
    result = live.Sanity(1, "m", report, None)
    from PySide6.QtWidgets import QApplication

    panel.display(result, JobState("done"))
    QApplication.processEvents()  # the maps are shown
    panel.display(result, JobState("done"))  # replaced; processEvents never runs a deferred deletion
    QApplication.processEvents()
    in_grid = {panel.grid.itemAt(i).widget() for i in range(panel.grid.count())}
    stale = [w for w in panel.findChildren(QWidget) if w.parent() is panel and w.isVisible()
             and w not in in_grid and w not in (panel.button, panel.status, panel.table)]
    assert stale == []
