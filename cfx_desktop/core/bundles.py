"""Model bundles: ``NAME.pt`` (a state dict of tensors only) + ``NAME.json`` (model card) + ``MANIFEST.json``.

Why so strict: weight files are the one input an installer ships that could carry code. Loading checks the
manifest's sha256 for both files first, then uses ``torch.load(weights_only=True)``, so a tampered or pickled-code
file is refused with a `BundleError` that names the file, and the app carries on with the other models.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cfx_desktop import paths
from cfx_desktop.core.hashing import sha256_file

MANIFEST = "MANIFEST.json"


class BundleError(RuntimeError):
    """A weight bundle is missing, unlisted, altered or unreadable."""


@dataclass(frozen=True)
class Bundle:
    name: str
    state: dict[str, torch.Tensor]
    card: dict[str, Any]


_lock = threading.Lock()


def _manifest_path(root: Path) -> Path:
    return root / MANIFEST


def read_manifest(root: Path | None = None) -> dict[str, str]:
    root = root or paths.weights_dir()
    path = _manifest_path(root)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: weights manifest is unreadable ({exc})") from exc
    files = data.get("files", {})
    if not isinstance(files, dict):
        raise BundleError(f"{path}: 'files' must map file names to sha256")
    return {str(k): str(v) for k, v in files.items()}


def list_bundles(root: Path | None = None) -> list[str]:
    """Names with both a .pt and a .json listed in the manifest, sorted."""
    manifest = read_manifest(root)
    return sorted(n[:-3] for n in manifest if n.endswith(".pt") and f"{n[:-3]}.json" in manifest)


def readable_cards(root: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(name, card) for every listed bundle whose card passes its hash check; refused ones are left out."""
    found = []
    for name in list_bundles(root):
        try:
            found.append((name, read_card(name, root)))
        except BundleError:
            continue
    return found


def read_card(name: str, root: Path | None = None) -> dict[str, Any]:
    root = root or paths.weights_dir()
    path = root / f"{name}.json"
    _verify(path, read_manifest(root))
    return json.loads(path.read_text(encoding="utf-8"))


def _verify(path: Path, manifest: dict[str, str]) -> None:
    if not path.exists():
        raise BundleError(f"{path.name}: file not found in {path.parent}")
    expected = manifest.get(path.name)
    if expected is None:
        raise BundleError(f"{path.name}: not listed in {MANIFEST}; refusing to load an unlisted weight file")
    actual = sha256_file(path)
    if actual != expected:
        raise BundleError(
            f"{path.name}: sha256 mismatch (expected {expected[:12]}..., found {actual[:12]}...); "
            "the file was altered or corrupted and will not be loaded"
        )


def load(name: str, root: Path | None = None) -> Bundle:
    root = root or paths.weights_dir()
    manifest = read_manifest(root)
    pt_path, card_path = root / f"{name}.pt", root / f"{name}.json"
    _verify(pt_path, manifest)
    _verify(card_path, manifest)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"{card_path.name}: model card is not valid JSON ({exc})") from exc
    try:
        state = torch.load(io.BytesIO(pt_path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickled code or a broken zip ends up here
        raise BundleError(f"{pt_path.name}: refused by the safe loader (weights_only=True): {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BundleError(f"{pt_path.name}: expected a state dict of tensors")
    return Bundle(name, state, card)


def save(name: str, state: dict[str, torch.Tensor], card: dict[str, Any], root: Path | None = None) -> Path:
    """Write the pair and record both hashes in the manifest (the only writer of the manifest)."""
    root = root or paths.weights_dir()
    root.mkdir(parents=True, exist_ok=True)
    pt_path, card_path = root / f"{name}.pt", root / f"{name}.json"
    clean = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    torch.save(clean, pt_path)
    card_path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    with _lock:
        manifest = read_manifest(root)
        manifest[pt_path.name] = sha256_file(pt_path)
        manifest[card_path.name] = sha256_file(card_path)
        body = {"comment": "sha256 of every shipped weight file; checked before loading", "files": dict(sorted(manifest.items()))}
        _manifest_path(root).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return pt_path
