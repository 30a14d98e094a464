"""A 500-image study through the PACS path: retrieved by C-GET, cancelled half-way, resumed, then analysed image by
image (guard, prediction, default saliency; the counterfactual is left out to keep the run short) with a second
pass that finds everything done. Against a real Orthanc where it is installed, else pynetdicom's in-process SCP.

Run: python -m benchmarks.pacs_study [--images 500]   (writes benchmarks/results/pacs_study.json)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import BenchmarkError, machine, machine_line, publish_and_show, require, wait_until

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    args = parser.parse_args()

    from pydicom.uid import generate_uid

    from cfx_desktop.core.cancel import CancelToken, Cancelled
    from cfx_desktop.core.imaging.guard.model import load_guard
    from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model
    from cfx_desktop.pacs import dimse, transport
    from cfx_desktop.pacs.analyse import Options, analyse_file
    from cfx_desktop.pacs.cache import StudyCache
    from cfx_desktop.pacs.peer import parse_peer
    from tests.pacs_fixtures import ORTHANC, MemoryPacs, OrthancServer, chest_pixels, cr_dataset, ct_pixels

    work = Path(tempfile.mkdtemp(prefix="cfx-pacs-bench-"))
    server = OrthancServer(work / "orthanc").start() if ORTHANC else MemoryPacs().start()
    try:
        peer = parse_peer(server.address, timeout=30)
        films = [p for p in (chest_pixels(i) for i in range(40)) if p is not None] or [ct_pixels()]
        study, series = generate_uid(), [generate_uid() for _ in range(5)]
        datasets = [cr_dataset(films[i % len(films)], study_uid=study, series_uid=series[i % 5], instance=i + 1)
                    for i in range(args.images)]
        start = time.perf_counter()
        for chunk in range(0, len(datasets), 100):
            dimse.store(peer, datasets[chunk:chunk + 100])
        stored_s = time.perf_counter() - start

        # a retrieval cancelled once a fifth of the images are here, then resumed
        cache, token, seen = StudyCache(work / "cache"), CancelToken(), []
        cancelled_at: list[float] = []
        outcome: list[object] = []

        def progress(fraction: float, message: str = "", payload: object = None) -> None:
            seen.append(fraction)
            if len(seen) == args.images // 5 and not token.cancelled:
                cancelled_at.append(time.perf_counter())
                token.cancel()

        def run() -> None:
            try:
                outcome.append(transport.retrieve_study(peer, study, cache, progress, token))
            except Cancelled:
                outcome.append("cancelled")

        worker = threading.Thread(target=run)
        worker.start()
        wait_until(lambda: bool(outcome), 300, "cancel")
        worker.join()
        stopped = time.perf_counter()
        require(outcome == ["cancelled"] and cancelled_at, "cancel", "the retrieval was not cancelled")
        kept = len(cache.paths(study))
        require(args.images // 5 <= kept < args.images, "cancel", f"{kept} images kept after Cancel")
        start = time.perf_counter()
        files = transport.retrieve_study(peer, study, cache)
        resume_s = time.perf_counter() - start
        require(len(files) == args.images, "resume", f"{len(files)} of {args.images} images after resuming")

        full = StudyCache(work / "full")
        start = time.perf_counter()
        require(len(transport.retrieve_study(peer, study, full)) == args.images, "retrieve", "not every image arrived")
        retrieve_s = time.perf_counter() - start
        start = time.perf_counter()
        require(len(transport.retrieve_study(peer, study, full)) == args.images, "complete", "a complete study re-fetched")
        complete_s = time.perf_counter() - start

        model = load_image_model(DEFAULT_MODEL)
        guard = load_guard(model)
        out = work / "results"
        start = time.perf_counter()
        done = [analyse_file(path, model, guard, out, Options(counterfactual=False)) for path in files]
        analyse_s = time.perf_counter() - start
        require(len(done) == args.images and not any(d.skipped for d in done), "analyse", "not every image analysed")
        start = time.perf_counter()
        again = [analyse_file(path, model, guard, out, Options(counterfactual=False)) for path in files]
        again_s = time.perf_counter() - start
        require(all(d.skipped for d in again), "analyse again", "an image was analysed twice")
        browser = _through_the_browser_session(peer, study, args.images, work)
    finally:
        server.stop()

    m = machine()
    payload = {
        "machine": m, "peer": "Orthanc" if ORTHANC else "pynetdicom in-process SCP", "images": args.images,
        "store_s": stored_s, "retrieve_s": retrieve_s, "retrieve_images_per_s": args.images / retrieve_s,
        "cancel_to_stop_s": stopped - cancelled_at[0], "kept_after_cancel": kept, "resume_s": resume_s,
        "complete_study_s": complete_s, "analyse_s_per_image": analyse_s / args.images, "analyse_again_s": again_s,
        "withheld": sum(d.finding.withheld for d in done), "browser_session": browser,
    }
    markdown = f"""## PACS: a {args.images}-image study

`python -m benchmarks.pacs_study`, against {payload['peer']}. {machine_line(m)}

| step | figure |
|---|---|
| retrieve the whole study (C-GET) | {retrieve_s:.1f} s ({payload['retrieve_images_per_s']:.0f} images/s) |
| Cancel after {args.images // 5} images: until the retrieval stopped | {payload['cancel_to_stop_s']:.2f} s, {kept} images kept |
| resume (only the missing images fetched: one C-GET per series with their UIDs) | {resume_s:.1f} s |
| a complete study asked for again (one query, nothing fetched) | {complete_s:.2f} s |
| analyse (guard, prediction, default saliency; no counterfactual) | {payload['analyse_s_per_image'] * 1000:.0f} ms per image |
| analyse again (every image already done) | {again_s:.2f} s |

The same study through the study browser's session on the worker pool (`PacsSession` + `PoolScheduler`, event loop
turning; its longest turn shows how little ran on the GUI thread):

