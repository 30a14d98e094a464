"""Qt-free session models: what each tab is showing and which results answer it (napari's evented-model idea).

Widgets in `ui/` render a session and forward user actions to it; the tab submits the session's requests to the
worker pool and hands results back through ``accept_*``, which keeps a result only if it answers the current
state. The rules live here, so they are unit-tested without a window.
"""

from cfx_desktop.sessions.events import Event
from cfx_desktop.sessions.patient import PatientSession
from cfx_desktop.sessions.xray import XraySession

__all__ = ["Event", "PatientSession", "XraySession"]
