"""The risk gauge: probability of the event as a bar with the model's threshold marked and the class in words,
plus the model set's spread (a whisker over the bar) and how many of its models predict the event."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from cfx_desktop.ui import theme


class RiskGauge(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probability: float | None = None
        self.threshold = 0.5
        self.caption = "Prediction"
        self.outcome = ""
        self.stale = False
        self.spread: tuple[float, float, int, int, str] | None = None  # low, high, votes, total, event word
        self.setMinimumHeight(104)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_prediction(self, probability: float, threshold: float, caption: str, outcome: str) -> None:
        self.probability, self.threshold, self.caption, self.outcome = probability, threshold, caption, outcome
        self.stale = False
        self.setToolTip(f"The model predicts the event when its probability is at or above its own threshold "
                        f"({threshold:.2f}, chosen on validation data), so {probability:.2f} means '{outcome}' here; "
                        "another model has another threshold. The whisker above the bar: the lowest to highest "
                        "probability over the model set.")
        self.setAccessibleName(self.text())
        self.update()

    def set_spread(self, low: float, high: float, votes: int, total: int, event: str) -> None:
        self.spread = (low, high, votes, total, event) if total else None
        self.update()

    def spread_text(self) -> str:
        if self.spread is None:
            return ""
        low, high, votes, total, event = self.spread
        return f"models of the set: {low:.2f}-{high:.2f} · {votes}/{total} predict {event}"

    def set_stale(self, stale: bool = True) -> None:
        self.stale = stale
        self.update()

    def text(self) -> str:
        if self.probability is None:
            return f"{self.caption}: computing..."
        return f"{self.caption} = {self.probability:.2f} (threshold {self.threshold:.2f}): predicted {self.outcome}"

    def paintEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = self.width()
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(theme.colour("muted")) if self.stale else self.palette().text().color())
        painter.drawText(QRectF(8, 2, width - 16, 28), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.text())
        bar = QRectF(8, 36, width - 16, 22)
        painter.setPen(QPen(QColor(theme.colour("muted")), 1))
        painter.setBrush(QColor(theme.colour("bar_track")))
        painter.drawRoundedRect(bar, 4, 4)
        if self.probability is not None:
            gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
            gradient.setColorAt(0.0, QColor("#2e8b57"))
            gradient.setColorAt(0.5, QColor("#e0b000"))
            gradient.setColorAt(1.0, QColor("#c0392b"))
            filled = QRectF(bar.left(), bar.top(), bar.width() * max(0.0, min(1.0, self.probability)), bar.height())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(gradient)
            painter.setOpacity(0.45 if self.stale else 1.0)
            painter.drawRoundedRect(filled, 4, 4)
            painter.setOpacity(1.0)
        x = bar.left() + bar.width() * self.threshold
        painter.setPen(QPen(QColor(theme.colour("marker")), 2))
        painter.drawLine(int(x), int(bar.top() - 4), int(x), int(bar.bottom() + 4))
        small = QFont(self.font())
        painter.setFont(small)
        painter.drawText(QRectF(x - 60, bar.bottom() + 2, 120, 18), Qt.AlignmentFlag.AlignCenter, f"threshold {self.threshold:.2f}")
        painter.drawText(QRectF(bar.left(), bar.bottom() + 2, 40, 18), Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRectF(bar.right() - 40, bar.bottom() + 2, 40, 18), Qt.AlignmentFlag.AlignRight, "1")
        if self.spread is not None:
            low, high = self.spread[0], self.spread[1]
            left, right = bar.left() + bar.width() * low, bar.left() + bar.width() * high
            painter.setPen(QPen(self.palette().text().color(), 2))
            y = bar.top() - 5
            painter.drawLine(int(left), int(y), int(right), int(y))
            for end in (left, right):
                painter.drawLine(int(end), int(y - 3), int(end), int(y + 3))
            painter.drawText(QRectF(bar.left(), bar.bottom() + 20, bar.width(), 18), Qt.AlignmentFlag.AlignLeft, self.spread_text())
        painter.end()
