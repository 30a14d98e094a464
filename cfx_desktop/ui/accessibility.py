"""Names and descriptions for assistive technology, filled in where a control has none of its own.

Qt names a button by its text, but a spin box, slider or combo box beside a label is nameless to a screen
reader unless the label is its buddy. Rather than repeat every label by hand, the name is taken from the form
label that introduces the control, else from its tooltip's first clause; the tooltip becomes the description.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton, QAbstractItemView, QAbstractSlider, QAbstractSpinBox, QComboBox, QFormLayout, QHeaderView, QLabel,
    QLineEdit,
    QTabBar, QWidget,
)

CONTROLS = (QAbstractButton, QAbstractSpinBox, QAbstractSlider, QComboBox, QLineEdit, QAbstractItemView)


def _form_label(widget: QWidget) -> str:
    parent = widget.parentWidget()
    layout = parent.layout() if parent is not None else None
    if isinstance(layout, QFormLayout):
        label = layout.labelForField(widget)
        if isinstance(label, QLabel):
            return label.text().replace("&", "")
    return ""


def _first_clause(text: str) -> str:
    for stop in (". ", "; ", ": ", "\n", " ("):
        text = text.split(stop)[0]
    return text.strip()


def controls(root: QWidget) -> list[QWidget]:
    """Every interactive control under ``root`` (inner widgets of composite controls, e.g. a spin box's line
    edit, are skipped: the composite carries the name)."""
    found = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS):
            continue
        parent = widget.parentWidget()
        if isinstance(widget, QLineEdit) and isinstance(parent, (QAbstractSpinBox, QComboBox)):
            continue
        if isinstance(parent, (QTabBar, QLineEdit)):  # a tab bar's scroll arrows, a search box's clear button
            continue
        if isinstance(widget, QHeaderView):  # part of its table, which takes the focus
            continue
        if type(widget).__name__ in {"QScrollBar", "QTabBar"} or widget.objectName().startswith("qt_"):
            continue
        found.append(widget)
    return found


def fill_names(root: QWidget) -> int:
    """Give every control under ``root`` an accessible name and description; returns how many were filled."""
    filled = 0
    for widget in controls(root):
        tip = widget.toolTip()
        if not widget.accessibleName():
            text = widget.text().replace("&", "") if isinstance(widget, QAbstractButton) else ""
            name = text or _form_label(widget) or _first_clause(tip)
            if name:
                widget.setAccessibleName(name)
                filled += 1
        if tip and not widget.accessibleDescription():
            widget.setAccessibleDescription(tip)
    return filled


def set_header_tips(table, tips: list[str]) -> None:  # noqa: ANN001 - QTableWidget
    """A tooltip on each column header, saying what the column means and how to read it."""
    for column, tip in enumerate(tips):
        item = table.horizontalHeaderItem(column)
        if item is not None:
            item.setToolTip(tip)
