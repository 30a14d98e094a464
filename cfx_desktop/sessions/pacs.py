"""The study browser's state and requests, Qt-free: the configured peer, the filters, the studies found, the
job in flight (test, search, retrieve, analyse-and-send) with its progress, and the receive mode's inbox.

It owns its requests through an injected `Scheduler`: the dialog only lays out, forwards clicks and renders the
events below, and the tests drive the same session with `ImmediateScheduler` against a PACS on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.pacs.cache import Retrieved, StudyCache
from cfx_desktop.pacs.dimse import Study, StudyFilter
from cfx_desktop.pacs.peer import DEFAULT_OWN_AE, PacsError, Peer, parse_peer
from cfx_desktop.sessions.events import Event
from cfx_desktop.sessions.scheduler import Callbacks, Scheduler

KEY = "PACS"  # one lane: a new search, retrieval or send cancels the one before


@dataclass(frozen=True)
class Status:
    state: str = "idle"  # idle | running | done | failed | cancelled
    message: str = "No PACS configured: enter its AE title, host and port (nothing connects until you do)."
    fraction: float = 0.0

    @property
    def running(self) -> bool:
        return self.state == "running"


def _analyse_and_send(peer: Peer, files: list[Path], out: Path, model_name: str, counterfactual: bool = True,
                      progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> str:  # noqa: ANN001
    """Every image of a retrieved study through the app's pipeline, the results stored in the peer; a failed
    image fails the send (nothing is stored), with its reason."""
    from cfx_desktop.core.imaging.guard.model import load_guard
    from cfx_desktop.core.imaging.models.classifier import load_image_model
    from cfx_desktop.pacs import transport
    from cfx_desktop.pacs.analyse import Options, analyse_files

    model = load_image_model(model_name)
    guard = load_guard(model)
    written, withheld = [], 0
    for index, outcome in enumerate(analyse_files(files, model, guard, out, Options(counterfactual=counterfactual),
                                                         cancel=cancel), 1):
        if outcome.error is not None:
            raise outcome.error
        if outcome.done is not None:
            withheld += outcome.done.finding.withheld
            written.extend(outcome.done.outputs)
            progress(index / len(files) * 0.9, f"analysed {index} of {len(files)}")
    sending = lambda fraction, message="", _payload=None: progress(0.9 + 0.1 * fraction, message)  # noqa: E731
    stored = transport.send_files(peer, written, sending, cancel) if written else 0
    progress(1.0, "sent")
    note = f" ({withheld} withheld as not chest radiographs)" if withheld else ""
    return f"Stored {stored} results (SR and explanation images) of {len(files)} images in {peer}{note}."


@dataclass
class PacsSession:
    scheduler: Scheduler
    cache: StudyCache
    results: Path  # where analysed studies' SRs and captures are written before they are sent
    model_name: str = ""
    peer: Peer | None = None
    move_port: int | None = None  # where a C-MOVE is received from a PACS without C-GET; None: C-GET only
    counterfactual: bool = True  # analyse-and-send makes each image's counterfactual (seconds per image on a CPU)
    filters: StudyFilter = StudyFilter()
    studies: list[Study] = field(default_factory=list)
    status: Status = Status()
    retrieved: dict[str, list[Path]] = field(default_factory=dict)
    inbox: list[Path] = field(default_factory=list)
    receiver: object = None

    def __post_init__(self) -> None:
        self.status_changed = Event()  # (Status)
        self.studies_changed = Event()  # (list[Study])
        self.study_ready = Event()  # (study uid, folder): retrieved, for the folder view
        self.inbox_changed = Event()  # (list[Path]) receive mode: a new image arrived
        self.series_changed = Event()  # (study uid, list of series identifiers): the selected study's series

    def _set(self, state: str, message: str, fraction: float = 0.0) -> None:
        self.status = Status(state, message, fraction)
        self.status_changed.emit(self.status)

    def configure(self, text: str, own_ae: str = DEFAULT_OWN_AE, timeout: float = 10.0) -> bool:
        """The peer the user typed; a mistake is a message, and the previous peer is kept."""
        try:
            self.peer = parse_peer(text, own_ae, timeout)
        except PacsError as exc:
            self._set("failed", str(exc))
            return False
        self._set("idle", f"Peer {self.peer}: Test to check it, or Search.")
        return True

    def _run(self, verb: str, fn, *args, on_result) -> None:  # noqa: ANN001
        if self.peer is None:
            self._set("failed", "Configure a PACS first (AE title, host and port).")
            return
        self._set("running", f"{verb} {self.peer}...")

        def failed(message: str, details: str = "") -> None:
            self._set("failed", message)

        self.scheduler.request(KEY, fn, *args, callbacks=Callbacks(
            on_result, failed, lambda f, m, _payload: self._set("running", m or f"{verb} {self.peer}...", f),
            lambda: self._set("cancelled", f"Cancelled; what arrived is kept in {self.cache.root}.")))

    def test(self) -> None:
        from cfx_desktop.pacs import transport

        self._run("Testing", lambda peer, progress=None, cancel=None: transport.echo(peer), self.peer,
                  on_result=lambda seconds: self._set("done", f"{self.peer} answered in {seconds * 1000:.0f} ms."))

    def search(self, filters: StudyFilter | None = None) -> None:
        from cfx_desktop.pacs import transport

        self.filters = filters or self.filters

        def found(studies: list[Study]) -> None:
            self.studies = studies
            self.studies_changed.emit(studies)
            self._set("done", f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} on {self.peer}.")

        self._run("Searching", lambda peer, flt, progress=None, cancel=None: transport.find_studies(peer, flt, cancel),
                  self.peer, self.filters, on_result=found)

    def list_series(self, study_uid: str) -> None:
        """The series of one study (C-FIND at series level), on a lane of their own: choosing another study while
        a retrieval runs does not cancel it. DICOMweb peers list studies only."""
        from cfx_desktop.pacs import dimse

        if self.peer is None or self.peer.is_web:
            self.series_changed.emit(study_uid, [])
            return

        def failed(message: str, details: str = "") -> None:
            self.series_changed.emit(study_uid, [])

        self.scheduler.request(f"{KEY} series", lambda peer, uid, progress=None, cancel=None: dimse.find_series(peer, uid, cancel),
                               self.peer, study_uid, callbacks=Callbacks(lambda found: self.series_changed.emit(study_uid, found),
                                                                          failed))

    def retrieve(self, study_uid: str) -> None:
        from cfx_desktop.pacs import transport

        def arrived(files: Retrieved) -> None:
            self.retrieved[study_uid] = files
            lost = files.missing  # listed by the PACS, not arrived (its sub-operations failed)
            short = f"; {lost} the PACS listed did not arrive (Retrieve again fetches only those)" if lost else ""
            here = "1 image of the study is here" if len(files) == 1 else f"{len(files)} images of the study are here"
            self._set("done", f"{here}{short}; they open in the folder view.", 1.0)
            self.study_ready.emit(study_uid, self.cache.folder(study_uid))

        def fetch(peer: Peer, uid: str, cache: StudyCache, move_port: int | None, progress=no_progress,  # noqa: ANN001
                  cancel: CancelToken = NEVER_CANCELLED) -> Retrieved:
            return transport.retrieve_study(peer, uid, cache, progress, cancel, move_port=move_port)

        self._run("Retrieving from", fetch, self.peer, study_uid, self.cache, self.move_port, on_result=arrived)

    def analyse_and_send(self, study_uid: str) -> None:
        """Analyse every image of a retrieved study and store the SRs and captures in the peer (only on request)."""
        files = self.retrieved.get(study_uid) or self.cache.paths(study_uid)
        if not files:
            self._set("failed", "Retrieve the study first: there is nothing of it here to analyse.")
            return
        self._run("Analysing and sending to", _analyse_and_send, self.peer, files, self.results / study_uid,
                  self.model_name, self.counterfactual, on_result=lambda message: self._set("done", message, 1.0))

    def cancel(self) -> None:
        self.scheduler.cancel(KEY)

    # ----- receive mode -------------------------------------------------------------------------------------
    @property
    def inbox_folder(self) -> Path:
        """Where receive mode drops what arrives (beside the retrieval cache, under the same size limit)."""
        return self.cache.root.parent / "pacs-inbox"

    def start_receiving(self, port: int, host: str = "127.0.0.1", own_ae: str = DEFAULT_OWN_AE) -> bool:
        from cfx_desktop.pacs.receive import Receiver

        self.stop_receiving()
        inbox = StudyCache(self.inbox_folder, self.cache.limit_bytes)

        def arrived(path: Path) -> None:  # on the storage SCP's thread: hand over to the session's
            self.scheduler.post(lambda: self._arrived(path))

        try:
            self.receiver = Receiver(inbox, host, port, own_ae, arrived).start()
        except PacsError as exc:
            self._set("failed", str(exc))
            return False
        self._set("done", f"Receiving as {own_ae} on {host}:{self.receiver.port}; images arrive in {inbox.root}.")
        return True

    def stop_receiving(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
            self._set("idle", "Receive mode is off.")

    def _arrived(self, path: Path) -> None:
        """A burst of arrivals (a modality sends a study) is announced once it pauses, so the folder view
        analyses the inbox once per burst rather than once per image."""
        self.inbox.append(path)
        self.scheduler.debounce(f"{KEY} inbox", 500, lambda: self.inbox_changed.emit(list(self.inbox)))
