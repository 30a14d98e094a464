"""The out-of-distribution guard: header rules, the calibrated image score, and what happens when its bundle is
missing or altered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cfx_desktop.core import bundles, model_cache
from cfx_desktop.core.imaging.guard import model as guard_mod
from cfx_desktop.core.imaging.guard.model import GuardModel, header_verdict, image_verdict, load_guard
from cfx_desktop.core.imaging.io.load import LoadedImage, colour_spread, load_image
from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model
from tests.imaging_fixtures import gradient_image, write_dicom


def _dicom(tmp_path: Path, **tags: str) -> LoadedImage:
    import pydicom

    path = write_dicom(tmp_path / "x.dcm", np.round(gradient_image() * 4095).astype(np.uint16))
    ds = pydicom.dcmread(path)
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path)
    return load_image(path)


@pytest.mark.parametrize(("tags", "words"), [
    ({"Modality": "CT"}, "Modality CT"), ({"Modality": "MR"}, "Modality MR"), ({"BodyPartExamined": "HEAD"}, "Body Part HEAD"),
])
def test_a_header_that_names_another_modality_or_body_part_withholds(tmp_path: Path, tags: dict, words: str) -> None:
    verdict = header_verdict(_dicom(tmp_path, **tags))
    assert verdict is not None and verdict.withheld and words in verdict.reason and "Not a chest radiograph" in verdict.banner()


def test_a_chest_radiograph_header_passes_to_the_image_check(tmp_path: Path) -> None:
    assert header_verdict(_dicom(tmp_path)) is None  # CR, CHEST, MONOCHROME2: the fixture's header
    assert header_verdict(_dicom(tmp_path, Modality="DX", BodyPartExamined="CHEST")) is None


def test_colour_pictures_are_withheld_and_gray_rgb_files_are_not(tmp_path: Path) -> None:
    from PIL import Image

    gray = np.repeat((gradient_image() * 255).astype(np.uint8)[..., None], 3, axis=2)
    Image.fromarray(gray).save(tmp_path / "gray.jpg", quality=80)
    colour = gray.copy()
    colour[..., 0] = 255 - colour[..., 0]
    Image.fromarray(colour).save(tmp_path / "colour.png")
    assert colour_spread(gray) == 0.0
    assert header_verdict(load_image(tmp_path / "gray.jpg")) is None
    verdict = header_verdict(load_image(tmp_path / "colour.png"))
    assert verdict is not None and verdict.withheld and "colour" in verdict.reason


def test_calibration_flags_the_stated_share_of_its_own_images_and_far_points_more() -> None:
    rng = np.random.default_rng(0)
    groups = {g: torch.as_tensor(rng.normal(size=(2000, 24)), dtype=torch.float32) for g in guard_mod.GROUPS}
    model = GuardModel.fit(groups, k=8)
    calib = {g: torch.as_tensor(rng.normal(size=(1000, 24)), dtype=torch.float32) for g in guard_mod.GROUPS}
    model.calibrate(calib, 0.99)
    flagged = float((model.score(calib) > 1).float().mean())
    assert 0.005 <= flagged <= 0.012
    far = {g: v + (6.0 if g == "layout" else 0.0) for g, v in calib.items()}  # one group far away is enough
    assert float((model.score(far) > guard_mod.WITHHOLD_RATIO).float().mean()) > 0.99
    restored = GuardModel.from_state(model.state())
    assert torch.allclose(restored.score(calib), model.score(calib))


def test_image_verdict_levels() -> None:
    assert image_verdict(0.5).in_distribution
    assert image_verdict(1.5).level == "caution" and "caution" in image_verdict(1.5).banner()
    assert image_verdict(guard_mod.WITHHOLD_RATIO + 0.1).withheld


def test_the_shipped_guard_flags_gradients_and_names_its_classifier() -> None:
    model = load_image_model(DEFAULT_MODEL)
    guard = load_guard(model)
    assert guard.gaussian is not None and guard.card["classifier"] == model.name
    verdict = guard.check(model, LoadedImage(gradient_image(), "g", "PNG", {}))
    assert not verdict.in_distribution and verdict.score is not None and verdict.score > 1


def test_an_altered_guard_bundle_leaves_header_checks_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = load_image_model(DEFAULT_MODEL)
    name = guard_mod.guard_name(model.card)
    assert name is not None
    for suffix in (".pt", ".json"):
        shutil.copy(bundles.paths.weights_dir() / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    manifest = bundles.read_manifest()
    (tmp_path / bundles.MANIFEST).write_text(json.dumps({"files": {k: v for k, v in manifest.items() if k.startswith(name)}}))
    data = bytearray((tmp_path / f"{name}.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / f"{name}.pt").write_bytes(bytes(data))
    model_cache.clear()
    try:
        guard = load_guard(model, root=tmp_path)
        verdict = guard.check(model, LoadedImage(gradient_image(), "g", "PNG", {}))
        assert guard.gaussian is None and verdict.level == "caution" and "sha256 mismatch" in verdict.reason
    finally:
        model_cache.clear()


def test_feature_statistics_keep_only_their_own_threads_pass() -> None:
    """The guard's hooks sit on a net other threads share; a pass from another thread while they are attached
    (it once came from a copy of the net that took the hooks along) must not add its activations to this one's."""
    import threading

    from torch import nn

    from cfx_desktop.core.imaging.guard.model import feature_statistics

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3))
    x = torch.rand(1, 1, 16, 16)
    alone = feature_statistics(net, x)
    intruded = []

    def intrude(_m: nn.Module, _i: object) -> None:  # during this thread's pass, another thread runs the net
        if not intruded:
            intruded.append(True)
            other = threading.Thread(target=lambda: net(torch.rand(1, 1, 16, 16)))
            other.start()
            other.join()

    handle = net[0].register_forward_pre_hook(intrude)
    try:
        shared = feature_statistics(net, x)
    finally:
        handle.remove()
    assert intruded and shared.shape == alone.shape == (1, 2 * (4 + 6))
    assert torch.allclose(shared, alone)
