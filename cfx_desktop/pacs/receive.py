"""Receive mode: a storage SCP (off by default, bound to 127.0.0.1 unless the user chooses another address) that
drops incoming images into an inbox (a `StudyCache`), where the X-ray tab's folder view shows them and the guard
and the classifier analyse them as they arrive.

Why refuse rather than repair: a dataset without the identifiers a study needs, or whose pixels cannot be
decoded, is refused with a status and a reason the sender logs; what was accepted is on disk before anyone
analyses it, so a failed analysis never loses a received image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.sop_class import Verification

from cfx_desktop.pacs.cache import StudyCache, safe_uid
from cfx_desktop.pacs.dimse import STORAGE_CLASSES
from cfx_desktop.pacs.peer import DEFAULT_OWN_AE, PacsError

log = logging.getLogger(__name__)

REFUSED = 0xC210  # cannot understand


def check_dataset(ds: Dataset) -> str:
    """Why ``ds`` cannot be kept ("" when it can): the identifiers a study needs, and pixels that decode."""
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        value = ds.get(keyword)
        if not value:
            return f"no {keyword}"
        try:
            safe_uid(str(value), keyword)
        except ValueError as exc:
            return str(exc)
    if str(ds.get("SOPClassUID", "")) not in STORAGE_CLASSES:
        return f"SOP class {ds.get('SOPClassUID', '?')} is not one this app accepts"
    if "PixelData" in ds:
        try:
            ds.pixel_array  # noqa: B018 - decoding is the check
        except Exception as exc:  # noqa: BLE001 - any decoder failure is a refusal with its reason
            return f"pixels cannot be decoded ({type(exc).__name__}: {exc})"
    return ""


@dataclass
class Receiver:
    """A running storage SCP; `stop` it when receive mode is turned off."""

    inbox: StudyCache
    host: str = "127.0.0.1"
    port: int = 11112
    ae_title: str = DEFAULT_OWN_AE
    on_received: Callable[[Path], None] = lambda path: None  # called from the SCP's thread; marshal before touching UI
    received: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _server: Any = None

    def start(self) -> "Receiver":
        ae = AE(ae_title=self.ae_title)
        ae.add_supported_context(Verification)
        for uid in STORAGE_CLASSES:
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = 30
        try:
            self._server = ae.start_server((self.host, self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)])
        except OSError as exc:
            raise PacsError(f"cannot listen on {self.host}:{self.port} ({exc})") from exc
        self.port = self._server.server_address[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def _store(self, event: Any) -> int:
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
        except Exception as exc:  # noqa: BLE001 - undecodable bytes are refused, never a crash
            self.refused.append(f"undecodable dataset ({type(exc).__name__}: {exc})")
            return REFUSED
        reason = check_dataset(ds)
        if reason:
            self.refused.append(f"{ds.get('SOPInstanceUID', '?')}: {reason}")
            log.warning("refused an incoming dataset: %s", reason)
            return REFUSED
        try:
            path = self.inbox.put(ds)
        except Exception as exc:  # noqa: BLE001 - a disk error refuses this one; the sender may retry
            self.refused.append(f"{ds.SOPInstanceUID}: not written ({exc})")
            return 0xA700  # out of resources
        self.received.append(path)
        try:
            self.on_received(path)
        except Exception:  # noqa: BLE001 - the image is kept whatever the listener does
            log.exception("receive listener failed for %s", path)
        return 0x0000
