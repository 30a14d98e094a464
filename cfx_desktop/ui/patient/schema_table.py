"""The schema editor's table: one row per CSV column, drawn from inference with the user's edits on top, and read
back as edits (only the cells that differ from what inference proposed).

Why the edits are the state and the table only their picture: re-inference (another margin, outcome or event)
redraws every row, and whatever the user typed must survive it, as must a refused OK."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from cfx_desktop.core.tabular.infer import ColumnReport, Inference
from cfx_desktop.core.tabular.schema import Feature, Kind
from cfx_desktop.ui import theme
from cfx_desktop.ui.accessibility import set_header_tips
from cfx_desktop.ui.patient.schema_columns import (
    ACTIONABILITY, COLUMNS, DIRECTIONS, KINDS, MUTABILITY, TIPS, Col, as_shown,
)

Edits = dict[str, dict[str, object]]
_TAGS = ("mutability", "actionability", "direction")
_TEXT_CELLS = ((Col.MIN, "min"), (Col.MAX, "max"), (Col.STEP, "step"), (Col.NORMAL, "normal_range"),
               (Col.FEASIBLE, "feasible_change"))


class SchemaTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        set_header_tips(self, TIPS)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(Col.NOTES, QHeaderView.ResizeMode.Stretch)

    def fill(self, inference: Inference, edits: Edits) -> None:
        by_name = inference.offered
        rows = [c for c in inference.columns if c.role != "target"]
        self.setRowCount(len(rows))
        for r, column in enumerate(rows):
            self._fill_row(r, column, by_name.get(column.name), edits.get(column.name, {}),
                           column.name not in inference.left_out)
        self.resizeColumnsToContents()
        for column, least in ((Col.MIN, 70), (Col.MAX, 70), (Col.STEP, 56), (Col.UNIT, 90), (Col.NORMAL, 90)):
            self.setColumnWidth(column, max(self.columnWidth(column), least))  # room to type a range or a unit

    def _fill_row(self, r: int, column: ColumnReport, feature: Feature | None, edit: dict[str, object],
                  proposed: bool = True) -> None:
        """``proposed``: whether inference proposes the column as a feature (a follow-up time is a feature the
        user may tick in, but is not proposed)."""
        use = QCheckBox(self)
        use.setChecked(bool(edit.get("use", feature is not None and proposed)) and feature is not None)
        use.setEnabled(feature is not None)
        use.setToolTip(TIPS[Col.USE])
        use.setAccessibleName(f"Use {column.name}")
        self.setCellWidget(r, Col.USE, use)
        self._fixed(r, Col.NAME, column.name)
        notes = column.reason + (f"; missing in {column.missing:.0%} of rows" if column.missing and "missing" not in column.reason else "")
        self._fixed(r, Col.NOTES, notes, notes)
        if feature is None:
            self._fixed(r, Col.KIND, column.kind)
            for c in range(Col.MIN, Col.NOTES):
                self._fixed(r, c, "")
            return
        kinds = [k for k in KINDS if (k in ("binary", "categorical")) == (feature.kind.value in ("binary", "categorical"))]
        self._combo(r, Col.KIND, kinds, str(edit.get("kind", feature.kind.value)), f"Kind of {column.name}")
        numeric = feature.kind in (Kind.INTEGER, Kind.CONTINUOUS)
        inferred = as_shown(feature)  # the one spelling of the inferred values, which `edits` compares against
        for c, key in _TEXT_CELLS:
            if numeric:
                self.setItem(r, c, QTableWidgetItem(str(edit.get(key, inferred[key]))))
            else:
                self._fixed(r, c, "")
        self.item(r, Col.FEASIBLE).setToolTip(feature.feasible_note or TIPS[Col.FEASIBLE])
        self.setItem(r, Col.UNIT, QTableWidgetItem(str(edit.get("unit", feature.unit))))
        self._combo(r, Col.MUTABILITY, MUTABILITY, str(edit.get("mutability", feature.mutability.value)), f"Can {column.name} change")
        self._combo(r, Col.ACTIONABILITY, ACTIONABILITY, str(edit.get("actionability", feature.actionability.value)),
                    f"What a change of {column.name} means")
        directions = DIRECTIONS if numeric else [d for d in DIRECTIONS if d != "toward normal"]
        self._combo(r, Col.DIRECTION, directions, str(edit.get("direction", feature.direction.value)), f"Direction rule of {column.name}")
        source = "review: set by you" if any(key in edit for key in _TAGS) else feature.tag_source or "none"
        tag = self._fixed(r, Col.TAG, source.split(":")[0], source)
        if source.startswith("none"):
            tag.setForeground(QColor(theme.colour("warn")))
        for c in (Col.MUTABILITY, Col.ACTIONABILITY, Col.DIRECTION):  # a tag the user sets is theirs at once
            self.cellWidget(r, c).currentTextChanged.connect(lambda _text, row=r: self._reviewed(row))

    def _reviewed(self, row: int) -> None:
        tag = self._fixed(row, Col.TAG, "review", "review: set by you")
        tag.setForeground(self.palette().text())

    def _fixed(self, row: int, column: int, text: str, tip: str = "") -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        if tip:
            item.setToolTip(tip)
        self.setItem(row, column, item)
        return item

    def _combo(self, row: int, column: int, items: list[str], current: str, name: str) -> None:
        box = QComboBox(self)
        box.addItems(items)
        box.setCurrentText(current)
        box.setToolTip(TIPS[column])
        box.setAccessibleName(name)
        self.setCellWidget(row, column, box)

    def edits(self, inference: Inference) -> Edits:
        """What the user changed: per column, the cells that differ from the inference shown."""
        by_name = inference.offered
        out: Edits = {}
        for r in range(self.rowCount()):
            name_item = self.item(r, Col.NAME)
            if name_item is None:
                continue
            inferred = as_shown(by_name.get(name_item.text()))
            if name_item.text() in inference.left_out:
                inferred["use"] = False  # proposed as left out: ticking it in is the user's edit
            out[name_item.text()] = {key: value for key, value in self.shown(r).items() if inferred.get(key) != value}
        return out

    def shown(self, r: int) -> dict[str, object]:
        """Row ``r`` as edit entries (``use``, ``kind``, ``min`` ... ``feasible_change``)."""
        use = self.cellWidget(r, Col.USE)
        edit: dict[str, object] = {"use": bool(use.isChecked()) if isinstance(use, QCheckBox) else False}
        if not isinstance(self.cellWidget(r, Col.KIND), QComboBox):
            return edit  # a column that cannot be a feature
        for c, key in ((Col.KIND, "kind"), (Col.MUTABILITY, "mutability"), (Col.ACTIONABILITY, "actionability"),
                       (Col.DIRECTION, "direction")):
            box = self.cellWidget(r, c)
            if isinstance(box, QComboBox):
                edit[key] = box.currentText()
        for c, key in _TEXT_CELLS:
            item = self.item(r, c)
            editable = item is not None and bool(item.flags() & Qt.ItemFlag.ItemIsEditable)
            if editable and (item.text().strip() or key == "normal_range"):  # an emptied range clears it
                edit[key] = item.text().strip()
        unit = self.item(r, Col.UNIT)
        edit["unit"] = unit.text() if unit is not None else ""
        return edit
