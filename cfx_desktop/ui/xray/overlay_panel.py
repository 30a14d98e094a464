"""The saliency-overlay box: method (every registered saliency method), colour map, opacity, threshold, show or
hide, progress with Cancel, and what was computed."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSlider, QWidget,
)

from cfx_desktop.core.imaging import live
from cfx_desktop.core.imaging.saliency import SALIENCY_METHODS
from cfx_desktop.sessions.xray import JobState
from cfx_desktop.ui.xray.viewer import COLORMAPS


class OverlayPanel(QGroupBox):
    method_chosen = Signal(str)
    style_changed = Signal(dict)  # ImageView.set_overlay_style keywords
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Saliency overlay", parent)
        grid = QFormLayout(self)
        self.method = QComboBox(self)
        for key, method in SALIENCY_METHODS.items():
            self.method.addItem(method.label, key)
        self.colormap = QComboBox(self)
        self.colormap.addItems(COLORMAPS)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.threshold = QSlider(Qt.Orientation.Horizontal, self)
        self.threshold.setRange(0, 95)
        self.threshold.setValue(20)
        self.show_overlay = QCheckBox("show (o)", self)
        self.show_overlay.setChecked(True)
        self.method.setToolTip("How the map is computed: Grad-CAM (coarse, fast), Integrated Gradients (sharper, noisier) "
                               "or occlusion (slow, uses only the model's outputs). See Help > Glossary")
        self.colormap.setToolTip("Colours of the overlay; the legend under the image shows the scale")
        self.opacity.setToolTip("How strongly the overlay covers the image (0 = image only)")
        self.threshold.setToolTip("Hide the weakest evidence: only values above this share of the strongest are coloured")
        self.show_overlay.setToolTip("Show or hide the overlay (key O)")
        row = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setVisible(False)
        self.cancel.setToolTip("Stop computing this overlay")
        row.addWidget(self.progress)
        row.addWidget(self.cancel)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        grid.addRow("Method", self.method)
        grid.addRow("Colormap", self.colormap)
        grid.addRow("Opacity", self.opacity)
        grid.addRow("Threshold", self.threshold)
        grid.addRow(self.show_overlay)
        grid.addRow(row)
        grid.addRow(self.status)
        self.method.currentIndexChanged.connect(lambda _: self.method_chosen.emit(self.method.currentData()))
        self.colormap.currentTextChanged.connect(lambda name: self.style_changed.emit({"colormap": name}))
        self.opacity.valueChanged.connect(lambda v: self.style_changed.emit({"opacity": v / 100}))
        self.threshold.valueChanged.connect(lambda v: self.style_changed.emit({"threshold": v / 100}))
        self.show_overlay.toggled.connect(lambda on: self.style_changed.emit({"visible": on}))
        self.cancel.clicked.connect(self.cancel_requested)

    def display(self, overlay: live.Overlay | None, state: JobState) -> None:
        self.progress.setVisible(state.running)
        self.cancel.setVisible(state.running)
        if state.running:
            self.progress.setValue(0)
        if overlay is not None and state.state == "done":
            result = overlay.result
            delta = result.params.get("convergence_delta")
            extra = f", convergence delta {delta:.1e}" if delta is not None else ""
            self.status.setText(f"{SALIENCY_METHODS.get(result.method).label} for '{result.target}' in "
                                f"{result.seconds * 1000:.0f} ms{extra}")
        else:
            self.status.setText(state.message)

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 100))
