"""The Patient tab's right-hand side: the risk gauge with its model card line, the counterfactual suggestions, and
below them the Why? attributions and the cohort view, in a splitter whose lower half grows while the cohort is shown.

Why a widget of its own: it renders the session's results (prediction, suggestion failures) and nothing else, so
the tab keeps only the layout of the two sides and the forwarding of user actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget,
)

from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.ui.patient.attribution_view import AttributionView
from cfx_desktop.ui.patient.cohort_panel import CohortPanel
from cfx_desktop.ui.patient.prediction_view import RiskGauge
from cfx_desktop.ui.patient.suggestions import SuggestionsPanel

if TYPE_CHECKING:  # results come from the worker pool, which has imported these (and torch)
    from cfx_desktop.core.tabular.live import PredictionResult
    from cfx_desktop.core.tabular.schema import Schema
    from cfx_desktop.workers.pool import JobError

LOWER_SHARE = 310 / 850  # the Why? chart's share of the height; the cohort view gets 60 %


class ResultsArea(QSplitter):
    def __init__(self, session: PatientSession, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        # in a scroll area: its wrapped labels need more height when narrow than a splitter would give them on a
        # 720 px screen, and scrolling beats overlapping text
        top_scroll = QScrollArea(self)
        top_scroll.setWidgetResizable(True)
        top_scroll.setFrameShape(QFrame.Shape.NoFrame)
        top = QWidget(top_scroll)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(4, 4, 4, 4)
        self.gauge = RiskGauge(top)
        top_layout.addWidget(self.gauge)
        card_row = QHBoxLayout()
        self.model_label = QLabel("Loading models... the form is ready; predictions follow in a few seconds.", top)
        self.model_label.setWordWrap(True)
        self.card_button = QPushButton("Model card...", top)
        self.card_button.setToolTip("Validation metrics and calibration (Brier score, reliability curve) of this model")
        self.card_button.setEnabled(False)
        card_row.addWidget(self.model_label, 1)
        card_row.addWidget(self.card_button)
        top_layout.addLayout(card_row)
        box = QGroupBox("Counterfactual suggestions: what would have to change?", top)
        box_layout = QVBoxLayout(box)
        self.suggestions = SuggestionsPanel(box)
        box_layout.addWidget(self.suggestions)
        top_layout.addWidget(box, 1)
        self.bottom = QTabWidget(self)
        self.attributions = AttributionView(self.bottom)
        self.cohort_panel = CohortPanel(session, self.bottom)
        self.bottom.addTab(self.attributions, "Why? Attributions")
        self.bottom.addTab(self.cohort_panel, "Cohort and global recourse")
        top_scroll.setWidget(top)
        self.addWidget(top_scroll)
        self.addWidget(self.bottom)
        self.setSizes([540, 310])  # the suggestions table shows about three rows at 900 px
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.bottom.currentChanged.connect(self._share_height)

    def show_prediction(self, result: PredictionResult, schema: Schema) -> None:
        self.gauge.set_prediction(result.probability, result.threshold, f"p({schema.target_label})", result.outcome)
        spread = result.set_probabilities
        self.gauge.set_spread(float(spread.min()) if len(spread) else 0.0, float(spread.max()) if len(spread) else 0.0,
                              result.set_votes, len(spread), schema.outcome_words[1])
        self.model_label.setText(f"Model card: <b>{result.card_label}</b> ({result.model_name}); {result.metrics_summary}")
        self.attributions.show_result(result, schema)
        self.card_button.setEnabled(True)

    def prediction_failed(self, message: str) -> None:
        self.gauge.set_stale(True)
        self.model_label.setText(f"<b>Model unavailable:</b> {message}. Choose another model.")

    def models_failed(self, error: JobError) -> None:
        self.model_label.setText(f"<b>The models could not be loaded:</b> {error.message}. The form keeps what you enter.")

    def suggestions_failed(self, message: str) -> None:
        self.suggestions.clear(f"<b>Suggestions failed:</b> {message}")

    def _share_height(self, index: int) -> None:
        """The cohort view needs rows (its table and global recourse), Why? needs fewer: the lower half gets 60 % of
        the height while the cohort is shown (the gauge and suggestions above scroll), and its old share after."""
        total = sum(self.sizes())
        share = 0.6 if self.bottom.widget(index) is self.cohort_panel else LOWER_SHARE
        self.setSizes([round(total * (1 - share)), round(total * share)])
