"""Training data for the image models: a Kermany-style folder (NORMAL/, PNEUMONIA/) or a MedMNIST-style .npz,
decoded once into memory at the model's input size (through the same `resize_square` the app uses).

Validation is split by patient (file names ``personN_...`` for pneumonia and ``IM-NNNN`` for normal studies),
so images of one patient never sit on both sides.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging.io import ImageLoadError, load_image
from cfx_desktop.core.imaging.preprocess import resize_square

PATIENT_PATTERNS = (re.compile(r"^(person\d+)_"), re.compile(r"^((?:NORMAL\d*-)?IM-\d+)-"))


@dataclass
class ImageSet:
    images: np.ndarray  # uint8 (N, S, S)
    labels: np.ndarray  # int64 (N,), 1 = pneumonia
    groups: np.ndarray  # patient id per image ('' when unknown)
    names: list[str]
    digest: dict[str, str]  # provenance: file sha256, or a digest over a folder's files


def patient_id(filename: str) -> str:
    for pattern in PATIENT_PATTERNS:
        match = pattern.match(filename)
        if match:
            return match.group(1)
    return Path(filename).stem


def _folder_digest(files: list[Path]) -> str:
    """sha256 over the sorted (relative name, file sha256) list: one fingerprint for thousands of files."""
    outer = hashlib.sha256()
    for path in files:
        outer.update(f"{path.parent.name}/{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return outer.hexdigest()


def _folder_files(root: Path) -> list[tuple[Path, int]]:
    files: list[tuple[Path, int]] = []
    for label, name in ((0, "NORMAL"), (1, "PNEUMONIA")):
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"{root} must contain NORMAL/ and PNEUMONIA/ folders")
        files += [(p, label) for p in sorted(folder.iterdir()) if p.suffix.lower() in (".jpeg", ".jpg", ".png", ".dcm")]
    return files


def validation_files(root: Path, seed: int = 0, fraction: float = 0.15) -> list[tuple[Path, int]]:
    """The validation images of `split_by_patient` for a folder, found from file names alone (no decoding)."""
    files = _folder_files(root)
    labels = np.array([lab for _, lab in files], dtype=np.int64)
    groups = np.array([patient_id(p.name) for p, _ in files])
    stub = ImageSet(np.zeros((len(files), 1, 1), dtype=np.uint8), labels, groups, [p.name for p, _ in files], {})
    _, valid = split_by_patient(stub, fraction, seed)
    return [files[i] for i in valid]


def load_folder(root: Path, size: int, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> ImageSet:  # noqa: ANN001
    files = _folder_files(root)
    images = np.zeros((len(files), size, size), dtype=np.uint8)
    kept = np.ones(len(files), dtype=bool)
    for i, (path, _) in enumerate(files):
        if i % 200 == 0:
            cancel.raise_if_cancelled()
            progress(i / len(files), f"decoding {i}/{len(files)}")
        try:
            pixels = load_image(path).pixels
        except ImageLoadError:
            kept[i] = False
            continue
        images[i] = np.round(resize_square(pixels, size)[0, 0].numpy() * 255).astype(np.uint8)
    files = [f for f, k in zip(files, kept) if k]
    names = [p.name for p, _ in files]
    return ImageSet(images[kept], np.array([lab for _, lab in files], dtype=np.int64),
                    np.array([patient_id(n) for n in names]), names,
                    {"folder": str(root), "files": str(len(files)), "sha256_of_file_hashes": _folder_digest([p for p, _ in files])})


def load_npz(path: Path, size: int, split: str = "train") -> ImageSet:
    from cfx_desktop.core.hashing import sha256_file

    with np.load(path) as data:
        if f"{split}_images" not in data:
            raise KeyError(f"{path} has no {split}_images array (found {', '.join(data.files)})")
        raw = data[f"{split}_images"]
        labels = data[f"{split}_labels"].reshape(-1).astype(np.int64)
    images = np.stack([np.round(resize_square(img.astype(np.float32) / 255.0, size)[0, 0].numpy() * 255).astype(np.uint8) for img in raw])
    names = [f"{split}_{i}" for i in range(len(raw))]
    return ImageSet(images, labels, np.array(names), names, {"file": path.name, "sha256": sha256_file(path), "split": split})


def split_by_patient(data: ImageSet, fraction: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): ``fraction`` of each class's patients go to validation, all their images."""
    rng = np.random.default_rng(seed)
    valid = np.zeros(len(data.labels), dtype=bool)
    for label in (0, 1):
        patients = np.unique(data.groups[data.labels == label])
        chosen = rng.choice(patients, size=max(1, int(round(fraction * len(patients)))), replace=False)
        valid |= (data.labels == label) & np.isin(data.groups, chosen)
    return np.flatnonzero(~valid), np.flatnonzero(valid)
