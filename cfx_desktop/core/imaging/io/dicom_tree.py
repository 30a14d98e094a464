"""A folder of DICOM files, or a DICOMDIR, as a patient / study / series / image tree.

Why a tree: a reading-room folder holds many series (a PA and a lateral, priors, a CT) and a flat list of file
names like ``6154`` says nothing. A DICOMDIR is read with pydicom's `FileSet` (its records already hold the
hierarchy); a folder without one is grouped from each file's header (read without pixel data, so a large
folder lists quickly). Files that are not DICOM are left to the ordinary image list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken

MAX_FILES = 5000  # a folder scan stops here and says so
PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}


class DicomTreeError(ValueError):
    """The DICOMDIR or folder cannot be read as DICOM; the message says why."""


@dataclass
class Instance:
    path: str
    number: int | None = None
    frames: int = 1

    def label(self) -> str:
        frames = f", {self.frames} frames" if self.frames > 1 else ""
        return f"image {self.number if self.number is not None else '?'}{frames}  ({Path(self.path).name})"


@dataclass
class Series:
    uid: str
    modality: str = ""
    number: str = ""
    description: str = ""
    body_part: str = ""
    view: str = ""
    instances: list[Instance] = field(default_factory=list)

    def label(self) -> str:
        what = " ".join(x for x in (self.modality, self.body_part, self.view) if x)
        return f"series {self.number or '?'}: {what or 'unknown'} {self.description}".strip() + f" ({len(self.instances)})"


@dataclass
class Study:
    uid: str
    date: str = ""
    description: str = ""
    series: dict[str, Series] = field(default_factory=dict)

    def label(self) -> str:
        date = f"{self.date[:4]}-{self.date[4:6]}-{self.date[6:8]}" if len(self.date) == 8 else self.date or "undated"
        return f"{date}  {self.description or 'study'}"


@dataclass
class Patient:
    id: str
    name: str = ""
    studies: dict[str, Study] = field(default_factory=dict)

    def label(self) -> str:
        return f"{self.name or 'unnamed'} ({self.id or 'no id'})"


@dataclass
class DicomTree:
    source: str
    patients: dict[str, Patient] = field(default_factory=dict)
    skipped: int = 0  # files that were not readable DICOM images
    truncated: bool = False

    def image_paths(self) -> list[str]:
        return [i.path for p in self.patients.values() for s in p.studies.values() for r in s.series.values() for i in r.instances]

    def add(self, path: str, header) -> None:  # noqa: ANN001 - a pydicom Dataset or FileInstance
        def get(key: str) -> str:
            try:
                value = header.get(key, "") if hasattr(header, "get") else getattr(header, key, "")
            except Exception:  # noqa: BLE001 - a malformed element reads as absent
                value = ""
            return str(value if value is not None else "").strip()

        patient = self.patients.setdefault(get("PatientID") or "?", Patient(get("PatientID"), get("PatientName")))
        study_uid = get("StudyInstanceUID") or "?"
        study = patient.studies.setdefault(study_uid, Study(study_uid, get("StudyDate"), get("StudyDescription")))
        series_uid = get("SeriesInstanceUID") or "?"
        series = study.series.setdefault(series_uid, Series(series_uid, get("Modality"), get("SeriesNumber"), get("SeriesDescription"),
                                                            get("BodyPartExamined"), get("ViewPosition")))
        number = get("InstanceNumber")
        frames = get("NumberOfFrames")
        series.instances.append(Instance(path, int(number) if number.isdigit() else None, int(frames) if frames.isdigit() else 1))

    def sort(self) -> None:
        for patient in self.patients.values():
            for study in patient.studies.values():
                for series in study.series.values():
                    series.instances.sort(key=lambda i: (i.number is None, i.number or 0, i.path))


def is_dicomdir(path: Path) -> bool:
    return path.is_file() and path.name.upper() == "DICOMDIR"


def _has_dicm(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _record_offsets_loop(ds) -> bool:  # noqa: ANN001 - a pydicom Dataset
    """Whether the directory records' next / lower-level offsets lead back to a record already reached.

    pydicom's FileSet follows those offsets without remembering where it has been (3.0), so a damaged DICOMDIR
    whose offsets loop makes it spin for ever; walked here first, each record at most once. A missing or dangling
    offset is left to FileSet, which refuses it with an error of its own."""
    records = {record.seq_item_tell: record for record in getattr(ds, "DirectoryRecordSequence", None) or []}
    seen: set[int] = set()
    pending = [getattr(ds, "OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity", None)]
    while pending:
        offset = pending.pop()
        while offset:  # one entity's chain of sibling records
            if offset in seen:
                return True
            seen.add(offset)
            record = records.get(offset)
            if record is None:
                break
            pending.append(getattr(record, "OffsetOfReferencedLowerLevelDirectoryEntity", None))
            offset = getattr(record, "OffsetOfTheNextDirectoryRecord", None)
    return False


def read_dicomdir(path: str | Path) -> DicomTree:
    import pydicom
    from pydicom.fileset import FileSet

    path = Path(path)
    try:
        dataset = pydicom.dcmread(path, force=True)
        if _record_offsets_loop(dataset):
            raise DicomTreeError(f"{path}: the DICOMDIR is damaged: its directory records point back to one another, "
                                 "so the tree cannot be built (open the folder's files without the DICOMDIR instead)")
        fileset = FileSet(dataset)
    except DicomTreeError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for a damaged DICOMDIR
        raise DicomTreeError(f"{path}: the DICOMDIR cannot be read ({type(exc).__name__}: {exc})") from None
    tree = DicomTree(str(path))
    for instance in fileset:
        if not Path(instance.path).exists():
            tree.skipped += 1
            continue
        tree.add(instance.path, instance)
    tree.sort()
    return tree


def scan_folder(folder: str | Path, cancel: CancelToken = NEVER_CANCELLED) -> DicomTree:
    """Group the DICOM files of ``folder`` (and its sub-folders) by patient, study and series."""
    import pydicom

    folder = Path(folder)
    tree = DicomTree(str(folder))
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        cancel.raise_if_cancelled()
        if not (_has_dicm(path) or path.suffix.lower() in (".dcm", ".dicom")):
            continue
        count += 1
        if count > MAX_FILES:
            tree.truncated = True
            break
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception:  # noqa: BLE001 - an unreadable file is counted, not fatal
            tree.skipped += 1
            continue
        if "Rows" not in header and "PixelData" not in header:
            tree.skipped += 1  # a report, a DICOMDIR or another non-image object
            continue
        tree.add(str(path), header)
    tree.sort()
    return tree


def tree_for(path: str | Path, cancel: CancelToken = NEVER_CANCELLED) -> DicomTree | None:
    """The tree for a DICOMDIR (or a folder holding one), or for a folder of DICOM files; None when the folder
    holds no DICOM (it is then an ordinary image folder)."""
    path = Path(path)
    if is_dicomdir(path):
        return read_dicomdir(path)
    if path.is_dir():
        if (path / "DICOMDIR").is_file():
            return read_dicomdir(path / "DICOMDIR")
        if any(p.suffix.lower() in PICTURE_SUFFIXES for p in path.iterdir() if p.is_file()):
            return None  # PNG/JPEG/TIFF beside the DICOMs: one flat list of everything is clearer
        tree = scan_folder(path, cancel)
        return tree if tree.patients else None
    return None
