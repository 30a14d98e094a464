"""The X-ray tab's "your own images" flow: File > New image model from folder (a dialog showing what the folder
holds and how it will be split, then training in the worker pool with progress and Cancel, then the validation
metrics and the guard's calibration) and File > Remove this image model.

The work is `core.imaging.user_models`; this module opens dialogs, forwards the request to the pool and shows what
comes back. A cancelled or failed training leaves nothing behind, and the dialog's choices survive a refusal.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QLabel, QLineEdit, QMessageBox, QProgressDialog,
    QSpinBox, QVBoxLayout, QWidget,
)

from cfx_desktop.core.imaging.models import user_models
from cfx_desktop.ui.job_progress import close_progress, open_progress, show_progress
from cfx_desktop.sessions.scheduler import Scheduler
from cfx_desktop.sessions.training import Training


class ImageFolderDialog(QDialog):
    """What the folder holds (classes, counts, the split and why), the positive class, a name and the epochs."""

    def __init__(self, scan: user_models.FolderScan, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scan = scan
        self.setWindowTitle("New image model from folder")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(640, 360)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<b>{html.escape(str(scan.root))}</b>", self))
        form = QFormLayout()
        self.positive = QComboBox(self)
        for name in scan.classes:
            self.positive.addItem(name, name)
        self.positive.setCurrentIndex(1)
        self.positive.setToolTip("The class the model looks for (its probability is shown); the other is the normal class")
        self.positive.currentIndexChanged.connect(self._rescan)
        form.addRow("Finding (positive class):", self.positive)
        self.counts = QLabel(self)
        form.addRow("Images:", self.counts)
        self.split = QLabel(self)
        self.split.setWordWrap(True)
        form.addRow("Validation split:", self.split)
        self.name = QLineEdit(scan.root.name, self)
        self.name.setToolTip("How the model is listed in the X-ray tab's model box")
        form.addRow("Name:", self.name)
        self.epochs = QSpinBox(self)
        self.epochs.setRange(1, 100)
        self.epochs.setValue(user_models.TrainSettings().epochs)
        self.epochs.setToolTip("Training epochs of the classifier and the referee (the best validation epoch is kept)")
        form.addRow("Epochs:", self.epochs)
        layout.addLayout(form)
        self.note = QLabel("Trains five models on this computer: the classifier, an independent referee that judges its "
                           "counterfactuals, the autoencoder that draws them, a shuffled-label twin for the sanity check, and "
                           "the guard that withholds images unlike these. Your images stay where they are.", self)
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #a93226")
        layout.addWidget(self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.train_button = self.buttons.addButton("Train", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._show(scan)

    def _show(self, scan: user_models.FolderScan) -> None:
        self.scan = scan
        neg, pos = scan.classes
        self.counts.setText(f"{scan.counts[pos]} {html.escape(pos)}, {scan.counts[neg]} {html.escape(neg)} "
                            f"({scan.patients[pos]} / {scan.patients[neg]} patients)")
        self.split.setText(html.escape(scan.split_reason))

    def _rescan(self) -> None:
        try:
            self._show(user_models.scan(self.scan.root, self.positive.currentData()))
            self.problem.clear()
        except user_models.FolderError as exc:
            self.problem.setText(str(exc))

    def _accept(self) -> None:
        try:
            user_models.slug(self.name.text())
        except user_models.FolderError as exc:
            self.problem.setText(str(exc))
            return
        taken = (user_models.root() / user_models.slug(self.name.text())).exists()
        if taken:
            self.problem.setText(f"An image model called {user_models.slug(self.name.text())!r} exists already: choose another name.")
            return
        self.accept()

    def settings(self) -> user_models.TrainSettings:
        return user_models.TrainSettings(epochs=self.epochs.value())


class OwnImagesFlow(QObject):
    """Owned by the X-ray tab; ``model_ready(name)`` once a new model is trained, ``model_removed(name)``."""

    model_ready = Signal(str)
    model_removed = Signal(str)
    message = Signal(str, str, str)

    def __init__(self, scheduler: Scheduler, parent: QWidget) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.training = Training(scheduler, "Training your image model")
        self.training.progressed.connect(lambda fraction, text: show_progress(self.progress, fraction, text))
        self.training.trained.connect(lambda _name, summary: self._on_trained(summary))
        self.training.failed.connect(self._on_failed)
        self.training.stopped.connect(self._on_stopped)
        self.dialog: ImageFolderDialog | None = None
        self.progress: QProgressDialog | None = None
        self.summary_dialog: QDialog | None = None

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.parent_widget, "New image model from folder (one sub-folder per class)")
        if path:
            self.open_dialog(Path(path))

    def open_dialog(self, folder: Path) -> ImageFolderDialog | None:
        try:
            scan = user_models.scan(folder)
        except user_models.FolderError as exc:
            self.message.emit("Cannot train on this folder", str(exc), "")
            return None
        dialog = ImageFolderDialog(scan, self.parent_widget)
        dialog.accepted.connect(lambda: self._start(dialog))
        dialog.open()
        self.dialog = dialog
        return dialog

    def _start(self, dialog: ImageFolderDialog) -> None:
        name = dialog.name.text()
        self.progress = open_progress(self.parent_widget, "Training your image model", f"Training {name}...", self.cancel)
        self.training.start(name, user_models.train, dialog.scan, name, dialog.settings())

    def cancel(self) -> None:
        """Stop training: the job stops at its next step and removes what it had written; then it is said."""
        self._close_progress()
        self.training.stop()

    def _on_stopped(self, name: str) -> None:
        self._close_progress()
        self.message.emit("Training cancelled", f"Training of {name} stopped and what it had written was removed; "
                          "your images are unchanged (File > New image model from folder to try again).", "")

    def _on_failed(self, _name: str, message: str, details: str) -> None:
        self._close_progress()
        self.message.emit("Training failed", f"{message} Nothing was kept; your images are unchanged.", details)

    def _on_trained(self, summary: object) -> None:
        self._close_progress()
        assert isinstance(summary, dict)
        weak = user_models.weaknesses(summary)
        use = not weak or self.confirm_weak(
            f"The image model {summary['name']} was trained, but " + "; and ".join(weak) +
            ".\n\nPut it in use anyway? (No keeps it installed but leaves the current model selected; you can still "
            "choose it in the model box or remove it.)")
        self.show_summary(summary, selected=use)
        if use:
            self.model_ready.emit(summary["classifier"])

    def confirm_weak(self, text: str) -> bool:
        """Asked before a weak model is put in use (tests replace it)."""
        return QMessageBox.warning(self.parent_widget, "Weak image model", text,
                                   QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                   QMessageBox.StandardButton.No) == QMessageBox.StandardButton.Yes

    def _close_progress(self) -> None:
        close_progress(self.progress, self.cancel)
        self.progress = None

    def show_summary(self, summary: dict, selected: bool = True) -> QDialog:
        """Validation metrics and the guard's calibration, in words."""
        dialog = QDialog(self.parent_widget)
        dialog.setWindowTitle(f"Image model {summary['name']}")
        dialog.resize(760, 340)
        layout = QVBoxLayout(dialog)
        neg, pos = summary["labels"]
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in user_models.summary_lines(summary))
        text = QLabel(f"<b>{html.escape(summary['name'])}</b>: {html.escape(pos)} vs {html.escape(neg)}, trained on "
                      f"{html.escape(summary['folder'])}. " + ("It is now selected in the model box; every explanation works "
                      "with it." if selected else "<b>It was not put in use</b> (weak: see the warnings); it is in the model "
                      "box if you choose it.") + f"<ul>{lines}</ul>Validation numbers are on patients the models never trained on.", dialog)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.close)
        layout.addWidget(buttons)
        dialog.show()
        self.summary_dialog = dialog
        return dialog

    def remove(self, name: str, confirm: Callable[[str], bool] | None = None) -> bool:
        ask = confirm or (lambda text: QMessageBox.question(self.parent_widget, "Remove image model", text)
                          == QMessageBox.StandardButton.Yes)
        if name not in {item["name"] for item in user_models.installed()}:
            self.message.emit("Shipped model", f"{name} ships with the app and cannot be removed; only image models you "
                              "trained on your own folders can.", "")
            return False
        if not ask(f"Remove the image model {name} (its classifier, referee, autoencoder, twin and guard)? "
                   "The images themselves are not touched."):
            return False
        try:
            user_models.remove(name)
        except user_models.FolderError as exc:
            self.message.emit("Cannot remove the image model", str(exc), "")
            return False
        self.model_removed.emit(name)
        return True
