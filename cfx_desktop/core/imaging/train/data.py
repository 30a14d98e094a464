"""Training data for the image models: a labelled folder (one sub-folder per class: Kermany's NORMAL/ and
PNEUMONIA/, or a user's own, see `LabelledFolder`) or a MedMNIST-style .npz, decoded once into memory at the
model's input size (through the same `resize_square` the app uses).

Validation is split by patient (for Kermany, file names ``personN_...`` for pneumonia and ``IM-NNNN`` for normal
studies; for other folders, as `core.imaging.user_models` decides), so one patient's images never sit on both sides.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging.io.load import ImageLoadError, load_image, visible_images
from cfx_desktop.core.imaging.models.preprocess import resize_square

PATIENT_PATTERNS = (re.compile(r"^(person\d+)_"), re.compile(r"^((?:NORMAL\d*-)?IM-\d+)-"))


@dataclass
class ImageSet:
    images: np.ndarray  # uint8 (N, S, S)
    labels: np.ndarray  # int64 (N,), 1 = pneumonia
    groups: np.ndarray  # patient id per image ('' when unknown)
    names: list[str]
    digest: dict[str, str]  # provenance: file sha256, or a digest over a folder's files
    skipped: list[str] = field(default_factory=list)  # files that could not be decoded: "class/name: why"


GROUPINGS = {
    "kermany": "patient ids from Kermany file names (personN_... / IM-NNNN-...)",
    "prefix": "patient ids = the part of each file name before its last '_' or '-'",
    "dicom": "patient ids from each DICOM file's PatientID",
    "file": "each image its own patient (no patient id found)",
}


@dataclass(frozen=True)
class LabelledFolder:
    """A folder with one sub-folder per class: which two (negative, positive) and how patient ids are read."""

    root: Path
    classes: tuple[str, str] = ("NORMAL", "PNEUMONIA")
    grouping: str = "kermany"  # a key of GROUPINGS


def as_folder(source: "Path | LabelledFolder") -> LabelledFolder:
    return source if isinstance(source, LabelledFolder) else LabelledFolder(Path(source))


def prefix_id(stem: str) -> str | None:
    """'p017' from 'p017_2' or 'p017-lateral'; None when the name has no separator."""
    match = re.match(r"^(.+?)[_-][^_-]*$", stem)
    return match.group(1) if match else None


def dicom_patient(path: Path) -> str:
    """The PatientID of a DICOM file's header ('' when absent or unreadable); pixels are not read."""
    import pydicom

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True, force=True).get("PatientID", "") or "").strip()
    except Exception:  # noqa: BLE001 - any damage means no id, and the file is judged when decoded
        return ""


def group_ids(files: list[Path], grouping: str) -> np.ndarray:
    if grouping == "kermany":
        return np.array([patient_id(p.name) for p in files])
    if grouping == "prefix":
        return np.array([f"{p.parent.name}/{prefix_id(p.stem) or p.stem}" for p in files])
    if grouping == "dicom":
        return np.array([dicom_patient(p) or f"{p.parent.name}/{p.name}" for p in files])
    if grouping == "file":
        return np.array([f"{p.parent.name}/{p.name}" for p in files])
    raise ValueError(f"unknown grouping {grouping!r}: one of {', '.join(GROUPINGS)}")


_decoded: dict[tuple, "ImageSet"] | None = None


@contextlib.contextmanager
def decoded_once() -> Iterator[None]:
    """Within the block a folder is decoded once per size, however many models train on it."""
    global _decoded
    outer = _decoded
    _decoded = {} if outer is None else outer
    try:
        yield
    finally:
        _decoded = outer


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


def _folder_files(source: "Path | LabelledFolder") -> list[tuple[Path, int]]:
    folder = as_folder(source)
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(folder.classes):
        sub = folder.root / name
        if not sub.is_dir():
            raise FileNotFoundError(f"{folder.root} must contain the class folders {' and '.join(folder.classes)}")
        files += [(p, label) for p in visible_images(sub)]
    return files


def validation_files(root: "Path | LabelledFolder", seed: int = 0, fraction: float = 0.15) -> list[tuple[Path, int]]:
    """The validation images of `split_by_patient` for a folder, found from file names alone (no decoding)."""
    files = _folder_files(root)
    labels = np.array([lab for _, lab in files], dtype=np.int64)
    groups = group_ids([p for p, _ in files], as_folder(root).grouping)
    stub = ImageSet(np.zeros((len(files), 1, 1), dtype=np.uint8), labels, groups, [p.name for p, _ in files], {})
    _, valid = split_by_patient(stub, fraction, seed)
    return [files[i] for i in valid]


def load_folder(source: "Path | LabelledFolder", size: int, progress=no_progress,  # noqa: ANN001
                cancel: CancelToken = NEVER_CANCELLED) -> ImageSet:
    folder = as_folder(source)
    key = (str(folder.root.resolve()), folder.classes, folder.grouping, size)
    if _decoded is not None and key in _decoded:
        return _decoded[key]
    files = _folder_files(folder)
    images = np.zeros((len(files), size, size), dtype=np.uint8)
    kept = np.ones(len(files), dtype=bool)
    skipped = []
    for i, (path, _) in enumerate(files):
        if i % 200 == 0:
            cancel.raise_if_cancelled()
            progress(i / len(files), f"decoding {i}/{len(files)}")
        try:
            pixels = load_image(path).pixels
        except ImageLoadError as exc:
            kept[i] = False
            skipped.append(f"{path.parent.name}/{path.name}: {str(exc).removeprefix(str(path) + ': ')}")
            continue
        images[i] = np.round(resize_square(pixels, size)[0, 0].numpy() * 255).astype(np.uint8)
    files = [f for f, k in zip(files, kept) if k]
    names = [p.name for p, _ in files]
    result = ImageSet(images[kept], np.array([lab for _, lab in files], dtype=np.int64),
                      group_ids([p for p, _ in files], folder.grouping), names,
                      {"folder": str(folder.root), "files": str(len(files)),
                       "sha256_of_file_hashes": _folder_digest([p for p, _ in files])}, skipped)
    if _decoded is not None:
        _decoded[key] = result
    return result


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
