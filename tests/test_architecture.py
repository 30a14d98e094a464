"""The layering rules of DESIGN.md, enforced: core never imports Qt; only workers/ creates threads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cfx_desktop

PACKAGE = Path(cfx_desktop.__file__).parent
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "qtpy", "pyqtgraph", "superqt", "shiboken6")
FORBIDDEN_IN_CORE = QT_MODULES + ("cfx_desktop.ui", "cfx_desktop.workers", "cfx_desktop.app", "cfx_desktop.settings")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _offenders(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(PACKAGE)} imports {name}")
    return found


def test_core_sources_never_import_qt() -> None:
    assert list((PACKAGE / "core").rglob("*.py")), "core package not found"
    assert _offenders(PACKAGE / "core", FORBIDDEN_IN_CORE) == []


def test_offender_scan_detects_a_qt_import(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("from PySide6.QtCore import QObject\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        assert _offenders(tmp_path, FORBIDDEN_IN_CORE) == ["bad.py imports PySide6.QtCore"]
    finally:
        PACKAGE = saved


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = sorted(
        "cfx_desktop." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for p in (PACKAGE / "core").rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_threads_are_created_only_in_workers() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "workers" in path.relative_to(PACKAGE).parts:
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("QThreadPool(", "QThread(", "threading.Thread(", "ThreadPoolExecutor("):
            if needle in text:
                offenders.append(f"{path.relative_to(PACKAGE)}: {needle}")
    assert offenders == []
