"""An empty-state card: what this area is for and what to do first, with the buttons that do it.

Shown where a tab or panel has nothing yet (no image open, no cohort loaded) instead of a blank area; colours
come from the palette, so it reads in light and dark mode.
"""

from __future__ import annotations

import html
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyStateCard(QFrame):
    def __init__(self, title: str, steps: list[str], actions: list[tuple[str, str, Callable[[], None]]] = (),
                 note: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setMaximumWidth(560)
        self.setAccessibleName(title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        heading = QLabel(f"<b style='font-size: 13pt'>{html.escape(title)}</b>", self)
        layout.addWidget(heading)
        items = "".join(f"<li>{html.escape(step)}</li>" for step in steps)
        self.body = QLabel(f"<ol style='margin-left: -20px'>{items}</ol>", self)
        self.body.setWordWrap(True)
        layout.addWidget(self.body)
        self.buttons: list[QPushButton] = []
        if actions:
            row = QHBoxLayout()
            for text, tip, slot in actions:
                button = QPushButton(text, self)
                button.setToolTip(tip)
                button.clicked.connect(slot)
                row.addWidget(button)
                self.buttons.append(button)
            row.addStretch(1)
            layout.addLayout(row)
        if note:
            small = QLabel(f"<i>{html.escape(note)}</i>", self)
            small.setWordWrap(True)
            layout.addWidget(small)
        self.setAccessibleDescription(" ".join(steps))


class CentreOver(QObject):
    """Keeps ``card`` centred over ``host`` (as a child of it) whenever the host is resized."""

    def __init__(self, card: QWidget, host: QWidget) -> None:
        super().__init__(host)
        self.card, self.host = card, host
        card.setParent(host)
        host.installEventFilter(self)
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.host and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._place()
        return False

    def _place(self) -> None:
        width = min(self.card.maximumWidth(), max(self.host.width() - 40, 200))
        height = self.card.heightForWidth(width) if self.card.hasHeightForWidth() else self.card.sizeHint().height()
        height = max(height, self.card.sizeHint().height())
        self.card.setGeometry((self.host.width() - width) // 2, max((self.host.height() - height) // 3, 10), width, height)
        self.card.raise_()
