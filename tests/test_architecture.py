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


def test_no_worker_channel_or_job_is_built_in_ui() -> None:
    """Sessions own their requests: `ui/` reaches the pool only through `workers.binding.PoolScheduler`."""
    offenders = []
    for path in sorted((PACKAGE / "ui").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(PACKAGE)}: {needle}" for needle in ("LatestOnly(", "Job(", ".submit(") if needle in text]
    assert offenders == []


def test_ui_views_stay_thin() -> None:
    """Issue 27's proxies: no module in `ui/` over 300 lines and no class over 200 (a view that grows past them is
    doing a session's or a panel's work)."""
    long_modules, long_classes = [], []
    for path in sorted((PACKAGE / "ui").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 300:
            long_modules.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 200:
                long_classes.append(f"{path.relative_to(PACKAGE)}: {node.name} {node.end_lineno - node.lineno + 1} lines")
    assert long_modules == [] and long_classes == []


def _module_name(path: Path) -> str:
    return "cfx_desktop." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")


def _import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the project modules it imports, lazy imports inside functions included (they still tie the two
    modules together); ``from pkg import mod`` counts as importing ``pkg.mod``; a package's face (__init__) is
    skipped as a target, as it only hands names on."""
    modules = {_module_name(p): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                named = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                root = node.module or ""
                if node.level:
                    parts = base.split(".")
                    root = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                submodules = [f"{root}.{a.name}" for a in node.names if f"{root}.{a.name}" in modules]
                named = submodules or [root]  # "from pkg import mod" names the module, else the names come from pkg
            else:
                continue
            targets.update(m for m in named if m in modules and m != name and modules[m].name != "__init__.py")
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    graph = _import_graph(PACKAGE)
    assert len(graph) > 100, "the package's modules were not found"
    assert _cycles(graph) == []


def test_the_cycle_finder_sees_a_lazy_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
