"""A `Report` as a PDF, laid out by ReportLab's Platypus: flowing text, tables, vector charts, page numbers.

Why ReportLab rather than Qt's QPdfWriter: the command line writes reports without a display or a QApplication,
and `core/` never imports Qt; Platypus also keeps a heading with what follows it and repeats table headers across
pages, which QTextDocument does not. Charts and colour legends are vector drawings; X-rays stay raster images.
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import (
    CondPageBreak, Flowable, Image as RLImage, KeepTogether, Paragraph as RLParagraph, SimpleDocTemplate, Spacer,
    Table as RLTable, TableStyle,
)

from cfx_desktop.core.report.document import BarChart, ColourLegend, Facts, Image, ImageRow, Paragraph, Report, Table

MARGIN = 16 * mm
POSITIVE = colors.HexColor("#c0392b")  # pushes toward the event (red), as in the app's chart
NEGATIVE = colors.HexColor("#2e6da4")
GRID = colors.HexColor("#b0b0b0")
# the base-14 fonts have no glyphs for these; the sidecar keeps the original characters
_PLAIN = {"\u2192": "->", "\u2190": "<-", "\u2264": "<=", "\u2265": ">=", "\u2212": "-", "\u2248": "~", "\u2026": "...",
          "\u2013": "-", "\u2014": "-", "\u00a0": " ", "\u2009": " ", "\u2032": "'"}


def plain(text: str) -> str:
    return "".join(_PLAIN.get(c, c) for c in str(text)).replace("+-", "\u00b1")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica", fontSize=9.5, leading=12.5, spaceAfter=4)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=18, leading=22, spaceAfter=2, alignment=0),
        "subject": ParagraphStyle("subject", parent=body, fontSize=11, leading=14, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=12.5, leading=15, spaceBefore=10, spaceAfter=4,
                             textColor=colors.HexColor("#1b3a5c")),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5, spaceAfter=0),
        "cellhead": ParagraphStyle("cellhead", parent=body, fontName="Helvetica-Bold", fontSize=8.5, leading=10.5, spaceAfter=0),
        "note": ParagraphStyle("note", parent=body, fontSize=8.5, leading=11, textColor=colors.HexColor("#555555")),
        "caveat": ParagraphStyle("caveat", parent=body, fontSize=9, leading=12, backColor=colors.HexColor("#fff4e5"),
                                 borderColor=colors.HexColor("#e0a040"), borderWidth=0.6, borderPadding=5, spaceBefore=4,
                                 spaceAfter=8),
        "caption": ParagraphStyle("caption", parent=body, fontSize=8, leading=10, alignment=TA_CENTER,
                                  textColor=colors.HexColor("#444444")),
        "code": ParagraphStyle("code", parent=body, fontName="Courier", fontSize=8, leading=10),
    }


def _p(text: str, style: ParagraphStyle) -> RLParagraph:
    return RLParagraph(escape(plain(text)).replace("\n", "<br/>"), style)


class _NumberedCanvas(pdf_canvas.Canvas):
    """Draws "page N of M" once the page count is known (pages are kept until save)."""

    def __init__(self, *args, report: Report, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._report = report

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._furniture(total)
            super().showPage()
        super().save()

    def _furniture(self, total: int) -> None:
        width, height = A4
        self.setFont("Helvetica", 7.5)
        self.setFillColor(colors.HexColor("#666666"))
        r = self._report
        header = plain(f"cfx-desktop {r.app_version} - {r.title}: {r.subject}")
        self.drawString(MARGIN, height - 10 * mm, header if len(header) <= 125 else header[:122] + "...")
        self.drawString(MARGIN, 9 * mm, plain(f"Created {r.created}. Research and teaching tool, not for diagnosis."))
        self.drawRightString(width - MARGIN, 9 * mm, f"page {self._pageNumber} of {total}")


def _facts(block: Facts, s: dict[str, ParagraphStyle], width: float) -> RLTable:
    rows = [[_p(k, s["cellhead"]), _p(v, s["cell"])] for k, v in block.rows]
    table = RLTable(rows, colWidths=[0.28 * width, 0.72 * width])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25, GRID),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return table


def _table(block: Table, s: dict[str, ParagraphStyle], width: float) -> RLTable:
    weights = block.widths or [1.0] * len(block.headers)
    total = float(sum(weights))
    rows = [[_p(h, s["cellhead"]) for h in block.headers]] + [[_p(c, s["cell"]) for c in row] for row in block.rows]
    table = RLTable(rows, colWidths=[width * w / total for w in weights], repeatRows=1)
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("GRID", (0, 0), (-1, -1), 0.3, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


def bar_chart_drawing(block: BarChart, width: float) -> Drawing:
    """Signed horizontal bars around a zero line, labels on the left, values at the bar ends, an axis with ticks."""
    bar_h, gap, top, bottom = 11.0, 3.0, 16.0, 30.0
    n = len(block.values)
    height = top + n * (bar_h + gap) + bottom
    d = Drawing(width, height)
    label_w = min(150.0, width * 0.34)
    plot_x0, plot_x1 = label_w + 8, width - 40
    span = max((abs(v) for v in block.values), default=1.0) or 1.0
    zero = (plot_x0 + plot_x1) / 2
    scale = (plot_x1 - plot_x0) / 2 / span
    d.add(String(0, height - 11, plain(block.title), fontName="Helvetica-Bold", fontSize=9))
    for i, (label, value) in enumerate(zip(block.labels, block.values)):
        y = height - top - (i + 1) * (bar_h + gap)
        d.add(String(label_w, y + 2.5, plain(label)[:40], fontName="Helvetica", fontSize=8, textAnchor="end"))
        x0, w = (zero, value * scale) if value >= 0 else (zero + value * scale, -value * scale)
        d.add(Rect(x0, y, max(w, 0.4), bar_h, fillColor=POSITIVE if value >= 0 else NEGATIVE, strokeColor=None))
        tx = zero + value * scale + (3 if value >= 0 else -3)
        d.add(String(tx, y + 2.5, f"{value:+.2f}", fontName="Helvetica", fontSize=7,
                     textAnchor="start" if value >= 0 else "end"))
    axis_y = height - top - n * (bar_h + gap) - 4
    d.add(Line(zero, axis_y, zero, height - top + 2, strokeColor=colors.black, strokeWidth=0.6))
    d.add(Line(plot_x0, axis_y, plot_x1, axis_y, strokeColor=colors.black, strokeWidth=0.5))
    for frac in (-1, -0.5, 0, 0.5, 1):
        x = zero + frac * span * scale
        d.add(Line(x, axis_y, x, axis_y - 3, strokeColor=colors.black, strokeWidth=0.5))
        d.add(String(x, axis_y - 11, f"{frac * span:+.2f}" if frac else "0", fontName="Helvetica", fontSize=7, textAnchor="middle"))
    d.add(String((plot_x0 + plot_x1) / 2, axis_y - 22, plain(block.axis_label), fontName="Helvetica", fontSize=7.5, textAnchor="middle"))
    if block.negative_means:
        d.add(Rect(0, axis_y - 24, 7, 7, fillColor=NEGATIVE, strokeColor=None))
        d.add(String(10, axis_y - 23, plain(block.negative_means), fontName="Helvetica", fontSize=7))
    if block.positive_means:
        d.add(Rect(0, axis_y - 13, 7, 7, fillColor=POSITIVE, strokeColor=None))
        d.add(String(10, axis_y - 12, plain(block.positive_means), fontName="Helvetica", fontSize=7))
    return d


def legend_drawing(legend: ColourLegend, width: float) -> Drawing:
    """A colour bar with its low and high ends named: vector strips, readable at any zoom."""
    height = 34.0
    d = Drawing(width, height)
    bar_w, x0 = width * 0.9, width * 0.05
    n = len(legend.colours)
    d.add(String(x0 + bar_w / 2, 25, plain(legend.label), fontName="Helvetica", fontSize=7, textAnchor="middle"))
    for i, (r, g, b) in enumerate(legend.colours):
        d.add(Rect(x0 + bar_w * i / n, 12, bar_w / n + 0.3, 8, fillColor=colors.Color(r / 255, g / 255, b / 255), strokeColor=None))
    d.add(Rect(x0, 12, bar_w, 8, fillColor=None, strokeColor=colors.black, strokeWidth=0.4))
    d.add(String(x0, 3, plain(legend.low), fontName="Helvetica", fontSize=7))
    d.add(String(x0 + bar_w, 3, plain(legend.high), fontName="Helvetica", fontSize=7, textAnchor="end"))
    return d


def _image(block: Image, s: dict[str, ParagraphStyle], max_width: float) -> list[Flowable]:
    width_px, height_px = block.size
    width = min(block.width_mm * mm, max_width)
    height = width * height_px / max(width_px, 1)
    parts: list[Flowable] = [RLImage(io.BytesIO(block.png), width=width, height=height)]
    if block.legend is not None:
        parts.append(legend_drawing(block.legend, width))
    parts.append(_p(block.caption, s["caption"]))
    return parts


def _image_row(block: ImageRow, s: dict[str, ParagraphStyle], width: float) -> RLTable:
    n = len(block.images)
    cell_w = width / n
    cells = []
    for image in block.images:
        image_w = min(image.width_mm * mm, cell_w - 6)
        cells.append(_image(Image(image.png, image.caption, image_w / mm, image.legend), s, image_w))
    table = RLTable([cells], colWidths=[cell_w] * n)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return table


def _flowable(block, s: dict[str, ParagraphStyle], width: float) -> Flowable:  # noqa: ANN001 - a document Block
    if isinstance(block, Paragraph):
        return _p(block.text, s.get(block.style, s["body"]))
    if isinstance(block, Facts):
        return _facts(block, s, width)
    if isinstance(block, Table):
        return _table(block, s, width)
    if isinstance(block, BarChart):
        return bar_chart_drawing(block, width)
    if isinstance(block, Image):
        return KeepTogether(_image(block, s, width))
    return _image_row(block, s, width)


def flowables(report: Report, width: float) -> list[Flowable]:
    s = _styles()
    story: list[Flowable] = [_p(report.title, s["title"]), _p(report.subject, s["subject"]),
                             _p(report.caveats[0], s["caveat"])]
    for section in report.sections:
        # a heading never stands alone at the foot of a page: it goes with a picture or chart that cannot split,
        # and otherwise needs room for a few lines after it (tables split, repeating their header)
        story.append(CondPageBreak(40 * mm))
        heading = _p(section.title, s["h2"])
        parts = [_flowable(block, s, width) for block in section.blocks]
        if parts and isinstance(section.blocks[0], (BarChart, Image, ImageRow)):
            story.append(KeepTogether([heading, parts.pop(0), Spacer(1, 4)]))
        else:
            story.append(heading)
        for part in parts:
            story += [part, Spacer(1, 4)]
    story.append(KeepTogether([_p("Caveats", s["h2"]), *(_p(c, s["note"]) for c in report.caveats)]))
    return story


def write_pdf(report: Report, path: Path) -> None:
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 2 * mm,
                            bottomMargin=MARGIN, title=plain(f"{report.title}: {report.subject}"), author="cfx-desktop",
                            subject=report.title, creator=f"cfx-desktop {report.app_version}")
    doc.build(flowables(report, doc.width),
              canvasmaker=lambda *a, **k: _NumberedCanvas(*a, report=report, **k))


def write_report(report: Report, pdf_path: Path) -> tuple[Path, Path]:
    """The PDF and its JSON sidecar (same name, .json)."""
    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    write_pdf(report, pdf_path)
    sidecar = pdf_path.with_suffix(".json")
    sidecar.write_text(report.json_text(), encoding="utf-8")
    return pdf_path, sidecar
