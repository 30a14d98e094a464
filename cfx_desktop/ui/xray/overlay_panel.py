"""The saliency-overlay box: method (every registered saliency method), colour map, opacity, threshold, show or
hide, progress with Cancel, and what was computed."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSlider, QWidget,
)

from cfx_desktop.core.imaging import live

from cfx_desktop.core.imaging.explain import shortcuts
from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS
from cfx_desktop.sessions.xray import JobState
from cfx_desktop.ui import theme
from cfx_desktop.ui.xray.viewer import COLORMAPS


class OverlayPanel(QGroupBox):
    EVIDENCE_TIP = ("Where the map's evidence lies: the film's border band, burned-in markers (R, L, text), outside the "
                    "estimated lung fields. Evidence there is a possible shortcut, not a finding")
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
        self.threshold = QSlider(Qt.Orientation.Horizontal, self)
        self.threshold.setRange(0, 95)
        self.show_overlay = QCheckBox("show (o)", self)  # their values: the session's style (`show_style`)
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
        self.evidence = QLabel("", self)
        self.evidence.setWordWrap(True)
        self.evidence.setToolTip(self.EVIDENCE_TIP)
        self.sanity = QLabel("", self)
        self.sanity.setWordWrap(True)
        self.sanity.setToolTip("The map's sanity checks on this film (randomized top layer, all layers, shuffled labels): "
                               "a map that survives them does not depend on what the model learned")
        grid.addRow("Method", self.method)
        grid.addRow("Colormap", self.colormap)
        grid.addRow("Opacity", self.opacity)
        grid.addRow("Threshold", self.threshold)
        grid.addRow(self.show_overlay)
        grid.addRow(row)
        grid.addRow(self.status)
        grid.addRow(self.evidence)
        grid.addRow(self.sanity)
        self.method.currentIndexChanged.connect(lambda _: self.method_chosen.emit(self.method.currentData()))
        self.colormap.currentTextChanged.connect(lambda name: self.style_changed.emit({"colormap": name}))
        self.opacity.valueChanged.connect(lambda v: self.style_changed.emit({"opacity": v / 100}))
        self.threshold.valueChanged.connect(lambda v: self.style_changed.emit({"threshold": v / 100}))
        self.show_overlay.toggled.connect(lambda on: self.style_changed.emit({"visible": on}))
        self.cancel.clicked.connect(self.cancel_requested)

    def show_method(self, key: str) -> None:
        """Show the session's method (a model's own default) without sending it back as the reader's choice."""
        self.method.blockSignals(True)
        self.method.setCurrentIndex(max(self.method.findData(key), 0))
        self.method.blockSignals(False)

    def show_style(self, style) -> None:  # noqa: ANN001 - render.OverlayStyle
        """Show the session's overlay style without sending it back as a change."""
        controls = (self.colormap, self.opacity, self.threshold, self.show_overlay)
        for widget in controls:
            widget.blockSignals(True)
        self.colormap.setCurrentText(style.colormap)
        self.opacity.setValue(round(style.opacity * 100))
        self.threshold.setValue(round(style.threshold * 100))
        self.show_overlay.setChecked(style.visible)
        for widget in controls:
            widget.blockSignals(False)

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
            self.evidence.setText(shortcuts.describe_short(overlay.shortcuts) if overlay.shortcuts else "")
            self.evidence.setToolTip(shortcuts.describe(overlay.shortcuts) if overlay.shortcuts else self.EVIDENCE_TIP)
        else:
            self.status.setText(state.message)
            if overlay is None:
                self.evidence.setText("")
                self.sanity.setText("")

    def show_sanity(self, verdicts: list | None, running: bool) -> None:
        """The current map's sanity verdicts: a failing map is marked in words, in the warning colour."""
        if verdicts is None:
            self.sanity.setText("Sanity checks: running on this film..." if running else "")
            return
        failed = [v.check for v in verdicts if not v.passed]
        if failed:
            self.sanity.setText(f"<span style='color: {theme.colour('bad')}'><b>FAILS its sanity check on this film</b></span> "
                                f"({', '.join(failed)})")
            self.sanity.setToolTip("This map may not show what the model learned: it survives randomizing "
                                   f"{', '.join(failed)}. See the Sanity checks page.")
        else:
            self.sanity.setText(f"<span style='color: {theme.colour('good')}'>Passes its sanity checks on this film</span>")

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 100))
