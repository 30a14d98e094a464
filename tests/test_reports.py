"""Reports as documents: each section in the PDF's text and in the JSON sidecar, and the command in a report
writes the same report again."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from cfx_desktop.cli import main
from tests.report_helpers import facts, pdf_text, section, sidecar, squash

PATIENT_SECTIONS = ["Patient", "Model", "Settings", "Prediction", "Why: feature attributions", "What would have to change"]
IMAGE_SECTIONS = ["Image", "Model", "Settings", "Prediction", "Why: saliency overlay",
                  "What would have to change: counterfactual image", "Sanity checks"]


def test_patient_report_has_every_section_in_the_pdf_and_the_sidecar(tmp_path: Path, capsys) -> None:
    out = tmp_path / "example.pdf"
    assert main(["report-patient", "--example", "--out", str(out)]) == 0
    doc = sidecar(out)
    assert [s["title"] for s in doc["sections"]] == PATIENT_SECTIONS
    pages = pdf_text(out)
    text = squash(" ".join(pages))
    for title in PATIENT_SECTIONS + ["Caveats"]:
        assert title in text, title
    assert f"page 1 of {len(pages)}" in squash(pages[0])
    # plain labels: yes/no, thousands separators, units; no codes
    patient = section(doc, "Patient")["blocks"][1]
    rows = {r[0]: r for r in patient["rows"]}
    assert rows["Platelets"][1] == "262,000" and rows["Anaemia"][1] == "no" and rows["Serum creatinine"][2] == "mg/dL"
    assert "262,000" in text and "per µL" in text
    # the model card summary, the settings and the prediction's range
    model = facts(doc, "Model")
    assert "heart-failure-no-time-mlp" in model["Model"] and "sha256" in model["Data"] and "ROC AUC" in model["Validation metrics"]
    assert "expected calibration error" in model["Calibration"]
    settings = facts(doc, "Settings")
    assert settings["Suggestions asked for (k)"] == "3" and "Age" in settings["Never changed (immutable)"]
    assert settings["Margin"].startswith("0.")
    # diabetes is a lockable marker: listed once, under its lock (it was "kept as measured" as well)
    assert "Diabetes" in settings["Locked by default"] and "Diabetes" not in settings["Observational markers"]
    prediction = facts(doc, "Prediction")
    assert "over the 20 models" in prediction["Uncertainty range"]
    chart = next(b for b in section(doc, "Why: feature attributions")["blocks"] if b["kind"] == "bar_chart")
    assert len(chart["values"]) == 11 and abs(chart["values"][0]) >= abs(chart["values"][-1])
    suggestions = section(doc, "What would have to change")["blocks"]
    assert suggestions[0]["style"] == "caveat" and "no causal model" in suggestions[0]["text"]
    table = next(b for b in suggestions if b["kind"] == "table")
    assert table["rows"] and all("models" in row[3] for row in table["rows"])
    assert "no causal model" in text.lower() and "not for diagnosis" in text.lower()
    assert doc["reproduce"].startswith("cfx-desktop report-patient --example --model heart-failure-no-time-mlp")


def test_a_patient_report_reproduces_from_its_own_command(tmp_path: Path, capsys) -> None:
    from cfx_desktop.core.tabular.datasets import schema_for

    schema = schema_for("heart-failure-no-time")
    csv = tmp_path / "cohort.csv"
    rows = [schema.example_vector(), schema.example_vector()]
    rows[1][schema.index("ejection_fraction")] = 30
    csv.write_text(",".join(schema.names) + "\n" + "".join(",".join(f"{v:g}" for v in r) + "\n" for r in rows))
    first = tmp_path / "first.pdf"
    assert main(["report-patient", "--csv", str(csv), "--row", "2", "--method", "diverse", "--k", "2", "--lock",
                 "serum_sodium", "--out", str(first)]) == 0
    doc = sidecar(first)
    assert f"{csv}, row 2 (file line 3)" in section(doc, "Patient")["blocks"][0]["text"]
    assert facts(doc, "Settings")["Locked by the user"] == "Serum sodium"
    command = shlex.split(doc["reproduce"])
    assert command[:2] == ["cfx-desktop", "report-patient"] and "--row" in command
    again = tmp_path / "again.pdf"
    command[command.index("--out") + 1] = str(again)
    assert main(command[1:]) == 0
    a, b = sidecar(first), sidecar(again)
    for doc, name in ((a, first), (b, again)):
        doc.pop("created")
        sugg = section(doc, "What would have to change")["blocks"]
        sugg[1]["text"] = sugg[1]["text"].split(", found in")[0]  # the search time
        doc.update(json.loads(json.dumps(doc).replace(str(name), "OUT.pdf")))
    assert a == b


def test_report_patient_refuses_bad_input_clearly(tmp_path: Path, capsys) -> None:
    code = main(["report-patient", "--values", "age=70", "--out", str(tmp_path / "r.pdf")])
    assert code == 2 and "--values is missing" in capsys.readouterr().err
    assert not (tmp_path / "r.pdf").exists()


@pytest.fixture
def chest_png(tmp_path: Path) -> Path:
    from PIL import Image

    from tests.test_xray_tab import _chest_like

    path = tmp_path / "chest.png"
    Image.fromarray(np.round(_chest_like(0) * 255).astype(np.uint8)).save(path)
    return path


def test_image_report_has_every_section_legend_referee_and_sanity(tmp_path: Path, chest_png: Path, header_only_guard, capsys) -> None:
    out = tmp_path / "chest.pdf"
    assert main(["report-image", str(chest_png), "--method", "gradcam", "--out", str(out)]) == 0
    doc = sidecar(out)
    assert [s["title"] for s in doc["sections"]] == IMAGE_SECTIONS
    text = squash(" ".join(pdf_text(out)))
    for title in IMAGE_SECTIONS + ["Caveats"]:
        assert title in text, title
    overlay = section(doc, "Why: saliency overlay")["blocks"][0]
    assert overlay["kind"] == "image_row" and overlay["images"][1]["legend"]["label"].startswith("evidence for")
    cf = section(doc, "What would have to change: counterfactual image")["blocks"]
    assert [i["caption"] for i in cf[0]["images"]][0] == "original" and cf[0]["images"][2]["legend"] is not None
    assert cf[1]["kind"] == "paragraph" and cf[1]["text"].startswith(("Confirmed:", "NOT CONFIRMED:"))
    measures = {row[0]: row[1] for row in cf[2]["rows"]}
    assert "referee" in measures["verdict"] and "SSIM" in text
    assert "share of the change outside the lung fields" in measures
    assert any("Evidence on the film's border" in block.get("text", "") for block in section(doc, "Why: saliency overlay")["blocks"])
    sanity = section(doc, "Sanity checks")["blocks"]
    assert "checks pass" in sanity[0]["text"] and sanity[1]["headers"][0] == "check"
    assert "top 1 of" in text  # plain names for the randomized layers
    assert facts(doc, "Image")["File"] == "chest.png"
    assert doc["reproduce"].startswith(f"cfx-desktop report-image {chest_png} --method gradcam")
    # the shipped classifier's label reads the test-time views' mean at its own threshold: the report names both
    model = facts(doc, "Model")
    assert "mean over the 4 test-time views" in model["Decision threshold"]
    assert model["Single-view threshold"].endswith("(what saliency and the counterfactual are read against)")
    prediction = facts(doc, "Prediction")
    assert any("mean of 4 test-time views" in value for value in prediction.values())
    # the settings say what the counterfactual shown did (it once said "the Grad-CAM map" for an edit in the lungs)
    generator = facts(doc, "Settings")["Counterfactual generator"]
    metrics = {row[0]: row[1] for row in cf[2]["rows"]}
    assert generator.startswith("toward ") and f"{doc_cf_steps(metrics)} steps taken" in generator
    assert "share of the change against an opacity's sign" in metrics
    assert "positive evidence only" in overlay_text(doc) and "relu" not in overlay_text(doc)  # a setting in words


def doc_cf_steps(metrics: dict) -> str:
    return metrics["search"].split(" steps")[0]


def overlay_text(doc: dict) -> str:
    return " ".join(block.get("text", "") for block in section(doc, "Why: saliency overlay")["blocks"])


def test_report_image_on_a_broken_file_says_why(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["report-image", str(bad), "--out", str(tmp_path / "r.pdf")]) == 2
    assert "broken.png" in capsys.readouterr().err


def test_every_overlay_colour_map_the_viewer_offers_can_be_drawn_in_a_report() -> None:
    """The report draws the map in the reader's colour map; the viewer offered plasma, magma and CET-L8, which the
    report's renderer did not know (an export with one of them raised KeyError)."""
    from cfx_desktop.core.imaging.explain import render
    from cfx_desktop.ui.xray.viewer import COLORMAPS

    assert COLORMAPS == list(render.OVERLAY_COLORMAPS)
    pixels, values = np.linspace(0, 1, 64).reshape(8, 8), np.linspace(0, 1, 64).reshape(8, 8)
    for name in render.OVERLAY_COLORMAPS:
        picture = render.overlay(pixels, values, 0.8, name)
        assert picture.shape == (8, 8, 3) and len({tuple(c) for c in render.lut(name, 8)}) == 8


