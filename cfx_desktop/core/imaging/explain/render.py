"""Pixel rendering without Qt, for the CLI and reports: colormaps and overlays as uint8 RGB arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# anchor colours of perceptually ordered maps (sampled by eye from the usual definitions)
COLORMAPS = {
    "inferno": [(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66), (245, 125, 21), (250, 193, 39), (252, 255, 164)],
    "viridis": [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)],
    "plasma": [(13, 8, 135), (83, 2, 163), (139, 10, 165), (184, 50, 137), (219, 92, 104), (244, 136, 73), (254, 189, 42), (240, 249, 33)],
    "magma": [(0, 0, 4), (34, 17, 80), (95, 24, 127), (152, 45, 128), (211, 67, 110), (248, 118, 92), (254, 187, 129), (252, 253, 191)],
    "CET-L8": [(1, 15, 93), (55, 27, 142), (143, 12, 143), (208, 21, 126), (245, 84, 93), (249, 148, 67), (252, 199, 58), (245, 249, 78)],
    "hot": [(0, 0, 0), (230, 0, 0), (255, 210, 0), (255, 255, 255)],
    "coolwarm": [(59, 76, 192), (221, 221, 221), (180, 4, 38)],
}
# the maps a saliency overlay may be drawn in: the viewer offers these (pyqtgraph's maps of the same names), and a
# report draws the map in the one the reader chose, so each needs its anchors above
OVERLAY_COLORMAPS = ("inferno", "viridis", "plasma", "magma", "CET-L8")


def lut(name: str, n: int = 256) -> np.ndarray:
    anchors = np.array(COLORMAPS[name], dtype=np.float64)
    positions = np.linspace(0, 1, len(anchors))
    t = np.linspace(0, 1, n)
    return np.stack([np.interp(t, positions, anchors[:, c]) for c in range(3)], axis=1).astype(np.uint8)


def colorize(values: np.ndarray, name: str = "inferno", signed: bool = False) -> np.ndarray:
    if signed:
        top = float(np.abs(values).max()) or 1.0
        t = (values / top + 1) / 2
    else:
        top = float(values.max()) or 1.0
        t = np.clip(values / top, 0, 1)
    return lut(name)[np.round(t * 255).astype(np.int64)]


def gray_rgb(pixels: np.ndarray) -> np.ndarray:
    g = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    return np.stack([g, g, g], axis=-1)


@dataclass(frozen=True)
class OverlayStyle:
    """How a saliency map is drawn over the film: the reader's choice in the viewer, kept by the session so that the
    report shows the map as it was read. ``threshold``: values below this share of the strongest are not drawn."""

    opacity: float = 0.5
    threshold: float = 0.0
    colormap: str = "inferno"
    visible: bool = True

    def words(self) -> str:
        drawn = f"; below {self.threshold:.0%} of the strongest not drawn" if self.threshold > 0 else ""
        return f"opacity {self.opacity:.0%}, {self.colormap}{drawn}"


def overlay(pixels: np.ndarray, values: np.ndarray, opacity: float = 0.5, colormap: str = "inferno", threshold: float = 0.0) -> np.ndarray:
    """Positive saliency blended over the grayscale image; values below ``threshold`` (of the max) are not drawn."""
    positive = np.clip(values, 0, None)
    top = float(positive.max()) or 1.0
    scaled = positive / top
    alpha = (opacity * (scaled >= threshold) * np.clip(scaled * 1.5, 0, 1))[..., None]
    base = gray_rgb(pixels).astype(np.float32)
    colour = colorize(scaled, colormap).astype(np.float32)
    return np.round(base * (1 - alpha) + colour * alpha).astype(np.uint8)


def save_png(rgb: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def side_by_side(*panels: np.ndarray, gap: int = 4) -> np.ndarray:
    height = max(p.shape[0] for p in panels)
    padded = [np.pad(p, ((0, height - p.shape[0]), (0, gap), (0, 0)), constant_values=255) for p in panels]
    return np.concatenate(padded, axis=1)[:, :-gap]


def comparison(original: np.ndarray, counterfactual: np.ndarray, difference: np.ndarray,
               captions: Sequence[str] | None = None) -> np.ndarray:
    """original | counterfactual | signed difference, the picture the CLI, the report and the PACS capture share.
    A picture that travels alone (the CLI's PNG, the PACS capture) carries ``captions``, one per panel; the report
    captions it in its own layout."""
    change = colorize(difference, "coolwarm", signed=True) if np.abs(difference).max() > 0 else gray_rgb(difference)
    panels = [gray_rgb(original), gray_rgb(counterfactual), change]
    if captions:
        strips = [caption_strip(text, panel.shape[1]) for panel, text in zip(panels, captions)]
        tallest = max(strip.shape[0] for strip in strips)  # the films stay level however each caption wraps
        panels = [np.concatenate([np.pad(strip, ((0, tallest - strip.shape[0]), (0, 0), (0, 0)), constant_values=255), panel])
                  for strip, panel in zip(strips, panels)]
    return side_by_side(*panels)


def caption_strip(text: str, width: int) -> np.ndarray:
    """A white strip ``width`` wide holding ``text``, wrapped to it, in Pillow's own font (sized to the width, so a
    224 px film and a 2,000 px one read alike)."""
    font = ImageFont.load_default(size=max(10, width // 22))
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and font.getlength(trial) > width - 8:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    ascent, descent = font.getmetrics()
    step = ascent + descent + 2
    strip = Image.new("RGB", (width, step * len(lines) + 6), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for i, words in enumerate(lines):
        draw.text((4, 3 + i * step), words, fill=(0, 0, 0), font=font)
    return np.asarray(strip)
