"""The local copy of retrieved studies: one folder per study, one file per instance named by its SOP Instance UID,
with a size limit that evicts the least recently used studies (never the one being worked on).

Why files first: an image is on disk before anything analyses it, so a failed or cancelled analysis loses
nothing, and a retrieval interrupted half-way resumes with what is still missing.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from pydicom.dataset import Dataset

DEFAULT_LIMIT_BYTES = 2 * 1024**3

_UID = re.compile(r"^[0-9.]{1,64}$")


def safe_uid(uid: str, what: str = "UID") -> str:
    """A UID used as a file name: digits and dots only, so a crafted dataset cannot name a path."""
    uid = str(uid).strip()
    if not _UID.match(uid):
        raise ValueError(f"{what} {uid!r} is not a DICOM UID (digits and dots, at most 64)")
    return uid


class Retrieved(list):
    """A study's files in the cache, and how many images the PACS listed that did not arrive (``missing``: a
    retrieval whose sub-operations partly failed still keeps what came; a retry fetches only the rest)."""

    def __init__(self, paths: list[Path], missing: int = 0) -> None:
        super().__init__(paths)
        self.missing = missing


class StudyCache:
    def __init__(self, root: Path, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self.root = Path(root)
        self.limit_bytes = limit_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, study_uid: str) -> Path:
        return self.root / safe_uid(study_uid, "Study Instance UID")

    def path(self, study_uid: str, sop_uid: str) -> Path:
        return self.folder(study_uid) / f"{safe_uid(sop_uid, 'SOP Instance UID')}.dcm"

    def has(self, study_uid: str, sop_uid: str) -> bool:
        return self.path(study_uid, sop_uid).is_file()

    def put(self, dataset: Dataset) -> Path:
        """Write one instance (atomically: a half-written file never looks complete)."""
        target = self.path(str(dataset.StudyInstanceUID), str(dataset.SOPInstanceUID))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        dataset.save_as(partial, enforce_file_format=True)
        os.replace(partial, target)
        return target

    def paths(self, study_uid: str) -> list[Path]:
        folder = self.folder(study_uid)
        return sorted(folder.glob("*.dcm")) if folder.is_dir() else []

    def touch(self, study_uid: str) -> None:
        folder = self.folder(study_uid)
        if folder.is_dir():
            os.utime(folder, (time.time(), time.time()))

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def evict(self, keep: str = "") -> list[str]:
        """Remove whole studies, least recently used first, until the cache is within its limit; ``keep`` (the
        study in use) is never removed. The removed studies' UIDs."""
        removed: list[str] = []
        studies = sorted((p for p in self.root.iterdir() if p.is_dir() and p.name != keep), key=lambda p: p.stat().st_mtime)
        total = self.size()
        for folder in studies:
            if total <= self.limit_bytes:
                break
            total -= sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
        return removed
