"""Explain many items into one folder, resumably, in this process or on a Dask cluster.

The folder is the whole state: ``run.json`` (what is explained and how), ``results.jsonl`` (one line per item
done, appended chunk by chunk), ``errors.jsonl`` (items that failed in the latest run, retried on the next) and
``maps/`` (arrays as NPY and PNG). A rerun reads the finished ids and skips them, so an interrupted run (Ctrl+C,
a lost worker, a power cut mid-line) continues where it stopped. Arrays travel back from the workers inside the
results and are written here, so workers need no access to the output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = "results.jsonl"
ERRORS = "errors.jsonl"
RUN = "run.json"
MAPS = "maps"
ARRAYS = "_arrays"  # a record's key for arrays to write as files; replaced by their paths


class BatchError(Exception):
    """A batch cannot start or go on (a folder made with other settings, a worker that cannot load the model)."""


@dataclass
class Item:
    """One thing to explain: a stable id (a row number, a relative path) and what the worker needs for it."""

    id: str
    payload: Any


@dataclass
class BatchJob:
    """What to explain, how (``settings``, stored in run.json), and the function that explains one chunk.

    ``work`` is ``"module:function"`` so that a Dask worker imports it by name; it is called as
    ``function(payloads, settings)`` and returns one record per payload (``{"id": ...}`` plus results, or
    ``{"id": ..., "error": "..."}``). ``load`` turns an item's payload into what is sent (e.g. reads a file's
    bytes), chunk by chunk, so a large folder is never held in memory at once.
    """

    kind: str
    settings: dict[str, Any]
    items: list[Item]
    work: str
    chunk_size: int = 16
    load: Callable[[Any], Any] | None = None


@dataclass
class Progress:
    done: int
    total: int
    skipped: int
    errors: int
    seconds: float
    last: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Summary:
    out: Path
    total: int
    skipped: int
    done: int
    errors: int
    seconds: float
    executor: str

    @property
    def items_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


def _stem(item_id: str) -> str:
    """A file name for an item's maps: readable, and unique (``a/b.png`` and ``a_b.png`` must not collide)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", item_id).strip("._")[:100] or "item"
    return f"{readable}-{hashlib.sha1(item_id.encode()).hexdigest()[:8]}"


def finished_ids(out: Path) -> set[str]:
    """Ids already in results.jsonl; a half-written last line (an interrupted write) is cut off first."""
    path = out / RESULTS
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with path.open("r+b") as f:
            f.truncate(keep)
        data = data[:keep]
    ids = set()
    for line in data.splitlines():
        try:
            ids.add(str(json.loads(line)["id"]))
        except (ValueError, KeyError, TypeError):
            continue  # a damaged line: that item is explained again
    return ids


