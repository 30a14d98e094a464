"""Reading a report back as a reader would: the PDF's text (pypdf) and its JSON sidecar."""

from __future__ import annotations

import json
from pathlib import Path


def pdf_text(path: Path) -> list[str]:
    """The text of each page."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def sidecar(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def section(doc: dict, title: str) -> dict:
    return next(s for s in doc["sections"] if s["title"] == title)


def facts(doc: dict, title: str) -> dict[str, str]:
    """The label: value rows of a section's first facts block."""
    block = next(b for b in section(doc, title)["blocks"] if b["kind"] == "facts")
    return {k: v for k, v in block["rows"]}


def squash(text: str) -> str:
    """Whitespace folded, for matching phrases the PDF wrapped over lines."""
    return " ".join(text.split())
