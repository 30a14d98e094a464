"""Lazy loading behind the fast start-up: registries import their built-ins on first read (once, in order, and
again after a failed attempt), package attributes import on first use, deferred job functions import when
called."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cfx_desktop.core.lazy import deferred, lazy_attributes
from cfx_desktop.core.registry import Registry


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("cfxlazy_")]:
        del sys.modules[name]


def test_builtins_load_on_first_read_once_and_in_order(plugin_dir: Path) -> None:
    registry: Registry[int] = Registry("thing", builtins=("cfxlazy_a", "cfxlazy_b"))
    (plugin_dir / "cfxlazy_holder.py").write_text("REGISTRY = None\n")
    for name, key in (("cfxlazy_a", "a"), ("cfxlazy_b", "b")):
        (plugin_dir / f"{name}.py").write_text(  # reads the registry while it is loading: must not recurse
            "import cfxlazy_holder as h\nh.REGISTRY.register(%r, len(h.REGISTRY))\n" % key)
    import cfxlazy_holder

    cfxlazy_holder.REGISTRY = registry
    assert "cfxlazy_a" not in sys.modules  # nothing imported by creating it
    assert registry.keys() == ["a", "b"] and registry.get("b") == 1 and registry.default == "a"
    registry.keys()
    assert registry.get("a") == 0  # not registered twice (a second import would raise "already registered")


def test_a_failing_builtin_is_retried_on_the_next_read(plugin_dir: Path) -> None:
    (plugin_dir / "cfxlazy_bad.py").write_text("raise ImportError('broken plugin')\n")
    registry: Registry[int] = Registry("thing", builtins=("cfxlazy_bad",))
    with pytest.raises(ImportError, match="broken plugin"):
        registry.keys()
    (plugin_dir / "cfxlazy_bad.py").write_text("x = 1\n")
    sys.modules.pop("cfxlazy_bad", None)
    assert registry.keys() == []


def test_lazy_attributes_and_deferred_import_on_use(plugin_dir: Path) -> None:
    package = plugin_dir / "cfxlazy_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from cfx_desktop.core.lazy import lazy_attributes\n__getattr__ = lazy_attributes(__name__, {'VALUE': 'heavy'})\n")
    (package / "heavy.py").write_text("VALUE = 42\n\ndef double(x, progress=None, cancel=None):\n    return 2 * x\n")
    import cfxlazy_pkg

    assert "cfxlazy_pkg.heavy" not in sys.modules
    assert cfxlazy_pkg.VALUE == 42 and "cfxlazy_pkg.heavy" in sys.modules
    with pytest.raises(AttributeError, match="no attribute 'MISSING'"):
        cfxlazy_pkg.MISSING  # noqa: B018
    call = deferred("cfxlazy_pkg.heavy", "double")
    assert call.__name__ == "double" and call(21) == 42
    empty = lazy_attributes("cfxlazy_pkg", {})  # a name it was not given is an AttributeError, never an import
    with pytest.raises(AttributeError, match="has no attribute 'VALUE'"):
        empty("VALUE")
