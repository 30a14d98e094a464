"""Light and dark appearance: follows the system colour scheme (Qt >= 6.5 reports it), or the user's choice in
View > Appearance, or ``CFX_COLOR_SCHEME=light|dark`` (screenshots, tests).

Qt widgets follow the palette by themselves; what does not (pyqtgraph plots, colours painted by hand, status
colours in tables) asks `colour()` at paint time or registers with `style_plot`, and is restyled on a switch.
"""

from __future__ import annotations

import os
import weakref

import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory

MODES = ("system", "light", "dark")

# status colours with enough contrast on either background (WCAG AA for normal text, checked by tests/test_theme.py)
_COLOURS = {
    "light": {"good": "#1e7b34", "warn": "#9a5b00", "bad": "#b00020", "muted": "#6b6b6b", "accent": "#0a5fb4",
              "plot_bg": "#ffffff", "plot_fg": "#202020", "bar_track": "#f2f2f2", "marker": "#111111"},
    "dark": {"good": "#6fcf87", "warn": "#f0b35a", "bad": "#ff7b7b", "muted": "#a8a8a8", "accent": "#7cb8ff",
             "plot_bg": "#1e1e1e", "plot_fg": "#e6e6e6", "bar_track": "#3a3a3a", "marker": "#f2f2f2"},
}


class FocusRingStyle(QProxyStyle):
    """Fusion, with a 2 px ring in the highlight colour around the control that has the keyboard focus (Fusion's
    own cue is a 1 px tint of the border, easy to miss). Drawn only after keyboard navigation, as Fusion does."""

    CONTROLS = {QStyle.ControlElement.CE_PushButton, QStyle.ControlElement.CE_CheckBox, QStyle.ControlElement.CE_RadioButton}
    COMPLEX = {QStyle.ComplexControl.CC_ComboBox, QStyle.ComplexControl.CC_SpinBox, QStyle.ComplexControl.CC_Slider,
               QStyle.ComplexControl.CC_ToolButton}

    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))

    INDICATORS = {QStyle.PrimitiveElement.PE_IndicatorCheckBox, QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck}

    def drawPrimitive(self, element, option, painter, widget=None) -> None:  # noqa: ANN001, N802 - Qt override
        super().drawPrimitive(element, option, painter, widget)
        if element in self.INDICATORS:
            # Fusion outlines a box in a shade of the window (about 1.3:1 in dark mode, where an unchecked Lock box
            # all but vanished, and under 3:1 in light mode): an outline in the text colour gives it the 3:1
            # contrast WCAG asks of a control's boundary
            painter.save()
            outline = QColor(option.palette.color(QPalette.ColorRole.WindowText))
            outline.setAlpha(200)
            painter.setPen(QPen(outline, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(option.rect).adjusted(0.5, 0.5, -0.5, -0.5))
            painter.restore()

    def drawControl(self, element, option, painter, widget=None) -> None:  # noqa: ANN001, N802 - Qt override
        super().drawControl(element, option, painter, widget)
        if element in self.CONTROLS:
            self._ring(option, painter)

    def drawComplexControl(self, control, option, painter, widget=None) -> None:  # noqa: ANN001, N802 - Qt override
        super().drawComplexControl(control, option, painter, widget)
        if control in self.COMPLEX:
            self._ring(option, painter)

    @staticmethod
    def _ring(option, painter) -> None:  # noqa: ANN001
        state = option.state
        if not (state & QStyle.StateFlag.State_HasFocus and state & QStyle.StateFlag.State_KeyboardFocusChange):
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(option.palette.color(QPalette.ColorRole.Highlight), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(option.rect).adjusted(1, 1, -1, -1), 3, 3)
        painter.restore()


_style: FocusRingStyle | None = None


class _Notifier(QObject):
    changed = Signal(bool)  # dark


_state = {"mode": "system", "dark": False}
_notifier: _Notifier | None = None
_plots: "weakref.WeakSet[pg.PlotWidget]" = weakref.WeakSet()


def notifier() -> _Notifier:
    global _notifier
    if _notifier is None:
        _notifier = _Notifier()
    return _notifier


def is_dark() -> bool:
    return bool(_state["dark"])


def colour(name: str) -> str:
    return _COLOURS["dark" if is_dark() else "light"][name]


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return bool(scheme is not None and scheme() == Qt.ColorScheme.Dark)


def dark_palette() -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    for role, value in ((roles.Window, "#2b2b2b"), (roles.WindowText, "#e6e6e6"), (roles.Base, "#1e1e1e"),
                        (roles.AlternateBase, "#333333"), (roles.ToolTipBase, "#3a3a3a"), (roles.ToolTipText, "#f0f0f0"),
                        (roles.Text, "#e6e6e6"), (roles.Button, "#353535"), (roles.ButtonText, "#e6e6e6"),
                        (roles.BrightText, "#ffffff"), (roles.Highlight, "#3d7fd6"), (roles.HighlightedText, "#ffffff"),
                        (roles.Link, "#7cb8ff"), (roles.LinkVisited, "#b89cff"), (roles.PlaceholderText, "#9a9a9a"),
                        (roles.Mid, "#4a4a4a"), (roles.Dark, "#202020"), (roles.Midlight, "#444444"), (roles.Light, "#505050"),
                        (roles.Shadow, "#101010")):
        p.setColor(role, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(disabled, role, QColor("#7a7a7a"))
    return p


def resolve(mode: str) -> bool:
    env = os.environ.get("CFX_COLOR_SCHEME", "").lower()
    if env in ("light", "dark"):
        return env == "dark"
    return system_is_dark() if mode == "system" else mode == "dark"


def apply(mode: str = "system") -> bool:
    """Set the palette for ``mode`` (system, light or dark); returns whether the app is now dark."""
    app = QApplication.instance()
    _state["mode"] = mode if mode in MODES else "system"
    dark = resolve(_state["mode"])
    _state["dark"] = dark
    if app is not None:
        global _style
        if _style is None:  # Fusion: the one style that draws every control from the palette, on every platform
            _style = FocusRingStyle()
            app.setStyle(_style)
        app.setPalette(dark_palette() if dark else app.style().standardPalette())
    pg.setConfigOptions(background=colour("plot_bg"), foreground=colour("plot_fg"))
    for plot in list(_plots):
        if shiboken6.isValid(plot):  # a closed dialog's plot may be gone on the C++ side before Python's
            _restyle(plot)
        else:
            _plots.discard(plot)
    notifier().changed.emit(dark)
    return dark


def follow_system() -> None:
    """Re-apply when the desktop switches light/dark, while the user's choice is "system"."""
    hints = QGuiApplication.styleHints()
    signal = getattr(hints, "colorSchemeChanged", None)
    if signal is not None:
        signal.connect(lambda _scheme: apply("system") if _state["mode"] == "system" else None)


def mode() -> str:
    return str(_state["mode"])


def _restyle(plot: pg.PlotWidget) -> None:
    plot.setBackground(colour("plot_bg"))
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        if axis is not None:
            axis.setPen(colour("plot_fg"))
            axis.setTextPen(colour("plot_fg"))


def style_plot(plot: pg.PlotWidget) -> pg.PlotWidget:
    """Colour ``plot`` for the current scheme now and on every switch."""
    _plots.add(plot)
    _restyle(plot)
    return plot
