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
