"""The main window: two tabs, menus, status bar (device + job indicator), remembered state, error reporting."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from cfx_desktop import settings as settings_mod
from cfx_desktop.ui.about import about_dialog, all_shortcuts, shortcuts_dialog
from cfx_desktop.ui import theme
from cfx_desktop.ui.accessibility import fill_names
from cfx_desktop.ui.first_paint import FirstPaint
from cfx_desktop.ui import menus
from cfx_desktop.ui.help_dock import HelpDock
from cfx_desktop.ui.integrity_banner import IntegrityBanner
from cfx_desktop.ui.help_pane import GlossaryDialog
from cfx_desktop.ui.status_bar import JobIndicator
from cfx_desktop.ui.tab_base import ToolTab
from cfx_desktop.workers.pool import JobError, WorkerPool
from cfx_desktop.workers.startup import libraries_for

log = logging.getLogger(__name__)

EXIT_GRACE_MS = 800  # how long Quit waits for cancelled jobs to return before the process ends regardless
LOAD_ANYWAY_MS = 1500  # start loading models this long after construction even if the window has not painted


class MainWindow(QMainWindow):
    def __init__(self, pool: WorkerPool, tabs: list[ToolTab], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("cfx-desktop")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.pool = pool
        self.settings = settings_mod.make_settings()
        self.last_error: JobError | None = None
        self._error_box: QMessageBox | None = None

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tab_list = tabs
        for tab in tabs:
            self.tabs.addTab(tab, tab.title)
            tab.status_message.connect(self.show_status)
            tab.file_opened.connect(self._remember_file)
            tab.error_raised.connect(self.show_error)
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.integrity_banner = IntegrityBanner(central)
        column.addWidget(self.integrity_banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self._build_help_dock()
        self.jobs_indicator = JobIndicator(self, pool)
        ind = self.jobs_indicator  # the tests read these by their old names
        self.device_label, self.busy_label, self.busy_bar, self.stop_button = ind.device_label, ind.busy_label, ind.busy_bar, ind.stop_button
        menus.build_menus(self)
        pool.job_failed.connect(self.show_job_error)
        self.libraries = libraries_for(pool)
        self.libraries.integrity_checked.connect(self.integrity_banner.show_report)
        self.libraries.loaded.connect(self._on_models_loaded)
        self.libraries.failed.connect(self._on_models_failed)
        # after the first paint pass has been flushed to the screen (queued), not during it
        self._paint_watch = FirstPaint(self, lambda: QTimer.singleShot(0, self, self.start_loading))
        QTimer.singleShot(LOAD_ANYWAY_MS, self, self.start_loading)  # a window that is never shown still loads
        self._restore_state()
        fill_names(self)  # screen-reader names for controls that have only a form label or a tooltip

    # ----- help -------------------------------------------------------------------------------------------
    def _build_help_dock(self) -> None:
        """"What am I looking at?": open on the first start (no saved layout), then as the user left it (F1)."""
        self.help_dock = HelpDock(self)
        self.help_pane = self.help_dock.pane
        self.tabs.currentChanged.connect(lambda *_: self.help_dock.show_topic(self.current_tab.help_topic()))
        self.help_dock.show_topic(self.current_tab.help_topic())

    @property
    def glossary(self) -> GlossaryDialog | None:
        return self.help_dock.glossary

    def show_glossary(self, term: str = "") -> None:
        self.help_dock.show_glossary(term)

    # ----- state --------------------------------------------------------------------------------------------
    def _restore_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)  # also whether the help pane is open
        else:  # first start: a newcomer sees what the tab is for beside the window, never over it
            self.help_dock.setFloating(True)
            self.help_dock.resize(320, 620)
            self.help_dock.hide()
            QTimer.singleShot(0, self, lambda: self.help_dock.first_start(lambda text: self.show_status(text, 15_000)))
        index = int(self.settings.value("window/tab", 0) or 0)
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Quit promptly: remember the layout, vanish at once, cancel every job and give them a moment to stop
        (`app.finish` ends the process without waiting for one that does not)."""
        self.save_state()
        self.hide()
        self.pool.shutdown(EXIT_GRACE_MS)
        super().closeEvent(event)

    # ----- files --------------------------------------------------------------------------------------------
    @property
    def current_tab(self) -> ToolTab:
        return self.tab_list[self.tabs.currentIndex()]

    def open_dialog(self) -> None:
        tab = self.current_tab
        path, _ = QFileDialog.getOpenFileName(self, f"Open ({tab.title})", "", tab.open_filter)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path, tab: ToolTab | None = None) -> bool:
        tab = tab or self._tab_for(path)
        self.tabs.setCurrentWidget(tab)
        return tab.open_path(path)

    def _tab_for(self, path: Path) -> ToolTab:
        """CSV files go to the Patient tab, anything else to the image tab, whichever is showing."""
        wanted = "Patient" if path.suffix.lower() in {".csv", ".tsv", ".txt"} else "Chest X-ray"
        return next((t for t in self.tab_list if t.title == wanted), self.current_tab)

    def export_dialog(self) -> None:
        tab = self.current_tab
        path, chosen = QFileDialog.getSaveFileName(self, f"Export ({tab.title})", tab.suggested_export_name(), tab.export_filter)
        if path:
            target = Path(path)
            if not target.suffix:
                target = target.with_suffix(".pdf" if "pdf" in chosen.lower() else ".png")
            try:
                exported = tab.export_to(target)
            except OSError as exc:  # a read-only folder, a full disk: say so, keep everything on screen
                tab.error_raised.emit("Could not export", f"{target}: {exc.strerror or exc}", repr(exc))
                return
            if exported:
                sidecar = " and its JSON sidecar" if target.suffix.lower() == ".pdf" else ""
                self.show_status(f"Exported {target}{sidecar}")

    def _remember_file(self, path: str) -> None:
        settings_mod.add_recent_file(self.settings, path)
        menus.refresh_recent(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(Path(url.toLocalFile()))
                break

    # ----- models loading ------------------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Load the model libraries in the pool; called once the window has painted (see `workers.startup`)."""
        self.libraries.start()

    @property
    def models_loaded(self) -> bool:
        return self.libraries.is_loaded

    def _on_models_loaded(self, report) -> None:  # noqa: ANN001 - core.startup.LoadReport
        self.device_label.setText(report.device)
        log.info("models loaded in %.2f s on %s (%s)", report.seconds, report.device,
                 ", ".join(f"{k} {v}" for k, v in report.versions.items()))

    def _on_models_failed(self, error: JobError) -> None:
        self.device_label.setText("Models unavailable")
        self.show_job_error(error)

    # ----- feedback -----------------------------------------------------------------------------------------
    def show_status(self, message: str, msecs: int = 8000) -> None:
        self.statusBar().showMessage(message, msecs)

    def show_job_error(self, error: JobError) -> None:
        """Every job failure ends here: a status line and a non-blocking box with the traceback as details."""
        self.last_error = error
        log.error("%s failed: %s", error.title, error.message)
        self.show_status(f"{error.title} failed: {error.message}", 15000)
        self.show_error(f"{error.title} failed", error.message, error.details)

    def show_error(self, title: str, message: str, details: str = "") -> QMessageBox:
        if self._error_box is not None:
            self._error_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()  # non-blocking: the app and any running job keep going
        self._error_box = box
        return box

    def show_about(self) -> None:
        about_dialog(self).exec()

    def show_shortcuts(self) -> None:
        shortcuts_dialog(self, all_shortcuts(self, self.tab_list)).exec()

    def set_appearance(self, mode: str) -> None:
        """Light, dark, or the system's scheme (followed live); remembered for the next start."""
        theme.apply(mode)
        self.settings.setValue("appearance/scheme", mode)
        self.appearance_actions[mode].setChecked(True)

    def is_idle(self) -> bool:
        return self.models_loaded and self.pool.active_count == 0 and all(tab.is_idle() for tab in self.tab_list)
