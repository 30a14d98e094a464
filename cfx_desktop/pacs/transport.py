"""The one face the CLI and the study browser call: each step goes to DIMSE (`dimse`, `retrieve`) or DICOMweb
(`web`) by the form of the peer, so neither caller knows which transport it is using."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pydicom

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.pacs import dimse, retrieve, web
from cfx_desktop.pacs.cache import Retrieved, StudyCache
from cfx_desktop.pacs.dimse import Study, StudyFilter
from cfx_desktop.pacs.peer import Peer

WEB_CHUNK = 50  # instances per STOW-RS request: a study's results are never one request held in memory


def echo(peer: Peer) -> float:
    return web.echo(peer) if peer.is_web else dimse.echo(peer)


def find_studies(peer: Peer, filters: StudyFilter = StudyFilter(), cancel: CancelToken = NEVER_CANCELLED) -> list[Study]:
    return (web if peer.is_web else dimse).find_studies(peer, filters, cancel)


def retrieve_study(peer: Peer, study_uid: str, cache: StudyCache, progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED, move_port: int | None = None) -> Retrieved:
    """``move_port``: where to receive a C-MOVE from a DIMSE peer that offers no C-GET."""
    if peer.is_web:
        return web.retrieve_study(peer, study_uid, cache, progress, cancel)
    return retrieve.retrieve_study(peer, study_uid, cache, progress, cancel, move_port=move_port)


def send_files(peer: Peer, files: Sequence[Path], progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> int:  # noqa: ANN001
    """Store the app's results (SRs and Secondary Captures written by `analyse`) in the peer, reading each file
    when it is sent (DIMSE) or a chunk at a time (one STOW-RS request per `WEB_CHUNK` files)."""
    if not peer.is_web:
        return dimse.store(peer, list(files), progress, cancel)
    stored = 0
    for start in range(0, len(files), WEB_CHUNK):
        cancel.raise_if_cancelled()
        stored += web.store(peer, [pydicom.dcmread(path) for path in files[start:start + WEB_CHUNK]], cancel=cancel)
        progress(stored / len(files), f"stored {stored} of {len(files)}")
    return stored
