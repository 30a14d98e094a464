"""Helpers shared by the benchmark scripts: machine description, JSON output, markdown sections."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def machine_line(m: dict[str, Any]) -> str:
    return (f"Machine: {m['platform']}, {m['cpu_count']} CPU cores, torch {m['torch']} ({m['torch_threads']} threads), "
            f"CUDA: {m['cuda'] or 'none'}.")


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
    return path


def publish(name: str, payload: dict[str, Any], markdown: str) -> Path:
    """A benchmark's two outputs: ``results/NAME.json`` and its section of docs/benchmarks.md."""
    path = write_json(name, payload)
    write_doc_section(name, markdown)
    return path


def write_doc_section(key: str, markdown: str) -> None:
    """Replace the section between <!-- key --> markers in docs/benchmarks.md (append it if absent)."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\nEach section is written by the script named in it.\n"
    block = f"<!-- {key} -->\n{markdown.strip()}\n<!-- /{key} -->"
    pattern = re.compile(rf"<!-- {re.escape(key)} -->.*?<!-- /{re.escape(key)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")
