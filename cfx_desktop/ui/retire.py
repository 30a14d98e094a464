"""Taking a widget out of a window for good.

Why one function: ``deleteLater`` alone leaves the widget visible, at its last place or at its parent's corner,
until control returns to the event loop that scheduled it, which a nested loop (a modal dialog, the screenshot
script's ``processEvents``) never does; the sanity panel's replaced maps sat over its button that way.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def retire(widget: QWidget) -> None:
    """Out of view and out of its parent at once; deleted when control returns to the event loop."""
    widget.hide()
    widget.setParent(None)
    widget.deleteLater()
