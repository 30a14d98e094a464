"""The Chest X-ray tab's keyboard: one table of keys and what they do, installed as shortcuts and listed in the
help (F1 and Help > Keyboard shortcuts), so the two never disagree."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtGui import QKeySequence, QShortcut

HELP = [("=", "fit the image"), ("0", "one image pixel per screen pixel"), ("+ / -", "zoom (1.25x per step and per wheel notch)"),
        ("1 ... 9", "window presets: full range, the file's stored windows, named ones"), ("R", "reset window/level and view"),
        ("I", "invert"), ("O", "show or hide the overlay"), ("G", "generate a counterfactual"),
        ("P / M / A / T", "tool: pan and window, ruler, angle, text note"), ("Backspace", "undo the last measurement or note"),
        ("Shift+Backspace", "clear all marks"), ("Space / , / .", "multi-frame files: play or pause, previous / next frame"),
        ("PgDown / PgUp", "next / previous image of the folder"), ("right mouse drag", "window (horizontal) and level (vertical)"),
        ("left mouse drag / wheel", "pan / zoom")]


def fit(tab: Any) -> None:  # noqa: ANN401 - the XrayTab
    """Fit the image in the viewer and in every view of the comparison."""
    for view in [tab.viewer] + tab.compare.views():
        view.fit()


def reset_view(tab: Any) -> None:  # noqa: ANN401
    tab.viewer.reset_levels()
    tab.viewer.set_inverted(False)
    fit(tab)


def install(tab: Any) -> None:  # noqa: ANN401 - the XrayTab
    """The tab-wide keys (the viewer's tool keys P / M / A / T and Backspace are the viewer's own)."""
    viewer, page = tab.viewer, tab.viewer_page
    keys: list[tuple[str, Callable[[], Any]]] = [
        ("=", lambda: fit(tab)), ("O", tab.overlay_panel.show_overlay.toggle), ("I", lambda: viewer.set_inverted(not viewer.inverted)),
        ("0", viewer.one_to_one), ("R", lambda: reset_view(tab)), ("G", tab.generate_counterfactual),
        ("PgDown", lambda: tab.folder_panel.step(1)), ("PgUp", lambda: tab.folder_panel.step(-1)),
        ("+", lambda: viewer.zoom(1.25)), ("-", lambda: viewer.zoom(0.8)),
        ("Space", page.toggle_play), (".", lambda: page.step_frame(1)), (",", lambda: page.step_frame(-1)),
    ]
    keys += [(str(n), lambda n=n: page.apply_preset(n - 1)) for n in range(1, 10)]  # window presets
    for key, slot in keys:
        QShortcut(QKeySequence(key), tab, activated=slot)
