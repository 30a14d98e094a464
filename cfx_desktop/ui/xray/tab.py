"""The Chest X-ray tab: open images (file, folder, drag and drop), prediction, saliency overlays, local
counterfactual images and sanity checks. Every computation runs in the worker pool; each result carries the
token of the image it answers and is dropped if another image is shown by then."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
    QListWidget, QListWidgetItem, QProgressBar, QPushButton, QSlider, QSplitter, QTableWidget, QTableWidgetItem,
    QTabWidget, QVBoxLayout, QWidget,
)

from cfx_desktop.core.imaging import live, render
from cfx_desktop.core.imaging.counterfactual import MaskSettings
from cfx_desktop.core.imaging.io import IMAGE_SUFFIXES, LoadedImage
from cfx_desktop.core.imaging.saliency import METHOD_LABELS
from cfx_desktop.ui import report
from cfx_desktop.ui.tab_base import DoneFn, SelfTestStep, ToolTab, poll_until
from cfx_desktop.ui.xray.compare_view import CompareView
from cfx_desktop.ui.xray.viewer import COLORMAPS, ImageView
from cfx_desktop.workers.pool import Job, JobError, LatestOnly, WorkerPool

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.dcm *.dicom);;All files (*)"


def _pixmap(gray: np.ndarray) -> QPixmap:
    data = np.ascontiguousarray(np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8))
    image = QImage(data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(image.copy())


def _rgb_pixmap(rgb: np.ndarray) -> QPixmap:
    data = np.ascontiguousarray(rgb)
    image = QImage(data.data, data.shape[1], data.shape[0], 3 * data.shape[1], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class XrayTab(ToolTab):
    title = "Chest X-ray"
    open_filter = IMAGE_FILTER

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(pool, parent)
        self.image: LoadedImage | None = None
        self.token = 0
        self._pending_token = 0
        self.prediction: live.Prediction | None = None
        self.overlay_result: live.Overlay | None = None
        self.cf_result: live.Counterfactual | None = None
        self.sanity_result: live.Sanity | None = None
        self.folder_job: Job | None = None
        self._build()
        self.open_channel = LatestOnly(pool, "Open image", self)
        self.predict_channel = LatestOnly(pool, "Prediction", self)
        self.overlay_channel = LatestOnly(pool, "Saliency overlay", self)
        self.cf_channel = LatestOnly(pool, "Counterfactual image", self)
        self.sanity_channel = LatestOnly(pool, "Sanity check", self)
        self.open_channel.result.connect(self._on_opened)
        self.open_channel.error.connect(self._on_open_error)
        self.predict_channel.result.connect(self._on_prediction)
        self.predict_channel.error.connect(lambda e: self._report(e, self.prediction_label))
        self.overlay_channel.result.connect(self._on_overlay)
        self.overlay_channel.error.connect(lambda e: self._report(e, self.overlay_status))
        self.overlay_channel.progress.connect(lambda f, m, p: self.overlay_progress.setValue(int(f * 100)))
        self.overlay_channel.idle.connect(lambda: self._busy(self.overlay_progress, self.overlay_cancel, False))
        self.cf_channel.result.connect(self._on_counterfactual)
        self.cf_channel.error.connect(lambda e: self._report(e, self.cf_metrics))
        self.cf_channel.progress.connect(self._on_cf_progress)
        self.cf_channel.idle.connect(lambda: self._busy(self.cf_progress, self.cf_cancel, False))
        self.sanity_channel.result.connect(self._on_sanity)
        self.sanity_channel.error.connect(lambda e: self._report(e, self.sanity_status))
        self.sanity_channel.progress.connect(lambda f, m, p: self.sanity_status.setText(f"running: {m}"))

    # ----- layout -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        outer.addWidget(splitter)

        left = QWidget(splitter)
        left_layout = QVBoxLayout(left)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open image...", left)
        self.folder_button = QPushButton("Open folder...", left)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.folder_button)
        left_layout.addLayout(buttons)
        self.thumbnails = QListWidget(left)
        self.thumbnails.setIconSize(QSize(56, 56))
        self.thumbnails.setToolTip("Images of the opened folder with their predictions (computed in the background)")
        left_layout.addWidget(self.thumbnails, 2)
        self.meta = QTableWidget(0, 2, left)
        self.meta.setHorizontalHeaderLabels(["Field", "Value"])
        self.meta.verticalHeader().setVisible(False)
        self.meta.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.meta.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        left_layout.addWidget(QLabel("<b>Image and DICOM header</b>", left))
        left_layout.addWidget(self.meta, 1)
        splitter.addWidget(left)

        self.pages = QTabWidget(splitter)
        self.viewer = ImageView(self.pages, histogram=True)
        self.empty_hint = QLabel("Open a chest X-ray (PNG, JPEG, TIFF or DICOM): File > Open, the buttons on the left, "
                                 "or drop files here. Research and teaching tool: not for diagnosis.", self.viewer)
        self.empty_hint.setStyleSheet("color: #dddddd; padding: 12px;")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setGeometry(10, 10, 520, 60)
        self.compare = CompareView(self.pages)
        self.sanity_page = QWidget(self.pages)
        self._build_sanity_page()
        self.pages.addTab(self.viewer, "Viewer")
        self.pages.addTab(self.compare, "Counterfactual comparison")
        self.pages.addTab(self.sanity_page, "Sanity checks")
        splitter.addWidget(self.pages)

        right = QWidget(splitter)
        right.setMaximumWidth(360)
        right_layout = QVBoxLayout(right)
        box = QGroupBox("Prediction", right)
        form = QVBoxLayout(box)
        self.prediction_label = QLabel("No image", box)
        self.prediction_label.setWordWrap(True)
        form.addWidget(self.prediction_label)
        right_layout.addWidget(box)

        box = QGroupBox("Saliency overlay", right)
        grid = QFormLayout(box)
        self.method = QComboBox(box)
        for key, label in METHOD_LABELS.items():
            self.method.addItem(label, key)
        self.colormap = QComboBox(box)
        self.colormap.addItems(COLORMAPS)
        self.opacity = QSlider(Qt.Orientation.Horizontal, box)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.threshold = QSlider(Qt.Orientation.Horizontal, box)
        self.threshold.setRange(0, 95)
        self.threshold.setValue(20)
        self.show_overlay = QCheckBox("show (o)", box)
        self.show_overlay.setChecked(True)
        row = QHBoxLayout()
        self.overlay_progress = QProgressBar(box)
        self.overlay_progress.setVisible(False)
        self.overlay_cancel = QPushButton("Cancel", box)
        self.overlay_cancel.setVisible(False)
        row.addWidget(self.overlay_progress)
        row.addWidget(self.overlay_cancel)
        self.overlay_status = QLabel("", box)
        self.overlay_status.setWordWrap(True)
        grid.addRow("Method", self.method)
        grid.addRow("Colormap", self.colormap)
        grid.addRow("Opacity", self.opacity)
        grid.addRow("Threshold", self.threshold)
        grid.addRow(self.show_overlay)
        grid.addRow(row)
        grid.addRow(self.overlay_status)
        right_layout.addWidget(box)

        box = QGroupBox("Counterfactual image", right)
        cf_layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.cf_button = QPushButton("Generate counterfactual (g)", box)
        self.cf_cancel = QPushButton("Cancel", box)
        self.cf_cancel.setVisible(False)
        row.addWidget(self.cf_button)
        row.addWidget(self.cf_cancel)
        cf_layout.addLayout(row)
        self.cf_progress = QProgressBar(box)
        self.cf_progress.setVisible(False)
        cf_layout.addWidget(self.cf_progress)
        self.curve = pg.PlotWidget(box)
        self.curve.setBackground("w")
        self.curve.setMinimumHeight(130)
        self.curve.setLabel("left", "p(pneumonia)")
        self.curve.setLabel("bottom", "step")
        self.curve.setYRange(0, 1)
        self.curve.getAxis("left").enableAutoSIPrefix(False)
        self.curve_line = self.curve.plot([], [], pen=pg.mkPen((40, 80, 200), width=2))
        self.curve_threshold = pg.InfiniteLine(pos=0.5, angle=0, pen=pg.mkPen((200, 0, 0), style=Qt.PenStyle.DashLine))
        self.curve.addItem(self.curve_threshold)
        cf_layout.addWidget(self.curve)
        self.cf_metrics = QLabel("", box)
        self.cf_metrics.setWordWrap(True)
        cf_layout.addWidget(self.cf_metrics)
        right_layout.addWidget(box)
        right_layout.addStretch(1)
        splitter.addWidget(right)
        splitter.setSizes([240, 820, 340])
        self._path: list[float] = []

        self.open_button.clicked.connect(self._open_dialog)
        self.folder_button.clicked.connect(self._folder_dialog)
        self.thumbnails.currentItemChanged.connect(self._thumbnail_chosen)
        self.method.currentIndexChanged.connect(lambda _: self.request_overlay())
        self.colormap.currentTextChanged.connect(lambda name: self.viewer.set_overlay_style(colormap=name))
        self.opacity.valueChanged.connect(lambda v: self.viewer.set_overlay_style(opacity=v / 100))
        self.threshold.valueChanged.connect(lambda v: self.viewer.set_overlay_style(threshold=v / 100))
        self.show_overlay.toggled.connect(lambda on: self.viewer.set_overlay_style(visible=on))
        self.overlay_cancel.clicked.connect(self._cancel_overlay)
        self.cf_button.clicked.connect(self.generate_counterfactual)
        self.cf_cancel.clicked.connect(self.cancel_counterfactual)
        self.sanity_button.clicked.connect(self.run_sanity)
        for key, slot in (("=", self._fit), ("O", self.show_overlay.toggle), ("I", self._toggle_invert), ("1", self._one_to_one),
                          ("R", self._reset_view), ("G", self.generate_counterfactual), ("PgDown", lambda: self._step_image(1)),
                          ("PgUp", lambda: self._step_image(-1)), ("+", lambda: self._zoom(1.25)), ("-", lambda: self._zoom(0.8))):
            QShortcut(QKeySequence(key), self, activated=slot)

    def _build_sanity_page(self) -> None:
        layout = QVBoxLayout(self.sanity_page)
        row = QHBoxLayout()
        self.sanity_button = QPushButton("Run randomization checks on this image", self.sanity_page)
        self.sanity_status = QLabel("Adebayo et al. (2018): a saliency method should give different maps once the "
                                    "model's weights (cascading) or its training labels are randomized.", self.sanity_page)
        self.sanity_status.setWordWrap(True)
        row.addWidget(self.sanity_button)
        row.addWidget(self.sanity_status, 1)
        layout.addLayout(row)
        self.sanity_table = QTableWidget(0, 3, self.sanity_page)
        self.sanity_table.setHorizontalHeaderLabels(["Randomized", "Spearman (|map|)", "SSIM"])
        self.sanity_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            self.sanity_table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.sanity_table.verticalHeader().setVisible(False)
        self.sanity_table.setMaximumHeight(230)
        layout.addWidget(self.sanity_table)
        self.sanity_grid = QGridLayout()
        self.sanity_grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(self.sanity_grid)
        layout.addStretch(1)

    def shortcuts(self) -> list[tuple[str, str]]:
        return [("=", "fit the image"), ("1", "one image pixel per screen pixel"), ("+ / -", "zoom"), ("R", "reset window/level and view"),
                ("I", "invert"), ("O", "show or hide the overlay"), ("G", "generate a counterfactual"),
                ("PgDown / PgUp", "next / previous image of the folder"), ("right mouse drag", "window (horizontal) and level (vertical)"),
                ("left mouse drag / wheel", "pan / zoom")]

    # ----- opening ------------------------------------------------------------------------------------------
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open chest X-ray", "", IMAGE_FILTER)
        if path:
            self.open_path(Path(path))

    def _folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder of images")
        if folder:
            self.open_folder(Path(folder))

    def open_path(self, path: Path) -> bool:
        if path.is_dir():
            return self.open_folder(path)
        self._pending_token = self.token + 1
        self.open_channel.request(live.open_image, self._pending_token, str(path))
        return True

    def open_folder(self, folder: Path) -> bool:
        files = sorted(str(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES - {""})
        if not files:
            self.error_raised.emit("No images", f"{folder} holds no PNG, JPEG, TIFF or DICOM files.", "")
            return False
        if self.folder_job is not None:
            self.folder_job.cancel()
        self.thumbnails.clear()
        for path in files:
            item = QListWidgetItem(f"{Path(path).name}\n(waiting)")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.thumbnails.addItem(item)
        job = Job(live.predict_folder, files, title="Folder predictions")
        job.signals.progress.connect(self._on_folder_progress)
        self.folder_job = self.pool.submit(job)
        self.file_opened.emit(str(folder))
        self.thumbnails.setCurrentRow(0)
        return True

    def _on_folder_progress(self, fraction: float, message: str, payload: dict) -> None:
        for row in range(self.thumbnails.count()):
            item = self.thumbnails.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == payload["path"]:
                name = Path(payload["path"]).name
                if payload["error"]:
                    item.setText(f"{name}\nunreadable")
                    item.setToolTip(payload["error"])
                else:
                    item.setText(f"{name}\n{payload['label']} (p = {payload['probability']:.2f})")
                    item.setIcon(QIcon(_pixmap(payload["thumbnail"])))
                break

    def _thumbnail_chosen(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None = None) -> None:
        if item is not None:
            self.open_path(Path(item.data(Qt.ItemDataRole.UserRole)))

    def _step_image(self, delta: int) -> None:
        row = self.thumbnails.currentRow() + delta
        if 0 <= row < self.thumbnails.count():
            self.thumbnails.setCurrentRow(row)

    def _on_opened(self, opened: live.Opened) -> None:
        if opened.token != self._pending_token:
            return
        self.token = opened.token
        self.image = opened.image
        self.empty_hint.hide()
        self.viewer.set_image(opened.image.pixels)
        self.viewer.set_overlay(None)
        self.overlay_result = self.cf_result = None
        self.compare.clear()
        self.cf_metrics.setText("")
        self.curve_line.setData([], [])
        self._show_metadata(opened.image)
        self.prediction_label.setText("computing...")
        self.predict_channel.request(live.predict, self.token, opened.image.pixels)
        self.request_overlay()
        if self.thumbnails.currentItem() is None or self.thumbnails.currentItem().data(Qt.ItemDataRole.UserRole) != opened.image.source:
            self.file_opened.emit(opened.image.source)
        self.status_message.emit(f"Opened {Path(opened.image.source).name}")

    def _on_open_error(self, error: JobError) -> None:
        shown = f"; still showing {Path(self.image.source).name}" if self.image else ""
        self.error_raised.emit("Could not open the image", error.message + shown, error.details)

    def _show_metadata(self, image: LoadedImage) -> None:
        rows = [("File", Path(image.source).name), ("Format", image.format), ("Size", f"{image.shape[1]} x {image.shape[0]} px")]
        rows += [(k.capitalize(), str(v)) for k, v in image.metadata.items() if k in ("bits", "mode", "window", "photometric", "transfer_syntax")]
        rows += [(k, str(v)) for k, v in image.metadata.get("dicom", {}).items()]
        self.meta.setRowCount(len(rows))
        for r, (key, value) in enumerate(rows):
            self.meta.setItem(r, 0, QTableWidgetItem(key))
            self.meta.setItem(r, 1, QTableWidgetItem(value))

    # ----- results ------------------------------------------------------------------------------------------
    def _current(self, token: int) -> bool:
        return token == self.token and self.image is not None

    def _on_prediction(self, prediction: live.Prediction) -> None:
        if not self._current(prediction.token):
            return
        self.prediction = prediction
        colour = "#c0392b" if prediction.label == "pneumonia" else "#2e8b57"
        self.prediction_label.setText(
            f"<span style='font-size: 15pt; color: {colour}'><b>{prediction.label}</b></span><br>"
            f"p(pneumonia) = <b>{prediction.probability:.3f}</b> (threshold {prediction.threshold:.3f})<br>"
            f"model: {prediction.card_label} ({prediction.model_name})")
        self.curve_threshold.setValue(prediction.threshold)

    def request_overlay(self) -> None:
        if self.image is None:
            return
        self._busy(self.overlay_progress, self.overlay_cancel, True)
        self.overlay_status.setText(f"computing {self.method.currentText()}...")
        self.overlay_channel.request(live.overlay, self.token, self.image.pixels, self.method.currentData())

    def _cancel_overlay(self) -> None:
        self.overlay_channel.cancel()
        self.overlay_status.setText("cancelled")
        self._busy(self.overlay_progress, self.overlay_cancel, False)

    def _on_overlay(self, result: live.Overlay) -> None:
        if not self._current(result.token):
            return
        self.overlay_result = result
        self.viewer.set_overlay(result.result.values)
        extra = f", convergence delta {result.result.params['convergence_delta']:.1e}" if "convergence_delta" in result.result.params else ""
        self.overlay_status.setText(f"{METHOD_LABELS[result.result.method]} for '{result.result.target}' in "
                                    f"{result.result.seconds * 1000:.0f} ms{extra}")

    def generate_counterfactual(self) -> None:
        if self.image is None:
            return
        self._busy(self.cf_progress, self.cf_cancel, True)
        self.cf_button.setEnabled(False)
        self._path = []
        self.curve_line.setData([], [])
        self.cf_metrics.setText("optimising the latent...")
        self.pages.setCurrentWidget(self.compare)
        self.cf_channel.request(live.counterfactual, self.token, self.image.pixels, steps=self.cf_steps,
                                mask=MaskSettings(method=self.method.currentData()))

    cf_steps = 200

    def cancel_counterfactual(self) -> None:
        self.cf_channel.cancel()
        self.cf_metrics.setText("cancelled")
        self.cf_button.setEnabled(True)
        self._busy(self.cf_progress, self.cf_cancel, False)

    def _on_cf_progress(self, fraction: float, message: str, payload: object) -> None:
        self.cf_progress.setValue(int(fraction * 100))
        if isinstance(payload, dict):
            self._path.append(payload["probability"])
            self.curve_line.setData(np.arange(1, len(self._path) + 1), self._path)
            if payload.get("frame") is not None and self.image is not None:
                self.compare.show_live_frame(self.image.pixels, payload["frame"])

    def _on_counterfactual(self, result: live.Counterfactual) -> None:
        self.cf_button.setEnabled(True)
        if not self._current(result.token):
            return
        self.cf_result = result
        cf = result.result
        self.curve_line.setData(np.arange(len(cf.probability_path)), cf.probability_path)
        self.compare.show_result(cf)
        m = cf.metrics
        verdict = "<b>flipped</b>" if m["flipped"] else "<b>not flipped</b> within the step budget"
        self.cf_metrics.setText(
            f"{cf.source} -> {cf.target}: {verdict}<br>p(pneumonia) {m['initial_probability']:.3f} -> {m['final_probability']:.3f} "
            f"in {m['steps']} steps, {m['seconds']:.1f} s<br>change inside the mask: {m['inside_mask_fraction']:.1%}; "
            f"SSIM {m['ssim']:.3f}; mask covers {m['mask_area']:.0%}")

    def run_sanity(self) -> None:
        if self.image is None:
            return
        self.sanity_status.setText("running...")
        self.sanity_channel.request(live.sanity, self.token, self.image.pixels, self.method.currentData())

    def _on_sanity(self, result: live.Sanity) -> None:
        if not self._current(result.token):
            return
        self.sanity_result = result
        rows = result.report.rows
        self.sanity_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate([row.name, f"{row.spearman:.3f}", f"{row.ssim:.3f}"]):
                self.sanity_table.setItem(r, c, QTableWidgetItem(text))
        while self.sanity_grid.count():
            widget = self.sanity_grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        maps = [("trained model", result.report.original)] + [(row.name.replace("cascade up to ", "random to "), row.map) for row in rows]
        for i, (name, values) in enumerate(maps):
            cell = QWidget(self.sanity_page)
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
            self.sanity_grid.addWidget(cell, i // 6, i % 6)
        note = "" if result.shuffled_available else " (the shuffled-label model is not installed: data randomization skipped)"
        self.sanity_status.setText(f"{METHOD_LABELS[result.report.method]}: low Spearman/SSIM = the map depends on the "
                                   f"learned weights and labels, as it should{note}")

    # ----- helpers ------------------------------------------------------------------------------------------
    def _report(self, error: JobError, label: QLabel) -> None:
        label.setText(f"<b>failed:</b> {error.message}")
        self.error_raised.emit(f"{error.title} failed", error.message, error.details)

    @staticmethod
    def _busy(bar: QProgressBar, cancel: QPushButton, on: bool) -> None:
        bar.setVisible(on)
        cancel.setVisible(on)
        if on:
            bar.setValue(0)

    def _views(self) -> list[ImageView]:
        return [self.viewer] + self.compare.views()

    def _fit(self) -> None:
        for view in self._views():
            view.fit()

    def _one_to_one(self) -> None:
        self.viewer.one_to_one()

    def _zoom(self, factor: float) -> None:
        self.viewer.zoom(factor)

    def _toggle_invert(self) -> None:
        self.viewer.set_inverted(not self.viewer.inverted)

    def _reset_view(self) -> None:
        self.viewer.reset_levels()
        self.viewer.set_inverted(False)
        self._fit()

    # ----- export / idle / self-test ------------------------------------------------------------------------
    def export_to(self, path: Path) -> bool:
        if self.image is None:
            self.error_raised.emit("Nothing to export", "Open an image first.", "")
            return False
        if path.suffix.lower() == ".png":
            return report.write_png(path, self)
        sections = [("Image", f"<p>{Path(self.image.source).name}, {self.image.shape[1]} x {self.image.shape[0]} px, {self.image.format}</p>")]
        if self.prediction is not None:
            sections.append(("Prediction", f"<p>{self.prediction.label}: p(pneumonia) = {self.prediction.probability:.3f} "
                                           f"(threshold {self.prediction.threshold:.3f})</p>"))
        sections.append(("Viewer and overlay", report.pixmap_html(self.viewer.grab())))
        if self.cf_result is not None:
            m = self.cf_result.result.metrics
            sections.append(("Counterfactual", report.pixmap_html(self.compare.grab()) + report.table_html(
                ["flipped", "p before", "p after", "inside mask", "SSIM", "steps"],
                [[str(m["flipped"]), f"{m['initial_probability']:.3f}", f"{m['final_probability']:.3f}",
                  f"{m['inside_mask_fraction']:.3f}", f"{m['ssim']:.3f}", str(m["steps"])]])))
        model = self.prediction.model_name if self.prediction else "-"
        report.write_pdf(path, report.report_html("Chest X-ray explanation", model, sections))
        return True

    def is_idle(self) -> bool:
        return not any(c.busy for c in (self.open_channel, self.predict_channel, self.overlay_channel, self.cf_channel, self.sanity_channel))

    def self_test_steps(self) -> list[SelfTestStep]:
        def start(done: DoneFn) -> None:
            import tempfile

            from PIL import Image

            rng = np.random.default_rng(0)
            image = np.clip(rng.normal(0.45, 0.15, (256, 256)), 0, 1)
            path = Path(tempfile.mkdtemp(prefix="cfx-selftest-")) / "synthetic.png"
            Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path)
            self.method.setCurrentIndex(self.method.findData("gradcam"))
            self.open_path(path)

            def finished() -> None:
                if self.prediction is None or self.overlay_result is None:
                    done(False, "no prediction or Grad-CAM arrived")
                    return
                saliency_ms = self.overlay_result.result.seconds * 1000
                done(True, f"p(pneumonia) = {self.prediction.probability:.2f}; Grad-CAM in {saliency_ms:.0f} ms")

            poll_until(self, lambda: self.is_idle() and self.image is not None and self.prediction is not None
                       and self.overlay_result is not None and self.prediction.token == self.token, finished)

        return [SelfTestStep("chest X-ray prediction and Grad-CAM", start, 120)]
