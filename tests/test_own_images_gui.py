"""pytest-qt: File > New image model from folder in the X-ray tab, from the folder dialog to a selected model that
predicts, then removal; a refused folder leaves the tab as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cfx_desktop.core.imaging.models import user_models
from tests.own_images_fixtures import labelled_folder

TINY = user_models.TrainSettings(epochs=1, autoencoder_epochs=1, twin_epochs=1, size=64)


@pytest.fixture
def xray_tab(qtbot):
    from cfx_desktop.ui.xray.tab import XrayTab
    from cfx_desktop.workers.pool import WorkerPool

    pool = WorkerPool()
    tab = XrayTab(pool)
    qtbot.addWidget(tab)
    yield tab
    pool.shutdown()


def test_new_image_model_from_folder_trains_selects_and_removes(qtbot, xray_tab, tmp_path: Path, monkeypatch) -> None:
    folder = labelled_folder(tmp_path / "clinic")
    errors = []
    xray_tab.error_raised.connect(lambda *a: errors.append(a))
    dialog = xray_tab.own_images.open_dialog(folder)
    assert dialog is not None and "names share the part before" in dialog.split.text()
    assert dialog.positive.currentData() == "opacity"
    dialog.positive.setCurrentIndex(0)  # the other way round, then back: the dialog re-reads the folder
    assert dialog.scan.classes == ("opacity", "normal")
    dialog.positive.setCurrentIndex(1)
    dialog.name.setText("Clinic C")
    monkeypatch.setattr(dialog, "settings", lambda: TINY)
    asked: list[str] = []  # a one-epoch model on 60 images may be weak: then the user is asked first (here: yes)
    monkeypatch.setattr(xray_tab.own_images, "confirm_weak", lambda text: asked.append(text) or True)
    with qtbot.waitSignal(xray_tab.own_images.model_ready, timeout=240_000) as ready:
        dialog.train_button.click()
        assert xray_tab.own_images.progress is not None  # the progress dialog with Cancel is up
    assert ready.args == ["clinic-c"] and not errors
    assert xray_tab.prediction_panel.model.currentData() == "clinic-c" and xray_tab.session.model_name == "clinic-c"
    summary_text = " ".join(w.text() for w in xray_tab.own_images.summary_dialog.findChildren(type(dialog.split)))
    assert "out-of-distribution guard" in summary_text and "validation ROC AUC" in summary_text

    assert xray_tab.remove_current_model(confirm=lambda text: True)
    names = [xray_tab.prediction_panel.model.itemData(i) for i in range(xray_tab.prediction_panel.model.count())]
    assert "clinic-c" not in names and xray_tab.session.model_name != "clinic-c"
    assert not xray_tab.remove_current_model(confirm=lambda text: True)  # a shipped model stays
    assert errors and errors[-1][0] == "Shipped model"


def test_a_folder_with_one_class_is_refused_with_a_message(qtbot, xray_tab, tmp_path: Path) -> None:
    one = labelled_folder(tmp_path / "one")
    for f in (one / "opacity").iterdir():
        f.unlink()
    errors = []
    xray_tab.error_raised.connect(lambda *a: errors.append(a))
    assert xray_tab.own_images.open_dialog(one) is None
    assert errors[0][0] == "Cannot train on this folder" and "only one class" in errors[0][1]


def test_cancel_keeps_nothing(qtbot, xray_tab, tmp_path: Path, monkeypatch) -> None:
    dialog = xray_tab.own_images.open_dialog(labelled_folder(tmp_path / "c"))
    monkeypatch.setattr(dialog, "settings", lambda: user_models.TrainSettings(epochs=50, size=64))
    dialog.name.setText("to cancel")
    dialog.train_button.click()
    qtbot.waitUntil(lambda: (user_models.root() / "to-cancel").exists(), timeout=30_000)
    from PySide6.QtWidgets import QPushButton

    messages: list[str] = []
    xray_tab.own_images.message.connect(lambda title, text, details: messages.append(title))
    xray_tab.own_images.progress.findChild(QPushButton).click()  # the progress dialog's Cancel button
    assert xray_tab.own_images.training.running  # still stopping: nothing is said until it has
    qtbot.waitUntil(lambda: messages == ["Training cancelled"], timeout=60_000)
    assert not (user_models.root() / "to-cancel").exists()  # said only once what it wrote is gone
    from cfx_desktop.core.imaging.models.classifier import image_models

    assert "to-cancel" not in [n for n, _ in image_models()] and xray_tab.own_images.progress is None


def _summary(auc: float) -> dict:
    metric = {"roc_auc": auc, "balanced_accuracy": 0.6, "f1": 0.6, "brier": 0.2}
    return {"name": "weak-one", "classifier": "weak-one", "folder": "/data/weak", "labels": ["normal", "opacity"],
            "split": "by patient", "threshold": 0.5,
            "metrics": {"classifier": metric, "referee": {"roc_auc": 0.9}, "autoencoder": {"ssim": 0.8}, "twin": {"roc_auc": 0.5},
                        "guard": {"held_out_flagged_clean": 0.01, "held_out_flagged_shifted": 0.2, "calibration_images": 10,
                                  "held_out_images": 10}}}


@pytest.mark.parametrize("answer", [False, True])
def test_a_weak_image_model_is_put_in_use_only_when_the_user_says_so(qtbot, xray_tab, monkeypatch, answer: bool) -> None:
    asked, ready = [], []
    monkeypatch.setattr(xray_tab.own_images, "confirm_weak", lambda text: asked.append(text) or answer)
    xray_tab.own_images.model_ready.connect(ready.append)
    xray_tab.own_images._on_trained(_summary(0.643))  # noqa: SLF001 - what the pool delivers after training
    assert len(asked) == 1 and "ROC AUC 0.64" in asked[0]
    assert ready == (["weak-one"] if answer else [])
    text = " ".join(w.text() for w in xray_tab.own_images.summary_dialog.findChildren(type(xray_tab.prediction_panel.label)))
    assert ("not put in use" in text) != answer and "WARNING: the classifier is weak" in text
    xray_tab.own_images.summary_dialog.close()


def test_a_good_image_model_is_put_in_use_without_asking(qtbot, xray_tab, monkeypatch) -> None:
    asked, ready = [], []
    monkeypatch.setattr(xray_tab.own_images, "confirm_weak", lambda text: asked.append(text) or False)
    xray_tab.own_images.model_ready.connect(ready.append)
    xray_tab.own_images._on_trained(_summary(0.95))  # noqa: SLF001
    assert asked == [] and ready == ["weak-one"]
    xray_tab.own_images.summary_dialog.close()
