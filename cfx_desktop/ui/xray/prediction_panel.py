"""The X-ray tab's prediction box: which model (every installed classifier), and what it says."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from cfx_desktop.ui import theme
from cfx_desktop.core.imaging import live


class PredictionPanel(QGroupBox):
    model_chosen = Signal(str)

    def __init__(self, models: list[tuple[str, dict]], parent: QWidget | None = None) -> None:
        super().__init__("Prediction", parent)
        layout = QVBoxLayout(self)
        self.model = QComboBox(self)
        self.set_models(models)
        self.model.setToolTip("Image classifier (every installed model; its card names its autoencoder and sanity twin)")
        layout.addWidget(self.model)
        self.label = QLabel("No image", self)
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        self.model.currentIndexChanged.connect(lambda _: self.model_chosen.emit(self.model.currentData()))
        self.scope = ""  # "frame 3 of 30" for a multi-frame file: every result answers the shown frame

    def set_models(self, models: list[tuple[str, dict]], select: str | None = None) -> None:
        """Fill the model box (again, after the user trained or removed one); ``select`` becomes current."""
        previous = self.model.currentData()
        current = select or previous
        self.model.blockSignals(True)
        self.model.clear()
        for name, card in models:
            yours = "user's own" in str(card.get("licence", ""))  # trained on the user's folder: listed by its name
            self.model.addItem(f"{name} (yours: {' vs '.join(reversed(card.get('labels', [])))})" if yours
                               else card.get("label", name), name)
            self.model.setItemData(self.model.count() - 1, f"{name}: {card.get('metrics_summary', '')}", Qt.ItemDataRole.ToolTipRole)
        index = self.model.findData(current)
        self.model.setCurrentIndex(max(index, 0))
        self.model.blockSignals(False)
        if self.model.currentData() != previous:
            self.model_chosen.emit(self.model.currentData())

    def _scoped(self, text: str) -> str:
        return f"{text}<br><i>on {self.scope} (the frame shown)</i>" if self.scope else text

    def display(self, prediction: live.Prediction | None, waiting: bool) -> None:
        if prediction is None:
            self.label.setText("computing..." if waiting else "No image")
            return
        guard = prediction.guard
        if prediction.probability is None:
            self.label.setText(self._scoped(f"<span style='font-size: 13pt; color: {theme.colour('warn')}'><b>Prediction withheld</b></span><br>{guard.reason}<br>"
                                            f"model: {prediction.card_label} ({prediction.model_name})"))
            return
        if not guard.in_distribution:
            self.label.setText(self._scoped(f"<span style='font-size: 13pt; color: {theme.colour('warn')}'><b>Unusual image: no verdict</b></span><br>"
                                            f"p({prediction.positive}) = {prediction.probability_words()}, "
                                            f"to be treated with caution.<br>{guard.reason}<br>model: {prediction.card_label} ({prediction.model_name})"))
            return
        if prediction.uncertain:
            leaning = "above" if prediction.probability >= prediction.threshold else "below"
            why = "; ".join(prediction.uncertain)
            self.label.setText(self._scoped(
                f"<span style='font-size: 15pt; color: {theme.colour('warn')}'><b>Uncertain: no label</b></span><br>"
                f"{why[:1].upper()}{why[1:]}.<br>"
                f"p({prediction.positive}) = {prediction.probability:.3f}{f' ({prediction.source})' if prediction.source else ''}, "
                f"{leaning} the threshold {prediction.threshold:.3f}; "
                "a reader should decide.<br>"
                f"model: {prediction.card_label} ({prediction.model_name})"))
            return
        colour = theme.colour("bad" if prediction.label == prediction.positive else "good")
        self.label.setText(self._scoped(
            f"<span style='font-size: 15pt; color: {colour}'><b>{prediction.label}</b></span><br>"
            f"p({prediction.positive}) = <b>{prediction.probability:.3f}</b> {prediction.probability_context()}<br>"
            f"model: {prediction.card_label} ({prediction.model_name})"))

    def failed(self, message: str) -> None:
        self.label.setText(f"<b>failed:</b> {message}")
