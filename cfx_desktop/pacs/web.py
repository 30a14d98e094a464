"""DICOMweb with dicomweb-client: QIDO-RS to find, WADO-RS to retrieve, STOW-RS to store; the same study browser
and send as DIMSE, for a peer given as an https address. Every request carries the peer's timeout."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.pacs.cache import Retrieved, StudyCache
from cfx_desktop.pacs.dimse import Study, StudyFilter, study_from
from cfx_desktop.pacs.peer import PacsError, Peer


def _client(peer: Peer) -> Any:
    from dicomweb_client import DICOMwebClient

    client = DICOMwebClient(peer.url, headers=dict(peer.headers) or None, timeout=peer.timeout)
    # its default retries 5 times with exponential waits (about 30 s on a dead server): one try, one message
    client.set_http_retry_params(retry=False)
    return client


def _call(peer: Peer, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    import requests

    try:
        return function(*args, **kwargs)
    except requests.exceptions.Timeout as exc:
        raise PacsError(f"{peer}: no answer to {what} within {peer.timeout:g} s") from exc
    except requests.exceptions.ConnectionError as exc:
        raise PacsError(f"{peer}: cannot connect for {what} (is the address right and the server running?)") from exc
    except requests.exceptions.HTTPError as exc:
        raise PacsError(f"{peer} refused {what} ({exc.response.status_code if exc.response is not None else exc})") from exc


def echo(peer: Peer) -> float:
    import time

    start = time.perf_counter()
    _call(peer, "a study query", _client(peer).search_for_studies, limit=1)
    return time.perf_counter() - start


def find_studies(peer: Peer, filters: StudyFilter = StudyFilter(), cancel: CancelToken = NEVER_CANCELLED) -> list[Study]:
    search = {k: v for k, v in {"PatientID": filters.patient_id, "PatientName": filters.patient_name,
                                "StudyDate": filters.date, "ModalitiesInStudy": filters.modality}.items() if v}
    found = _call(peer, "a study query", _client(peer).search_for_studies, search_filters=search or None,
                  fields=["StudyDescription", "NumberOfStudyRelatedInstances", "NumberOfStudyRelatedSeries"])
    return [study_from(Dataset.from_json(item)) for item in found]


def retrieve_study(peer: Peer, study_uid: str, cache: StudyCache, progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> Retrieved:
    """The study's files; an image that cannot be fetched is an error (what came before it stays cached), so
    nothing is ever missing from what this returns."""
    client = _client(peer)
    cache.folder(study_uid)
    listed = _call(peer, "an instance query", client.search_for_instances, study_instance_uid=study_uid)
    wanted = [Dataset.from_json(item) for item in listed]
    missing = [ds for ds in wanted if not cache.has(study_uid, str(ds.SOPInstanceUID))]
    for index, ds in enumerate(missing, 1):
        cancel.raise_if_cancelled()
        instance = _call(peer, "an image retrieval", client.retrieve_instance, study_uid, str(ds.SeriesInstanceUID),
                         str(ds.SOPInstanceUID))
        cache.put(instance)
        progress(index / len(missing), f"received {index} of {len(missing)}")
    cache.touch(study_uid)
    cache.evict(keep=study_uid)
    return Retrieved(cache.paths(study_uid))


def store(peer: Peer, datasets: list[Dataset], progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> int:  # noqa: ANN001
    if not datasets:
        return 0
    answer = _call(peer, "the store", _client(peer).store_instances, datasets)
    failed = answer.get("FailedSOPSequence", []) if answer is not None else []
    if failed:
        raise PacsError(f"{peer} refused to store {len(failed)} of {len(datasets)} instances")
    progress(1.0, f"stored {len(datasets)}")
    return len(datasets)
