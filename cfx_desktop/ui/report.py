"""PNG and PDF export shared by both tabs: a PNG is the widget as shown; a PDF is an HTML report (title, model
card, date, sections, embedded chart images) laid out by QTextDocument and written by Qt's QPdfWriter."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QPixmap, QTextDocument
from PySide6.QtWidgets import QWidget

from cfx_desktop import __version__


def pixmap_html(pixmap: QPixmap, width: int = 1000) -> str:
    """Inline a pixmap as a data URL so the report is one self-contained document."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    return f'<p><img width="{width}" src="data:image/png;base64,{bytes(data.toBase64()).decode()}"></p>'


def report_html(title: str, model_name: str, sections: list[tuple[str, str]]) -> str:
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in sections)
    return (
        f"<html><body style='font-family: sans-serif; font-size: 10pt'>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Model: <b>{html.escape(model_name)}</b> &nbsp; Date: {stamp} &nbsp; cfx-desktop {__version__}</p>"
        f"<p><i>Research and teaching tool: not a medical device, not for diagnosis.</i></p>{body}</body></html>"
    )


def write_pdf(path: Path, document_html: str) -> None:
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
    writer.setResolution(150)
    writer.setTitle("cfx-desktop report")
    document = QTextDocument()
    document.setHtml(document_html)
    layout = writer.pageLayout()
    rect = layout.paintRectPixels(writer.resolution())
    document.setPageSize(QSizeF(rect.width(), rect.height()))
    document.print_(writer)


def write_png(path: Path, widget: QWidget) -> bool:
    return widget.grab().save(str(path), "PNG")


def table_html(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th align='left'>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table border='1' cellspacing='0' cellpadding='3'><tr>{head}</tr>{body}</table>"
