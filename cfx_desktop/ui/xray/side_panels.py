"""The X-ray tab's right column (the prediction, overlay and counterfactual panels, in a scroll area so that at
1280 x 720 it scrolls instead of clipping its words) and the guard's banner above the viewer."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from cfx_desktop.ui.xray.counterfactual_panel import CounterfactualPanel
from cfx_desktop.ui.xray.overlay_panel import OverlayPanel
from cfx_desktop.ui.xray.prediction_panel import PredictionPanel


class SidePanels(QScrollArea):
    def __init__(self, models: list[tuple[str, dict]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMaximumWidth(372)
        column = QWidget()
        layout = QVBoxLayout(column)
        self.prediction = PredictionPanel(models, column)
        self.overlay = OverlayPanel(column)
        self.counterfactual = CounterfactualPanel(column)
        for panel in (self.prediction, self.overlay, self.counterfactual):
            layout.addWidget(panel)
        layout.addStretch(1)
        self.setWidget(column)


def guard_banner(parent: QWidget) -> QLabel:
    """Hidden until the guard withholds a film or calls it unusual; then it says so in words above the image."""
    banner = QLabel(parent)
    banner.setWordWrap(True)
    banner.setObjectName("guardBanner")
    banner.setStyleSheet("QLabel#guardBanner { background: #fdebd0; color: #6e2c00; border: 1px solid #b9770e; "
                         "padding: 6px; font-weight: bold; }")
    banner.hide()
    return banner
