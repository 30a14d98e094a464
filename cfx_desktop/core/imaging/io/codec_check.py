"""Decode the small compressed DICOMs in ``resources/codec-check`` and compare each with the uncompressed one.

Why: the codecs are loaded by pydicom through plugin discovery, which a frozen installer can silently lose (a
missing hidden import or package metadata) or an installer-shrinking exclusion can break. The self-test runs
this, so every build proves every bundled decoder still works. `scripts/make-codec-samples` writes the files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cfx_desktop import paths
from cfx_desktop.core.imaging.io.load import ImageLoadError, load_image

SAMPLES = {  # file -> what it exercises
    "rle.dcm": "RLE Lossless (pylibjpeg-rle)",
    "jpeg-ls.dcm": "JPEG-LS lossless (pyjpegls)",
    "jpeg2000.dcm": "JPEG 2000 lossless (pylibjpeg-openjpeg)",
    "jpeg-lossless.dcm": "JPEG lossless, process 14 (python-gdcm)",
}


def check_codecs(folder: Path | None = None) -> list[str]:
    """Problems found (empty: every sample decodes to exactly the uncompressed image)."""
    folder = folder or paths.resources_dir() / "codec-check"
    try:
        reference = load_image(folder / "plain.dcm").pixels
    except ImageLoadError as exc:
        return [f"reference image: {exc}"]
    problems = []
    for name, what in SAMPLES.items():
        try:
            pixels = load_image(folder / name).pixels
        except ImageLoadError as exc:
            problems.append(f"{what}: {exc}")
            continue
        if pixels.shape != reference.shape or not np.array_equal(pixels, reference):
            problems.append(f"{what}: decoded image differs from the uncompressed one")
    return problems
