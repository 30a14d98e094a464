"""The installed Qt binding keeps Python's reference counts.

PySide6 6.12.0 on Python 3.11 drops one reference to ``None`` for every call of a Qt method returning void, and
one to ``True`` for every ``signal.emit()``. Before 3.12 these objects are not immortal, so a long session (or
this test suite) eventually frees them and the process aborts with "Fatal Python error: none_dealloc" or
"bool_dealloc". pyproject pins the binding below 6.12; this test fails if a broken one is installed anyway.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

CALLS = 200


class _Emitter(QObject):
    fired = Signal()


def _lost_references(obj: object, action) -> int:
    before = sys.getrefcount(obj)
    for _ in range(CALLS):
        action()
    return before - sys.getrefcount(obj)


def test_void_methods_keep_none_alive(qtbot) -> None:
    target = QObject()
    lost = _lost_references(None, lambda: target.setObjectName("x"))
    assert lost < CALLS // 2, f"each Qt void call lost a reference to None ({lost} in {CALLS}): broken PySide6 build"


def test_signal_emit_keeps_true_alive(qtbot) -> None:
    emitter = _Emitter()
    lost = _lost_references(True, emitter.fired.emit)
    assert lost < CALLS // 2, f"each emit() lost a reference to True ({lost} in {CALLS}): broken PySide6 build"
