"""The X-ray tab's export: a PDF report with its JSON sidecar, built from the session by the same code as
`cfx-desktop report-image` (`core.imaging.image_report`); or a PNG screenshot of the tab. Also the synthetic image
the self-test opens."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QWidget

from cfx_desktop.sessions.xray import XraySession
from cfx_desktop.ui import report


def build(session: XraySession, steps: int, out_name: str):  # noqa: ANN201 - core.report.document.Report
    from cfx_desktop.core.bundles import read_card
    from cfx_desktop.core.imaging.image_report import ImageSettings, build_image_report

    image = session.image
    assert image is not None
    waiting = {"running": "Still running when the report was written; export again once it is done."}
    cf_state = waiting.get(session.counterfactual_state.state, "") or (
        "Not generated in the app (Counterfactual > Generate); `cfx-desktop report-image` generates it.")
    sanity_state = waiting.get(session.sanity_state.state, "") or (
        "Not run in the app (Sanity checks > Run); `cfx-desktop report-image` runs them.")
    settings = ImageSettings(session.method, session.model_name, steps, session.overlay_style, session.window)
    return build_image_report(image, read_card(session.model_name), settings, session.prediction, session.overlay,
                              session.counterfactual, session.sanity, cf_state, sanity_state, out_name=out_name)


def export(path: Path, session: XraySession, tab: QWidget, steps: int) -> bool:
    if path.suffix.lower() == ".png":
        return report.write_png(path, tab)
    from cfx_desktop.core.report.pdf import write_report  # ReportLab: paid when a report is written

    write_report(build(session, steps, str(path)), path)
    return True


def synthetic_image() -> Path:
    """A noise image written to a temporary folder: the self-test needs a file, and ships no patient data."""
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = np.clip(rng.normal(0.45, 0.15, (256, 256)), 0, 1)
    path = Path(tempfile.mkdtemp(prefix="cfx-selftest-")) / "synthetic.png"
    Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(path)
    return path


def self_test_film(model_name: str) -> tuple[Path, bool]:
    """The film the self-test opens, and whether it is a chest film the guard should pass: the model's autoencoder
    decoding a code of its latent bank (`core.imaging.counterfactual.example_film`), else the noise image."""
    from cfx_desktop.core.imaging.counterfactual.example_film import write_decoded_film

    path = write_decoded_film(model_name, Path(tempfile.mkdtemp(prefix="cfx-selftest-")))
    return (synthetic_image(), False) if path is None else (path, True)


def subject(image) -> str:  # noqa: ANN001 - a LoadedImage, or None
    """The report's file-name stem: the image's name, and its frame for a multi-frame file."""
    if image is None:
        return "xray"
    frame = f"-frame{image.frame + 1}" if image.frame_count > 1 else ""
    return f"xray-{Path(image.source).stem}{frame}"
