"""The X-ray tab's PNG and PDF export, and the synthetic image its self-test opens."""

from __future__ import annotations

import tempfile
from pathlib import Path

from cfx_desktop.core.imaging.counterfactual import verdict_line

import numpy as np
from PySide6.QtWidgets import QWidget

from cfx_desktop.sessions.xray import XraySession
from cfx_desktop.ui import report


def export(path: Path, session: XraySession, tab: QWidget, viewer: QWidget, compare: QWidget) -> bool:
    if path.suffix.lower() == ".png":
        return report.write_png(path, tab)
    image = session.image
    assert image is not None
    sections = [("Image", f"<p>{Path(image.source).name}, {image.shape[1]} x {image.shape[0]} px, {image.format}</p>")]
    prediction = session.prediction
    if prediction is not None and prediction.probability is None:
        sections.append(("Prediction", f"<p><b>withheld</b>: {prediction.guard.reason}</p>"))
    elif prediction is not None:
        verdict = prediction.label or "no verdict (unusual image)"
        guard = "" if prediction.guard.in_distribution else f"<br>{prediction.guard.banner()}"
        sections.append(("Prediction", f"<p>{verdict}: p(pneumonia) = {prediction.probability:.3f} "
                                       f"(threshold {prediction.threshold:.3f}){guard}</p>"))
    sections.append(("Viewer and overlay", report.pixmap_html(viewer.grab())))
    if session.counterfactual is not None:
        m = session.counterfactual.result.metrics
        sections.append(("Counterfactual", report.pixmap_html(compare.grab()) + report.table_html(
            ["verdict", "p before", "p after", "decoder's change inside mask", "SSIM", "steps"],
            [[verdict_line(m), f"{m['initial_probability']:.3f}", f"{m['final_probability']:.3f}",
              f"{m['decoded_inside_mask_fraction']:.3f}", f"{m['ssim']:.3f}", str(m["steps"])]])))
    report.write_pdf(path, report.report_html("Chest X-ray explanation", session.model_name, sections))
    return True


def synthetic_image() -> Path:
    """A noise image written to a temporary folder: the self-test needs a file, and ships no patient data."""
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = np.clip(rng.normal(0.45, 0.15, (256, 256)), 0, 1)
    path = Path(tempfile.mkdtemp(prefix="cfx-selftest-")) / "synthetic.png"
    Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(path)
    return path
