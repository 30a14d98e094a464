"""The sanity-checks page: run the randomisation checks for the image on screen and show maps and scores; it
shows nothing once the image changes (the session clears the result)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from cfx_desktop.ui import theme
from cfx_desktop.ui.accessibility import set_header_tips
from cfx_desktop.ui.retire import retire
from cfx_desktop.core.imaging import live
from cfx_desktop.core.imaging.explain import render
from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS
from cfx_desktop.sessions.xray import JobState

INTRO = ("Adebayo et al. (2018): a saliency method should give different maps once the model's weights (cascading) "
         "or its training labels are randomized.")


def _rgb_pixmap(rgb: np.ndarray) -> QPixmap:
    data = np.ascontiguousarray(rgb)
    image = QImage(data.data, data.shape[1], data.shape[0], 3 * data.shape[1], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class SanityPanel(QWidget):
    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.button = QPushButton("Run randomization checks on this image", self)
        self.status = QLabel(INTRO, self)
        self.status.setWordWrap(True)
        row.addWidget(self.button)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        self.table = QTableWidget(0, 4, self)
        self.table.setHorizontalHeaderLabels(["Randomized", "Spearman (|map|)", "SSIM", "Verdict"])
        set_header_tips(self.table, ["What was destroyed: the top k layers' weights, all of them, or the training labels",
                                     "Rank correlation of the map with the trained model's map (low = the map changed, as it should)",
                                     "Structural similarity of the two maps (low = different)",
                                     "Pass when the map changed enough: the bound was set before any map was seen"])
        self.button.setToolTip("Randomize the model's layers and labels and see whether the map changes (Adebayo et al., 2018)")
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setMaximumHeight(230)
        layout.addWidget(self.table)
        self.grid = QGridLayout()
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(self.grid)
        layout.addStretch(1)
        self.button.clicked.connect(self.run_requested)

    def display(self, result: live.Sanity | None, state: JobState) -> None:
        self._clear_maps()
        if result is None:
            self.table.setRowCount(0)
            self.status.setText(state.message if state.state != "idle" else INTRO)
            return
        rows = result.report.rows
        verdicts = result.report.verdicts()
        by_row: dict[str, list] = {}
        for verdict in verdicts:
            by_row.setdefault(verdict.row, []).append(verdict)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            judged = by_row.get(row.name, [])
            verdict_text = "; ".join(f"{v.word} ({v.check}: < {v.bound:.2f})" for v in judged)
            for c, text in enumerate([result.report.plain_name(row), f"{row.spearman:.3f}", f"{row.ssim:.3f}", verdict_text]):
                item = QTableWidgetItem(text)
                if c == 3 and judged:
                    item.setForeground(QColor(theme.colour("good" if all(v.passed for v in judged) else "bad")))
                    item.setToolTip("\n".join(v.line() for v in judged))
                self.table.setItem(r, c, item)
        maps = [("trained model", result.report.original)] + [(result.report.plain_name(row), row.map) for row in rows]
        for i, (name, values) in enumerate(maps):
            cell = QWidget(self)
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(2, 2, 2, 2)
            picture = QLabel(cell)
            picture.setPixmap(_rgb_pixmap(render.colorize(np.abs(values))).scaled(110, 110, Qt.AspectRatioMode.KeepAspectRatio))
            picture.setToolTip(name)
            caption = QLabel(name, cell)
            caption.setWordWrap(True)
            caption.setMaximumWidth(120)
            cell_layout.addWidget(picture)
            cell_layout.addWidget(caption)
            self.grid.addWidget(cell, i // 6, i % 6)
        self.grid.addWidget(_legend(self), len(maps) // 6 + 1, 0, 1, 6)
        note = f" (data randomization skipped: {result.twin_note})" if result.twin_note else ""
        passed = sum(v.passed for v in verdicts)
        self.status.setText(f"<b>{passed} of {len(verdicts)} checks pass.</b> "
                            f"{SALIENCY_METHODS.get(result.report.method).label}: low Spearman/SSIM = the map depends on "
                            f"the learned weights and labels, as it should{note}")

    def set_progress(self, message: str) -> None:
        self.status.setText(f"running: {message}")

    def _clear_maps(self) -> None:
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:
                retire(widget)


def _legend(parent: QWidget) -> QWidget:
    """The maps' colour scale: each shows |attribution| from 0 to its own maximum (inferno)."""
    box = QWidget(parent)
    row = QHBoxLayout(box)
    row.setContentsMargins(2, 2, 2, 2)
    bar = QLabel(box)
    ramp = np.tile(np.linspace(0.0, 1.0, 160), (12, 1))
    bar.setPixmap(_rgb_pixmap(render.colorize(ramp)))
    row.addWidget(QLabel("0", box))
    row.addWidget(bar)
    row.addWidget(QLabel("max", box))
    text = QLabel("every map: |attribution| from 0 to that map's own maximum", box)
    text.setWordWrap(True)
    row.addWidget(text, 1)
    return box