def test_a_patient_report_heads_partial_agreement_suggestions_as_such(tmp_path: Path, capsys) -> None:
    """A patient no feasible change moves all four consensus models for: the report's table and note say that
    what it shows holds for 3 of the 4, never that the set agrees."""
    from cfx_desktop.core.tabular.datasets import schema_for
    from tests.test_cli_tabular import PARTIAL_PATIENT

    schema = schema_for("heart-failure-no-time")
    values = dict(item.split("=") for item in PARTIAL_PATIENT)
    csv = tmp_path / "one.csv"
    csv.write_text(",".join(schema.names) + "\n" + ",".join(values[n] for n in schema.names) + "\n")
    out = tmp_path / "partial.pdf"
    assert main(["report-patient", "--csv", str(csv), "--row", "1", "--out", str(out)]) == 0
    blocks = section(sidecar(out), "What would have to change")["blocks"]
    table = next(b for b in blocks if b["kind"] == "table")
    assert table["rows"] and "partial agreement" in table["headers"][1]
    assert any("partial-agreement tier: 3 of the 4" in b.get("text", "") for b in blocks)
    assert "partial agreement" in squash(" ".join(pdf_text(out)))


def test_a_patient_no_feasible_change_can_flip_is_told_which_limit_blocks_it(tmp_path: Path, capsys) -> None:
    """Creatinine 9.0 with every other feature locked: the report says once that there is no suggestion, and names
    the feasible change the only flip would break (a few percentile points alone would read as a small change)."""
    from cfx_desktop.core.tabular.datasets import schema_for

    schema = schema_for("heart-failure-no-time")
    x = schema.example_vector()
    x[schema.index("serum_creatinine")] = 9.0
    csv = tmp_path / "one.csv"
    csv.write_text(",".join(schema.names) + "\n" + ",".join(f"{v:g}" for v in x) + "\n")
    out = tmp_path / "blocked.pdf"
    locks = [n for n in schema.names if n != "serum_creatinine"]
    assert main(["report-patient", "--csv", str(csv), "--row", "1", "--lock", *locks, "--out", str(out)]) == 0
    said = [b["text"] for b in section(sidecar(out), "What would have to change")["blocks"] if b["kind"] == "paragraph"]
    blocked = next(t for t in said if t.startswith("No suggestion"))
    assert "no counterfactual" not in blocked and "beyond the feasible change of at most" in blocked, blocked
