"""Reader's tools without Qt: window presets, and lengths and angles in millimetres.

Why here: what a measurement says (mm or pixels, from which DICOM attribute) and which windows a file offers
are rules a test should reach without a window; the viewer only draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cfx_desktop.core.imaging.io.load import LoadedImage

# Named CT windows (center, width) in Hounsfield units; offered only for CT, where the values are HU.
CT_WINDOWS = (("lung", -600.0, 1500.0), ("mediastinum", 40.0, 400.0), ("bone", 400.0, 1800.0), ("brain", 40.0, 80.0))


@dataclass(frozen=True)
class Preset:
    name: str
    center: float
    width: float

    @property
    def levels(self) -> tuple[float, float]:
        return (self.center - self.width / 2, self.center + self.width / 2)


def display_values(image: LoadedImage) -> np.ndarray:
    """What the viewer shows and windows: modality values for DICOM (HU for CT), stored values otherwise
    (0-255 for an 8-bit PNG), so window/level reads in the file's own units."""
    if image.values is not None:
        return image.frame_values
    bits = int(image.metadata.get("bits", 8) or 8)
    scale = 255.0 if bits <= 8 else 65535.0 if bits <= 16 else 1.0
    return image.pixels * np.float32(scale)


def value_unit(image: LoadedImage) -> str:
    dicom = image.metadata.get("dicom", {})
    return "HU" if str(dicom.get("Modality", "")) == "CT" else ""


def presets(image: LoadedImage) -> list[Preset]:
    """Number-key presets: 1 full range, then the windows the file stores, then named ones (1-99 % of the
    values for every image, and the standard CT windows for CT)."""
    values = display_values(image)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    found = [Preset("full range", (lo + hi) / 2, max(hi - lo, 1e-6))]
    found += [Preset(label, center, width) for center, width, label in image.metadata.get("windows", [])]
    p1, p99 = (float(v) for v in np.nanpercentile(values[:: max(1, values.shape[0] // 512)], [1, 99]))
    found.append(Preset("1-99 % of values", (p1 + p99) / 2, max(p99 - p1, 1e-6)))
    if value_unit(image) == "HU":
        found += [Preset(name, center, width) for name, center, width in CT_WINDOWS]
    return found[:9]


def initial_preset(image: LoadedImage) -> Preset:
    """What the image opens with: the first stored window, else the full range (as the models see it)."""
    found = presets(image)
    return found[1] if image.metadata.get("windows") else found[0]


@dataclass(frozen=True)
class Length:
    value: float
    unit: str  # "mm" or "px"
    note: str  # where the spacing came from, or why there is none

    def text(self) -> str:
        return f"{self.value:.1f} {self.unit}"


def spacing_of(image: LoadedImage) -> dict | None:
    return image.metadata.get("pixel_spacing")


def length(p0: tuple[float, float], p1: tuple[float, float], spacing: dict | None) -> Length:
    """Distance between two points given as (x, y) in pixel coordinates; mm when the spacing is known.

    DICOM Pixel Spacing is (row spacing, column spacing): y steps use the first, x steps the second."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    if spacing:
        return Length(math.hypot(dx * spacing["column_mm"], dy * spacing["row_mm"]), "mm", spacing["source"])
    return Length(math.hypot(dx, dy), "px", "no pixel spacing in the file: pixels")


def angle(a: tuple[float, float], vertex: tuple[float, float], c: tuple[float, float], spacing: dict | None) -> float:
    """The angle at ``vertex`` between the rays to ``a`` and ``c``, in degrees, in physical space (non-square
    pixels change angles, so the spacing is applied first)."""
    sx, sy = (spacing["column_mm"], spacing["row_mm"]) if spacing else (1.0, 1.0)
    u = ((a[0] - vertex[0]) * sx, (a[1] - vertex[1]) * sy)
    v = ((c[0] - vertex[0]) * sx, (c[1] - vertex[1]) * sy)
    nu, nv = math.hypot(*u), math.hypot(*v)
    if nu == 0 or nv == 0:
        return 0.0
    cosine = max(-1.0, min(1.0, (u[0] * v[0] + u[1] * v[1]) / (nu * nv)))
    return math.degrees(math.acos(cosine))
