"""Attribution charts: signed Shapley / exact contributions as sorted bars; the NAM shape function of a chosen
feature with the patient's value marked; the Lasso's weights in clinical units."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from cfx_desktop.ui import theme
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFrame, QHBoxLayout, QHeaderView, QLabel, QScrollArea, QStackedWidget, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from cfx_desktop.ui.accessibility import set_header_tips
from cfx_desktop.ui.busy import DelayedBusy
from cfx_desktop.core.tabular.schema import Schema

if TYPE_CHECKING:  # results come from the worker pool, which has imported these (and torch)
    from cfx_desktop.core.tabular.live import PredictionResult

RISK_UP = (192, 57, 43)
RISK_DOWN = (41, 128, 185)


class AttributionView(QWidget):
    shape_feature_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        self.caption = QLabel("", self)
        self.caption.setWordWrap(True)
        left.addWidget(self.caption)
        self.bars = pg.PlotWidget(self)
        self.bars.setMenuEnabled(False)
        self.bars.setMouseEnabled(x=False, y=False)
        theme.style_plot(self.bars)
        self.bars.showGrid(x=True, y=False, alpha=0.3)
        self.bars.setLabel("bottom", "log-odds (red raises risk)")  # short: it must fit the chart at 1280 x 720
        self.bars.addLine(x=0, pen=pg.mkPen(theme.colour("muted"), width=1))
        self.bars.getAxis("bottom").enableAutoSIPrefix(False)  # log-odds are unitless: never "x0.001"
        # each label needs its line: on a short pane (1280 x 720) the chart keeps its height and scrolls rather than
        # drawing the feature names over each other
        self.bars_scroll = QScrollArea(self)
        self.bars_scroll.setWidgetResizable(True)
        self.bars_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.bars_scroll.setWidget(self.bars)
        left.addWidget(self.bars_scroll)
        layout.addLayout(left, 5)

        right = QVBoxLayout()
        self.side_title = QLabel("", self)
        right.addWidget(self.side_title)
        self.shape_feature = QComboBox(self)
        self.shape_feature.currentIndexChanged.connect(lambda _: self.shape_feature_changed.emit(self.shape_feature.currentData() or ""))
        self.shape_feature.setToolTip("Feature whose shape function (NAM) is drawn beside the bars")
        right.addWidget(self.shape_feature)
        self.side = QStackedWidget(self)
        self.shape = pg.PlotWidget(self)
        self.shape.setMenuEnabled(False)
        theme.style_plot(self.shape)
        self.shape.showGrid(x=True, y=True, alpha=0.3)
        self.shape.setLabel("left", "log-odds contribution")
        for axis in ("left", "bottom"):
            self.shape.getAxis(axis).enableAutoSIPrefix(False)
        self.weights = QTableWidget(0, 3, self)
        self.weights.setHorizontalHeaderLabels(["Feature", "Weight", "Per"])
        set_header_tips(self.weights, ["The feature (its log transform, if the model uses one)",
                                       "Change in the log-odds per unit of 'Per'; 0 = the L1 penalty dropped the feature",
                                       "The unit the weight is per: one standard deviation of the (transformed) feature"])
        self.weights.verticalHeader().setVisible(False)
        header = self.weights.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.weights.setWordWrap(False)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        for w in (self.shape, self.weights, self.note):
            self.side.addWidget(w)
        right.addWidget(self.side)
        layout.addLayout(right, 4)
        self._bar_item: pg.BarGraphItem | None = None
        self.values: np.ndarray | None = None
        # while the attributions lag the prediction for longer than a moment, the bars and caption that still
        # describe the values before the edit are faded, not replaced (a one-line "updating" caption made the chart
        # jump); a quicker answer repaints nothing in between, as that repaint would slow the search it waits for
        self._waiting = DelayedBusy(self, self._fade)

    def _fade(self, faded: bool) -> None:
        if self._bar_item is not None:
            self._bar_item.setOpacity(0.35 if faded else 1.0)
        self.caption.setEnabled(not faded)

    def set_schema(self, schema: Schema) -> None:
        self.shape_feature.blockSignals(True)
        self.shape_feature.clear()
        for f in schema.features:
            self.shape_feature.addItem(f.label, f.name)
        self.shape_feature.blockSignals(False)

    def show_result(self, result: PredictionResult, schema: Schema) -> None:
        attribution = result.attribution
        if attribution is None:  # the prediction came first; its attributions follow the suggestions' search
            self._waiting.set(True)
            return
        self._waiting.set(False)
        order = np.argsort(np.abs(attribution.values))  # largest at the top
        values = attribution.values[order]
        self.values = attribution.values
        labels = [schema.features[i].label for i in order]
        if self._bar_item is not None:
            self.bars.removeItem(self._bar_item)
        brushes = [pg.mkBrush(*(RISK_UP if v > 0 else RISK_DOWN)) for v in values]
        self._bar_item = pg.BarGraphItem(x0=np.minimum(values, 0), y=np.arange(len(values)), height=0.7,
                                         width=np.abs(values), brushes=brushes, pens=[pg.mkPen(None)] * len(values))
        self.bars.addItem(self._bar_item)
        self.bars.getAxis("left").setTicks([list(enumerate(labels))])
        self.bars.setMinimumHeight(len(labels) * (self.fontMetrics().height() + 4) + 60)
        span = max(float(np.abs(values).max()), 1e-3) * 1.1
        self.bars.setXRange(-span, span, padding=0)
        self.bars.setYRange(-0.6, len(values) - 0.4, padding=0)
        exact = "exact" if attribution.exact else f"residual {attribution.residual:+.3f}"
        self.caption.setText(f"<b>{attribution.method}</b>, against the {attribution.note.replace('baseline: ', '')} "
                             f"(log-odds {attribution.base_logit:+.2f} -> {attribution.logit:+.2f}; {exact})")
        self._show_side(result, schema)

    def _show_side(self, result: PredictionResult, schema: Schema) -> None:
        from cfx_desktop.core.tabular.models.lasso import LassoWeight  # loaded by the job that made `result`
        from cfx_desktop.core.tabular.models.nam import ShapeFunction

        shape = result.side if isinstance(result.side, ShapeFunction) else None
        lasso = result.side if isinstance(result.side, list) and all(isinstance(w, LassoWeight) for w in result.side) else None
        self.shape_feature.setVisible(shape is not None)
        if shape is not None:
            j = schema.index(shape.feature)
            feature = schema.features[j]
            self.side_title.setText(f"<b>NAM shape function</b>: {feature.label}")
            index = self.shape_feature.findData(shape.feature)
            if index >= 0 and index != self.shape_feature.currentIndex():
                self.shape_feature.blockSignals(True)
                self.shape_feature.setCurrentIndex(index)
                self.shape_feature.blockSignals(False)
            self.shape.clear()
            if shape.categorical:
                self.shape.addItem(pg.BarGraphItem(x=shape.grid, height=shape.contribution, width=0.6, brush=(120, 120, 200)))
                names = feature.categories or ("no", "yes")
                self.shape.getAxis("bottom").setTicks([list(enumerate(names))])
            else:
                self.shape.getAxis("bottom").setTicks(None)
                self.shape.plot(shape.grid, shape.contribution, pen=pg.mkPen((60, 60, 160), width=2))
            self.shape.addItem(pg.InfiniteLine(pos=float(result.x[j]), angle=90, pen=pg.mkPen((200, 0, 0), width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
                                               label="patient", labelOpts={"position": 0.9, "color": (200, 0, 0)}))
            self.shape.setLabel("bottom", f"{feature.label} ({feature.unit})" if feature.unit else feature.label)
            self.side.setCurrentWidget(self.shape)
        elif lasso is not None:
            self.side_title.setText("<b>Lasso weights</b>: change in log-odds per clinical unit")
            self.weights.setRowCount(len(lasso))
            for r, w in enumerate(lasso):
                feature = schema[w.feature]
                per = "removed (L1)" if "removed" in w.note else (f"/{w.unit}" if w.unit else "/unit")
                for c, text in enumerate([feature.label, f"{w.per_unit:+.4g}", per]):
                    item = QTableWidgetItem(text)
                    item.setToolTip(f"{feature.label}: {w.per_unit:+.4g} {w.unit} {w.note}".strip())
                    self.weights.setItem(r, c, item)
            self.side.setCurrentWidget(self.weights)
        else:
            self.side_title.setText("<b>About these values</b>")
            self.note.setText("Shapley values by permutation sampling (captum). Each bar is the average change in "
                              "the model's log-odds when this feature moves from the reference patient's value to "
                              "this patient's value; the bars add up to the total change. Pick the NAM or Lasso "
                              "model to see exact additive contributions, shape functions or weights.")
            self.side.setCurrentWidget(self.note)