| step | figure |
|---|---|
| retrieve (C-GET), progress updates shown | {browser['retrieve_s']:.1f} s, {browser['progress_updates']} updates |
| Cancel from the session after {args.images // 5} images: until its job had stopped | {browser['cancel_to_cancelled_s']:.2f} s, {browser['kept_after_cancel']} images kept |
| resume | {browser['resume_s']:.1f} s |
| analyse and send (no counterfactual): SRs and captures stored | {browser['analyse_and_send_s']:.1f} s ({browser['analyse_and_send_s'] / args.images * 1000:.0f} ms per image; analysis {browser['analysed_s']:.1f} s, storing {browser['analyse_and_send_s'] - browser['analysed_s']:.1f} s), {browser['stored']} results stored |
| longest turn of the event loop while retrieving / while analysing and sending | {browser['longest_gui_turn_retrieving_ms']:.0f} / {browser['longest_gui_turn_analysing_ms']:.0f} ms |
| longest garbage collection in all of it (run on the GUI thread by `workers/gc_guard`, a full one at most every 10 s) | {browser['longest_garbage_collection_ms']:.0f} ms |

Storing is the peer's own pace: the same Orthanc took {stored_s:.0f} s to take in the {args.images} films at the start of
this run ({args.images / stored_s:.0f} instances/s against {browser['stored'] / (browser['analyse_and_send_s'] - browser['analysed_s']):.0f} for the results).
"""
    publish_and_show("pacs_study", payload, markdown)


def _through_the_browser_session(peer, study: str, images: int, work: Path) -> dict[str, float]:  # noqa: ANN001
    """The browser's path: the session's requests run as pool jobs while this thread turns the Qt event loop
    (the dialog only renders the session's events, so its timings are these)."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL
    from cfx_desktop.pacs.cache import StudyCache
    from cfx_desktop.sessions.pacs import PacsSession
    from cfx_desktop.workers.binding import PoolScheduler
    from cfx_desktop.workers.pool import WorkerPool

    app = QApplication.instance() or QApplication([])
    pool = WorkerPool()
    session = PacsSession(PoolScheduler(pool), StudyCache(work / "browser-cache"), work / "browser-results", DEFAULT_MODEL,
                          counterfactual=False)
    session.peer = peer
    updates: list[tuple[str, float]] = []
    session.status_changed.connect(lambda status: updates.append((status.state, status.fraction)))
    turns = [0.0]  # how long each turn of the event loop took: the GUI thread's share of the work
    collections: list[float] = [0.0]  # the garbage collections (gc_guard runs them on the GUI thread)
    started: list[float] = []

    def collecting(phase: str, _info: dict) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            collections.append(time.perf_counter() - started[0])

    import gc

    gc.callbacks.append(collecting)

    def pump() -> None:
        start = time.perf_counter()
        app.processEvents()
        turns.append(time.perf_counter() - start)

    def settled(state: str) -> bool:
        return bool(updates) and updates[-1][0] in ("done", "failed", "cancelled") and (updates[-1][0] == state or
                                                                                       _fail(updates[-1]))

    def _fail(update: tuple[str, float]) -> bool:
        raise BenchmarkError("browser session", f"ended '{update[0]}': {session.status.message}")

    session.retrieve(study)  # cancelled once a fifth of the study is here
    wait_until(lambda: updates[-1][1] >= 0.2 or settled("done"), 300, "browser cancel", pump)
    session.cancel()  # the state says "cancelled" at once; the job stops at its next check of the token
    cancel_s = wait_until(lambda: settled("cancelled") and pool.active_count == 0, 60, "browser cancel", pump)
    kept = len(session.cache.paths(study))
    require(0 < kept < images, "browser cancel", f"{kept} images kept after Cancel")
    updates.clear()
    session.retrieve(study)
    resume_s = wait_until(lambda: settled("done"), 600, "browser resume", pump)
    require(len(session.retrieved[study]) == images, "browser resume", f"{len(session.retrieved[study])} images")

    full = StudyCache(work / "browser-full")  # a whole retrieval, for its time and its progress updates
    session.cache = full
    updates.clear()
    session.retrieve(study)
    retrieve_s = wait_until(lambda: settled("done"), 600, "browser retrieve", pump)
    progress_updates = sum(state == "running" for state, _ in updates)
    retrieve_turn_ms = max(turns) * 1000
    require(len(full.paths(study)) == images and progress_updates > 10, "browser retrieve", "no progress shown")

    updates.clear()
    turns[:] = [0.0]
    session.analyse_and_send(study)
    start = time.perf_counter()
    analysed_s = wait_until(lambda: updates[-1][1] >= 0.9 or settled("done"), 1800, "browser analyse", pump)
    send_s = wait_until(lambda: settled("done"), 1800, "browser send", pump) + analysed_s
    send_turn_ms = max(turns) * 1000
    stored = int(session.status.message.split()[1])
    require(stored >= images, "browser analyse and send", session.status.message)
    pool.deleteLater()
    gc.callbacks.remove(collecting)
    return {"longest_garbage_collection_ms": max(collections) * 1000,"retrieve_s": retrieve_s, "progress_updates": progress_updates, "cancel_to_cancelled_s": cancel_s,
            "kept_after_cancel": kept, "resume_s": resume_s, "analyse_and_send_s": send_s, "analysed_s": analysed_s,
            "stored": stored, "longest_gui_turn_retrieving_ms": retrieve_turn_ms, "longest_gui_turn_analysing_ms": send_turn_ms}


if __name__ == "__main__":
    main()
