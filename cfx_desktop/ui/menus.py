"""The main window's menus (File, View, Help) and its Open Recent list. Each entry forwards to a method of the
window or of a tab; the tabs add their own File entries through `ToolTab.file_actions`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from cfx_desktop import settings as settings_mod
from cfx_desktop.ui import theme


def make_action(parent: QWidget, text: str, slot: Callable[..., Any], shortcut: QKeySequence | str | None = None,
                tip: str = "") -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action


def build_menus(window: Any) -> None:  # noqa: ANN401 - the MainWindow
    """Sets ``open_action``, ``export_action``, ``quit_action``, ``recent_menu`` and ``appearance_actions`` on
    the window (the tests and the start-up probe reach them there)."""
    w = window
    menu = w.menuBar()
    file_menu = menu.addMenu("&File")
    w.open_action = make_action(w, "&Open...", w.open_dialog, QKeySequence.StandardKey.Open,
                                "Open a patient CSV (Patient tab) or an image (Chest X-ray tab)")
    file_menu.addAction(w.open_action)
    w.recent_menu = QMenu("Open &Recent", w)
    file_menu.addMenu(w.recent_menu)
    w.export_action = make_action(w, "&Export...", w.export_dialog, "Ctrl+E",
                                  "Export the current tab as a PDF report (with a JSON sidecar) or a PNG screenshot")
    file_menu.addAction(w.export_action)
    for tab in w.tab_list:
        actions = tab.file_actions()
        if actions:
            file_menu.addSeparator()
        for text, slot, tip in actions:
            file_menu.addAction(make_action(w, text, lambda _=False, s=slot: s(), tip=tip))
    file_menu.addSeparator()
    w.quit_action = make_action(w, "&Quit", w.close, QKeySequence.StandardKey.Quit)
    file_menu.addAction(w.quit_action)

    view_menu = menu.addMenu("&View")
    for index, tab in enumerate(w.tab_list):
        view_menu.addAction(make_action(w, f"{tab.title} tab", lambda _=False, i=index: w.tabs.setCurrentIndex(i),
                                        f"Ctrl+{index + 1}"))
    view_menu.addSeparator()
    appearance = view_menu.addMenu("&Appearance")
    group = QActionGroup(w)
    w.appearance_actions = {}
    for key, text in (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
        action = make_action(w, text, lambda _=False, k=key: w.set_appearance(k))
        action.setCheckable(True)
        action.setChecked(theme.mode() == key)
        group.addAction(action)
        appearance.addAction(action)
        w.appearance_actions[key] = action
    view_menu.addAction(make_action(w, "&Full screen", lambda: w.showNormal() if w.isFullScreen() else w.showFullScreen(), "F11"))
    view_menu.addAction(make_action(w, "Cancel running jobs", w.pool.cancel_all, "Esc"))

    help_menu = menu.addMenu("&Help")
    help_menu.addAction(make_action(w, "&About and model cards...", w.show_about))
    toggle = w.help_dock.toggleViewAction()
    toggle.setText("&What am I looking at?")
    toggle.setShortcut(QKeySequence("F1"))
    toggle.setStatusTip("Show or hide the pane that explains the current tab")
    help_menu.addAction(toggle)
    help_menu.addAction(make_action(w, "&Glossary...", lambda: w.show_glossary(), "Shift+F1",
                                    "Counterfactual, threshold, margin, MAD, LOF, Shapley value, Grad-CAM, referee, ..."))
    help_menu.addAction(make_action(w, "&Keyboard shortcuts...", w.show_shortcuts, "Ctrl+/"))
    refresh_recent(w)


def refresh_recent(window: Any) -> None:  # noqa: ANN401 - the MainWindow
    """Open Recent: the files the user opened last, newest first (disabled when there are none)."""
    window.recent_menu.clear()
    items = settings_mod.recent_files(window.settings)
    for item in items:
        window.recent_menu.addAction(make_action(window, item, lambda _=False, p=item: window.open_path(Path(p))))
    window.recent_menu.setEnabled(bool(items))
