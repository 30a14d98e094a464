"""An image's header in reading order (modality, view, body part, spacing first), for the viewer's header panel
and the image report: one list, so the two never disagree."""

from __future__ import annotations

from pathlib import Path

from cfx_desktop.core.imaging.io.load import LoadedImage


LABELS = {"bits": "Bits stored", "mode": "Pixel mode", "window": "Stored window", "photometric": "Photometric interpretation",
          "transfer_syntax": "Transfer syntax"}  # the loader's keys in words, for the viewer's table and the report


def header_rows(image: LoadedImage, everything: bool = True) -> list[tuple[str, str]]:
    """(label, value) rows; ``everything`` adds every DICOM attribute the loader kept after the summary."""
    dicom = image.metadata.get("dicom", {})
    spacing = image.metadata.get("pixel_spacing")
    stated = lambda key: str(dicom.get(key, "")) or "not stated"  # noqa: E731
    rows = [("Modality", stated("Modality")), ("View position", stated("ViewPosition")), ("Body part", stated("BodyPartExamined")),
            ("Pixel spacing", f"{spacing['row_mm']:.4g} x {spacing['column_mm']:.4g} mm ({spacing['source']})" if spacing
             else "not stated: measurements in pixels")] if image.format == "DICOM" else []
    if image.frame_count > 1:
        rows.append(("Frames", f"{image.frame_count} (showing {image.frame + 1})"))
    rows += [("File", Path(image.source).name), ("Format", image.format), ("Size", f"{image.shape[1]} x {image.shape[0]} px")]
    rows += [(LABELS[k], str(v)) for k, v in image.metadata.items() if k in LABELS]
    if everything:
        rows += [(k, str(v)) for k, v in dicom.items()]
    return rows
