"""Every control explains itself (a tooltip) and has a name for screen readers; every table column header has a
tooltip; keyboard focus is visible."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QTableView, QTableWidget

from cfx_desktop.ui.accessibility import controls


def _built(qtbot, app_window):
    qtbot.waitUntil(app_window.is_idle, timeout=60_000)
    app_window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: app_window.tab_list[1].inner is not None, timeout=60_000)
    app_window.tabs.setCurrentIndex(0)
    return app_window


def _where(widget) -> str:  # noqa: ANN001
    chain, w = [], widget
    while w is not None:
        chain.append(type(w).__name__ + (f"#{w.objectName()}" if w.objectName() else ""))
        w = w.parentWidget()
    text = widget.text() if isinstance(widget, QAbstractButton) else ""
    return f"{text!r} " + " < ".join(chain[:4])


def test_every_control_has_a_tooltip_and_an_accessible_name(qtbot, app_window) -> None:
    window = _built(qtbot, app_window)
    missing_tip, missing_name = [], []
    for widget in controls(window):
        if isinstance(widget, QAbstractItemView):
            continue  # tables: their column headers are checked below
        if not widget.toolTip():
            missing_tip.append(_where(widget))
        # a button's text is its accessible name (Qt's accessible interface reads it); other controls need one set
        if not (widget.accessibleName() or (isinstance(widget, QAbstractButton) and widget.text().strip())):
            missing_name.append(_where(widget))
    assert not missing_tip, "\n".join(missing_tip)
    assert not missing_name, "\n".join(missing_name)


def test_every_table_column_header_has_a_tooltip(qtbot, app_window) -> None:
    window = _built(qtbot, app_window)
    missing = []
    for table in window.findChildren(QTableView):
        model = table.model()
        for column in range(model.columnCount()):
            if table.isColumnHidden(column):
                continue
            tip = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
            if not tip:
                label = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
                missing.append(f"{_where(table)}: column {column} {label!r}")
    assert not missing, "\n".join(missing)
    assert window.findChildren(QTableWidget)  # the check saw the suggestion and sanity tables


def test_every_control_is_reachable_by_keyboard(qtbot, app_window) -> None:
    """By Tab, or by a shortcut of its own (the viewer's tool buttons: P, M, A, T)."""
    from PySide6.QtWidgets import QToolButton

    window = _built(qtbot, app_window)
    unreachable = []
    for widget in controls(window):
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            continue
        action = widget.defaultAction() if isinstance(widget, QToolButton) else None
        if action is not None and not action.shortcut().isEmpty():
            continue
        unreachable.append(_where(widget))
    assert not unreachable, "\n".join(unreachable)
