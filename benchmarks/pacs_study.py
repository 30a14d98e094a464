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

from benchmarks.common import machine, machine_line, publish_and_show, require, wait_until

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
    finally:
        server.stop()

    m = machine()
    payload = {
        "machine": m, "peer": "Orthanc" if ORTHANC else "pynetdicom in-process SCP", "images": args.images,
        "store_s": stored_s, "retrieve_s": retrieve_s, "retrieve_images_per_s": args.images / retrieve_s,
        "cancel_to_stop_s": stopped - cancelled_at[0], "kept_after_cancel": kept, "resume_s": resume_s,
        "complete_study_s": complete_s, "analyse_s_per_image": analyse_s / args.images, "analyse_again_s": again_s,
        "withheld": sum(d.finding.withheld for d in done),
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
"""
    publish_and_show("pacs_study", payload, markdown)


if __name__ == "__main__":
    main()
