"""A configured PACS peer, parsed from what a user types (``AET@HOST:PORT`` or an https DICOMweb address).

Why one type for both transports: the study browser, the CLI and the settings store a peer as one line of text,
and the transport follows from its form; every network step takes its timeout from here, so no call can hang.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_OWN_AE = "CFX_DESKTOP"
DEFAULT_TIMEOUT = 10.0  # seconds per network step; an unreachable peer is reported well within 15 s

_AE_CHARS = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # the default character repertoire without the backslash


class PacsError(Exception):
    """A network step failed in a way the user can act on; the message says what and where, in words."""


def check_ae_title(title: str, what: str = "AE title") -> str:
    title = title.strip()
    if not _AE_CHARS.match(title):
        raise PacsError(f"{what} {title!r}: 1 to 16 printable characters, no backslash")
    return title


@dataclass(frozen=True)
class Peer:
    ae_title: str = ""  # DIMSE: the peer's AE title
    host: str = ""
    port: int = 0
    url: str = ""  # DICOMweb: the service's base address (https, or http on loopback)
    own_ae: str = DEFAULT_OWN_AE
    timeout: float = DEFAULT_TIMEOUT
    tls_ca: Path | None = None  # DIMSE over TLS: the CA bundle that signed the peer's certificate
    tls_cert: Path | None = None  # and, for mutual TLS, this app's certificate and key
    tls_key: Path | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())  # DICOMweb: e.g. an Authorization header

    @property
    def is_web(self) -> bool:
        return bool(self.url)

    def __str__(self) -> str:
        return self.url or f"{self.ae_title}@{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        if self.tls_ca is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.tls_ca))
        if self.tls_cert is not None:
            context.load_cert_chain(str(self.tls_cert), str(self.tls_key) if self.tls_key else None)
        return context


def parse_peer(text: str, own_ae: str = DEFAULT_OWN_AE, timeout: float = DEFAULT_TIMEOUT) -> Peer:
    """``AET@HOST:PORT`` (DIMSE) or ``https://host/dicom-web`` (DICOMweb; http only on loopback, where nothing
    leaves the machine)."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        host = re.sub(r"^https?://([^/:]+).*$", r"\1", text)
        if text.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1", "[::1]"):
            raise PacsError(f"{text}: use https for a DICOMweb peer that is not on this machine")
        return Peer(url=text.rstrip("/"), own_ae=check_ae_title(own_ae, "own AE title"), timeout=timeout)
    match = re.match(r"^(?P<aet>[^@]+)@(?P<host>\[[^\]]+\]|[^:]+):(?P<port>\d+)$", text)
    if not match:
        raise PacsError(f"{text!r}: give the peer as AET@HOST:PORT (e.g. ORTHANC@192.168.1.20:4242) or an https address")
    port = int(match["port"])
    if not 0 < port < 65536:
        raise PacsError(f"{text}: port {port} is not between 1 and 65535")
    return Peer(check_ae_title(match["aet"], "peer AE title"), match["host"].strip("[]"), port,
                own_ae=check_ae_title(own_ae, "own AE title"), timeout=timeout)
