"""DIMSE with pynetdicom: C-ECHO, C-FIND (study, series and image level), C-GET (C-MOVE to the app's own storage
SCP as the fallback) and C-STORE, each bounded by the peer's timeout and cancellable between instances.

Why C-GET first: it needs no configuration on the PACS (the images come back on the same association), whereas
C-MOVE needs the PACS to know this app's AE title, host and port. Retrieval goes through `cache.StudyCache`, so a
study interrupted half-way resumes with only the series it still lacks.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pydicom
from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, build_role, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, Cancelled, no_progress
from cfx_desktop.pacs.peer import Peer, PacsError

logging.getLogger("pynetdicom").setLevel(logging.WARNING)

STORAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1": "CR Image",
    "1.2.840.10008.5.1.4.1.1.1.1": "DX Image (for presentation)",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "DX Image (for processing)",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image",
    "1.2.840.10008.5.1.4.1.1.7.2": "Multi-frame Grayscale Byte SC Image",
    "1.2.840.10008.5.1.4.1.1.7.3": "Multi-frame Grayscale Word SC Image",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color SC Image",
    "1.2.840.10008.5.1.4.1.1.2": "CT Image",
    "1.2.840.10008.5.1.4.1.1.4": "MR Image",
    "1.2.840.10008.5.1.4.1.1.6.1": "US Image",
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
}
"""What this app accepts from a PACS (C-GET sub-operations, C-MOVE and its receive mode): the radiograph classes it
analyses, the classes it writes, and CT / MR / US (shown, and withheld by the guard as not chest radiographs)."""

STUDY_KEYS = ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "StudyTime", "StudyDescription",
              "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
SERIES_KEYS = ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription", "NumberOfSeriesRelatedInstances")
IMAGE_KEYS = ("SOPInstanceUID", "SOPClassUID", "SeriesInstanceUID", "InstanceNumber")


@dataclass(frozen=True)
class StudyFilter:
    patient_id: str = ""
    patient_name: str = ""  # wildcards as DICOM has them: "DOE^*"
    date: str = ""  # YYYYMMDD or a range YYYYMMDD-YYYYMMDD
    modality: str = ""

    def query(self) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        for key in STUDY_KEYS:
            setattr(ds, key, "")
        ds.PatientID, ds.PatientName, ds.StudyDate = self.patient_id, self.patient_name, self.date
        ds.ModalitiesInStudy = self.modality
        return ds


@dataclass
class Study:
    uid: str
    patient_id: str = ""
    patient_name: str = ""
    date: str = ""
    description: str = ""
    accession: str = ""
    modalities: list[str] = field(default_factory=list)
    series: int | None = None
    instances: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The keys the reading-room scripts read (DICOM keywords, as QIDO-RS names them)."""
        return {"StudyInstanceUID": self.uid, "PatientID": self.patient_id, "PatientName": self.patient_name,
                "StudyDate": self.date, "StudyDescription": self.description, "AccessionNumber": self.accession,
                "ModalitiesInStudy": self.modalities, "NumberOfStudyRelatedSeries": self.series,
                "NumberOfStudyRelatedInstances": self.instances}


def _text(ds: Dataset, key: str) -> str:
    value = ds.get(key, "")
    return "" if value is None else str(value)


def _count(ds: Dataset, key: str) -> int | None:
    value = ds.get(key, None)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def study_from(ds: Dataset) -> Study:
    modalities = ds.get("ModalitiesInStudy", "") or ""
    modalities = [str(m) for m in modalities] if not isinstance(modalities, str) else [m for m in modalities.split("\\") if m]
    return Study(_text(ds, "StudyInstanceUID"), _text(ds, "PatientID"), _text(ds, "PatientName"), _text(ds, "StudyDate"),
                 _text(ds, "StudyDescription"), _text(ds, "AccessionNumber"), modalities,
                 _count(ds, "NumberOfStudyRelatedSeries"), _count(ds, "NumberOfStudyRelatedInstances"))


def _ae(peer: Peer) -> AE:
    ae = AE(ae_title=peer.own_ae)
    # every step bounded: the TCP connect, the association negotiation, each DIMSE reply and an idle network
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = peer.timeout
    return ae


