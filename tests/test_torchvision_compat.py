"""The torchvision work-around acts on exactly one failure and leaves every other one alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from cfx_desktop import _torchvision_compat


def _run_with_fake_torchvision(tmp_path: Path, init_body: str) -> subprocess.CompletedProcess[str]:
    pkg = tmp_path / "torchvision"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(init_body))
    (pkg / "_meta_registrations.py").write_text("raise RuntimeError('operator torchvision::nms does not exist')\n")
    (pkg / "_autograd_registrations.py").write_text("")
    compat = Path(_torchvision_compat.__file__)
    code = textwrap.dedent(
        f"""
        import sys, importlib.util
        sys.path.insert(0, {str(tmp_path)!r})
        spec = importlib.util.spec_from_file_location('compat', {str(compat)!r})
        compat = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(compat)
        import torchvision
        print('patched', compat.patched, torchvision.VALUE)
        """
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_missing_op_error_is_worked_around(tmp_path: Path) -> None:
    result = _run_with_fake_torchvision(
        tmp_path,
        """
        from torchvision import _autograd_registrations, _meta_registrations
        VALUE = 'loaded'
        """,
    )
    assert result.returncode == 0, result.stderr
    assert "patched True loaded" in result.stdout


def test_other_runtime_errors_propagate(tmp_path: Path) -> None:
    result = _run_with_fake_torchvision(tmp_path, "raise RuntimeError('CUDA driver too old')\n")
    assert result.returncode != 0
    assert "CUDA driver too old" in result.stderr


def test_clean_import_is_not_patched(tmp_path: Path) -> None:
    result = _run_with_fake_torchvision(tmp_path, "VALUE = 'fine'\n")
    assert result.returncode == 0, result.stderr
    assert "patched False fine" in result.stdout


def test_error_classifier() -> None:
    assert _torchvision_compat.is_missing_op_error(RuntimeError("operator torchvision::nms does not exist"))
    assert not _torchvision_compat.is_missing_op_error(RuntimeError("something else"))
    assert not _torchvision_compat.is_missing_op_error(ImportError("operator torchvision::nms does not exist"))


def test_real_torchvision_models_work() -> None:
    import torch
    from torchvision.models import resnet18

    model = resnet18(num_classes=1).eval()
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 1)
