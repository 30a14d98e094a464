"""Image commands with the shipped classifier: batch prediction that survives bad files, overlays, sanity."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cfx_desktop.cli import main
from cfx_desktop.core import bundles
from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model
from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS
from tests.conftest import real_data_file
from tests.imaging_fixtures import gradient_image, write_dicom


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.round(gradient_image(300, 240) * 255).astype(np.uint8)).save(images / "a.png")
    write_dicom(images / "b.dcm", np.round(gradient_image() * 4095).astype(np.uint16))
    (images / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return images


@pytest.fixture(scope="module")
def chest(tmp_path_factory) -> Path:
    """A chest film the guard passes, on a fresh clone too: the shipped autoencoder decoding a code of its latent bank
    (no patient image ships), at 256 px."""
    from cfx_desktop.core.imaging.counterfactual.example_film import decoded_film

    film = decoded_film(load_image_model(DEFAULT_MODEL))
    assert film is not None, "the shipped classifier names an autoencoder with a latent bank"
    path = tmp_path_factory.mktemp("chest") / "chest.png"
    Image.fromarray(np.round(film * 255).astype(np.uint8)).resize((256, 256), Image.Resampling.BICUBIC).save(path)
    return path


def test_predict_image_batch_reports_bad_files_and_continues(folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "pred.csv"
    assert main(["predict-image", str(folder), "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [Path(r["file"]).name for r in rows] == ["a.png", "b.dcm", "c.png"]
    assert list(rows[0]) == ["file", "probability", "label", "in_distribution", "reason", "error"]
    for row in rows[:2]:  # gradients are not chest radiographs: no verdict, and the reason says why
        assert row["in_distribution"] == "false" and row["label"] == "" and row["error"] == ""
        assert "chest radiograph" in row["reason"] or "Unusual image" in row["reason"]
    assert rows[2]["probability"] == "" and ("not an image" in rows[2]["error"] or "damaged" in rows[2]["error"])
    assert "1 failed" in capsys.readouterr().out


def test_predict_image_withholds_what_the_header_says_is_not_a_chest_radiograph(tmp_path: Path) -> None:
    from tests.imaging_fixtures import gradient_image

    ct = write_dicom(tmp_path / "ct.dcm", np.round(gradient_image() * 4095).astype(np.uint16))
    import pydicom

    ds = pydicom.dcmread(ct)
    ds.Modality = "CT"
    ds.save_as(ct)
    out = tmp_path / "pred.csv"
    assert main(["predict-image", str(ct), "--csv", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    assert row["probability"] == "" and row["label"] == "" and row["in_distribution"] == "false"
    assert "Not a chest radiograph" in row["reason"] and "Modality CT" in row["reason"]


def test_predict_image_gives_a_verdict_for_a_chest_radiograph(tmp_path: Path) -> None:
    folder = real_data_file("kermany_cxr_224/train/NORMAL")
    image = sorted(folder.iterdir())[0]
    out = tmp_path / "pred.csv"
    assert main(["predict-image", str(image), "--csv", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    assert row["in_distribution"] == "true" and row["label"] in ("normal", "pneumonia") and 0 <= float(row["probability"]) <= 1


def test_predict_image_to_stdout(folder: Path, capsys) -> None:
    assert main(["predict-image", str(folder / "a.png")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "file,probability,label,in_distribution,reason,error"


# the app's own methods: a test module that registers an extension at import (test_extending) must not add a case
BUILT_IN_METHODS = [k for k in SALIENCY_METHODS.keys() if type(SALIENCY_METHODS.get(k)).__module__.startswith("cfx_desktop.")]


@pytest.mark.parametrize("method", BUILT_IN_METHODS)
def test_explain_image_writes_an_overlay(chest: Path, tmp_path: Path, method: str, capsys) -> None:
    out = tmp_path / f"{method}.png"
    params = ["--param", "n_steps=16"] if method == "ig" else []
    assert main(["explain-image", str(chest), "--method", method, "--out", str(out), *params]) == 0
    image = Image.open(out)
    assert image.size == (2 * 256 + 4, 256) and image.mode == "RGB"
    text = capsys.readouterr().out
    from cfx_desktop.core.imaging.models.classifier import load_image_model

    label_threshold = load_image_model().decision_threshold  # the card's: the label reads the views' mean at it
    assert f"threshold {label_threshold:.3f}" in text and "(the single view, p(pneumonia)" in text  # the app's label, then the map's view


def test_what_the_guard_withholds_gets_no_explanation(folder: Path, tmp_path: Path, capsys) -> None:
    """As in the app: a picture that is not a chest radiograph gets no map, no sanity checks and no counterfactual
    (they printed a pneumonia label for a gradient); the counterfactual's JSON is still written, saying why."""
    import json

    gradient = str(folder / "a.png")
    for args in (["explain-image", gradient, "--out", str(tmp_path / "x.png")], ["sanity", "--image", gradient, "--out-dir",
                 str(tmp_path / "maps")], ["counterfactual-image", gradient, "--out", str(tmp_path / "cf.png"), "--json",
                 str(tmp_path / "cf.json")]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "Not a chest radiograph: prediction withheld" in err and "as in the app" in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "cf.png").exists()
    payload = json.loads((tmp_path / "cf.json").read_text())
    assert payload["confirmation"] == "withheld" and payload["referee_flipped"] is False and payload["png"] is None


