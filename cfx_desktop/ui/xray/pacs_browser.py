"""One study browser per X-ray tab, made on first use: the session gets the pool's scheduler, the cache and the
results folder under the user data folder, and the model in use; retrieved studies open in the folder view."""

from __future__ import annotations

from cfx_desktop import paths
from cfx_desktop.pacs.cache import StudyCache
from cfx_desktop.sessions.pacs import PacsSession
from cfx_desktop.settings import make_settings
from cfx_desktop.ui.xray.pacs_dialog import PacsDialog
from cfx_desktop.workers.binding import PoolScheduler


def browser_for(tab) -> PacsDialog:  # noqa: ANN001 - the XrayTab
    dialog = getattr(tab, "_pacs_dialog", None)
    if dialog is None:
        root = paths.user_data_dir()
        session = PacsSession(PoolScheduler(tab.pool, tab), StudyCache(root / "pacs-cache"), root / "pacs-results",
                              tab.session.model_name)
        tab.session.model_changed.connect(lambda name: setattr(session, "model_name", name))
        dialog = PacsDialog(session, make_settings(), tab)
        dialog.folder_ready.connect(tab.open_folder)
        tab._pacs_dialog = dialog
    return dialog
