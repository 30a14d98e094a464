"""Image models from the user's own labelled folder: the split decision, bad folders, and a small model trained
end to end whose explanations all work and which can be removed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cfx_desktop.cli import main
from cfx_desktop.core import bundles
from cfx_desktop.core.imaging.models import user_models
from tests.own_images_fixtures import labelled_folder

TINY = user_models.TrainSettings(epochs=2, autoencoder_epochs=1, twin_epochs=1, size=64)


def test_the_split_is_decided_from_the_names_and_said(tmp_path: Path) -> None:
    scan = user_models.scan(labelled_folder(tmp_path / "a"))
    assert scan.classes == ("normal", "opacity") and scan.grouping == "prefix"
    assert "(e.g. 'n00' from 'n00_0.png')" in scan.split_reason and "16 patients for 48 images" in scan.split_reason
    assert scan.patients == {"normal": 8, "opacity": 8}
    flat = user_models.scan(labelled_folder(tmp_path / "b", names="flat"))
    assert flat.grouping == "file" and "optimistic" in flat.split_reason
    kermany = tmp_path / "k"
    for cls, stem in (("NORMAL", "IM-{:04d}-000{}.jpeg"), ("PNEUMONIA", "person{}_bacteria_{}.jpeg")):
        (kermany / cls).mkdir(parents=True)
        for i in range(24):
            Image.fromarray(np.full((8, 8), 100, np.uint8)).save(kermany / cls / stem.format(i // 2, i % 2))
    k = user_models.scan(kermany)
    assert k.grouping == "kermany" and k.classes == ("NORMAL", "PNEUMONIA") and k.patients["PNEUMONIA"] == 12
    swapped = user_models.scan(labelled_folder(tmp_path / "c"), positive="normal")
    assert swapped.classes == ("opacity", "normal") and swapped.positive_reason == "as you chose"


def test_bad_folders_say_what_is_wrong_and_what_to_do(tmp_path: Path) -> None:
    one = labelled_folder(tmp_path / "one")
    for f in (one / "opacity").iterdir():
        f.unlink()
    (one / "opacity").rmdir()
    with pytest.raises(user_models.FolderError, match="only one class .*Add a second sub-folder"):
        user_models.scan(one)
    three = labelled_folder(tmp_path / "three")
    labelled_folder(three, classes=("effusion", "other"))
    with pytest.raises(user_models.FolderError, match="4 class folders .*choose two"):
        user_models.scan(three)
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(flat / "x.png")
    with pytest.raises(user_models.FolderError, match="no class sub-folders .*1 images lie directly in it"):
        user_models.scan(flat)
    few = labelled_folder(tmp_path / "few", per_class=6)
    with pytest.raises(user_models.FolderError, match="too few images .*at least 20"):
        user_models.scan(few)
    with pytest.raises(user_models.FolderError, match="not one of the class folders"):
        user_models.scan(labelled_folder(tmp_path / "d"), positive="effusion")


def test_a_model_trained_on_a_folder_explains_and_is_removed(tmp_path: Path, capsys) -> None:
    folder = labelled_folder(tmp_path / "imgs")
    (folder / "opacity" / "z_broken.png").write_bytes(b"not a png")  # left out, and said
    scan = user_models.scan(folder)
    summary = user_models.train(scan, "Clinic B", TINY)
    assert summary["name"] == "clinic-b" and summary["labels"] == ["normal", "opacity"]
    assert any("z_broken.png" in s for s in summary["skipped"])
    assert "names share the part before" in scan.split_reason and "by patient" in summary["split"]
    lines = "\n".join(user_models.summary_lines(summary))
    assert "out-of-distribution guard: flags" in lines and "referee" in lines
    assert (user_models.root() / "clinic-b" / "weights" / bundles.MANIFEST).exists()  # the user store's one layout
    assert (user_models.root() / "clinic-b" / "image-model.json").exists()

    from cfx_desktop.core.imaging import live

    from cfx_desktop.core.imaging.explain import saliency
    from cfx_desktop.core.imaging.counterfactual.generate import verdict_line
    from cfx_desktop.core.imaging.models.classifier import image_models, load_image_model, referee_for, shuffled_twin

    assert "clinic-b" in [n for n, _ in image_models()]
    model = load_image_model("clinic-b")
    assert model.labels == ("normal", "opacity") and referee_for(model).name == "clinic-b-referee"
    assert shuffled_twin(model).name == "clinic-b-shuffled-labels"
    pixels = np.asarray(Image.open(next((folder / "opacity").glob("*.png"))), dtype=np.float32) / 255
    prediction = live.predict(1, pixels, "clinic-b")
    assert prediction.positive == "opacity" and prediction.guard.level in ("ok", "caution", "withheld")
    assert saliency.saliency_map(model, pixels, "gradcam").values.shape == pixels.shape
    cf = live.counterfactual(1, pixels, "clinic-b", steps=5)
    assert cf.result.metrics["referee"] == "clinic-b-referee"  # judged by the independent referee trained with it
    assert "its p(opacity)" in verdict_line(cf.result.metrics)
    report = live.sanity(1, pixels, "gradcam", "clinic-b")
    assert report.twin_note is None  # the data-randomisation check has its twin

    assert main(["image-models", "list"]) == 0 and "clinic-b: opacity vs normal" in capsys.readouterr().out
    assert main(["image-models"]) == 0 and "clinic-b: opacity vs normal" in capsys.readouterr().out  # bare: a list
    assert main(["image-models", "remove", "clinic-b"]) == 0
    assert "clinic-b" not in [n for n, _ in image_models()] and not (user_models.root() / "clinic-b").exists()


def test_the_cli_refuses_a_folder_with_one_class(tmp_path: Path, capsys) -> None:
    one = tmp_path / "one" / "normal"
    one.mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(one / "a.png")
    assert main(["train-imaging", "--folder", str(tmp_path / "one"), "--name", "x"]) == 2
    assert "only one class" in capsys.readouterr().err
    assert not user_models.root().exists() or not any(user_models.root().iterdir())


def test_a_class_of_unreadable_files_stops_training_and_names_them(tmp_path: Path) -> None:
    folder = labelled_folder(tmp_path / "bad")
    for f in list((folder / "opacity").iterdir())[:10]:
        f.write_bytes(b"damaged")
    scan = user_models.scan(folder)  # names only: the damage is found when decoding
    with pytest.raises(user_models.FolderError, match=r"only 14 of the 24 images in opacity/ could be read .*convert or replace"):
        user_models.train(scan, "bad", TINY)
    assert not (user_models.root() / "bad").exists()
