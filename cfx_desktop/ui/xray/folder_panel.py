"""Left column of the X-ray tab: open buttons, the folder's thumbnails (predictions fill in as they arrive) and
the image / DICOM header table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout, QHeaderView, QLabel, QListWidget, QListWidgetItem, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from cfx_desktop.core.imaging.io import LoadedImage


def gray_pixmap(gray: np.ndarray) -> QPixmap:
    data = np.ascontiguousarray(np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8))
    image = QImage(data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(image.copy())


class FolderPanel(QWidget):
    open_file_clicked = Signal()
    open_folder_clicked = Signal()
    image_chosen = Signal(str)  # a thumbnail was selected

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open image...", self)
        self.folder_button = QPushButton("Open folder...", self)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.folder_button)
        layout.addLayout(buttons)
        self.thumbnails = QListWidget(self)
        self.thumbnails.setIconSize(QSize(56, 56))
        self.thumbnails.setToolTip("Images of the opened folder with their predictions (computed in the background)")
        layout.addWidget(self.thumbnails, 2)
        self.meta = QTableWidget(0, 2, self)
        self.meta.setHorizontalHeaderLabels(["Field", "Value"])
        self.meta.verticalHeader().setVisible(False)
        self.meta.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.meta.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(QLabel("<b>Image and DICOM header</b>", self))
        layout.addWidget(self.meta, 1)
        self.open_button.clicked.connect(self.open_file_clicked)
        self.folder_button.clicked.connect(self.open_folder_clicked)
        self.thumbnails.currentItemChanged.connect(
            lambda item, _previous: self.image_chosen.emit(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None)

    def set_files(self, files: list[str]) -> None:
        self.thumbnails.blockSignals(True)
        self.thumbnails.clear()
        for path in files:
            item = QListWidgetItem(f"{Path(path).name}\n(waiting)")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.thumbnails.addItem(item)
        self.thumbnails.blockSignals(False)

    def show_folder_result(self, payload: dict) -> None:
        """One image of the folder predicted (or unreadable): update its thumbnail."""
        for row in range(self.thumbnails.count()):
            item = self.thumbnails.item(row)
            if item.data(Qt.ItemDataRole.UserRole) != payload["path"]:
                continue
            name = Path(payload["path"]).name
            if payload["error"]:
                item.setText(f"{name}\nunreadable")
                item.setToolTip(payload["error"])
            else:
                p = payload["probability"]
                item.setText(f"{name}\n{payload['label']}" + ("" if p is None else f" (p = {p:.2f})"))
                item.setToolTip(payload.get("guard") or "")
                item.setIcon(QIcon(gray_pixmap(payload["thumbnail"])))
            return

    def step(self, delta: int) -> None:
        row = self.thumbnails.currentRow() + delta
        if 0 <= row < self.thumbnails.count():
            self.thumbnails.setCurrentRow(row)

    def is_current(self, path: str) -> bool:
        item = self.thumbnails.currentItem()
        return item is not None and item.data(Qt.ItemDataRole.UserRole) == path

    def show_metadata(self, image: LoadedImage) -> None:
        rows = [("File", Path(image.source).name), ("Format", image.format), ("Size", f"{image.shape[1]} x {image.shape[0]} px")]
        rows += [(k.capitalize(), str(v)) for k, v in image.metadata.items() if k in ("bits", "mode", "window", "photometric", "transfer_syntax")]
        rows += [(k, str(v)) for k, v in image.metadata.get("dicom", {}).items()]
        self.meta.setRowCount(len(rows))
        for r, (key, value) in enumerate(rows):
            self.meta.setItem(r, 0, QTableWidgetItem(key))
            self.meta.setItem(r, 1, QTableWidgetItem(value))
