"""Start-up (issue 15): the window paints before the heavy libraries load, the loading happens in the worker
pool, and a tampered weight file is named at launch and left out while the rest keeps working."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cfx_desktop import paths
from cfx_desktop.core import bundles

HEAVY = {"torch", "captum", "sklearn", "pandas"}


def test_the_window_paints_before_torch_captum_sklearn_and_pandas_load(subprocess_env, tmp_path: Path) -> None:
    probe = tmp_path / "probe.json"
    env = dict(subprocess_env, CFX_STARTUP_PROBE=str(probe))
    result = subprocess.run([sys.executable, "-m", "cfx_desktop", "--screenshot", str(tmp_path / "s.png")],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(probe.read_text())
    assert not HEAVY & set(record["heavy_at_first_paint"]), record
    assert {"torch", "captum"} <= set(record["heavy_at_idle"]), record  # they did load, afterwards
    assert record["idle"] > record["first_paint"]


def test_importing_the_gui_modules_imports_no_heavy_library() -> None:
    code = ("import sys, cfx_desktop.app, cfx_desktop.cli, cfx_desktop.ui.patient.tab, cfx_desktop.ui.deferred_tab; "
            "print(sorted(m for m in {'torch', 'captum', 'sklearn', 'pandas', 'torchvision', 'matplotlib'} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.fixture
def tampered_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped weights with one byte of one tabular model changed."""
    folder = tmp_path / "weights"
    shutil.copytree(paths.weights_dir(), folder)
    target = folder / "heart-failure-no-time-mlp.pt"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    monkeypatch.setenv("CFX_WEIGHTS_DIR", str(folder))
    return folder


def test_check_integrity_names_the_altered_bundle_only(tampered_weights: Path) -> None:
    refused = bundles.check_integrity(tampered_weights)
    assert list(refused) == ["heart-failure-no-time-mlp"]
    assert bundles.short_reason(refused["heart-failure-no-time-mlp"]) == "sha256 mismatch"
    names = [name for name, _ in bundles.readable_cards(tampered_weights)]
    assert "heart-failure-no-time-mlp" not in names and "heart-failure-no-time-bilstm" in names


def test_self_test_names_a_refused_bundle_within_seconds_and_fails(tampered_weights: Path, subprocess_env) -> None:
    env = dict(subprocess_env, CFX_WEIGHTS_DIR=str(tampered_weights))
    result = subprocess.run([sys.executable, "-m", "cfx_desktop", "--self-test"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(l for l in result.stdout.splitlines() if "refused:" in l)
    assert "refused: heart-failure-no-time-mlp (sha256 mismatch)" in line
    seconds = float(re.search(r"\((\d+\.\d+) s\)", line).group(1))
    assert seconds < 5, line


def test_info_lists_the_refused_bundle(tampered_weights: Path, subprocess_env) -> None:
    env = dict(subprocess_env, CFX_WEIGHTS_DIR=str(tampered_weights))
    result = subprocess.run([sys.executable, "-m", "cfx_desktop", "info"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "refused: heart-failure-no-time-mlp (sha256 mismatch)" in result.stdout
    assert "model: heart-failure-no-time-bilstm" in result.stdout


def test_a_refused_model_leaves_the_model_choices_and_the_rest_works(tampered_weights: Path, make_window, qtbot) -> None:
    from tests.conftest import settle_patient

    window = make_window()
    assert "heart-failure-no-time-mlp" in window.integrity_banner.text() and not window.integrity_banner.isHidden()
    tab = window.tab_list[0]
    offered = [tab.model_combo.itemData(i) for i in range(tab.model_combo.count())]
    assert "mlp" not in offered and "bilstm" in offered
    settle_patient(qtbot, tab)
    assert tab.prediction.model_name != "heart-failure-no-time-mlp"
    assert tab.prediction.model_name.removeprefix("heart-failure-no-time-") in offered


def test_opening_a_file_from_the_command_line_also_paints_before_torch(subprocess_env, tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "x.png"
    Image.new("L", (64, 64), 128).save(image)
    probe = tmp_path / "probe.json"
    env = dict(subprocess_env, CFX_STARTUP_PROBE=str(probe))
    result = subprocess.run([sys.executable, "-m", "cfx_desktop", "--screenshot", str(tmp_path / "s.png"), str(image)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not HEAVY & set(json.loads(probe.read_text())["heavy_at_first_paint"])
