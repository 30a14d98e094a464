"""The Patient tab's "your own data" flow: File > New dataset from CSV (schema editor, then training in the worker
pool with progress and Cancel, then the cross-validation table) and File > Remove dataset.

The work is `core.tabular.user_datasets`, run by a `sessions.training.Training`; this module only opens dialogs,
forwards the user's actions and shows what comes back. A failed or cancelled training leaves no half-made
dataset behind (the job removes it before it ends, and only then is it said).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QLabel, QMessageBox, QProgressDialog, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from cfx_desktop.core.tabular.infer import InferenceError
from cfx_desktop.ui.accessibility import set_header_tips
from cfx_desktop.ui.job_progress import close_progress, open_progress, show_progress
from cfx_desktop.ui.patient.schema_editor import SchemaEditor
from cfx_desktop.sessions.scheduler import Scheduler
from cfx_desktop.sessions.training import Training

CV_COLUMNS = [("model", "Model"), ("cv_roc_auc", "CV ROC AUC"), ("cv_balanced_accuracy", "CV balanced accuracy"),
              ("cv_brier", "CV Brier"), ("validation_roc_auc", "Validation ROC AUC"), ("threshold", "Threshold")]
CV_TIPS = ["The architecture (its base model; the set adds bootstrap members)",
           "Area under the ROC curve, mean +- sd over the cross-validation folds (0.5 = chance, 1 = perfect)",
           "Mean of sensitivity and specificity at the model's threshold, over the folds",
           "Mean squared error of the probabilities (lower is better; 0.25 = always saying 0.5)",
           "ROC AUC on the 20 % of rows held out from training", "The probability above which the model predicts the event"]


class OwnDatasetFlow(QObject):
    """Owned by the Patient tab; ``dataset_ready(name)`` once a new dataset's models are trained."""

    dataset_ready = Signal(str)
    dataset_removed = Signal(str)
    message = Signal(str, str, str)  # title, text, details (the tab shows it; never fatal)

    def __init__(self, scheduler: Scheduler, parent: QWidget) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.training = Training(scheduler, "Training your dataset")
        self.training.progressed.connect(lambda fraction, text: show_progress(self.progress, fraction, text))
        self.training.trained.connect(self._on_trained)
        self.training.failed.connect(self._on_failed)
        self.training.stopped.connect(self._on_stopped)
        self.editor: SchemaEditor | None = None
        self.progress: QProgressDialog | None = None
        self.cv_dialog: QDialog | None = None

    def file_actions(self, remove_selected: Callable[[], bool]) -> list[tuple[str, object, str]]:
        """The File menu's entries for the user's own datasets."""
        return [("New dataset from CSV...", self.choose_csv,
                 "Make a dataset from your own CSV: check the inferred schema, train its models, explain its patients"),
                ("Remove this dataset...", remove_selected,
                 "Delete the selected dataset of yours (its schema, models and cards; never the CSV)")]

    # ----- new dataset ------------------------------------------------------------------------------------------
    def choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "New dataset from CSV", "", "CSV files (*.csv *.tsv *.txt);;All files (*)")
        if path:
            self.open_editor(Path(path))

    def open_editor(self, path: Path) -> SchemaEditor | None:
        try:
            editor = SchemaEditor(path, self.parent_widget)
        except InferenceError as exc:
            self.message.emit("Cannot make a dataset from this file", str(exc), "")
            return None
        editor.accepted.connect(lambda: self._start(editor))
        editor.open()  # window-modal, non-blocking: the app keeps running
        self.editor = editor
        return editor

    def _start(self, editor: SchemaEditor) -> None:
        from cfx_desktop.core.tabular import user_datasets

        assert editor.schema is not None
        settings = editor.training_settings()
        try:
            item = user_datasets.create(editor.schema, editor.csv_path, {"source": "schema editor"})
        except (user_datasets.UserDatasetError, OSError) as exc:
            self.message.emit("Cannot create the dataset", str(exc), "")
            return
        self.progress = open_progress(self.parent_widget, "Training your dataset",
                                      f"Training the models of {item.schema.title}...", self.cancel)
        self.training.start(item.name, user_datasets.train_or_remove, item.name, settings["architectures"],
                            members=settings["members"], cv_repeats=settings["cv_repeats"])

    def cancel(self) -> None:
        """Stop training; the job removes the half-trained dataset on its way out, and then it is said."""
        self._close_progress()
        self.training.stop()

    def _on_stopped(self, name: str) -> None:
        self._close_progress()
        self._not_kept(name, "cancelled")

    def _on_failed(self, name: str, message: str, _details: str) -> None:
        self._close_progress()
        self._not_kept(name, f"failed: {message}")

    def _not_kept(self, name: str, why: str) -> None:
        self.message.emit(f"Training {why}", f"The dataset {name} was not kept; the CSV and everything you entered "
                          "in the schema editor are unchanged (File > New dataset from CSV to try again).", "")

    def _on_trained(self, name: str, item: object) -> None:
        self._close_progress()
        self.show_cv(item)
        self.dataset_ready.emit(name)

    def _close_progress(self) -> None:
        close_progress(self.progress, self.cancel)
        self.progress = None

    def show_cv(self, item: object) -> QDialog:
        """The cross-validation table of the new dataset's models."""
        info = getattr(item, "info", {})
        rows = info.get("cv", [])
        dialog = QDialog(self.parent_widget)
        dialog.setWindowTitle(f"Models of {getattr(item, 'name', '')}")
        dialog.resize(820, 280)
        layout = QVBoxLayout(dialog)
        protocol = rows[0]["protocol"] if rows else "no cross-validation"
        layout.addWidget(QLabel(f"<b>{html.escape(getattr(item.schema, 'title', ''))}</b>: {len(rows)} architecture(s), "
                                f"{info.get('settings', {}).get('members', 1)} model(s) each; {html.escape(protocol)}. "
                                "The dataset is selected under Dataset.", dialog))
        table = QTableWidget(len(rows), len(CV_COLUMNS), dialog)
        table.setHorizontalHeaderLabels([label for _, label in CV_COLUMNS])
        set_header_tips(table, CV_TIPS)
        table.verticalHeader().setVisible(False)
        for r, row in enumerate(rows):
            for c, (key, _) in enumerate(CV_COLUMNS):
                table.setItem(r, c, QTableWidgetItem(str(row.get(key, "")).replace("+-", "\u00b1")))
        table.resizeColumnsToContents()
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.close)
        layout.addWidget(buttons)
        dialog.show()
        self.cv_dialog = dialog
        return dialog

    # ----- remove -------------------------------------------------------------------------------------------
    def remove_selected(self, session, confirm: Callable[[str], bool] | None = None) -> bool:  # noqa: ANN001
        """Remove the session's dataset if it is the user's own (the session moves to the default first, and back
        if the user says no)."""
        from cfx_desktop.core.tabular.datasets import DATASETS, default_variant, find_variant

        dataset, _ = find_variant(session.variant)
        if not dataset.user_folder:
            self.message.emit("Built-in dataset", f"{dataset.title} ships with the app and cannot be removed; only "
                              "datasets you made from your own CSV can.", "")
            return False
        name = dataset.key
        session.set_dataset(default_variant())
        removed = self.remove(name, confirm)
        if not removed and name in DATASETS:
            session.set_dataset(name)
        return removed

    def remove(self, name: str, confirm: Callable[[str], bool] | None = None) -> bool:
        from cfx_desktop.core.tabular import user_datasets

        ask = confirm or (lambda text: QMessageBox.question(self.parent_widget, "Remove dataset", text)
                          == QMessageBox.StandardButton.Yes)
        if not ask(f"Remove the dataset {name}: its schema, models and cards? The CSV itself is not touched."):
            return False
        try:
            user_datasets.remove(name)
        except user_datasets.UserDatasetError as exc:
            self.message.emit("Cannot remove the dataset", str(exc), "")
            return False
        self.dataset_removed.emit(name)
        return True
