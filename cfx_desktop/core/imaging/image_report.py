"""The Chest X-ray report: the image and its header, the model's card, the settings, the guarded prediction,
the saliency overlay with its colour legend, the counterfactual (original | counterfactual | difference) with the
referee's verdict, and the sanity checks' verdicts; then the command that writes it again.

The app builds it from its session's results; `cfx-desktop report-image` computes the same results with the same
`imaging.live` functions (`compute_and_build`) and builds the same report.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cfx_desktop.core.imaging.explain import render
from cfx_desktop.core.imaging.io.header import header_rows
from cfx_desktop.core.report.document import ColourLegend, Facts, Image, ImageRow, Paragraph, Report, Section, Table

if TYPE_CHECKING:
    from cfx_desktop.core.imaging import live
    from cfx_desktop.core.imaging.io.load import LoadedImage

OVERLAY_OPACITY = 0.5
EVIDENCE_MAP = "inferno"
DIFFERENCE_MAP = "coolwarm"
REPORT_STYLE = render.OverlayStyle(OVERLAY_OPACITY, 0.0, EVIDENCE_MAP)  # report-image's overlay, unless told otherwise


@dataclass(frozen=True)
class ImageSettings:
    method: str  # saliency method of the overlay and of the counterfactual's mask
    model_name: str
    counterfactual_steps: int = 200
    overlay_style: render.OverlayStyle = REPORT_STYLE  # from the app: as the reader set it
    window: tuple[float, float, str] | None = None  # (low, high, unit) the reader had the film at, in the app


def _legend(name: str, low: str, high: str, label: str) -> ColourLegend:
    colours = render.lut(name, 64)
    return ColourLegend([tuple(int(c) for c in rgb) for rgb in colours], low, high, label)


def _window_fact(window: tuple[float, float, str] | None) -> list[tuple[str, str]]:
    """The window and level the film was read at (from the app; `report-image` reads no film on a screen)."""
    if window is None:
        return []
    low, high, unit = window
    unit = f" {unit}" if unit else ""
    return [("Read at", f"window {high - low:.4g}, level {(low + high) / 2:.4g}{unit} (the model always sees the whole range)")]


def reproduce_command(image: LoadedImage, settings: ImageSettings, counterfactual: bool, sanity: bool,
                      out: str = "report.pdf") -> str:
    parts = ["cfx-desktop", "report-image", str(image.source), "--method", settings.method, "--model", settings.model_name]
    if image.frame_count > 1:
        parts += ["--frame", str(image.frame + 1)]
    if not counterfactual:
        parts += ["--no-counterfactual"]
    if not sanity:
        parts += ["--no-sanity"]
    style, default = settings.overlay_style, REPORT_STYLE
    for flag, value, usual in (("--overlay-opacity", style.opacity, default.opacity),
                               ("--overlay-threshold", style.threshold, default.threshold),
                               ("--overlay-colormap", style.colormap, default.colormap)):
        if value != usual:  # the map drawn as the reader saw it
            parts += [flag, f"{value:g}" if isinstance(value, float) else value]
    return shlex.join(parts + ["--out", out])


def validation_text(card: dict[str, Any]) -> str:
    """The card's validation metrics in one line (the report's model section and the DICOM SR)."""
    validation = card.get("metrics", {}).get("validation", {})
    return ", ".join(f"{label} {validation[key]:.3f}" for key, label in
                     (("roc_auc", "ROC AUC"), ("balanced_accuracy", "balanced accuracy"), ("f1", "F1"), ("brier", "Brier"))
                     if key in validation)


def _threshold_rows(card: dict[str, Any]) -> list[tuple[str, str]]:
    """The label's threshold and why; where the label reads the test-time views' mean, also the single view's own
    threshold, which saliency and the counterfactual are read against."""
    single = f"{card.get('threshold', float('nan')):.3f}: {card.get('threshold_rule', '')}"
    if card.get("decision_views") == "tta" and "decision_threshold" in card:
        return [("Decision threshold", f"{card['decision_threshold']:.3f}: {card.get('decision_rule', '')}"),
                ("Single-view threshold", f"{single} (what saliency and the counterfactual are read against)")]
    return [("Decision threshold", single)]


def _model_section(card: dict[str, Any]) -> Section:
    data = card.get("data", {})
    metrics = validation_text(card)
    rows = [("Model", f"{card.get('label', '')}; bundle {card.get('name', '')}"), ("Predicts", card.get("task", "")),
            ("Data", f"{data.get('folder', data.get('file', ''))} ({data.get('files', '?')} files)"),
            ("Split", str(data.get("split", ""))), ("Validation metrics", metrics or "not recorded"),
            *_threshold_rows(card),
            ("Referee", f"{card.get('referee') or 'none'}: an independently trained classifier that judges the counterfactual"),
            ("Selective prediction", selective_text(card)),
            ("Saliency sanity", sanity_text(card)),
            ("Licence", f"{card.get('licence', '')}. {card.get('attribution', '')}"),
            ("Trained by", card.get("command", ""))]
    return Section("Model", [Facts(rows)])


def selective_text(card: dict[str, Any]) -> str:
    s = card.get("selective")
    if not s:
        return "not measured for this model"
    rule = s["rule"] if s["rule"].startswith("uncertain") else f"uncertain when {s['rule']}"  # the card's own words
    return (f"{rule}; on {s['films']} validation films it labels {s['coverage']:.1%}, and on those "
            f"sensitivity {s['covered_sensitivity']:.3f}, specificity {s['covered_specificity']:.3f}, accuracy {s['covered_accuracy']:.3f}")


def sanity_text(card: dict[str, Any]) -> str:
    s = card.get("saliency_sanity")
    if not s:
        return "pass rates not measured for this model"
    rates = "; ".join(f"{label} {r['all_three']:.0%}" for label, r in s["pass_rates"].items())
    return f"share of {s['films']} validation films passing all three checks: {rates}. Default: {s['default']}"


def _prediction_section(prediction: live.Prediction | None, counterfactual: live.Counterfactual | None, note: str) -> Section:
    section = Section("Prediction")
    if prediction is None:
        return section.add(Paragraph("No prediction was made for this image."))
    guard = prediction.guard
    if prediction.probability is None:
        return section.add(Facts([("Outcome", "withheld"), ("Why", guard.banner() or guard.reason)]))
    outcome = prediction.label or "no verdict (unusual image)"
    if prediction.uncertain:
        outcome = f"uncertain, no label: {'; '.join(prediction.uncertain)}"
    rows = [("Outcome", outcome),
            (f"p({prediction.positive})", prediction.probability_words() + (f", {note}" if note else ""))]
    metrics = counterfactual.result.metrics if counterfactual is not None else {}
    if "referee_initial_probability" in metrics:
        r = metrics["referee_initial_probability"]
        rows.append(("Uncertainty range", f"{min(r, prediction.probability):.3f} to {max(r, prediction.probability):.3f}: "
                                          f"this model and the independent referee ({r:.3f})"))
    rows.append(("Image check", guard.banner() or f"passed: {guard.reason}" if guard.reason else "passed"))
    return section.add(Facts(rows))


def _overlay_section(image: LoadedImage, overlay: live.Overlay, sanity: live.Sanity | None = None,
                     style: render.OverlayStyle = REPORT_STYLE) -> Section:
    result = overlay.result
    evidence = result.positive()
    picture = render.overlay(image.pixels, evidence, style.opacity, style.colormap, style.threshold)
    legend = _legend(style.colormap, "none", "strongest", f"evidence for {result.target}")
    from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS, label

    params = SALIENCY_METHODS.get(result.method).words(result.params)

    return Section("Why: saliency overlay", [
        ImageRow([Image.from_rgb(render.gray_rgb(image.pixels), "the image as the model saw it", 80),
                  Image.from_rgb(picture, f"{label(result.method)} for '{result.target}' ({style.words()})",
                                 80, legend)]),
        Paragraph(f"{label(result.method)} ({params}), computed in {result.seconds:.2f} s. The colour shows where the "
                  f"model's evidence for '{result.target}' lies, scaled to its strongest point; it says where, not why, and "
                  "a map is only as trustworthy as its sanity checks (below).", "note"),
        *_evidence_paragraphs(overlay, sanity),
    ])


def _evidence_paragraphs(overlay: live.Overlay, sanity: live.Sanity | None) -> list[Paragraph]:
    """Where the evidence lies, and whether this map failed its own sanity checks on this film, in words."""
    from cfx_desktop.core.imaging.explain import shortcuts

    out = []
    if overlay.shortcuts:
        out.append(Paragraph(shortcuts.describe(overlay.shortcuts)))
    if sanity is not None and sanity.report.method == overlay.result.method:
        failed = [v.check for v in sanity.report.verdicts() if not v.passed]
        if failed:
            out.append(Paragraph(f"This map FAILS its sanity check on this film ({', '.join(failed)}): it may not show what "
                                 "the model learned; read it with that in mind."))
    return out


def _counterfactual_section(counterfactual: live.Counterfactual | None, state: str) -> Section:
    section = Section("What would have to change: counterfactual image")
    if counterfactual is None:
        return section.add(Paragraph(state or "No counterfactual was generated for this image."))
    from cfx_desktop.core.imaging.counterfactual import realism
    from cfx_desktop.core.imaging.counterfactual.generate import caveats, confirmation, opacity_words, verdict_line

    r = counterfactual.result
    m = r.metrics
    diff = r.full_difference
    top = float(np.abs(diff).max()) or 1.0
    difference = render.colorize(diff, DIFFERENCE_MAP, signed=True) if np.abs(diff).max() > 0 else render.gray_rgb(diff)
    legend = _legend(DIFFERENCE_MAP, f"darker (-{top:.2f})", f"brighter (+{top:.2f})", "counterfactual - original")
    section.add(ImageRow([Image.from_rgb(render.gray_rgb(r.full_original), "original", 56),
                          Image.from_rgb(render.gray_rgb(r.full_counterfactual), f"counterfactual ({r.target})", 56),
                          Image.from_rgb(difference, "difference", 56, legend)]))
    status = confirmation(m)
    caveat = caveats(m)
    section.add(Paragraph((f"Confirmed: the independent referee crosses its own threshold the same way{caveat}."
                           if status == "confirmed" else
                           "NOT CONFIRMED: nothing the referee confirms was found; the best attempt is shown, and it shows "
                           "what this model responds to rather than a credible change of the film.")))
    rows = [["verdict", verdict_line(m)],
            [f"p({m['positive_label']})", f"{m['initial_probability']:.3f} -> {m['final_probability']:.3f} ({r.source} -> {r.target})"]]
    if "referee_flipped" in m:
        rows.append(["referee", f"p({m['positive_label']}) {m['referee_initial_probability']:.3f} -> {m['referee_final_probability']:.3f}; "
                                f"{'crosses' if m['referee_flipped'] else 'does not cross'} its own threshold"])
    rows += [["similarity to the original (SSIM)", f"{m['ssim']:.3f}"],
             ["autoencoder's own change inside the edited region", f"{m['decoded_inside_mask_fraction']:.3f}"],
             ["search", f"{m['steps']} steps, {m.get('seconds', float('nan')):.1f} s"]]
    if "change_outside_lungs" in m:
        rows.append(["share of the change outside the lung fields", f"{m['change_outside_lungs']:.0%} ({m.get('lung_fields', '')})"])
    if "against_opacity_share" in m:
        rows.append(["share of the change against an opacity's sign", opacity_words(m)])
    if "lung_contrast" in m:
        rows.append(["lungs against real films of the target class", realism.realism_words(m)])
    section.add(Table(["measure", "value"], rows, [1.3, 3]))
    return section.add(Paragraph(
        "The counterfactual is the autoencoder's reconstruction, edited only inside its region (the card's generator: "
        f"{m.get('region', 'saliency')}) until the "
        "explained model's verdict changes. It counts only if the independent referee, which the search never used, "
        "moves the same way; it shows what this model responds to, not how the patient's lungs would look.", "note"))


def _sanity_section(sanity: live.Sanity | None, state: str) -> Section:
    section = Section("Sanity checks")
    if sanity is None:
        return section.add(Paragraph(state or "The sanity checks were not run for this image."))
    from cfx_desktop.core.imaging.explain.saliency import label

    report = sanity.report
    verdicts = report.verdicts()
    passed = sum(v.passed for v in verdicts)
    section.add(Paragraph(f"{label(report.method)}: {passed} of {len(verdicts)} checks pass. A map that depends on what the "
                          "model learned must change when the model's weights or its training labels are randomized."))
    section.add(Table(["check", "Spearman rank correlation", "criterion", "verdict"],
                      [[v.check, f"{v.spearman:.3f}", v.criterion, v.word] for v in verdicts], [2, 1.2, 1.8, 0.8]))
    section.add(Table(["what was randomized", "Spearman with the trained model's map", "SSIM"],
                      [[report.plain_name(r), f"{r.spearman:.3f}", f"{r.ssim:.3f}"] for r in report.rows], [3, 1.6, 0.8]))
    if sanity.twin_note:
        section.add(Paragraph(f"Data randomization skipped: {sanity.twin_note}", "note"))
    return section


REGION_WORDS = {"saliency": "the {map} map of the predicted class", "lungs": "the estimated lung fields",
                "saliency-in-lungs": "the {map} map of the predicted class, within the lung fields"}


def _generator_rows(card: dict[str, Any], settings: ImageSettings,
                    counterfactual: live.Counterfactual | None) -> list[tuple[str, str]]:
    """Where the counterfactual may edit and how it searches: what the counterfactual shown did, else the card's
    generator for each direction (it differs by direction: chosen per direction on validation films)."""
    from cfx_desktop.core.imaging.counterfactual.searches import IMAGE_SEARCHES
    from cfx_desktop.core.imaging.explain.saliency import label
    from cfx_desktop.core.imaging.live import card_search

    def words(method: str, region: str, steps: int, target: str, taken: bool) -> str:
        where = REGION_WORDS.get(region, region).format(map=label(settings.method))
        count = f"{steps} steps taken" if taken else f"at most {steps} steps"
        return f"toward {target}: {IMAGE_SEARCHES.get(method).label}, {count}; edits confined to {where}"

    if counterfactual is not None:
        m = counterfactual.result.metrics
        return [("Counterfactual generator", words(m["method"], m.get("region", "saliency"), m["steps"],
                                                   counterfactual.result.target, True))]
    rows = []
    for target in card.get("counterfactual_search_by_target") or {}:  # as the app would search toward each class
        search = card_search(card, settings.counterfactual_steps, target)
        rows.append(words(search.method, search.region, search.steps, target, False))
    return [("Counterfactual generator", "; ".join(rows) or
             f"autoencoder latent search in the {label(settings.method)} map, at most {settings.counterfactual_steps} steps")]


def build_image_report(image: LoadedImage, card: dict[str, Any], settings: ImageSettings, prediction: live.Prediction | None,
                       overlay: live.Overlay | None, counterfactual: live.Counterfactual | None, sanity: live.Sanity | None,
                       counterfactual_state: str = "", sanity_state: str = "", out_name: str = "report.pdf") -> Report:
    note = f"{image.frame_note()} scored" if image.frame_count > 1 else ""
    image_section = Section("Image", [Facts(header_rows(image, everything=False)),
                                      Paragraph(f"Source file: {image.source}", "note")])
    from cfx_desktop.core.imaging.explain.saliency import label

    reproduce = reproduce_command(image, settings, counterfactual is not None, sanity is not None, out_name)
    settings_section = Section("Settings", [Facts([
        ("Saliency method", label(settings.method)), *_generator_rows(card, settings, counterfactual),
        ("Overlay as drawn", settings.overlay_style.words()), *_window_fact(settings.window),
        ("Frame", note or "single-frame image")]),
        Paragraph("This report is written again, from the same image and settings, by:", "note"), Paragraph(reproduce, "code")])
    sections = [image_section, _model_section(card), settings_section, _prediction_section(prediction, counterfactual, note)]
    if overlay is not None:
        sections.append(_overlay_section(image, overlay, sanity, settings.overlay_style))
    elif prediction is not None and prediction.probability is None:
        sections.append(Section("Why: saliency overlay", [Paragraph("No overlay: the prediction was withheld for this image.")]))
    sections += [_counterfactual_section(counterfactual, counterfactual_state), _sanity_section(sanity, sanity_state)]
    modality = str(image.metadata.get("dicom", {}).get("Modality", "")) if image.format == "DICOM" else ""
    title = "Chest X-ray explanation" if modality in ("", "CR", "DX") else f"Image explanation ({modality}, not a chest X-ray)"
    return Report(title, f"{Path(image.source).name}" + (f" ({note})" if note else ""), sections, reproduce)


def compute_and_build(path: Path, method: str | None, model_name: str | None, counterfactual: bool = True, sanity: bool = True,
                      frame: int = 1, out_name: str = "report.pdf", style: render.OverlayStyle | None = None) -> Report:
    """Everything the X-ray tab computes for one image, with the same functions, then the report."""
    from cfx_desktop.core.imaging import live
    from cfx_desktop.core.imaging.counterfactual.generate import MaskSettings
    from cfx_desktop.core.imaging.io.load import load_image
    from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model
    from cfx_desktop.core.imaging.explain.saliency import default_method

    model_name = model_name or DEFAULT_MODEL
    model = load_image_model(model_name)
    method = method or default_method(model.card)
    image = load_image(path)
    if not 1 <= frame <= image.frame_count:
        raise ValueError(f"--frame {frame} is out of range: {path} has {image.frame_count} frame(s)")
    image = image.with_frame(frame - 1) if image.frame_count > 1 else image
    settings = ImageSettings(method, model_name) if style is None else ImageSettings(method, model_name, overlay_style=style)
    prediction = live.predict(0, image.pixels, model_name, image.metadata)
    withheld = prediction.probability is None
    overlay = None if withheld else live.overlay(0, image.pixels, method, model_name)
    cf = None if withheld or not counterfactual else live.counterfactual(
        0, image.pixels, model_name, steps=settings.counterfactual_steps, mask=MaskSettings(method=method))
    checks = None if withheld or not sanity else live.sanity(0, image.pixels, method, model_name)
    why_not = "Not generated: the prediction was withheld for this image." if withheld else ""
    return build_image_report(image, model.card, settings, prediction, overlay, cf, checks,
                              why_not or ("Not asked for (--no-counterfactual)." if not counterfactual else ""),
                              why_not or ("Not asked for (--no-sanity)." if not sanity else ""), out_name)