def prepare(out: Path, job: BatchJob, restart: bool = False) -> set[str]:
    """Create or reopen the folder; refuse to mix runs made with other settings. Returns the finished ids."""
    out.mkdir(parents=True, exist_ok=True)
    run_file = out / RUN
    wanted = json.loads(json.dumps({"kind": job.kind, "settings": job.settings}, default=_json_default))  # as stored
    if restart:
        for name in (RESULTS, ERRORS, RUN):
            (out / name).unlink(missing_ok=True)
    if run_file.exists():
        try:
            stored = json.loads(run_file.read_text())
        except ValueError as exc:
            raise BatchError(f"{run_file} is damaged ({exc}); use another --out folder or --restart") from exc
        if {"kind": stored.get("kind"), "settings": stored.get("settings")} != wanted:
            changed = _differences(stored.get("settings") or {}, wanted["settings"])
            raise BatchError(f"{out} holds a {stored.get('kind')} run made with other settings "
                             f"({'; '.join(changed) or 'another kind'}); resume it with the same options, "
                             "choose another --out folder, or add --restart to start it over")
    else:
        run_file.write_text(json.dumps({**wanted, "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "items": len(job.items)},
                                       indent=2))
    return finished_ids(out)


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the settings that differ (``explain.k``), for a message the user can act on."""
    found = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            found += _differences(x, y, f"{prefix}{key}.")
        elif x != y:
            found.append(f"{prefix}{key}: {x!r} then, {y!r} now")
    return found


def _write_arrays(out: Path, record: dict[str, Any]) -> dict[str, Any]:
    arrays = record.pop(ARRAYS, None)
    if not arrays:
        return record
    folder = out / MAPS
    folder.mkdir(exist_ok=True)
    stem = _stem(str(record["id"]))
    files = {}
    for name, array in arrays.items():
        array = np.asarray(array, dtype=np.float32)
        npy = folder / f"{stem}.{name}.npy"
        np.save(npy, array)
        png = folder / f"{stem}.{name}.png"
        _save_png(png, array)
        files[name] = {"npy": str(npy.relative_to(out)), "png": str(png.relative_to(out))}
    record["maps"] = files
    return record


def _save_png(path: Path, array: np.ndarray) -> None:
    """A map as an 8-bit picture: signed maps centred on grey (0 = mid grey), others scaled 0..max."""
    from PIL import Image

    finite = np.nan_to_num(array)
    if finite.min() < 0:
        scale = float(np.abs(finite).max()) or 1.0
        pixels = (finite / scale + 1.0) * 127.5
    else:
        scale = float(finite.max()) or 1.0
        pixels = finite / scale * 255.0
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.results = (out / RESULTS).open("a", encoding="utf-8")
        self.errors = (out / ERRORS).open("w", encoding="utf-8")
        self.done = 0
        self.failed = 0

    def write(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        written = []
        for record in records:
            record = _write_arrays(self.out, dict(record))
            line = json.dumps(record, default=_json_default) + "\n"
            if "error" in record:
                self.errors.write(line)
                self.failed += 1
            else:
                self.results.write(line)  # one write per line: a crash leaves at most one partial line
                self.done += 1
            written.append(record)
        self.results.flush()
        os.fsync(self.results.fileno())
        self.errors.flush()
        return written

    def close(self) -> None:
        self.results.close()
        self.errors.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def chunks(items: list[Item], size: int) -> Iterator[list[Item]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + size]


_malloc_tuned = False


def _undo_small_trim_threshold() -> None:
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand memory back to the OS quickly). For
    torch that means allocating every buffer over 128 KiB with mmap and page-faulting it in again (a fixed trim
    threshold turns off glibc's adaptive mmap threshold): a chunk of 16 images took 7.4 s in a worker against
    3.3 s in a plain process with the same thread count. Raising both thresholds with glibc's ``mallopt`` restores
    the speed; elsewhere (not glibc, variable unset) nothing is done."""
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 256 * 1024 * 1024)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD: a fixed trim threshold also froze it at 128 KiB
    except (OSError, AttributeError):
        pass


def run_chunk(work: str, payloads: list[Any], settings: dict[str, Any], threads: int | None = None,
              device: str | None = None) -> list[dict[str, Any]]:
    """Run on a worker (or here): import ``work`` by name and explain one chunk; ``device`` is the caller's
    --device choice (auto / cpu / cuda), so a worker with a GPU uses it unless the user said cpu."""
    import importlib

    _undo_small_trim_threshold()
    if device:
        from cfx_desktop.core import device as device_mod

        device_mod.set_preferred(device)
    if threads:
        import torch

        torch.set_num_threads(threads)
    module, _, name = work.partition(":")
    return getattr(importlib.import_module(module), name)(payloads, settings)


def _payloads(job: BatchJob, chunk: list[Item]) -> list[Any]:
    return [job.load(item.payload) if job.load else item.payload for item in chunk]


def run(job: BatchJob, out: Path, *, executor: "Executor | None" = None, restart: bool = False,
        progress: Callable[[Progress], None] | None = None) -> Summary:
    """Explain every item of ``job`` not yet in ``out``; ``executor`` None runs here, chunk by chunk."""
    done_ids = prepare(out, job, restart)
    todo = [item for item in job.items if item.id not in done_ids]
    skipped = len(job.items) - len(todo)
    executor = executor or LocalExecutor()
    writer = _Writer(out)
    start = time.perf_counter()
    try:
        if progress:
            progress(Progress(0, len(todo), skipped, 0, 0.0))
        for records in executor.map(job, list(chunks(todo, job.chunk_size))):
            written = writer.write(records)
            if progress:
                progress(Progress(writer.done + writer.failed, len(todo), skipped, writer.failed,
                                  time.perf_counter() - start, written))
    finally:
        writer.close()
    return Summary(out, len(job.items), skipped, writer.done, writer.failed, time.perf_counter() - start, executor.describe())


class Executor:
    def map(self, job: BatchJob, work_chunks: list[list[Item]]) -> Iterator[list[dict[str, Any]]]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class LocalExecutor(Executor):
    """This process, one chunk after another (a chunk is one batch on the GPU)."""

    def map(self, job: BatchJob, work_chunks: list[list[Item]]) -> Iterator[list[dict[str, Any]]]:
        for chunk in work_chunks:
            yield run_chunk(job.work, _payloads(job, chunk), job.settings)

    def describe(self) -> str:
        return "this process"
