"""Acquisition-shift augmentation and the image training options (augmentation, label smoothing, subsets,
shuffled-label twins, referees), on a tiny synthetic .npz so the tests run in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cfx_desktop.core import bundles
from cfx_desktop.core.imaging.train import augment
from cfx_desktop.core.imaging.models.classifier import ImageModel, image_models, load_image_model, referee_for
from cfx_desktop.core.imaging.models.classifier import build
from cfx_desktop.core.imaging.train.classifier import AuxiliaryReadout, train_image_model


@pytest.mark.parametrize("family", list(augment.FAMILIES))
def test_each_shift_is_near_identity_at_zero_and_grows_with_strength(family: str) -> None:
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.random((8, 1, 64, 64)), dtype=torch.float32) * 0.6 + 0.2
    change = []
    for strength in (0.0, 0.5, 1.0):
        y = augment.FAMILIES[family](x, strength, torch.Generator().manual_seed(1))
        assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
        change.append(float((y - x).abs().mean()))
    assert change[0] < 0.02  # JPEG at quality 95 is the only family not exactly the identity at 0
    assert change[0] < change[1] < change[2]


def test_random_shift_is_repeatable_for_a_seed() -> None:
    x = torch.rand(40, 1, 32, 32)
    a = augment.random_shift(x, torch.Generator().manual_seed(3))
    b = augment.random_shift(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x)


@pytest.fixture(scope="module")
def npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 2, n)
        base = rng.normal(90, 10, (n, 28, 28))
        base[labels == 1, 8:20, 8:20] += 80  # a bright "opacity" for class 1
        return np.clip(base, 0, 255).astype(np.uint8), labels[:, None]

    path = tmp_path_factory.mktemp("npz") / "tiny.npz"
    (tx, ty), (vx, vy) = images(160), images(60)
    np.savez(path, train_images=tx, train_labels=ty, val_images=vx, val_labels=vy)
    return path


def test_training_records_its_choices_and_the_twin_and_referee_roles(npz: Path, tmp_path: Path) -> None:
    card = train_image_model(npz, "slim-cnn", size=32, epochs=2, out=tmp_path)
    training = card["training"]
    assert training["augmentation"].startswith("acquisition shift") and training["label_smoothing"] == 0.05
    assert card["role"] == "classifier" and card["autoencoder"] == "autoencoder-32"
    twin = train_image_model(npz, "slim-cnn", size=32, epochs=2, shuffle_labels=True, subset=100, out=tmp_path)
    assert twin["name"] == "pneumonia-slim-cnn-shuffled-labels" and twin["training"]["augmentation"] == "none"
    assert twin["training"]["label_smoothing"] == 0.0 and twin["training"]["weight_decay"] == 0.0
    assert twin["data"]["train_images"] == 100
    referee = train_image_model(npz, "strided-cnn", size=32, epochs=1, seed=1, name="pneumonia-referee", role="referee", out=tmp_path)
    assert referee["role"] == "referee" and referee["autoencoder"] is None and referee["shuffled_twin"] is None
    names = [name for name, _ in image_models(tmp_path)]
    assert names == ["pneumonia-slim-cnn"]  # the twin and the referee are never offered as the model to explain
    model = load_image_model("pneumonia-slim-cnn", torch.device("cpu"), tmp_path)
    found = referee_for(model, tmp_path)
    assert isinstance(found, ImageModel) and found.name == "pneumonia-referee" and found.architecture == "strided-cnn"


def test_the_auxiliary_readout_learns_the_coarse_film_and_leaves_a_plain_bundle(npz: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build("slim-cnn")
    readout = AuxiliaryReadout(net, 2)
    x = torch.rand(16, 1, 32, 32)
    x[:8, :, :16] += 1.0  # the top half bright in half the films: the read-out must find out which
    optimiser = torch.optim.Adam(list(net.parameters()) + list(readout.parameters()), lr=3e-3)
    losses = []
    for _ in range(40):
        net(x)
        loss = readout.loss(x)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
    assert losses[-1] < 0.3 * losses[0]
    readout.remove()
    assert not any(m._forward_pre_hooks for m in net.modules())

    card = train_image_model(npz, "slim-cnn", size=32, epochs=1, auxiliary_grid=2, out=tmp_path, shuffled_twin="")
    assert card["training"]["auxiliary"]["grid"] == 2 and "training only" in card["training"]["auxiliary"]["readout"]
    state = bundles.load("pneumonia-slim-cnn", tmp_path).state
    assert set(state) == set(build("slim-cnn").state_dict())  # the read-out is not shipped
    assert train_image_model(npz, "slim-cnn", size=32, epochs=1, out=tmp_path, shuffled_twin="")["training"]["auxiliary"] is None


def test_training_can_start_from_an_installed_bundle_and_says_which(npz: Path, tmp_path: Path) -> None:
    base = train_image_model(npz, "slim-cnn", size=32, epochs=1, out=tmp_path, name="base", shuffled_twin="", command="base command")
    tuned = train_image_model(npz, "slim-cnn", size=32, epochs=1, lr=1e-9, out=tmp_path, name="tuned", init="base", shuffled_twin="")
    assert tuned["training"]["init"] == {"bundle": "base", "sha256": bundles.sha256_file(tmp_path / "base.pt"),
                                         "command": "base command"}
    a, b = bundles.load("base", tmp_path).state, bundles.load("tuned", tmp_path).state
    conv = "blocks.0.0.weight"
    assert torch.allclose(a[conv], b[conv], atol=1e-6)  # a learning rate of ~0 leaves the start where it was
    assert base["training"]["init"] is None
    with pytest.raises(ValueError, match="is a slim-cnn, not a seed-cnn"):
        train_image_model(npz, "seed-cnn", size=32, epochs=1, out=tmp_path, name="x", init="base", shuffled_twin="")


def test_a_referee_identical_to_the_model_is_refused(npz: Path, tmp_path: Path) -> None:
    train_image_model(npz, "slim-cnn", size=32, epochs=1, out=tmp_path)
    train_image_model(npz, "slim-cnn", size=32, epochs=1, name="pneumonia-referee", role="referee", out=tmp_path)
    model = load_image_model("pneumonia-slim-cnn", torch.device("cpu"), tmp_path)
    with pytest.raises(bundles.BundleError, match="not an independent referee"):
        referee_for(model, tmp_path)


def _kermany_folder(root: Path, n: int = 24) -> Path:
    """A tiny folder named as Kermany's are: normal IM-..., pneumonia person..._bacteria_... / _virus_..."""
    from PIL import Image

    rng = np.random.default_rng(2)
    for cls in ("NORMAL", "PNEUMONIA"):
        (root / cls).mkdir(parents=True)
    for i in range(n):
        base = rng.normal(90, 10, (40, 40))
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(root / "NORMAL" / f"IM-{i:04d}-0001.png")
        kind = "bacteria" if i % 2 else "virus"
        base[10:30, 10:30 if kind == "bacteria" else 20] += 80  # the two subtypes look different
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(root / "PNEUMONIA" / f"person{i}_{kind}_{i}.png")
    return root