def test_a_parameter_the_method_lacks_is_a_clear_error(chest: Path, tmp_path: Path, capsys) -> None:
    args = ["explain-image", str(chest), "--method", "gradcam", "--out", str(tmp_path / "x.png"), "--param", "n_steps=8"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Grad-CAM has no parameter n_steps" in err and "Traceback" not in err


def test_explain_image_bad_file_is_a_clear_error(folder: Path, tmp_path: Path, capsys) -> None:
    assert main(["explain-image", str(folder / "c.png"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "c.png" in err and "Traceback" not in err


def test_sanity_command(chest: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "maps"
    assert main(["sanity", "--image", str(chest), "--out-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cascade up to" in text and "Spearman" in text
    assert "top layer randomized" in text and "checks pass" in text and ("pass:" in text or "FAIL:" in text)
    assert (out / "00-original.png").exists() and len(list(out.glob("*.png"))) >= 5
    assert "pneumonia-slim-cnn-shuffled-labels" in bundles.list_bundles()  # shipped: its check always runs
    assert "data randomization" in text


def test_shipped_image_model_card() -> None:
    card = bundles.read_card(DEFAULT_MODEL)
    assert card["metrics"]["validation"]["roc_auc"] >= 0.97
    assert "by patient" in card["data"]["split"]
    assert card["command"].startswith("cfx-desktop train-imaging")
    assert (bundles.paths.weights_dir() / f"{DEFAULT_MODEL}.pt").stat().st_size < 3_000_000
    model = load_image_model()
    assert model.input_size == card["input_size"]


@pytest.mark.realdata
def test_shipped_model_on_real_images() -> None:
    folder = real_data_file("kermany_cxr_224/train")
    model = load_image_model()
    card = bundles.read_card(DEFAULT_MODEL)
    assert card["data"]["files"] == "5216"
    normal = sorted((folder / "NORMAL").iterdir())[:10]
    pneumonia = sorted((folder / "PNEUMONIA").iterdir())[:10]
    from cfx_desktop.core.imaging.io.load import load_image

    p_normal = [model.probability(load_image(p).pixels) for p in normal]
    p_pneu = [model.probability(load_image(p).pixels) for p in pneumonia]
    assert np.mean(p_pneu) > np.mean(p_normal)


def test_predict_image_scores_frame_1_of_a_multi_frame_file_and_says_so(tmp_path: Path) -> None:
    raw = np.round(gradient_image(120, 100) * 4095).astype(np.uint16)
    cine = write_dicom(tmp_path / "cine.dcm", raw, frames=4)
    out = tmp_path / "pred.csv"
    assert main(["predict-image", str(cine), "--csv", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    assert row["error"] == "" and row["reason"].startswith("frame 1 of 4 scored")


@pytest.mark.parametrize("search", ["data-supported", "adam"])
def test_counterfactual_image_always_writes_its_json_with_the_referee_verdict(chest: Path, tmp_path: Path, search: str,
                                                                              capsys) -> None:
    """Confirmed or not, the JSON says what the referee did (never absent), and the PNG shows that counterfactual."""
    import json

    png, out = tmp_path / "cf.png", tmp_path / "cf.json"
    args = ["counterfactual-image", str(chest), "--out", str(png), "--json", str(out), "--search", search,
            "--steps", "3"]  # a few steps: often not flipped, and never confirmed by luck alone
    assert main(args) == 0
    payload = json.loads(out.read_text())
    assert isinstance(payload["referee_flipped"], bool) and payload["referee"] == "pneumonia-referee"
    assert payload["confirmation"] in ("confirmed", "not confirmed")
    assert payload["confirmation"] == ("confirmed" if payload["flipped"] and payload["referee_flipped"] else "not confirmed")
    assert payload["png"] == str(png) and Image.open(png).size[0] >= 3 * Image.open(chest).size[0]  # three panels
    assert Image.open(png).size[1] > Image.open(chest).size[1]  # under their captions (the PNG travels alone)
    assert payload["method"] == search and 0 <= payload["change_outside_lungs"] <= 1
    # where its lungs fall among the shipped bank's real films of the target class, and the line says it too
    assert payload["lung_contrast_where"] in ("within", "beyond", "short") and payload["lung_contrast_reference"] == 600
    assert payload["lung_contrast_target"] == payload["target"] and 0 <= payload["lung_contrast_percentile"] <= 100
    text = capsys.readouterr().out
    assert payload["confirmation"].upper() in text and "lung contrast" in text
    # the line's headline is the panel's: a confirmed one with a caveat reads "confirmed, with reservations"
    from cfx_desktop.core.imaging.counterfactual.generate import confirmation_words

    assert f"{confirmation_words(payload).upper()}: " in text


def test_a_weak_own_model_is_named_weak() -> None:
    from cfx_desktop.core.imaging.models.user_models import summary_lines, weaknesses

    def summary(auc: float, twin: float) -> dict:
        metric = {"roc_auc": auc, "balanced_accuracy": 0.6, "f1": 0.6, "brier": 0.2}
        return {"metrics": {"classifier": metric, "referee": {"roc_auc": 0.9}, "autoencoder": {"ssim": 0.8},
                            "twin": {"roc_auc": twin},
                            "guard": {"held_out_flagged_clean": 0.01, "held_out_flagged_shifted": 0.2, "calibration_images": 10,
                                      "held_out_images": 10}},
                "labels": ["normal", "opacity"], "split": "by patient", "threshold": 0.5}

    assert weaknesses(summary(0.95, 0.5)) == []
    assert "weak: validation ROC AUC 0.64" in weaknesses(summary(0.643, 0.5))[0]
    assert "shuffled labels scores 0.88" in weaknesses(summary(0.92, 0.88))[0]
    assert any(line.startswith("WARNING: the classifier is weak") for line in summary_lines(summary(0.643, 0.5)))


def test_the_target_is_a_class_word_of_the_models_card(tmp_path: Path, monkeypatch, capsys) -> None:
    """An own model that says 'clear' / 'opacity' is explained in its own words; a word it does not have is refused
    with its classes named (the CLI once accepted only 'pneumonia' and 'normal')."""
    import shutil

    from cfx_desktop.core import model_cache

    folder = tmp_path / "weights"
    shutil.copytree(bundles.paths.weights_dir(), folder)
    shipped = bundles.load(DEFAULT_MODEL, folder)
    # no guard of its own (the shipped one is calibrated for the shipped model, and says so by its name)
    bundles.save("opacity-model", shipped.state, {**shipped.card, "name": "opacity-model", "labels": ["clear", "opacity"],
                                                  "guard": None}, folder)
    monkeypatch.setenv("CFX_WEIGHTS_DIR", str(folder))
    model_cache.clear()
    image = tmp_path / "film.png"
    Image.fromarray(np.round(gradient_image(200, 200) * 255).astype(np.uint8)).save(image)
    out = tmp_path / "overlay.png"
    assert main(["explain-image", str(image), "--model", "opacity-model", "--target", "opacity", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "p(opacity)" in said and "for 'opacity'" in said and "pneumonia" not in said
    assert main(["explain-image", str(image), "--model", "opacity-model", "--target", "pneumonia", "--out", str(out)]) != 0
    assert "'pneumonia' is not a class of this model; its classes: clear, opacity" in capsys.readouterr().err
    model_cache.clear()


def test_link_image_model_applies_a_shift_validation_choice(tmp_path: Path, monkeypatch, capsys) -> None:
    """The benchmark's choice becomes the card's threshold and views (for the model it measured only), with the
    held-out figures behind it; the app's decision then reads the views' mean."""
    import json
    import shutil

    from cfx_desktop.core import model_cache
    from cfx_desktop.core.imaging.models.decision import decide

    folder = tmp_path / "weights"
    shutil.copytree(bundles.paths.weights_dir(), folder)
    fold = {"held_out": ["normal-cluster2", "pneumonia-cluster2"], "variants": {"first version (balanced, clean validation); test-time augmentation": {
        "per_family": {"normal-cluster2": {"specificity": 0.97}, "pneumonia-cluster2": {"sensitivity": 0.95}}}}}
    result = {"epochs": 8, "folds": {"hold out statistics cluster 2": fold},
              "choice": {"variant": "first version (balanced, clean validation); test-time augmentation",
                         "mean_held_out_balanced_accuracy": {}, "rule": "first version (balanced, clean validation)", "views": "tta"},
              "shipped": {"model": DEFAULT_MODEL, "threshold": 0.4321, "all": {"accuracy": 0.98}}}
    measured = tmp_path / "shift.json"
    measured.write_text(json.dumps(result))
    shipped = bundles.load(DEFAULT_MODEL, folder)
    bundles.save(DEFAULT_MODEL, shipped.state, {**shipped.card, "unrelated": None}, folder)  # left as it is
    before = bundles.read_card(DEFAULT_MODEL, folder)["threshold"]
    assert main(["link-image-model", "--model", "pneumonia-referee", "--shift-results", str(measured), "--out", str(folder)]) != 0
    assert "measured 'pneumonia-slim-cnn', not 'pneumonia-referee'" in capsys.readouterr().err
    assert main(["link-image-model", "--model", DEFAULT_MODEL, "--shift-results", str(measured), "--out", str(folder)]) == 0
    card = bundles.read_card(DEFAULT_MODEL, folder)
    assert card["threshold"] == before, "the single view keeps its own threshold: saliency and counterfactuals read it"
    assert card["decision_threshold"] == 0.4321 and card["decision_views"] == "tta"
    assert "mean over the 4 test-time views" in card["decision_rule"] and "--shift-results" in card["links_command"]
    assert card["shift_validation"]["held_out_folds"]["hold out statistics cluster 2"] == {
        "held_out": ["normal-cluster2", "pneumonia-cluster2"], "sensitivity": 0.95, "specificity": 0.97}
    monkeypatch.setenv("CFX_WEIGHTS_DIR", str(folder))
    model_cache.clear()
    try:
        model = load_image_model()
        assert model.threshold == before and model.decision_threshold == 0.4321 and model.decision_views == "tta"
        d = decide(model, gradient_image(200, 200), "ok")
        assert d.probability == pytest.approx(float(np.mean(d.view_probabilities))) and d.source.startswith("mean of 4")
        assert d.threshold == 0.4321
    finally:
        model_cache.clear()
    single = {**result, "choice": {**result["choice"], "views": "single", "variant": "first version (balanced, clean validation); single view"}}
    single["folds"] = {"hold out statistics cluster 2": {**fold, "variants": {single["choice"]["variant"]: fold["variants"][result["choice"]["variant"]]}}}
    measured.write_text(json.dumps(single))  # a single-view choice sets the model's own threshold and drops the views' one
    assert main(["link-image-model", "--model", DEFAULT_MODEL, "--shift-results", str(measured), "--out", str(folder)]) == 0
    card = bundles.read_card(DEFAULT_MODEL, folder)
    assert card["threshold"] == 0.4321 and card["decision_views"] == "single" and "decision_threshold" not in card
    assert "unrelated" in card and card["unrelated"] is None
    measured.write_text(json.dumps({"choice": {}}))
    assert main(["link-image-model", "--model", DEFAULT_MODEL, "--shift-results", str(measured), "--out", str(folder)]) != 0
    assert "not a shift_validation benchmark result" in capsys.readouterr().err


def test_a_comparison_that_travels_alone_names_its_panels() -> None:
    """The CLI's PNG and the PACS capture say which panel is which, whether the attempt was confirmed, and what the
    difference colours mean; the text wraps to the panel, so no caption is cut at a small size."""
    from cfx_desktop.core.imaging.counterfactual.generate import comparison_captions
    from cfx_desktop.core.imaging.explain import render

    metrics = {"positive_label": "pneumonia", "initial_probability": 0.963, "final_probability": 0.196, "flipped": True,
               "referee_flipped": False}
    captions = comparison_captions("pneumonia", "normal", metrics)
    assert captions == ("original (pneumonia): p(pneumonia) 0.96", "toward normal, not confirmed: p(pneumonia) 0.20",
                        "difference: red brighter, blue darker")
    film = np.zeros((64, 64))
    plain = render.comparison(film, film, film)
    labelled = render.comparison(film, film, film, captions)
    assert labelled.shape[1] == plain.shape[1] and labelled.shape[0] > plain.shape[0] + 20  # wrapped onto several lines
    assert (labelled[: labelled.shape[0] - 64] < 128).any()  # some dark text on the white strip
    top = labelled.shape[0] - 64  # every film starts at the same height, however its caption wraps
    assert (labelled[top:, :64] == render.gray_rgb(film)).all() and (labelled[top:, 68:132] == render.gray_rgb(film)).all()


def test_a_yes_no_parameter_given_as_text_means_what_it_says(chest: Path, tmp_path: Path, capsys) -> None:
    """``--param relu=false`` was read as True (``bool("false")``): the map stayed positive-only, unsaid."""
    from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS

    gradcam = SALIENCY_METHODS.get("gradcam")
    assert gradcam.params({"relu": "false"}).relu is False and gradcam.params({"relu": "Yes"}).relu is True
    with pytest.raises(ValueError, match="'maybe' is not true or false"):
        gradcam.params({"relu": "maybe"})
    assert main(["explain-image", str(chest), "--method", "gradcam", "--out", str(tmp_path / "m.png"), "--param", "relu=false"]) == 0
    assert "signed: evidence against the class too" in capsys.readouterr().out
