"""Light and dark appearance: the system's scheme is followed, the user's choice overrides it, and every status
colour stays readable (WCAG AA contrast, 4.5:1) on the background it is drawn on."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette

from cfx_desktop.ui import theme


def _luminance(hex_colour: str) -> float:
    c = QColor(hex_colour)
    channels = []
    for v in (c.redF(), c.greenF(), c.blueF()):
        channels.append(v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_status_colours_are_readable_on_their_backgrounds(scheme: str) -> None:
    colours = theme._COLOURS[scheme]  # noqa: SLF001
    backgrounds = [colours["plot_bg"], "#efefef" if scheme == "light" else "#2b2b2b"]  # table base, window
    for name in ("good", "warn", "bad", "muted", "accent"):
        for background in backgrounds:
            assert contrast(colours[name], background) >= 4.5, (scheme, name, background)
    assert contrast(colours["plot_fg"], colours["plot_bg"]) >= 7


def test_the_system_scheme_is_followed_and_a_choice_overrides_it(qapp, monkeypatch) -> None:
    monkeypatch.delenv("CFX_COLOR_SCHEME", raising=False)
    try:
        monkeypatch.setattr(theme, "system_is_dark", lambda: True)
        assert theme.apply("system") is True
        assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
        assert theme.colour("good") == theme._COLOURS["dark"]["good"]  # noqa: SLF001
        assert theme.apply("light") is False  # the user's choice wins over the system's
        assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 180
        monkeypatch.setattr(theme, "system_is_dark", lambda: False)
        assert theme.apply("system") is False
    finally:
        theme.apply("light")


def test_plots_are_restyled_when_the_scheme_changes(qapp, qtbot, monkeypatch) -> None:
    import pyqtgraph as pg

    monkeypatch.delenv("CFX_COLOR_SCHEME", raising=False)
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    theme.style_plot(plot)
    try:
        theme.apply("dark")
        assert plot.backgroundBrush().color().name() == theme._COLOURS["dark"]["plot_bg"]  # noqa: SLF001
        assert plot.getPlotItem().getAxis("left").textPen().color().name() == theme._COLOURS["dark"]["plot_fg"]  # noqa: SLF001
    finally:
        theme.apply("light")
    assert plot.backgroundBrush().color().name() == "#ffffff"


def test_view_menu_switches_appearance_and_remembers_it(qtbot, app_window, monkeypatch) -> None:
    monkeypatch.delenv("CFX_COLOR_SCHEME", raising=False)
    try:
        app_window.appearance_actions["dark"].trigger()
        assert theme.is_dark() and app_window.settings.value("appearance/scheme") == "dark"
        qtbot.waitUntil(lambda: app_window.palette().color(QPalette.ColorRole.Window).lightness() < 80, timeout=5000)
    finally:
        app_window.appearance_actions["light"].trigger()
    assert not theme.is_dark()


def test_keyboard_focus_shows_a_ring_in_the_highlight_colour(qapp, monkeypatch) -> None:
    """A button drawn with keyboard focus gets a 2 px ring in the highlight colour (Fusion alone tints one border
    pixel); without focus, or with focus from a click, it does not."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyle, QStyleOptionButton

    monkeypatch.delenv("CFX_COLOR_SCHEME", raising=False)
    theme.apply("light")
    style = qapp.style()
    assert isinstance(style, theme.FocusRingStyle)
    highlight = qapp.palette().color(QPalette.ColorRole.Highlight)

    def ring_pixels(state: QStyle.StateFlag) -> int:
        image = QImage(120, 30, QImage.Format.Format_ARGB32)
        image.fill(qapp.palette().color(QPalette.ColorRole.Window))
        option = QStyleOptionButton()
        option.rect, option.text, option.palette = QRect(0, 0, 120, 30), "Apply", qapp.palette()
        option.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Raised | state
        painter = QPainter(image)
        style.drawControl(QStyle.ControlElement.CE_PushButton, option, painter)
        painter.end()
        near = lambda c: abs(c.red() - highlight.red()) + abs(c.green() - highlight.green()) + abs(c.blue() - highlight.blue()) < 90  # noqa: E731
        return sum(near(image.pixelColor(x, y)) for x in range(120) for y in (1, 2, 27, 28))

    keyboard = ring_pixels(QStyle.StateFlag.State_HasFocus | QStyle.StateFlag.State_KeyboardFocusChange)
    assert keyboard > 2 * 100  # along the top and bottom edges
    assert ring_pixels(QStyle.StateFlag.State_None) < keyboard / 4
    assert ring_pixels(QStyle.StateFlag.State_HasFocus) < keyboard / 4  # focus from a mouse click: no ring


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_an_unchecked_box_has_a_visible_outline(qapp, monkeypatch, scheme: str) -> None:
    """An unchecked Lock box's outline reaches 3:1 against the window (WCAG's contrast for a control's boundary);
    Fusion's own outline stayed below that in both schemes (in dark mode the box all but vanished)."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyle, QStyleOptionButton

    monkeypatch.setenv("CFX_COLOR_SCHEME", scheme)
    theme.apply(scheme)
    try:
        window = qapp.palette().color(QPalette.ColorRole.Window)
        image = QImage(20, 20, QImage.Format.Format_ARGB32)
        image.fill(window)
        option = QStyleOptionButton()
        option.rect, option.palette = QRect(2, 2, 16, 16), qapp.palette()
        option.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Off
        painter = QPainter(image)
        qapp.style().drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorCheckBox, option, painter)
        painter.end()
        edge = [image.pixelColor(x, y).name() for x in range(2, 18) for y in (2, 3, 16, 17)]
        assert max(contrast(c, window.name()) for c in edge) >= 3.0, scheme
    finally:
        monkeypatch.delenv("CFX_COLOR_SCHEME")
        theme.apply("light")
