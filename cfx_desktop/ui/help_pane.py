"""Help for newcomers: the "What am I looking at?" pane (a small flow diagram and numbered steps per tab) and
the glossary dialog. Words come from `core.glossary`, so the pane, the glossary and the tooltips agree.

Colours come from the palette, so the diagram reads in light and dark mode alike.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QLabel, QLineEdit, QScrollArea, QSizePolicy, QTextBrowser, QVBoxLayout, QWidget,
)

from cfx_desktop.core.glossary import GLOSSARY


@dataclass(frozen=True)
class HelpTopic:
    """One tab's help: its flow from input to answer, numbered first steps, and the glossary words it uses."""

    title: str
    flow: list[tuple[str, str]]  # (box, what it means) from top to bottom
    steps: list[str]
    terms: list[str] = field(default_factory=list)


class FlowDiagram(QWidget):
    """Boxes joined by arrows, top to bottom: what goes in, what the models do, what comes out and who checks it.
    Each row is as tall as its wrapped caption, so nothing overlaps at any width or font size."""

    BOX_W, MIN_H, GAP = 118, 32, 16

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow: list[tuple[str, str]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(self.BOX_W + 80)
        self.setAccessibleName("Diagram: how this tab gets from input to answer")

    def set_flow(self, flow: list[tuple[str, str]]) -> None:
        self.flow = flow
        self.setAccessibleDescription("; then ".join(f"{box}: {caption}" for box, caption in flow))
        self.setToolTip("\n".join(f"{box}: {caption}" for box, caption in flow))
        self.updateGeometry()
        self.update()

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return int(sum(h for h in self._row_heights(width)) + self.GAP * max(len(self.flow) - 1, 0) + 2)

    def sizeHint(self):  # noqa: ANN201, N802 - Qt override
        hint = super().sizeHint()
        hint.setHeight(self.heightForWidth(max(self.width(), 260)))
        return hint

    def _row_heights(self, width: int) -> list[float]:
        metrics = self.fontMetrics()
        caption_w = max(width - self.BOX_W - 12, 40)
        flags = int(Qt.TextFlag.TextWordWrap)
        heights = []
        for box, caption in self.flow:
            text_h = metrics.boundingRect(0, 0, caption_w, 10_000, flags, caption).height()
            box_h = metrics.boundingRect(0, 0, self.BOX_W - 8, 10_000, flags, box).height() + 10
            heights.append(max(self.MIN_H, text_h + 4, box_h))
        return heights

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().resizeEvent(event)
        self.setMinimumHeight(self.heightForWidth(self.width()))

    def paintEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        fill, edge, text = (palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Highlight),
                            palette.color(QPalette.ColorRole.Text))
        width = self.width() - 2
        top = 1.0
        heights = self._row_heights(self.width())
        for i, ((box, caption), height) in enumerate(zip(self.flow, heights)):
            rect = QRectF(1, top, self.BOX_W, height)
            path = QPainterPath()
            path.addRoundedRect(rect, 6, 6)
            painter.fillPath(path, fill)
            painter.setPen(QPen(edge, 1.5))
            painter.drawPath(path)
            painter.setPen(text)
            font = painter.font()
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(rect.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, box)
            font.setBold(False)
            painter.setFont(font)
            painter.drawText(QRectF(self.BOX_W + 10, top, width - self.BOX_W - 10, height),
                             Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, caption)
            if i + 1 < len(self.flow):
                x, y0, y1 = 1 + self.BOX_W / 2, top + height + 1, top + height + self.GAP - 1
                painter.setPen(QPen(edge, 1.5))
                painter.drawLine(QPointF(x, y0), QPointF(x, y1 - 5))
                painter.setBrush(edge)
                painter.drawPolygon(QPolygonF([QPointF(x - 5, y1 - 6), QPointF(x + 5, y1 - 6), QPointF(x, y1)]))
                painter.setBrush(Qt.BrushStyle.NoBrush)
            top += height + self.GAP
        painter.end()


class HelpPane(QScrollArea):
    """The current tab's topic; glossary words are links (``term_clicked``)."""

    term_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setAccessibleName("What am I looking at?")
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.title = QLabel(body)
        self.title.setWordWrap(True)
        self.diagram = FlowDiagram(body)
        self.steps = QLabel(body)
        self.steps.setWordWrap(True)
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.steps.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByKeyboard | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.steps.linkActivated.connect(lambda link: self.term_clicked.emit(link.removeprefix("term:")))
        for w in (self.title, self.diagram, self.steps):
            layout.addWidget(w)
        layout.addStretch(1)
        self.setWidget(body)
        self.topic: HelpTopic | None = None

    def show_topic(self, topic: HelpTopic) -> None:
        self.topic = topic
        self.title.setText(f"<b>{html.escape(topic.title)}</b>")
        self.diagram.set_flow(topic.flow)
        steps = "".join(f"<li>{html.escape(step)}</li>" for step in topic.steps)
        links = ", ".join(f'<a href="term:{html.escape(t)}">{html.escape(t)}</a>' for t in topic.terms)
        self.steps.setText(f"<ol style='margin-left: -20px'>{steps}</ol>" + (f"<p>Words used here: {links} "
                           "(Help &gt; Glossary, Shift+F1)</p>" if links else ""))


class GlossaryDialog(QDialog):
    """Every term with its plain-language meaning; a filter box narrows the list as the user types."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Glossary")
        self.resize(560, 560)
        layout = QVBoxLayout(self)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter terms...")
        self.filter.setClearButtonEnabled(True)
        self.filter.setAccessibleName("Filter the glossary")
        self.filter.setToolTip("Type part of a word to narrow the list")
        self.text = QTextBrowser(self)
        self.text.setAccessibleName("Glossary entries")
        layout.addWidget(self.filter)
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.filter.textChanged.connect(self._render)
        self._render("")

    def _render(self, needle: str) -> None:
        needle = needle.strip().lower()
        shown = [(k, v) for k, v in GLOSSARY.items() if not needle or needle in k.lower() or needle in v.lower()]
        self.text.setHtml("".join(f"<p><a name='{html.escape(k)}'></a><b>{html.escape(k)}</b><br>{html.escape(v)}</p>"
                                  for k, v in shown) or "<p>No term matches.</p>")

    def show_term(self, term: str) -> None:
        """Narrow the list to ``term`` (and any entry that uses it), so the clicked word is at the top."""
        self.filter.setText(term)
