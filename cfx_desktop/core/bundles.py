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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where tensors are read or written: listing and hashing bundles stays torch-free
    import torch

from cfx_desktop import paths
from cfx_desktop.core.hashing import sha256_file

MANIFEST = "MANIFEST.json"


class BundleError(RuntimeError):
    """A weight bundle is missing, unlisted, altered or unreadable."""


@dataclass(frozen=True)
class Bundle:
    name: str
    state: "dict[str, torch.Tensor]"
    card: dict[str, Any]


_lock = threading.Lock()


def _manifest_path(root: Path) -> Path:
    return root / MANIFEST


_parsed: dict[Path, tuple[tuple[int, int, int], dict[str, str]]] = {}  # manifest -> ((mtime_ns, size, inode), files)
_parsed_lock = threading.Lock()  # its own: `save` reads the manifest while holding `_lock`


def read_manifest(root: Path | None = None) -> dict[str, str]:
    """The manifest's file -> sha256 map. Parsed again only when the file changed (its modification time or
    size, or its inode when replaced): every model lookup on the live path asks for it, 24 times per suggestion."""
    root = root or paths.weights_dir()
    path = _manifest_path(root)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BundleError(f"{path}: weights manifest is unreadable ({exc})") from exc
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _parsed_lock:
        known = _parsed.get(path)
    if known is not None and known[0] == stamp:
        return dict(known[1])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: weights manifest is unreadable ({exc})") from exc
    files = data.get("files", {}) if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise BundleError(f"{path}: 'files' must map file names to sha256")
    parsed = {str(k): str(v) for k, v in files.items()}
    with _parsed_lock:
        _parsed[path] = (stamp, parsed)
    return dict(parsed)


_extra_roots: list[Path] = []  # folders of bundles the user trained (datasets from their own CSV), each with a manifest


def add_root(root: Path) -> None:
    """Also look for bundles in ``root`` (its own manifest, checked the same way as the shipped one)."""
    root = Path(root)
    with _lock:
        if root not in _extra_roots:
            _extra_roots.append(root)


def remove_root(root: Path) -> None:
    with _lock:
        if Path(root) in _extra_roots:
            _extra_roots.remove(Path(root))


def roots() -> list[Path]:
    """The shipped weights first, then the user's folders."""
    with _lock:
        return [paths.weights_dir(), *_extra_roots]


def root_of(name: str) -> Path:
    """The folder whose manifest lists ``name`` (the shipped one wins a clash); the shipped folder if none does."""
    for root in roots():
        try:
            if f"{name}.pt" in read_manifest(root):
                return root
        except BundleError:
            continue
    return paths.weights_dir()


def list_bundles(root: Path | None = None) -> list[str]:
    """Names with both a .pt and a .json listed in the manifest, sorted; without ``root``, of every folder."""
    if root is None:
        found: set[str] = set()
        for folder in roots():
            try:
                found.update(list_bundles(folder))
            except BundleError:
                if folder == paths.weights_dir():
                    raise
        return sorted(found)
    manifest = read_manifest(root)
    return sorted(n[:-3] for n in manifest if n.endswith(".pt") and f"{n[:-3]}.json" in manifest)


_refused: dict[Path, dict[str, str]] = {}  # per weights folder: what the launch check refused, and why


def check_integrity(root: Path | None = None) -> dict[str, str]:
    """Hash every listed bundle (both files) once; return {name: reason} for the refused ones.

    Why at launch: a bundle is otherwise checked only when first loaded, so an altered autoencoder went
    unnoticed until someone asked for a counterfactual. The result is remembered: `readable_cards` (and so every
    model list) leaves refused bundles out from then on. Costs ~0.07 s for the shipped 7 MB.
    """
    root = (root or paths.weights_dir()).resolve()
    refused: dict[str, str] = {}
    try:
        manifest = read_manifest(root)
    except BundleError as exc:
        refused = {name: str(exc) for name in _names_on_disk(root)}
    else:
        for name in list_bundles(root):
            try:
                for suffix in (".pt", ".json"):
                    _verify(root / f"{name}{suffix}", manifest)
            except BundleError as exc:
                refused[name] = str(exc)
    with _lock:
        _refused[root] = refused
    return refused


def _names_on_disk(root: Path) -> list[str]:
    return sorted(p.stem for p in root.glob("*.pt")) if root.is_dir() else []


def refused_bundles(root: Path | None = None) -> dict[str, str]:
    """What the last `check_integrity` of this folder refused ({} if it has not run)."""
    with _lock:
        return dict(_refused.get((root or paths.weights_dir()).resolve(), {}))


def short_reason(reason: str) -> str:
    """"sha256 mismatch" and the like, for banners and the self-test line (the full text goes to details)."""
    for key in ("sha256 mismatch", "not listed", "file not found", "unreadable"):
        if key in reason:
            return key
    return reason.split(":", 1)[-1].strip()[:60]


def readable_cards(root: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(name, card) for every listed bundle whose card passes its hash check and that the launch check did not
    refuse; refused ones are left out."""
    found = []
    refused = refused_bundles(root)
    for name in list_bundles(root):
        if name in refused:
            continue
        try:
            found.append((name, read_card(name, root)))
        except BundleError:
            continue
    return found


def read_card(name: str, root: Path | None = None) -> dict[str, Any]:
    root = root or root_of(name)
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
    root = root or root_of(name)
    manifest = read_manifest(root)
    pt_path, card_path = root / f"{name}.pt", root / f"{name}.json"
    _verify(pt_path, manifest)
    _verify(card_path, manifest)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"{card_path.name}: model card is not valid JSON ({exc})") from exc
    import torch

    try:
        state = torch.load(io.BytesIO(pt_path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickled code or a broken zip ends up here
        raise BundleError(f"{pt_path.name}: refused by the safe loader (weights_only=True): {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BundleError(f"{pt_path.name}: expected a state dict of tensors")
    return Bundle(name, state, card)


def save(name: str, state: dict[str, torch.Tensor], card: dict[str, Any], root: Path | None = None) -> Path:
    """Write the pair and record both hashes in the manifest (the only writer of the manifest)."""
    import torch

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
    with _parsed_lock:  # parse it afresh next time, even if this write kept its size within the clock's tick
        _parsed.pop(_manifest_path(root), None)
    return pt_path
