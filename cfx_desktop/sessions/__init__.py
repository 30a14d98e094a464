"""Qt-free session models: what each tab is showing and which results answer it (napari's evented-model idea).

Widgets in `ui/` render a session and forward user actions to it; the tab submits the session's requests to the
worker pool and hands results back through ``accept_*``, which keeps a result only if it answers the current
state. The rules live here, so they are unit-tested without a window.
"""

from cfx_desktop.core.lazy import lazy_attributes

# each session is imported on first use: the X-ray session's module imports the imaging stack (torch)
__getattr__ = lazy_attributes(__name__, {"Event": "events", "PatientSession": "patient", "XraySession": "xray"})

__all__ = ["Event", "PatientSession", "XraySession"]
