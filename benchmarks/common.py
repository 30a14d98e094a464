"""Helpers shared by the benchmark scripts: machine description, JSON output, markdown sections, and the guard
that keeps a figure honest (what a row times must really have happened; a wait that reaches its limit is an
error, never a figure)."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

import torch

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def machine_line(m: dict[str, Any]) -> str:
    return (f"Machine: {m['platform']}, {m['cpu_count']} CPU cores, torch {m['torch']} ({m['torch_threads']} threads), "
            f"CUDA: {m['cuda'] or 'none'}.")


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
    return path


def publish(name: str, payload: dict[str, Any], markdown: str) -> Path:
    """A benchmark's two outputs: ``results/NAME.json`` and its section of docs/benchmarks.md."""
    path = write_json(name, payload)
    write_doc_section(name, markdown)
    return path


def publish_and_show(name: str, payload: dict[str, Any], markdown: str) -> Path:
    """`publish`, then print the section and where it went: the end of every benchmark's ``main``."""
    path = publish(name, payload, markdown)
    print(markdown)
    print(f"wrote {path} and docs/benchmarks.md")
    return path


def write_doc_section(key: str, markdown: str) -> None:
    """Replace the section between <!-- key --> markers in docs/benchmarks.md (append it if absent)."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\nEach section is written by the script named in it.\n"
    block = f"<!-- {key} -->\n{markdown.strip()}\n<!-- /{key} -->"
    pattern = re.compile(rf"<!-- {re.escape(key)} -->.*?<!-- /{re.escape(key)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


class BenchmarkError(RuntimeError):
    """A row whose figure would mislead: what it times did not happen, a wait reached its limit, or it would be
    computed over nothing. Raised, never written: the script stops and names the row."""

    def __init__(self, row: str, problem: str) -> None:
        super().__init__(f"benchmark row {row!r}: {problem}")
        self.row = row


def require(condition: object, row: str, problem: str) -> None:
    """Stop with ``problem`` unless ``condition`` holds: the check that the timed thing really ran."""
    if not condition:
        raise BenchmarkError(row, problem)


def wait_until(predicate: Callable[[], bool], limit_s: float, row: str, pump: Callable[[], None] | None = None,
               poll_s: float = 0.001) -> float:
    """Seconds until ``predicate()`` holds, calling ``pump()`` (e.g. ``app.processEvents``) between polls.

    Reaching ``limit_s`` raises: a figure that equals its time-out says only how long we were willing to wait."""
    start = time.perf_counter()
    end = start + limit_s
    while not predicate():
        if time.perf_counter() >= end:
            raise BenchmarkError(row, f"still not done after its {limit_s:g} s limit")
        if pump is not None:
            pump()
        time.sleep(poll_s)
    return time.perf_counter() - start


def nonempty(values: Iterable[T], row: str, what: str = "items") -> list[T]:
    """The values as a list; a figure over zero of them (a median, a mean, a share) is refused."""
    items = list(values)
    if not items:
        raise BenchmarkError(row, f"no {what} to compute it over")
    return items


def share(count: float, total: int, row: str, what: str = "items") -> float:
    """``count / total`` for a rate, refusing ``total == 0`` instead of reporting 0 % of nothing."""
    require(total > 0, row, f"a share of zero {what}")
    return count / total


def median(values: Iterable[float], row: str, what: str = "timings") -> float:
    items = nonempty(values, row, what)
    require(all(math.isfinite(v) for v in items), row, f"a {what} value is not finite")
    return float(statistics.median(items))


def percentile(values: Sequence[float] | Iterable[float], q: float, row: str, what: str = "timings") -> float:
    import numpy as np

    return float(np.percentile(nonempty(values, row, what), q))


def timed(fn: Callable[[], T], row: str, check: Callable[[T], object], problem: str) -> tuple[float, T]:
    """(seconds, result) of one call of ``fn``, refusing the time when ``check(result)`` fails."""
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    require(check(result), row, problem)
    return seconds, result
