"""The Chest X-ray tab: lays out the viewer and the folder, prediction, overlay, counterfactual and sanity panels,
renders an `XraySession` (through `render.XrayRender`), and forwards what the user does to `XrayJobs`, which owns
every request (through the pool's scheduler) and the rules that chain them; the tab builds no channel and decides
nothing about what runs."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QSplitter, QTabWidget, QVBoxLayout, QWidget

from cfx_desktop.core.imaging import live
from cfx_desktop.core.imaging.io.load import LoadedImage
from cfx_desktop.core.imaging.models.classifier import image_models
from cfx_desktop.sessions.xray import XraySession
from cfx_desktop.sessions.xray_jobs import XrayJobs
from cfx_desktop.ui.tab_base import SelfTestStep, ToolTab
from cfx_desktop.ui.xray import export, keys
from cfx_desktop.ui.xray.compare_view import CompareView
from cfx_desktop.ui.xray.render import XrayRender
from cfx_desktop.ui.xray.folder_panel import FolderPanel
from cfx_desktop.ui.xray.sanity_panel import SanityPanel
from cfx_desktop.ui.xray.side_panels import SidePanels, guard_banner
from cfx_desktop.ui.xray.self_test import xray_self_test
from cfx_desktop.ui.xray.viewer_page import ViewerPage
from cfx_desktop.workers.binding import PoolScheduler
from cfx_desktop.workers.pool import WorkerPool

from cfx_desktop.ui.xray.formats import IMAGE_FILTER  # noqa: E402 - re-exported for the tests


class XrayTab(ToolTab):
    title = "Chest X-ray"
    open_filter = IMAGE_FILTER

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(pool, parent)
        models = image_models()
        self.session = XraySession(models[0][0]) if models else XraySession()
        self._build(models)
        self.scheduler = PoolScheduler(pool, self)
        self.jobs = XrayJobs(self.session, self.scheduler)
        self.render = XrayRender(self)
        self._connect_session()
        from cfx_desktop.ui.xray.own_images import OwnImagesFlow

        self.own_images = OwnImagesFlow(self.scheduler, self)
        self.own_images.model_ready.connect(self._on_model_ready)
        self.own_images.model_removed.connect(lambda _name: self.prediction_panel.set_models(image_models()))
        self.own_images.message.connect(self.error_raised)

    # ----- layout -------------------------------------------------------------------------------------------
    def _build(self, models: list[tuple[str, dict]]) -> None:
        outer = QHBoxLayout(self)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter = splitter
        self._saved_sizes: list[int] | None = None
        outer.addWidget(splitter)
        self.folder_panel = FolderPanel(splitter)
        middle = QWidget(splitter)
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        self.guard_banner = guard_banner(middle)
        middle_layout.addWidget(self.guard_banner)
        self.pages = QTabWidget(middle)
        middle_layout.addWidget(self.pages, 1)
        self.viewer_page = ViewerPage(self.pages)
        self.viewer = self.viewer_page.viewer
        self.empty_hint = self.viewer_page.empty_card(self._open_dialog, self._folder_dialog)
        self.compare = CompareView(self.pages)
        self.sanity_panel = SanityPanel(self.pages)
        self.pages.addTab(self.viewer_page, "Viewer")
        self.pages.addTab(self.compare, "Counterfactual comparison")
        self.pages.addTab(self.sanity_panel, "Sanity checks")
        right_scroll = SidePanels(models, splitter)
        self.prediction_panel, self.overlay_panel, self.cf_panel = right_scroll.prediction, right_scroll.overlay, right_scroll.counterfactual
        for widget in (self.folder_panel, middle, right_scroll):
            splitter.addWidget(widget)
        splitter.setSizes([240, 820, 340])
        keys.install(self)

    def _connect_session(self) -> None:
        s = self.session
        self.folder_panel.open_file_clicked.connect(self._open_dialog)
        self.folder_panel.open_folder_clicked.connect(self._folder_dialog)
        self.folder_panel.image_chosen.connect(lambda path: self.open_path(Path(path)))
        self.prediction_panel.model_chosen.connect(s.set_model)
        self.overlay_panel.method_chosen.connect(self.jobs.choose_method)
        self.overlay_panel.show_method(s.method)
        s.method_changed.connect(self.overlay_panel.show_method)
        self.overlay_panel.style_changed.connect(lambda style: s.set_overlay_style(**style))
        s.overlay_style_changed.connect(lambda style: self.viewer.set_overlay_style(**asdict(style)))
        self.overlay_panel.show_style(s.overlay_style)  # one source of the style: the session's
        self.viewer.set_overlay_style(**asdict(s.overlay_style))
        self.viewer.levels_changed.connect(lambda low, high: s.set_window(low, high, self.viewer.unit))
        self.overlay_panel.cancel_requested.connect(self.jobs.cancel_overlay)
        self.cf_panel.generate_requested.connect(self.generate_counterfactual)
        self.cf_panel.cancel_requested.connect(self.cancel_counterfactual)
        self.sanity_panel.run_requested.connect(self.run_sanity)
        self.jobs.error_raised.connect(self.error_raised.emit)
        self.jobs.prediction_requested.connect(lambda: self.prediction_panel.display(None, waiting=True))
        self.jobs.prediction_failed.connect(self.prediction_panel.failed)
        self.jobs.progress.connect(self.render.progress)
        self.jobs.tree_ready.connect(self._on_tree)
        self.viewer_page.frame_chosen.connect(s.set_frame)
        self.viewer_page.preset_applied.connect(self.status_message)
        self.pages.currentChanged.connect(self._page_changed)
        s.image_changed.connect(self.render.image_changed)
        s.frame_changed.connect(self.render.frame_changed)
        s.prediction_changed.connect(self.render.prediction)
        s.overlay_changed.connect(self.render.overlay)
        s.counterfactual_changed.connect(self.render.counterfactual)
        s.sanity_changed.connect(self.sanity_panel.display)
        s.sanity_changed.connect(self.render.sanity)

    def shortcuts(self) -> list[tuple[str, str]]:
        return keys.HELP

    # ----- views of the session (read by the menus, the help tour and the tests) ------------------------------
    image: LoadedImage | None = property(lambda self: self.session.image)  # type: ignore[assignment]
    prediction: live.Prediction | None = property(lambda self: self.session.prediction)  # type: ignore[assignment]
    overlay_result: live.Overlay | None = property(lambda self: self.session.overlay)  # type: ignore[assignment]
    cf_result: live.Counterfactual | None = property(lambda self: self.session.counterfactual)  # type: ignore[assignment]
    sanity_result: live.Sanity | None = property(lambda self: self.session.sanity)  # type: ignore[assignment]

    # ----- opening ------------------------------------------------------------------------------------------
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open chest X-ray", "", IMAGE_FILTER)
        if path:
            self.open_path(Path(path))

    def _folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder of images")
        if folder:
            self.open_folder(Path(folder))

    def open_path(self, path: Path) -> bool:
        if path.is_dir() or path.name.upper() == "DICOMDIR":
            return self.open_folder(path)
        self.jobs.open(str(path))
        return True

    def open_folder(self, folder: Path) -> bool:
        """A DICOMDIR or a folder of DICOM files opens as a patient / study / series tree (read in the pool);
        any other folder as a list of its images."""
        self.jobs.read_folder(str(folder))
        self.status_message.emit(f"Reading {folder.name}...")
        return True

    def _on_tree(self, folder: Path, tree) -> None:  # noqa: ANN001 - a DicomTree, or None for a plain folder
        files, problem = self.folder_panel.show_folder(folder, tree)
        if problem:
            self.error_raised.emit("No images", problem, "")
            return
        self.jobs.predict_folder(files)
        self.file_opened.emit(str(folder))
        self.folder_panel.select_first()
        if tree is not None and tree.patients:
            self.status_message.emit(f"{folder.name}: {len(tree.patients)} patient(s), {len(files)} image(s)")

    def _page_changed(self, _index: int) -> None:
        """The comparison takes the whole width (three views of about a third each); the other pages get the
        side panels back as they were."""
        comparing = self.pages.currentWidget() is self.compare
        if comparing and self._saved_sizes is None:
            self._saved_sizes = self.splitter.sizes()
            self.splitter.setSizes([0, sum(self._saved_sizes), 0])
        elif not comparing and self._saved_sizes is not None:
            self.splitter.setSizes(self._saved_sizes)
            self._saved_sizes = None

    # ----- user actions, forwarded (menus, shortcuts, tests) -----------------------------------------------
    @property
    def cf_steps(self) -> int:
        return self.jobs.cf_steps

    @cf_steps.setter
    def cf_steps(self, steps: int) -> None:
        self.jobs.cf_steps = steps

    def request_overlay(self) -> None:
        self.jobs.request_overlay()

    def generate_counterfactual(self) -> None:
        if self.jobs.generate_counterfactual():
            self.pages.setCurrentWidget(self.compare)

    def cancel_counterfactual(self) -> None:
        self.jobs.cancel_counterfactual()

    def run_sanity(self) -> None:
        self.jobs.run_sanity()

    # ----- your own images ----------------------------------------------------------------------------------
    def file_actions(self) -> list[tuple[str, object, str]]:
        from cfx_desktop.ui.xray.formats import FILE_ACTIONS

        return [(text, getattr(self, method), tip) for text, method, tip in FILE_ACTIONS]

    def open_from_pacs(self) -> None:
        from cfx_desktop.ui.xray.pacs_browser import browser_for

        browser_for(self).show()

    def new_image_model(self) -> None:
        self.own_images.choose_folder()

    def remove_current_model(self, confirm=None) -> bool:  # noqa: ANN001 - a test's stand-in for the question box
        return self.own_images.remove(self.session.model_name, confirm)

    def _on_model_ready(self, name: str) -> None:
        self.prediction_panel.set_models(image_models(), select=name)
        self.status_message.emit(f"Image model {name} is ready and selected")

    # ----- export / idle / self-test ------------------------------------------------------------------------
    def export_to(self, path: Path) -> bool:
        if self.image is None:
            self.error_raised.emit("Nothing to export", "Open an image first.", "")
            return False
        return export.export(path, self.session, self, self.cf_steps)

    def export_subject(self) -> str:
        return export.subject(self.image)

    def is_idle(self) -> bool:
        return self.jobs.is_idle()

    def self_test_steps(self) -> list[SelfTestStep]:
        return xray_self_test(self)
