"""Retrieve one study into the cache: list its instances (C-FIND at image level), fetch only what is missing (the
whole study by C-GET, or the incomplete series when a previous retrieval was interrupted). A PACS that offers no
C-GET is asked for a C-MOVE to this app's own AE title, received by a storage SCP that runs for that retrieval
only (``move_port``; the PACS must know the AE title, host and port); without a port, the message says so.
"""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.pacs import dimse
from cfx_desktop.pacs.cache import Retrieved, StudyCache
from cfx_desktop.pacs.peer import PacsError, Peer


def _identifier(level: str, study_uid: str, series_uid: str = "", sop_uids: list[str] | None = None) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    if sop_uids:
        ds.SOPInstanceUID = sop_uids  # a list of UIDs: one retrieval for the images still missing in a series
    return ds


def _move(peer: Peer, targets: list[Dataset], cache: StudyCache, port: int, host: str, cancel: CancelToken) -> int:
    """C-MOVE each target to this app's AE title, received into ``cache`` by a storage SCP on ``host:port``.
    The PACS answers a C-MOVE only once its sub-operations are done, so the files are there when it returns."""
    from cfx_desktop.pacs.receive import Receiver

    receiver = Receiver(cache, host, port, peer.own_ae).start()
    try:
        for identifier in targets:
            dimse.move(peer, identifier, peer.own_ae, cancel)
    finally:
        receiver.stop()
    if receiver.refused:
        raise PacsError(f"{len(receiver.refused)} images sent by {peer} were refused: {receiver.refused[0]}")
    return len(receiver.received)


def retrieve_study(peer: Peer, study_uid: str, cache: StudyCache, progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED, move_port: int | None = None,
                   move_host: str = "127.0.0.1") -> Retrieved:
    """The study's files in the cache, fetching what is missing; a study already complete costs one query."""
    cache.folder(study_uid)  # refuses a UID that is not one before anything touches the network
    instances = dimse.find_instances(peer, study_uid, cancel)
    wanted = {str(i.get("SOPInstanceUID", "")): str(i.get("SeriesInstanceUID", "")) for i in instances}
    missing = {sop: series for sop, series in wanted.items() if sop and not cache.has(study_uid, sop)}
    if wanted and not missing:
        progress(1.0, f"all {len(wanted)} images already here")
        cache.touch(study_uid)
        return Retrieved(cache.paths(study_uid))
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
    else:  # resume: per incomplete series, only the images it still lacks (list-of-UID matching, PS3.4 C.2.2.2.2)
        targets = [_identifier("IMAGE", study_uid, series, sorted(s for s, of in missing.items() if of == series))
                   for series in sorted(set(missing.values()))]
    expected = len(missing)
    received = 0
    for index, identifier in enumerate(targets):
        try:
            received += dimse.get(peer, identifier, keep, expected, progress, cancel)
        except PacsError as exc:
            if "does not offer C-GET" not in str(exc):
                raise
            if move_port is None:
                raise PacsError(f"{exc}: give a port to receive a C-MOVE on (--move-port), and add this app "
                                f"({peer.own_ae}, this host, that port) to the PACS's modalities") from exc
            received += _move(peer, targets[index:], cache, move_port, move_host, cancel)
            break
    cache.touch(study_uid)
    cache.evict(keep=study_uid)
    if received == 0 and missing:
        raise PacsError(f"{peer} sent none of the {len(missing)} images of study {study_uid}"
                        + (f" ({failed[0]})" if failed else ""))
    return Retrieved(cache.paths(study_uid), sum(1 for sop in missing if not cache.has(study_uid, sop)))
