from __future__ import annotations

import pytest
import torch

from cfx_desktop.core import device


def test_cpu_and_auto() -> None:
    assert device.resolve("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.resolve("auto").type == expected
    assert "CPU" in device.describe(torch.device("cpu"))


def test_unknown_and_unavailable() -> None:
    with pytest.raises(device.DeviceError, match="unknown device"):
        device.resolve("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(device.DeviceError, match="no CUDA GPU"):
            device.resolve("cuda")


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 8, 16, 64])
def test_parallel_jobs_never_ask_for_more_threads_than_cores(cores: int) -> None:
    jobs, threads = device.plan_cpu_threads(cores)
    assert 1 <= jobs <= device.MAX_PARALLEL_JOBS and threads >= 1
    assert jobs * threads <= cores
    assert jobs == min(cores, device.MAX_PARALLEL_JOBS)  # as many side-by-side jobs as the cap allows
    assert cores - jobs * threads < jobs  # and the cores left over are fewer than would give each job one more