@contextmanager
def associate(peer: Peer, contexts: Sequence[str | tuple[str, Sequence[str]]], *, storage_roles: bool = False,
              handlers: list | None = None) -> Iterator[Any]:
    """An established association, released (or aborted on an error) on leaving; failures as `PacsError`.
    A context is an abstract syntax, or one with the transfer syntaxes to offer."""
    if peer.is_web:
        raise PacsError(f"{peer} is a DICOMweb address; this step needs a DIMSE peer (AET@HOST:PORT)")
    ae = _ae(peer)
    for context in contexts:
        ae.add_requested_context(*((context,) if isinstance(context, str) else context))
    roles = []
    if storage_roles:  # C-GET: the peer sends the images back as C-STORE on this association
        for uid in STORAGE_CLASSES:
            ae.add_requested_context(uid, ALL_TRANSFER_SYNTAXES)
            roles.append(build_role(uid, scp_role=True))
    context = peer.tls_context()  # reads the CA bundle (and the app's certificate): once per association
    tls = (context, peer.host) if context is not None else None
    try:
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, ext_neg=roles or None,
                             evt_handlers=handlers or None, tls_args=tls)
    except OSError as exc:
        raise PacsError(f"{peer}: cannot connect ({exc})") from exc
    if assoc.is_rejected:
        raise PacsError(f"{peer} rejected the association (does it know this app's AE title {peer.own_ae!r}, and is "
                        f"its own AE title {peer.ae_title!r}?)")
    if not assoc.is_established:
        raise PacsError(f"{peer}: no answer within {peer.timeout:g} s (is the address right and the PACS running?)")
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    else:
        if assoc.is_established:
            assoc.release()


def _status_text(status: Dataset | None) -> str:
    if status is None or "Status" not in status:
        return "no reply within the timeout"
    code = int(status.Status)
    comment = f": {status.ErrorComment}" if "ErrorComment" in status else ""
    return f"status 0x{code:04X}{comment}"


def echo(peer: Peer) -> float:
    """C-ECHO; the round trip in seconds."""
    import time

    start = time.perf_counter()
    with associate(peer, [Verification]) as assoc:
        status = assoc.send_c_echo()
        if status is None or "Status" not in status or int(status.Status) != 0:
            raise PacsError(f"{peer} answered the echo with {_status_text(status)}")
    return time.perf_counter() - start


def find(peer: Peer, query: Dataset, cancel: CancelToken = NEVER_CANCELLED) -> list[Dataset]:
    """C-FIND at the query's level (study root); the identifiers of every pending reply."""
    found: list[Dataset] = []
    with associate(peer, [StudyRootQueryRetrieveInformationModelFind]) as assoc:
        for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
            cancel.raise_if_cancelled()
            if status is None or "Status" not in status:
                raise PacsError(f"{peer} stopped answering the query ({_status_text(status)})")
            code = int(status.Status)
            if code in (0xFF00, 0xFF01) and identifier is not None:
                found.append(identifier)
            elif code != 0:
                raise PacsError(f"{peer} refused the query ({_status_text(status)})")
    return found


def find_studies(peer: Peer, filters: StudyFilter = StudyFilter(), cancel: CancelToken = NEVER_CANCELLED) -> list[Study]:
    return [study_from(ds) for ds in find(peer, filters.query(), cancel)]


