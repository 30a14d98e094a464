"""Original | counterfactual | signed difference, linked (pan, zoom; window/level for the two images), with a
blend/swipe slider for the middle view and a player for the optimisation path."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from cfx_desktop.core.imaging.counterfactual.generate import (ImageCounterfactual, confirmation_sentence, convincing,
                                                            expert_checks, verdict_line)
from cfx_desktop.core.imaging.models.preprocess import crop_box
from cfx_desktop.ui.xray.linked_views import LinkedViews, mix
from cfx_desktop.ui.xray.viewer import ImageView
from cfx_desktop.ui import theme


class CompareView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.verdict = QLabel("", self)
        self.verdict.setWordWrap(True)
        self.verdict.setToolTip("Flipped: the explained model crosses its threshold on the counterfactual. Referee: an "
                                "independently trained classifier (another architecture, trained separately, never used to make the "
                                "counterfactual); it agrees when it crosses its own threshold too.")
        layout.addWidget(self.verdict)
        row = QHBoxLayout()
        self.original = ImageView(self, "original", histogram=False)
        self.counterfactual = ImageView(self, "counterfactual", histogram=False)
        self.difference = ImageView(self, "difference (blue darker, red brighter)", histogram=False)
        for view in (self.original, self.counterfactual, self.difference):
            row.addWidget(view, 1)
        layout.addLayout(row, 1)
        self.difference.legend_text = "counterfactual - original (display units)"
        self.divider = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen((255, 255, 255), width=2),
                                       hoverPen=pg.mkPen((255, 235, 59), width=3))
        self.divider.setZValue(40)
        self.divider.setToolTip("Swipe: counterfactual left of this line, original right; drag it")
        self.divider.sigPositionChanged.connect(self._divider_moved)
        self.counterfactual.box.addItem(self.divider, ignoreBounds=True)
        self.divider.hide()
        self.links = LinkedViews([self.original, self.counterfactual, self.difference], [self.original, self.counterfactual])
        controls = QHBoxLayout()
        self.mode = QComboBox(self)
        self.mode.addItems(["blend", "swipe"])
        self.mode.setToolTip("Blend cross-fades; swipe shows the counterfactual left of a moving line")
        self.amount = QSlider(Qt.Orientation.Horizontal, self)
        self.amount.setRange(0, 100)
        self.amount.setValue(100)
        self.amount_label = QLabel("100% counterfactual", self)
        self.play = QPushButton("Replay the search", self)
        self.play.setCheckable(True)
        self.play.setToolTip("Replay the search step by step: how the image changed until the model's answer flipped")
        self.amount.setToolTip("Blend: how much of the counterfactual is shown; swipe: where the dividing line is")
        self.frame = QSlider(Qt.Orientation.Horizontal, self)
        self.frame.setRange(0, 0)
        self.frame.setToolTip("Step of the search shown in the middle view")
        self.frame_label = QLabel("", self)
        for w in (QLabel("Middle view:", self), self.mode, self.amount, self.amount_label, self.play, self.frame, self.frame_label):
            controls.addWidget(w)
        layout.addLayout(controls)
        self.result: ImageCounterfactual | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(120)
        self._timer.timeout.connect(self._next_frame)
        self.amount.valueChanged.connect(self._refresh_middle)
        self.mode.currentIndexChanged.connect(self._refresh_middle)
        self.play.toggled.connect(self._toggle_play)
        self.frame.valueChanged.connect(self._show_frame)
        self.setEnabled(False)

    def clear(self) -> None:
        self.result = None
        self.verdict.setText("")
        for view in (self.original, self.counterfactual, self.difference):
            view.set_image(None)
        self.setEnabled(False)

    @staticmethod
    def _crop_rect(shape: tuple[int, int]) -> tuple[float, float, float, float]:
        box = crop_box(*shape)
        return (box.left, box.top, box.side, box.side)

    def show_live_frame(self, original: np.ndarray, frame: np.ndarray) -> None:
        """During the search: the current composed image (model resolution) over the crop, in the middle view."""
        self.setEnabled(True)
        if self.original.pixels is not original:
            self.original.set_image(original)
        self.counterfactual.set_image(frame, keep_view=True, rect=self._crop_rect(original.shape))

    def show_result(self, result: ImageCounterfactual) -> None:
        self.result = result
        colour = theme.colour("good" if convincing(result.metrics) else "warn")
        self.verdict.setText(f"<span style='color: {colour}; font-size: 12pt'><b>{confirmation_sentence(result.metrics)}</b></span>"
                             f"<br>{result.source} -> {result.target}: {verdict_line(result.metrics)}; change outside the lung "
                             f"fields {result.metrics.get('change_outside_lungs', 0):.0%}"
                             + "".join(f"; {words}" for words in expert_checks(result.metrics)))
        self.setEnabled(True)
        self.original.set_image(result.full_original)
        self.counterfactual.set_image(result.full_counterfactual, keep_view=True)
        span = float(np.abs(result.full_difference).max()) or 1e-3
        self.difference.set_image(result.full_difference, keep_view=True, levels=(-span, span), colormap="CET-D1")
        self.frame.blockSignals(True)
        self.frame.setRange(0, max(len(result.frames) - 1, 0))
        self.frame.setValue(self.frame.maximum())
        self.frame.blockSignals(False)
        self.frame_label.setText(f"frame {self.frame.maximum() + 1}/{len(result.frames)}")
        self._refresh_middle()

    def _refresh_middle(self) -> None:
        amount = self.amount.value() / 100
        swipe = self.mode.currentText() == "swipe"
        self.amount_label.setText(f"swipe at {self.amount.value()}%" if swipe else f"{self.amount.value()}% counterfactual")
        if self.result is None:
            self.divider.hide()
            return
        shown = mix(self.result.full_original, self.result.full_counterfactual, amount, self.mode.currentText())
        self.counterfactual.set_image(shown, keep_view=True)
        self.divider.setVisible(swipe)
        if swipe:  # the line is where the images meet
            self.divider.blockSignals(True)
            self.divider.setValue(round(amount * self.result.full_original.shape[1]))
            self.divider.blockSignals(False)

    def _divider_moved(self) -> None:
        if self.result is not None:
            width = self.result.full_original.shape[1]
            self.amount.setValue(int(round(100 * min(max(self.divider.value() / width, 0.0), 1.0))))

    def _toggle_play(self, playing: bool) -> None:
        if playing and self.result is not None and len(self.result.frames) > 1:
            self.frame.setValue(0)
            self._timer.start()
        else:
            self._timer.stop()
            self.play.setChecked(False)
            self._refresh_middle()

    def _next_frame(self) -> None:
        if self.frame.value() >= self.frame.maximum():
            self._toggle_play(False)
            return
        self.frame.setValue(self.frame.value() + 1)

    def _show_frame(self, index: int) -> None:
        if self.result is None or not self.result.frames:
            return
        frame = self.result.frames[min(index, len(self.result.frames) - 1)]
        self.counterfactual.set_image(frame, keep_view=True, rect=self._crop_rect(self.result.full_original.shape))
        self.frame_label.setText(f"frame {index + 1}/{len(self.result.frames)} (model resolution)")

    def views(self) -> list[ImageView]:
        return [self.original, self.counterfactual, self.difference]
