"""The counterfactual-image box: Generate and Cancel, progress, the live probability curve, and the metrics."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from cfx_desktop.ui import theme
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from cfx_desktop.core.imaging import live
from cfx_desktop.core.imaging.counterfactual.generate import confirmation_sentence, convincing, expert_checks, verdict_line
from cfx_desktop.sessions.xray import JobState


class CounterfactualPanel(QGroupBox):
    generate_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Counterfactual image", parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.button = QPushButton("Generate counterfactual (g)", self)
        self.cancel = QPushButton("Cancel", self)
        self.button.setToolTip("Edit the image inside its salient region until the model's answer flips (key G); "
                               "the independent referee then says whether it sees the change too")
        self.cancel.setToolTip("Stop the search (Esc)")
        self.cancel.setVisible(False)
        row.addWidget(self.button)
        row.addWidget(self.cancel)
        layout.addLayout(row)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.curve = pg.PlotWidget(self)
        theme.style_plot(self.curve)
        self.curve.setMinimumHeight(130)
        self.curve.setLabel("left", "p(finding)")  # the model's class word once a prediction names it
        self.curve.setLabel("bottom", "step")
        self.curve.setYRange(0, 1)
        self.curve.getAxis("left").enableAutoSIPrefix(False)
        self.curve_line = self.curve.plot([], [], pen=pg.mkPen((40, 80, 200), width=2))
        self.curve_threshold = pg.InfiniteLine(pos=0.5, angle=0, pen=pg.mkPen((200, 0, 0), style=Qt.PenStyle.DashLine))
        self.curve.addItem(self.curve_threshold)
        layout.addWidget(self.curve)
        self.metrics = QLabel("", self)
        self.metrics.setWordWrap(True)
        layout.addWidget(self.metrics)
        self.path: list[float] = []
        self.button.clicked.connect(self.generate_requested)
        self.cancel.clicked.connect(self.cancel_requested)

    def set_model(self, threshold: float, positive: str) -> None:
        """The curve's threshold line and axis follow the model in use (its card's class word, never a fixed one)."""
        self.curve_threshold.setValue(threshold)
        self.curve.setLabel("left", f"p({positive})")

    def add_step(self, fraction: float, probability: float) -> None:
        self.progress.setValue(int(fraction * 100))
        self.path.append(probability)
        self.curve_line.setData(np.arange(1, len(self.path) + 1), self.path)

    def display(self, result: live.Counterfactual | None, state: JobState) -> None:
        running = state.running
        self.progress.setVisible(running)
        self.cancel.setVisible(running)
        self.button.setEnabled(not running)
        if running and not self.path:
            self.progress.setValue(0)
        if result is None:
            if state.state in ("idle", "running"):
                self.path = []
                self.curve_line.setData([], [])
            self.metrics.setText(state.message)
            return
        cf = result.result
        self.curve_line.setData(np.arange(len(cf.probability_path)), cf.probability_path)
        m = cf.metrics
        self.curve.setLabel("left", f"p({m['positive_label']})")
        colour = theme.colour("good" if convincing(m) else "warn")
        self.metrics.setText(
            f"<span style='color: {colour}'><b>{confirmation_sentence(m)}</b></span><br>"
            f"{cf.source} -> {cf.target}: {verdict_line(m)}<br>p({m['positive_label']}) {m['initial_probability']:.3f} -> "
            f"{m['final_probability']:.3f} in {m['steps']} steps, {m['seconds']:.1f} s<br>change outside the lung fields "
            f"{m.get('change_outside_lungs', 0):.0%}; SSIM {m['ssim']:.3f}; edit region covers {m['mask_area']:.0%}"
            + "".join(f"<br>{words}" for words in expert_checks(m)))