def test_a_head_over_subtypes_learns_them_from_the_file_names_and_gives_one_logit(tmp_path: Path) -> None:
    """slim-cnn-subtypes: cross-entropy over normal / bacterial / viral, one logit out (log p(pneumonia) - log p(normal));
    a folder whose names carry no subtype is refused with what it needs."""
    folder = _kermany_folder(tmp_path / "films")
    card = train_image_model(folder, "slim-cnn-subtypes", size=32, epochs=2, out=tmp_path / "w", shuffled_twin="")
    assert "cross-entropy over normal, bacterial, viral" in card["training"]["class_balance"]
    model = load_image_model("pneumonia-slim-cnn-subtypes", torch.device("cpu"), tmp_path / "w")
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        logits = model.net.class_logits(x)
        p = torch.softmax(logits, dim=1)
        assert torch.allclose(torch.sigmoid(model.logits(x)), p[:, 1:].sum(dim=1), atol=1e-5)
    twin = train_image_model(folder, "slim-cnn-subtypes", size=32, epochs=1, shuffle_labels=True, out=tmp_path / "w")
    assert twin["training"]["shuffled_labels"] and twin["data"]["train_images"] == card["data"]["train_images"]
    plain = tmp_path / "plain"
    for path in folder.rglob("*.png"):  # the same films without the subtype in their names
        target = plain / path.parent.name / path.name.replace("_bacteria_", "_").replace("_virus_", "_")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="needs Kermany file names"):
        train_image_model(plain, "slim-cnn-subtypes", size=32, epochs=1, out=tmp_path / "w2")


def test_a_region_read_out_weighs_where_the_evidence_lies() -> None:
    """slim-cnn-regions: one logit from the channels pooled in each of 4 x 4 regions, so the same evidence moved to
    another region of the film moves the logit by that region's weight (what lets its top layer carry *where*)."""
    torch.manual_seed(0)
    net = build("slim-cnn-regions").eval()
    top = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert top.in_features == 128 * 16 and top.out_features == 1
    assert set(net.cam_layers) == {"last", "previous"}
    x = torch.zeros(2, 1, 64, 64)
    x[0, 0, 4:12, 4:12] = 1.0  # the same bright patch, top left and bottom right
    x[1, 0, 52:60, 52:60] = 1.0
    with torch.no_grad():
        out = net(x)
        top.weight.zero_()
        top.weight[0, 0::16] = 1.0  # every channel of the top-left region only (flattened channel-major)
        only_top_left = net(x)
        top.weight.zero_()
        top.weight[0, 15::16] = 1.0  # the bottom-right region only
        only_bottom_right = net(x)
    assert out.shape == (2,)
    assert only_top_left[0] > only_top_left[1] and only_bottom_right[1] > only_bottom_right[0]  # counted where read
