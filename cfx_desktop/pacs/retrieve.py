"""Retrieve one study into the cache: list its instances (C-FIND at image level), fetch only what is missing (the
whole study by C-GET, or the incomplete series when a previous retrieval was interrupted); a PACS that offers no
C-GET gets a message that says how to use C-MOVE instead (this app as a move destination, in receive mode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.pacs import dimse
from cfx_desktop.pacs.cache import StudyCache
from cfx_desktop.pacs.peer import PacsError, Peer


def _identifier(level: str, study_uid: str, series_uid: str = "") -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    return ds


def retrieve_study(peer: Peer, study_uid: str, cache: StudyCache, progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> list[Path]:
    """The study's files in the cache, fetching what is missing; a study already complete costs one query."""
    cache.folder(study_uid)  # refuses a UID that is not one before anything touches the network
    instances = dimse.find_instances(peer, study_uid, cancel)
    wanted = {str(i.get("SOPInstanceUID", "")): str(i.get("SeriesInstanceUID", "")) for i in instances}
    missing = {sop: series for sop, series in wanted.items() if sop and not cache.has(study_uid, sop)}
    if wanted and not missing:
        progress(1.0, f"all {len(wanted)} images already here")
        cache.touch(study_uid)
        return cache.paths(study_uid)
    failed: list[str] = []

    def keep(dataset: Dataset, _meta: Any) -> bool:
        try:
            if str(dataset.StudyInstanceUID) != study_uid:
                return False
            cache.put(dataset)
            return True
        except Exception as exc:  # noqa: BLE001 - one malformed instance is refused, the rest still arrive
            failed.append(f"{dataset.get('SOPInstanceUID', '?')}: {exc}")
            return False

    if not wanted or len(missing) == len(wanted):
        targets = [_identifier("STUDY", study_uid)]
    else:  # resume: only the series that are still incomplete
        targets = [_identifier("SERIES", study_uid, series) for series in sorted(set(missing.values()))]
    expected = len(missing) or 0
    received = 0
    for identifier in targets:
        try:
            received += dimse.get(peer, identifier, keep, expected, progress, cancel)
        except PacsError as exc:
            if "does not offer C-GET" in str(exc) or "refused the retrieval" in str(exc):
                raise PacsError(f"{exc}; the PACS may not offer C-GET: configure this app as a C-MOVE destination "
                                "and turn on receive mode") from exc
            raise
    cache.touch(study_uid)
    cache.evict(keep=study_uid)
    if received == 0 and missing:
        raise PacsError(f"{peer} sent none of the {len(missing)} images of study {study_uid}"
                        + (f" ({failed[0]})" if failed else ""))
    return cache.paths(study_uid)
