"""The one place that decides where tensors live.

The app is offline and often runs on CPU-only workstations, so "auto" must quietly fall back to the CPU, while
an explicit "cuda" on a machine without one is an error the user should see rather than a silent slowdown.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported on first use: the window paints before torch loads (issue 15)
    import torch

_lock = threading.Lock()
_preferred = "auto"


class DeviceError(RuntimeError):
    """The requested compute device is not available."""


def validate(preference: str) -> str:
    """The normalised preference, or DeviceError for a name that is no device; cheap (no torch)."""
    preference = (preference or "auto").lower()
    if preference not in {"auto", "cpu", "cuda"} and not preference.startswith("cuda:"):
        raise DeviceError(f"unknown device {preference!r}: use auto, cpu or cuda")
    return preference


def resolve(preference: str = "auto") -> torch.device:
    import torch

    preference = validate(preference)
    if preference == "cpu":
        return torch.device("cpu")
    if preference == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError("CUDA was requested but no CUDA GPU is available (torch sees none); use --device cpu")
    return torch.device(preference)


def set_preferred(preference: str) -> None:
    """Validate and remember the user's choice for the whole process (CLI flag or settings).

    "auto" and "cpu" cannot fail, so they are only remembered: checking them would import torch before the
    window paints. An explicit "cuda" is checked at once, so a machine without one says so before anything runs.
    """
    global _preferred
    preference = validate(preference)
    if preference.startswith("cuda"):
        resolve(preference)
    with _lock:
        _preferred = preference


def preference() -> str:
    """What the user asked for (auto, cpu, cuda...), without resolving it (no torch import)."""
    with _lock:
        return _preferred


def current() -> torch.device:
    with _lock:
        preference = _preferred
    return resolve(os.environ.get("CFX_DEVICE", preference))


MAX_PARALLEL_JOBS = 4


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_cpu_threads(cores: int | None = None) -> tuple[int, int]:
    """(jobs that may run side by side, torch threads each) with jobs x threads <= cores.

    Why: the app runs a prediction and a suggestion search at once. With torch's default (one intra-op thread
    per core in *each* job) two jobs on two cores ask for four spinning OpenMP threads, and the live latency
    measured 363 / 433 ms p50 / p95 instead of 280 / 342 ms with one thread each (`benchmarks/gui.py`, 2 cores).
    Up to `MAX_PARALLEL_JOBS` jobs; the cores left over go to each job's own threads.
    """
    cores = max(1, cores or usable_cores())
    jobs = min(MAX_PARALLEL_JOBS, cores)
    return jobs, max(1, cores // jobs)


def configure_cpu_threads(cores: int | None = None) -> int:
    """Apply `plan_cpu_threads` to torch (process-wide) and return how many jobs the worker pool may run."""
    import torch

    jobs, threads = plan_cpu_threads(cores)
    torch.set_num_threads(threads)
    return jobs


def describe(device: torch.device | None = None) -> str:
    """Human-readable name for the status bar: the GPU's name, or CPU with its thread count."""
    import torch

    device = device or current()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"GPU: {torch.cuda.get_device_name(index)}"
    threads = torch.get_num_threads()
    return f"CPU ({usable_cores()} cores, {threads} thread{'s' if threads > 1 else ''} per job)"


def prepare_for_inference(net: "torch.nn.Module", device: torch.device) -> "torch.nn.Module":
    """Move to ``device``, switch to eval mode and freeze the parameters.

    Frozen parameters are what makes sharing one model object between worker threads safe: explanations take
    gradients with respect to inputs only, so no thread ever accumulates into a parameter's ``.grad``."""
    net.to(device).eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net
