"""What a report says, independent of how it is drawn: sections of blocks (text, facts, tables, charts, images).

The PDF and the JSON sidecar are written from one `Report`, so the sidecar holds exactly what the PDF shows
(charts as their numbers, images as their size, caption and sha256, plus the PNG beside it when asked).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from cfx_desktop import __version__

CAVEATS = (
    "Research and teaching tool: not a medical device, and not for diagnosis or treatment decisions.",
    "Suggestions and counterfactual images are model-based what-ifs: they show what would change this model's "
    "output, not what would change the patient's outcome. No causal model is used.",
    "Explanations describe the models, which were trained on small public datasets; they can be wrong where the "
    "patient or image is unlike the training data.",
)


@dataclass
class Paragraph:
    text: str
    style: str = "body"  # body, note (smaller, grey) or caveat (boxed)
    kind: str = "paragraph"


@dataclass
class Facts:
    """Label: value pairs, laid out as a two-column table."""

    rows: list[tuple[str, str]]
    kind: str = "facts"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    widths: list[float] | None = None  # relative column widths
    kind: str = "table"


@dataclass
class BarChart:
    """Signed horizontal bars (e.g. Shapley values), drawn as vector graphics."""

    labels: list[str]
    values: list[float]
    title: str
    axis_label: str
    positive_means: str = ""  # legend text for bars > 0
    negative_means: str = ""
    kind: str = "bar_chart"


@dataclass
class Image:
    """A raster picture (an X-ray, a map) as PNG bytes; `legend` adds a vector colour bar under it."""

    png: bytes
    caption: str
    width_mm: float = 80.0
    legend: "ColourLegend | None" = None
    kind: str = "image"

    @staticmethod
    def from_rgb(rgb: np.ndarray, caption: str, width_mm: float = 80.0, legend: "ColourLegend | None" = None,
                 max_px: int = 720) -> "Image":
        """PNG of ``rgb``, shrunk to at most ``max_px`` on its long side (about 230 dpi at 80 mm: sharp in print,
        small in the file)."""
        from PIL import Image as PILImage

        picture = PILImage.fromarray(np.asarray(rgb, dtype=np.uint8))
        if max(picture.size) > max_px:
            picture.thumbnail((max_px, max_px), PILImage.Resampling.LANCZOS)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", optimize=True)
        return Image(buffer.getvalue(), caption, width_mm, legend)

    @property
    def size(self) -> tuple[int, int]:
        from PIL import Image as PILImage

        return PILImage.open(io.BytesIO(self.png)).size


@dataclass
class ColourLegend:
    colours: list[tuple[int, int, int]]  # the colour map, low to high
    low: str
    high: str
    label: str


@dataclass
class ImageRow:
    """Pictures side by side at one height (original | counterfactual | difference)."""

    images: list[Image]
    kind: str = "image_row"


Block = Union[Paragraph, Facts, Table, BarChart, Image, ImageRow]


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, block: Block) -> "Section":
        self.blocks.append(block)
        return self


@dataclass
class Report:
    title: str
    subject: str  # the patient or the image, in one line
    sections: list[Section]
    reproduce: str  # the command that writes this report again (builders also show it under their settings)
    caveats: tuple[str, ...] = CAVEATS
    created: str = field(default_factory=lambda: dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    app_version: str = __version__

    def section(self, title: str) -> Section:
        for s in self.sections:
            if s.title == title:
                return s
        raise KeyError(title)

    def to_dict(self) -> dict[str, Any]:
        def block_dict(block: Block) -> dict[str, Any]:
            if isinstance(block, Image):
                width, height = block.size
                out = {"kind": "image", "caption": block.caption, "width_px": width, "height_px": height,
                       "sha256": hashlib.sha256(block.png).hexdigest()}
                if block.legend is not None:
                    legend = block.legend
                    out["legend"] = {"label": legend.label, "low": legend.low, "high": legend.high}
                return out
            if isinstance(block, ImageRow):
                return {"kind": "image_row", "images": [block_dict(i) for i in block.images]}
            return asdict(block)

        return {
            "title": self.title, "subject": self.subject, "created": self.created, "app_version": self.app_version,
            "sections": [{"title": s.title, "blocks": [block_dict(b) for b in s.blocks]} for s in self.sections],
            "caveats": list(self.caveats), "reproduce": self.reproduce,
        }

    def json_text(self) -> str:
        """The JSON sidecar's text: what the PDF shows, for a program to read."""
        return json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n"


def _json_default(value: object) -> object:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
