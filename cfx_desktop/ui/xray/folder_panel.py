"""Left column of the X-ray tab: open buttons, the folder's thumbnails (predictions fill in as they arrive) and
the image / DICOM header table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout, QHeaderView, QLabel, QListWidget, QListWidgetItem, QPushButton, QTableWidget, QTableWidgetItem, QTreeWidget,
    QTreeWidgetItem, QVBoxLayout, QWidget,
)

from cfx_desktop.ui.accessibility import set_header_tips
from cfx_desktop.core.imaging.io.load import IMAGE_SUFFIXES, LoadedImage
from cfx_desktop.core.imaging.io.header import header_rows


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
        self.open_button.setToolTip("Open one image: PNG, JPEG, TIFF or DICOM (Ctrl+O)")
        self.folder_button.setToolTip("Open a folder of images or a DICOMDIR: every image gets a prediction")
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.folder_button)
        layout.addLayout(buttons)
        self.thumbnails = QListWidget(self)
        self.thumbnails.setIconSize(QSize(56, 56))
        self.thumbnails.setToolTip("Images of the opened folder with their predictions (computed in the background)")
        layout.addWidget(self.thumbnails, 2)
        self.tree = QTreeWidget(self)  # a DICOMDIR or a folder of DICOM files: patient / study / series / image
        self.tree.setHeaderLabels(["Patient / study / series / image"])
        self.tree.setToolTip("DICOM files grouped by patient, study and series (from the DICOMDIR or the files' headers)")
        self.tree.hide()
        layout.addWidget(self.tree, 2)
        self.tree_note = QLabel("", self)
        self.tree_note.setWordWrap(True)
        self.tree_note.hide()
        layout.addWidget(self.tree_note)
        self.meta = QTableWidget(0, 2, self)
        self.meta.setHorizontalHeaderLabels(["Field", "Value"])
        set_header_tips(self.meta, ["What the file says: modality, view, body part and pixel spacing first",
                                    "As stored in the file; 'not stated' when the file does not say"])
        self.meta.verticalHeader().setVisible(False)
        self.meta.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.meta.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(QLabel("<b>Image and DICOM header</b>", self))
        layout.addWidget(self.meta, 1)
        self.open_button.clicked.connect(self.open_file_clicked)
        self.folder_button.clicked.connect(self.open_folder_clicked)
        self.thumbnails.currentItemChanged.connect(
            lambda item, _previous: self.image_chosen.emit(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None)
        self.tree.currentItemChanged.connect(self._tree_chosen)
        self._leaves: dict[str, tuple[QTreeWidgetItem, str]] = {}  # path -> (tree leaf, its label), in tree order

    def _tree_chosen(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        path = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if path:
            self.image_chosen.emit(path)

    def set_tree(self, tree) -> None:  # noqa: ANN001 - core.imaging.dicom_tree.DicomTree
        """Show a DICOM tree instead of the flat list; every image leaf opens its file."""
        self.thumbnails.hide()
        self.tree.show()
        self.tree.blockSignals(True)
        self.tree.clear()
        self._leaves = {}
        for patient in tree.patients.values():
            p_item = QTreeWidgetItem([patient.label()])
            for study in patient.studies.values():
                s_item = QTreeWidgetItem([study.label()])
                for series in study.series.values():
                    r_item = QTreeWidgetItem([series.label()])
                    for instance in series.instances:
                        leaf = QTreeWidgetItem([instance.label()])
                        leaf.setData(0, Qt.ItemDataRole.UserRole, instance.path)
                        leaf.setToolTip(0, instance.path)
                        r_item.addChild(leaf)
                        self._leaves[instance.path] = (leaf, instance.label())
                    s_item.addChild(r_item)
                p_item.addChild(s_item)
            self.tree.addTopLevelItem(p_item)
        self.tree.expandToDepth(1)
        self.tree.blockSignals(False)
        notes = []
        if tree.skipped:
            notes.append(f"{tree.skipped} file(s) were not readable DICOM images and are not listed")
        if tree.truncated:
            notes.append("only the first 5000 DICOM files are listed")
        self.tree_note.setText("; ".join(notes))
        self.tree_note.setVisible(bool(notes))

    def first_image_item(self) -> QTreeWidgetItem | None:
        return next((leaf for leaf, _ in self._leaves.values()), None)

    def show_folder(self, folder: Path, tree) -> tuple[list[str], str]:  # noqa: ANN001 - a DicomTree, or None
        """A DICOMDIR or DICOM folder as its patient / study / series tree, any other folder as a list of its images;
        (the image files, "") or ([], why there is nothing to show). Selecting the first image is `select_first`."""
        if tree is not None and tree.patients:
            self.set_tree(tree)
            return tree.image_paths(), ""
        if folder.is_file():  # a DICOMDIR that lists nothing readable
            return [], f"{folder} lists no readable DICOM images."
        files = sorted(str(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES - {""})
        if not files:
            return [], f"{folder} holds no PNG, JPEG, TIFF or DICOM files."
        self.set_files(files)
        return files, ""

    def select_first(self) -> None:
        if self._leaves:  # a DICOM tree
            self.tree.setCurrentItem(self.first_image_item())
        else:
            self.thumbnails.setCurrentRow(0)

    def set_files(self, files: list[str]) -> None:
        self._leaves = {}
        self.tree.hide()
        self.tree_note.hide()
        self.thumbnails.show()
        self.thumbnails.blockSignals(True)
        self.thumbnails.clear()
        for path in files:
            item = QListWidgetItem(f"{Path(path).name}\n(waiting)")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.thumbnails.addItem(item)
        self.thumbnails.blockSignals(False)

    def show_folder_result(self, payload: dict) -> None:
        """One image of the folder predicted (or unreadable): update its thumbnail (or its tree leaf)."""
        found = self._leaves.get(payload["path"])
        if found is not None:
            leaf, base = found
            p = payload["probability"]
            verdict = "unreadable" if payload["error"] else f"{payload['label']}" + ("" if p is None else f" (p = {p:.2f})")
            leaf.setText(0, f"{base}  ->  {verdict}")
            leaf.setToolTip(0, payload["error"] or payload.get("guard") or payload["path"])
            if payload.get("thumbnail") is not None:
                leaf.setIcon(0, QIcon(gray_pixmap(payload["thumbnail"])))
            return
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
        if self.tree.isVisibleTo(self):
            item = self.tree.currentItem()
            return item is not None and item.data(0, Qt.ItemDataRole.UserRole) == path
        item = self.thumbnails.currentItem()
        return item is not None and item.data(Qt.ItemDataRole.UserRole) == path

    def show_metadata(self, image: LoadedImage) -> None:
        rows = header_rows(image)
        self.meta.setRowCount(len(rows))
        for r, (key, value) in enumerate(rows):
            self.meta.setItem(r, 0, QTableWidgetItem(key))
            self.meta.setItem(r, 1, QTableWidgetItem(value))