def _level(level: str, keys: Sequence[str], **known: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for key in keys:
        setattr(ds, key, "")
    for key, value in known.items():
        setattr(ds, key, value)
    return ds


def find_series(peer: Peer, study_uid: str, cancel: CancelToken = NEVER_CANCELLED) -> list[Dataset]:
    return find(peer, _level("SERIES", SERIES_KEYS, StudyInstanceUID=study_uid), cancel)


def find_instances(peer: Peer, study_uid: str, cancel: CancelToken = NEVER_CANCELLED) -> list[Dataset]:
    return find(peer, _level("IMAGE", IMAGE_KEYS, StudyInstanceUID=study_uid), cancel)


StoreSink = Callable[[Dataset, Any], bool]
"""(dataset, file meta) -> kept; called for every image that arrives (C-GET or C-MOVE)."""


def get(peer: Peer, identifier: Dataset, sink: StoreSink, expected: int = 0, progress=no_progress,  # noqa: ANN001
        cancel: CancelToken = NEVER_CANCELLED) -> int:
    """C-GET of ``identifier`` (a study, series or image), every instance handed to ``sink``; the number kept.
    Cancel aborts the association between instances (what arrived stays in the sink)."""
    kept = [0]

    def on_store(event: Any) -> int:
        if cancel.cancelled:
            return 0xA702  # refused: out of resources (the association is being aborted)
        try:
            dataset = event.dataset
            dataset.file_meta = event.file_meta
        except Exception:  # noqa: BLE001 - a malformed dataset is refused, never a crash
            return 0xC210  # cannot understand
        if not sink(dataset, event.file_meta):
            return 0xC211
        kept[0] += 1
        progress(kept[0] / expected if expected else 0.0, f"received {kept[0]}" + (f" of {expected}" if expected else ""))
        return 0x0000

    with associate(peer, [StudyRootQueryRetrieveInformationModelGet], storage_roles=True,
                   handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
        if not any(c.abstract_syntax == StudyRootQueryRetrieveInformationModelGet for c in assoc.accepted_contexts):
            raise PacsError(f"{peer} does not offer C-GET (study root)")
        for status, _ in assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet):
            cancel.raise_if_cancelled()
            if status is None or "Status" not in status:
                raise PacsError(f"{peer} stopped answering the retrieval ({_status_text(status)})")
            code = int(status.Status)
            if code in (0xFF00,):
                continue
            if code not in (0x0000, 0xB000):  # B000: some sub-operations failed; what arrived is kept
                raise PacsError(f"{peer} refused the retrieval ({_status_text(status)})")
    return kept[0]


def move(peer: Peer, identifier: Dataset, destination: str, cancel: CancelToken = NEVER_CANCELLED) -> None:
    """C-MOVE to ``destination`` (the app's own storage SCP, which the PACS must know): the fallback for a PACS
    that does not offer C-GET."""
    with associate(peer, [StudyRootQueryRetrieveInformationModelMove]) as assoc:
        for status, _ in assoc.send_c_move(identifier, destination, StudyRootQueryRetrieveInformationModelMove):
            cancel.raise_if_cancelled()
            if status is None or "Status" not in status:
                raise PacsError(f"{peer} stopped answering the move ({_status_text(status)})")
            code = int(status.Status)
            if code == 0xA801:
                raise PacsError(f"{peer} does not know the move destination {destination!r} (add it to the PACS's modalities)")
            if code not in (0xFF00, 0x0000, 0xB000):
                raise PacsError(f"{peer} refused the move ({_status_text(status)})")


def store(peer: Peer, datasets: Sequence[Dataset | Path], progress=no_progress,  # noqa: ANN001
          cancel: CancelToken = NEVER_CANCELLED) -> int:
    """C-STORE each dataset (in its own transfer syntax); the number stored. A refused store is an error that
    names the instance and the peer's status. A file is read when its turn comes (its header first, for the
    association), so a study's results are never all in memory at once."""
    if not datasets:
        return 0
    syntaxes: dict[str, set[str]] = {}  # one context per SOP class, in the datasets' own transfer syntaxes
    for item in datasets:
        ds = pydicom.dcmread(item, stop_before_pixels=True) if isinstance(item, Path) else item
        syntaxes.setdefault(str(ds.SOPClassUID), set()).add(str(ds.file_meta.TransferSyntaxUID))
    stored = 0
    with associate(peer, [(uid, sorted(transfer)) for uid, transfer in syntaxes.items()]) as assoc:
        for item in datasets:
            cancel.raise_if_cancelled()
            ds = pydicom.dcmread(item) if isinstance(item, Path) else item
            try:
                status = assoc.send_c_store(ds)
            # pynetdicom could not encode it, lacks what a store needs, or met a multi-valued UID (a backslash in it)
            except (ValueError, AttributeError, TypeError) as exc:
                raise PacsError(f"{ds.get('SOPInstanceUID', '?')} cannot be sent ({exc})") from exc
            if status is None or "Status" not in status or int(status.Status) not in (0x0000, 0xB000, 0xB007, 0xB006):
                raise PacsError(f"{peer} refused to store {ds.SOPInstanceUID} ({_status_text(status)})")
            stored += 1
            progress(stored / len(datasets), f"stored {stored} of {len(datasets)}")
    return stored


__all__ = ["Cancelled", "PacsError", "STORAGE_CLASSES", "Study", "StudyFilter", "associate", "echo", "find",
           "find_instances", "find_series", "find_studies", "get", "move", "store"]
