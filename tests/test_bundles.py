"""Safe weight loading: hash-checked, weights_only, and refused loudly when tampered with."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from cfx_desktop.core import bundles


@pytest.fixture
def root(tmp_path: Path) -> Path:
    bundles.save("tiny", {"w": torch.arange(6.0).reshape(2, 3)}, {"task": "test", "licence": "none"}, tmp_path)
    return tmp_path


def test_round_trip(root: Path) -> None:
    bundle = bundles.load("tiny", root)
    assert torch.equal(bundle.state["w"], torch.arange(6.0).reshape(2, 3))
    assert bundle.card["task"] == "test"
    assert bundles.list_bundles(root) == ["tiny"]


def test_tampered_weights_are_refused(root: Path) -> None:
    path = root / "tiny.pt"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(bundles.BundleError, match="sha256 mismatch"):
        bundles.load("tiny", root)


def test_tampered_card_is_refused(root: Path) -> None:
    card = root / "tiny.json"
    card.write_text(card.read_text().replace("test", "evil"))
    with pytest.raises(bundles.BundleError, match="tiny.json: sha256 mismatch"):
        bundles.load("tiny", root)


class _Payload:
    """Creates ``marker`` when unpickled by plain pickle: the code execution weights_only guards against."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_code_is_refused_even_with_a_matching_hash(root: Path) -> None:
    marker = root / "payload-ran"
    pickle.loads(pickle.dumps(_Payload(marker)))  # the premise: the payload really runs code when unpickled
    assert marker.exists()
    marker.unlink()
    path = root / "tiny.pt"
    torch.save({"w": _Payload(marker)}, path)  # an attacker who can also rewrite the manifest
    manifest = json.loads((root / "MANIFEST.json").read_text())
    from cfx_desktop.core.hashing import sha256_file

    manifest["files"]["tiny.pt"] = sha256_file(path)
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(bundles.BundleError, match="weights_only"):
        bundles.load("tiny", root)
    assert not marker.exists()  # refused before any of it ran


def test_unlisted_file_is_refused(root: Path) -> None:
    torch.save({"w": torch.zeros(1)}, root / "other.pt")
    (root / "other.json").write_text("{}")
    with pytest.raises(bundles.BundleError, match="not listed"):
        bundles.load("other", root)


def test_missing_file_is_a_clear_error(root: Path) -> None:
    with pytest.raises(bundles.BundleError, match="not found"):
        bundles.load("absent", root)


def test_the_manifest_is_parsed_once_and_again_when_it_changes(root: Path) -> None:
    """The live path looks every model up in the manifest; it is parsed again only when the file changed, and a
    caller's copy cannot change what the next caller reads."""
    import os

    bundles.save("m", {"w": torch.zeros(2)}, {"label": "m"}, root)
    first = bundles.read_manifest(root)
    first["m.pt"] = "0" * 64  # a caller's copy
    assert bundles.read_manifest(root)["m.pt"] != "0" * 64
    path = root / bundles.MANIFEST
    data = json.loads(path.read_text())
    data["files"]["m.pt"] = "f" * 64  # a tampered manifest of the same size
    before = path.stat()
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert path.stat().st_size == before.st_size and bundles.read_manifest(root)["m.pt"] == "f" * 64
    with pytest.raises(bundles.BundleError, match="sha256"):
        bundles.load("m", root)
