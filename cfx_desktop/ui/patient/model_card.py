"""The model-card view: what the selected model is, how it was validated, and how well calibrated it is (Brier
score and a reliability curve on its validation rows), rendered from the prediction result (no model is touched)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import html

import pyqtgraph as pg

from cfx_desktop.ui import theme
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:  # results come from the worker pool, which has imported these (and torch)
    from cfx_desktop.core.tabular.live import PredictionResult



def calibration_text(calibration: dict) -> str:
    if not calibration:
        return "No calibration recorded in this card (retrain with the current training command)."
    return (f"Brier score {calibration['brier']:.3f} (0 is perfect; always predicting the base rate scores about "
            f"p(1-p)); expected calibration error {calibration['ece']:.3f}, on {calibration.get('on', 'validation data')}.")


def model_card_dialog(parent: QWidget | None, result: PredictionResult) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle(f"Model card: {result.model_name}")
    dialog.resize(620, 560)
    layout = QVBoxLayout(dialog)
    votes = f"{result.set_votes} of {len(result.set_names)} models of the set predict the event" if result.set_names else ""
    info = QLabel(f"<b>{html.escape(result.card_label)}</b><br>{html.escape(result.metrics_summary)}<br>"
                  f"threshold {result.threshold:.3f}; {votes}<br>{html.escape(calibration_text(result.calibration))}", dialog)
    info.setWordWrap(True)
    layout.addWidget(info)
    plot = pg.PlotWidget(dialog)
    theme.style_plot(plot)
    plot.setLabel("bottom", "mean predicted probability")
    plot.setLabel("left", "observed rate")
    plot.setXRange(0, 1)
    plot.setYRange(0, 1)
    plot.setTitle("Reliability curve (validation rows; point size: rows in the bin)")
    plot.plot([0, 1], [0, 1], pen=pg.mkPen((150, 150, 150), style=pg.QtCore.Qt.PenStyle.DashLine))
    curve = result.calibration.get("curve", []) if result.calibration else []
    if curve:
        x = [b["mean_predicted"] for b in curve]
        y = [b["observed"] for b in curve]
        sizes = [6 + 18 * b["count"] / max(c["count"] for c in curve) for b in curve]
        plot.plot(x, y, pen=pg.mkPen((40, 80, 200), width=2), symbol="o", symbolSize=sizes, symbolBrush=(40, 80, 200))
    layout.addWidget(plot, 1)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    return dialog
