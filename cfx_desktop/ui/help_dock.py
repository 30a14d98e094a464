"""The "What am I looking at?" dock (F1) and the glossary behind it (Shift+F1): the help pane shows the current
tab's topic, opens beside the window on the first start (never over it), and then as the user left it."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from cfx_desktop.ui.help_pane import GlossaryDialog, HelpPane, HelpTopic


class HelpDock(QDockWidget):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__("What am I looking at?", window)
        self.setObjectName("helpDock")  # so saveState/restoreState keep whether it is open
        self.pane = HelpPane(self)
        self.setWidget(self.pane)
        self.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        self.setMinimumWidth(250)
        self.setMaximumWidth(340)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self)
        self.pane.term_clicked.connect(self.show_glossary)
        self.glossary: GlossaryDialog | None = None
        self._window = window

    def show_topic(self, topic: HelpTopic | None) -> None:
        if topic is not None:
            self.pane.show_topic(topic)

    def show_glossary(self, term: str = "") -> GlossaryDialog:
        if self.glossary is None:
            self.glossary = GlossaryDialog(self._window)
        self.glossary.show()
        self.glossary.raise_()
        if term:
            self.glossary.show_term(term)
        return self.glossary

    def first_start(self, say: Callable[[str], None]) -> None:
        """Beside the window where the screen has room for it; else closed, with the way to open it said (``say``,
        the status bar). Floating over the window it covered the gauge and the suggestions' Apply column; docked on
        a 1280 x 720 screen it squeezed the tab until the gauge scrolled sideways."""
        screen = self._window.screen().availableGeometry() if self._window.screen() is not None else None
        frame = self._window.frameGeometry()
        if screen is not None and screen.right() - frame.right() >= self.width() + 8:
            self.setFloating(True)
            self.move(frame.right() + 8, frame.top() + 40)
            self.show()
        else:
            self.hide()
            say("New here? F1 opens 'What am I looking at?' for this tab")
