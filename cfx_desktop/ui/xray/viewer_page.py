"""The Viewer page of the X-ray tab: tool row (pan, ruler, angle, note; window presets), the image view, and for
a multi-frame file a frame slider with cine play.

During cine play only the picture changes; the models run on a frame once the reader stops on it (released
slider, paused play), so playback never queues a prediction per frame.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QToolBar, QVBoxLayout, QWidget

from cfx_desktop.core.imaging.io import measure
from cfx_desktop.core.imaging.io.load import LoadedImage
from cfx_desktop.ui.empty_state import CentreOver, EmptyStateCard
from cfx_desktop.ui.xray.viewer import ImageView

TOOL_KEYS = {"pan": ("Pan / window", "P"), "ruler": ("Ruler", "M"), "angle": ("Angle", "A"), "text": ("Note", "T")}


class ViewerPage(QWidget):
    frame_chosen = Signal(int)  # the reader stopped on this frame (0-based): run the models on it
    preset_applied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.toolbar = QToolBar(self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        group = QActionGroup(self)
        self.tool_actions = {}
        for tool, (label, key) in TOOL_KEYS.items():
            action = self.toolbar.addAction(f"{label} ({key})")
            action.setCheckable(True)
            # the window's key while the viewer is shown (a widget-with-children context kept it to the toolbar, so M,
            # A and T did nothing unless the toolbar had the focus)
            action.setShortcut(key)
            action.setToolTip({"pan": "Left drag pans, right drag sets window (horizontal) and level (vertical), wheel zooms",
                               "ruler": "Drag to measure a length (mm from the DICOM pixel spacing; pixels otherwise)",
                               "angle": "Click three points: the angle at the middle one",
                               "text": "Click to place a text note"}[tool])
            action.triggered.connect(lambda _=False, t=tool: self.set_tool(t))
            group.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions["pan"].setChecked(True)
        self.toolbar.addSeparator()
        self.undo_note = self.toolbar.addAction("Undo mark")
        self.clear_notes = self.toolbar.addAction("Clear marks")
        self.undo_note.setShortcut(QKeySequence("Backspace"))
        self.undo_note.setToolTip("Undo the last measurement or note (Backspace)")
        self.clear_notes.setShortcut(QKeySequence("Shift+Backspace"))
        self.clear_notes.setToolTip("Remove every measurement and note from this image (Shift+Backspace)")
        self.toolbar.addSeparator()
        self.presets = QComboBox(self)
        self.presets.setToolTip("Window presets; keys 1-9 choose them (1 full range, then the file's stored windows, then named ones)")
        self.presets.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.toolbar.addWidget(QLabel(" Window: ", self))
        self.toolbar.addWidget(self.presets)
        layout.addWidget(self.toolbar)
        self.viewer = ImageView(self, histogram=True)
        layout.addWidget(self.viewer, 1)
        self.frame_row = QWidget(self)
        row = QHBoxLayout(self.frame_row)
        row.setContentsMargins(4, 0, 4, 2)
        self.play = QPushButton("Play", self.frame_row)
        self.play.setCheckable(True)
        self.play.setToolTip("Cine play (Space); the models run on the frame where it stops")
        self.slider = QSlider(Qt.Orientation.Horizontal, self.frame_row)
        self.frame_label = QLabel("", self.frame_row)
        self.fps = QSpinBox(self.frame_row)
        self.fps.setRange(1, 60)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Cine speed in frames per second")
        self.slider.setToolTip("Frame of a multi-frame file (, and . step); the models run on the frame shown")
        for widget in (self.play, self.slider, self.frame_label, QLabel("speed", self.frame_row), self.fps):
            row.addWidget(widget, 1 if widget is self.slider else 0)
        layout.addWidget(self.frame_row)
        self.frame_row.hide()
        self.image: LoadedImage | None = None
        self.preset_list: list[measure.Preset] = []
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._advance)
        self.undo_note.triggered.connect(self.viewer.marks.undo)
        self.clear_notes.triggered.connect(self.viewer.marks.clear)
        self.presets.activated.connect(self.apply_preset)
        self.play.toggled.connect(self._toggle_play)
        self.fps.valueChanged.connect(lambda v: self._timer.setInterval(int(1000 / v)))
        self.slider.valueChanged.connect(self._slid)
        self.slider.sliderReleased.connect(lambda: self.frame_chosen.emit(self.slider.value()))

    # ----- image --------------------------------------------------------------------------------------------
    def empty_card(self, open_file: Callable[[], None], open_folder: Callable[[], None]) -> EmptyStateCard:
        """The "no image open yet" card, centred over the view until the first image arrives."""
        card = EmptyStateCard(
            "No image open yet",
            ["Open a chest X-ray: PNG, JPEG, TIFF or DICOM (Ctrl+O), or drop files here.",
             "A folder or a DICOMDIR opens as a list: every image gets a prediction.",
             "The model's answer appears at the right; the overlay shows where its evidence lies.",
             "Press G for a counterfactual: what would have to change for the other answer."],
            [("Open image...", "Open one image file (Ctrl+O)", open_file),
             ("Open folder...", "Open a folder of images or a DICOMDIR", open_folder)],
            "Research and teaching tool: not for diagnosis. F1 explains this tab.", self.viewer)
        self._empty_card_place = CentreOver(card, self.viewer)
        return card

    def show_image(self, image: LoadedImage, keep_view: bool = False) -> None:
        """A newly opened file (or another frame of the same one, with ``keep_view``)."""
        new_file = self.image is None or self.image.source != image.source or not keep_view
        self.image = image
        viewer = self.viewer
        if new_file:
            self.preset_list = measure.presets(image)
            self.presets.clear()
            for i, preset in enumerate(self.preset_list, start=1):
                self.presets.addItem(f"{i}: {preset.name}")
            start = measure.initial_preset(image)
            self.presets.setCurrentIndex(next(i for i, p in enumerate(self.preset_list) if p == start))
            viewer.default_levels = start.levels
            viewer.levels = start.levels
            viewer.unit = measure.value_unit(image)
            viewer.spacing = measure.spacing_of(image)
            viewer.inverted = bool(image.metadata.get("invert_values"))  # MONOCHROME1 shows high values dark
            viewer.marks.clear()
        viewer.extra_readout = _readout_note(image.frame_note(), viewer.spacing)
        viewer.set_image(measure.display_values(image), keep_view=keep_view)
        self._show_frame_controls(image, new_file)

    def apply_preset(self, index: int) -> bool:
        if not 0 <= index < len(self.preset_list):
            return False
        preset = self.preset_list[index]
        self.presets.setCurrentIndex(index)
        self.viewer.set_levels(*preset.levels)
        self.viewer.levels_changed.emit(*preset.levels)
        self.preset_applied.emit(f"window {index + 1}: {preset.name} (center {preset.center:g}, width {preset.width:g})")
        return True

    def set_tool(self, tool: str) -> None:
        self.viewer.marks.set_tool(tool)
        self.tool_actions[tool].setChecked(True)

    # ----- frames -------------------------------------------------------------------------------------------
    def _show_frame_controls(self, image: LoadedImage, new_file: bool) -> None:
        multi = image.frame_count > 1
        self.frame_row.setVisible(multi)
        if not multi:
            self._toggle_play(False)
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, image.frame_count - 1)
        self.slider.setValue(image.frame)
        self.slider.blockSignals(False)
        if new_file:
            self.fps.setValue(int(round(image.metadata.get("fps", 10) or 10)))
        self.frame_label.setText(f"{image.frame + 1} / {image.frame_count}")

    def _slid(self, index: int) -> None:
        """Dragging or playing: show the frame at once; the models wait until the reader stops."""
        if self.image is None or self.image.frames is None:
            return
        # the corner readout follows the frame shown (it said "frame 1 of 15" while the slider played frame 14)
        self.viewer.extra_readout = _readout_note(f"frame {index + 1} of {self.image.frame_count}", self.viewer.spacing)
        self.viewer.set_image(_frame_values(self.image, index), keep_view=True)
        self.frame_label.setText(f"{index + 1} / {self.image.frame_count}")
        if not self.slider.isSliderDown() and not self.play.isChecked():
            self.frame_chosen.emit(index)  # keyboard or click on the groove: a deliberate step

    def _toggle_play(self, playing: bool) -> None:
        if playing and self.image is not None and self.image.frame_count > 1:
            self._timer.setInterval(int(1000 / self.fps.value()))
            self._timer.start()
            self.play.setText("Pause")
        else:
            was_playing = self._timer.isActive()
            self._timer.stop()
            self.play.blockSignals(True)
            self.play.setChecked(False)
            self.play.blockSignals(False)
            self.play.setText("Play")
            if was_playing:
                self.frame_chosen.emit(self.slider.value())

    def toggle_play(self) -> None:
        self.play.setChecked(not self.play.isChecked())

    def step_frame(self, delta: int) -> None:
        if self.image is not None and self.image.frame_count > 1:
            self.slider.setValue((self.slider.value() + delta) % self.image.frame_count)

    def _advance(self) -> None:
        self.slider.setValue((self.slider.value() + 1) % (self.slider.maximum() + 1))


def _frame_values(image: LoadedImage, index: int) -> np.ndarray:
    return measure.display_values(image.with_frame(index))


def _readout_note(frame_note: str, spacing: dict | None) -> str:
    return "  ".join(x for x in (frame_note, _spacing_note(spacing)) if x)


def _spacing_note(spacing: dict | None) -> str:
    if not spacing:
        return "no pixel spacing: measurements in px"
    return f"{spacing['column_mm']:.3g} x {spacing['row_mm']:.3g} mm/px"
