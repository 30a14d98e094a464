"""Viewer tools' rules: presets per file, lengths in mm from the right attribute, angles in physical space."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfx_desktop.core.imaging.io import measure
from cfx_desktop.core.imaging.io.load import LoadedImage

SPACING = {"row_mm": 0.2, "column_mm": 0.1, "source": "Pixel Spacing"}


def test_length_uses_row_spacing_for_y_and_column_spacing_for_x() -> None:
    assert measure.length((0, 0), (10, 0), SPACING).value == pytest.approx(1.0)
    assert measure.length((0, 0), (0, 10), SPACING).value == pytest.approx(2.0)
    assert measure.length((0, 0), (10, 0), SPACING).unit == "mm"


def test_without_spacing_lengths_are_pixels_and_say_so() -> None:
    result = measure.length((1, 1), (4, 5), None)
    assert (result.value, result.unit) == (5.0, "px") and "pixels" in result.note


def test_angle_is_measured_in_physical_space() -> None:
    assert measure.angle((10, 0), (0, 0), (0, 10), None) == pytest.approx(90.0)
    # 45 degrees in pixels is not 45 degrees when rows are twice as far apart as columns
    assert measure.angle((10, 0), (0, 0), (10, 10), SPACING) == pytest.approx(math.degrees(math.atan2(2.0, 1.0)))
    assert measure.angle((0, 0), (0, 0), (1, 1), None) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.tuples(*[st.floats(-500, 500) for _ in range(6)]))
def test_angles_stay_between_0_and_180(points) -> None:  # noqa: ANN001
    a, b, c = points[:2], points[2:4], points[4:]
    assert 0.0 <= measure.angle(a, b, c, SPACING) <= 180.0


def _ct() -> LoadedImage:
    values = np.linspace(-1000, 1500, 64 * 64, dtype=np.float32).reshape(64, 64)
    meta = {"windows": [(40.0, 400.0, "WINDOW1")], "dicom": {"Modality": "CT"}}
    return LoadedImage(np.zeros((64, 64), np.float32), "ct.dcm", "DICOM", meta, values=values)


def test_presets_are_full_range_then_stored_windows_then_named_ones() -> None:
    names = [p.name for p in measure.presets(_ct())]
    assert names[:3] == ["full range", "WINDOW1", "1-99 % of values"]
    assert {"lung", "bone"} <= set(names) and len(names) <= 9
    assert measure.initial_preset(_ct()).name == "WINDOW1"
    full = measure.presets(_ct())[0]
    assert full.levels == pytest.approx((-1000, 1500))


def test_an_8_bit_png_is_windowed_in_0_to_255_and_has_no_ct_presets() -> None:
    image = LoadedImage(np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10), "a.png", "PNG", {"bits": 8})
    assert float(measure.display_values(image).max()) == pytest.approx(255.0)
    names = [p.name for p in measure.presets(image)]
    assert "lung" not in names and measure.initial_preset(image).name == "full range"
