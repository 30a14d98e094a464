"""One retrieved image through the app's pipeline, as the X-ray tab runs it: the guard, the prediction (or
"uncertain"), the default saliency and the counterfactual, judged by the referee; the result as an SR and
Secondary Captures (`results`), written next to each other in an output folder.

Why per file, and skip what is done: a study of 500 images is analysed one image at a time, so Cancel stops
between images, a failed image is reported and the rest go on, and a second run resumes where the first stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import highdicom as hd
import pydicom
from pydicom.dataset import Dataset

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, Cancelled
from cfx_desktop.core.imaging.explain import render, saliency
from cfx_desktop.core.imaging.counterfactual.generate import caveats, comparison_captions, confirmation, verdict_line
from cfx_desktop.core.imaging.models.decision import guarded_decision
from cfx_desktop.core.imaging.image_report import sanity_text, validation_text
from cfx_desktop.core.imaging.io.load import load_image
from cfx_desktop.pacs.cache import safe_uid
from cfx_desktop.pacs.results import MANUFACTURER, Finding, secondary_capture, structured_report


@dataclass
class Analysed:
    source: Path
    sop_uid: str
    finding: Finding
    outputs: list[Path] = field(default_factory=list)  # the SR first, then the captures
    skipped: bool = False  # already analysed by an earlier run

    def line(self) -> str:
        """One line per image, for the CLI and the browser's log."""
        done = " (already analysed)" if self.skipped else ""
        return f"{self.sop_uid}: {self.finding.statement}; counterfactual: {self.finding.referee}{done}"


@dataclass(frozen=True)
class Options:
    method: str | None = None  # saliency method; None: the registry's default
    counterfactual: bool = True


def _guard_text(verdict: Any) -> str:
    if verdict.in_distribution:
        return "a chest radiograph of the kind the model was trained on"
    return verdict.banner()


def _finding(model: Any, verdict: Any, decision: Any) -> Finding:
    card = model.card
    common = dict(threshold=model.decision_threshold, positive=model.labels[1], model_label=f"{card.get('label', model.name)} ({model.name})",
                  model_version=str(card.get("created", card.get("version", ""))), validation=validation_text(card) or "not recorded",
                  guard=_guard_text(verdict), sanity=sanity_text(card))
    if decision is None:
        return Finding("withheld", f"Prediction withheld: {verdict.reason.rstrip('.')}", None, saliency="not computed (prediction withheld)",
                       referee="not made (prediction withheld)", withheld_reason=verdict.reason, **common)
    statement = decision.sentence(model.labels[1])
    if not verdict.in_distribution:
        statement = f"no verdict label for an unusual image; {statement}"
    label = decision.label if verdict.in_distribution else "unusual image"
    return Finding(label, statement, decision.probability, saliency="", referee="", **common)


SR_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.88."


def skip_reason(header: Dataset) -> str:
    """Why an instance of a retrieved study is not analysed ("" when it is): a report, or a result this app wrote
    (a study analysed and sent once holds the app's own SR and captures)."""
    if str(header.get("SOPClassUID", "")).startswith(SR_CLASS_PREFIX):
        return "a structured report, not an image"
    if str(header.get("Manufacturer", "")) == MANUFACTURER:
        return "an explanation image this app wrote"
    return ""


def analyse_file(path: Path, model: Any, guard: Any, out: Path, options: Options = Options(),
                 cancel: CancelToken = NEVER_CANCELLED, header: Dataset | None = None) -> Analysed:
    """Analyse one DICOM file and write ``<SOP UID>.sr.dcm`` (and the captures) into ``out``; an image whose SR
    is already there is read back instead of analysed again. ``header``: the file's header, if already read."""
    header = header if header is not None else pydicom.dcmread(path, stop_before_pixels=True)
    sop_uid = safe_uid(str(header.SOPInstanceUID), "SOP Instance UID")
    done = out / f"{sop_uid}.json"
    if done.is_file():
        record = json.loads(done.read_text(encoding="utf-8"))
        return Analysed(path, sop_uid, Finding(**record["finding"]), [Path(p) for p in record["outputs"]], skipped=True)
    image = load_image(path)
    verdict, decision = guarded_decision(guard, model, image)
    finding = _finding(model, verdict, decision)
    captures: list[Dataset] = []
    series_uid = hd.UID()
    if decision is not None:
        cancel.raise_if_cancelled()
        method = options.method or saliency.default_method(model.card)
        result = saliency.saliency_map(model, image.pixels, method, cancel=cancel)
        finding.saliency = f"{saliency.label(result.method)} for '{result.target}'"
        captures.append(secondary_capture(header, render.overlay(image.pixels, result.values, 0.55),
                                          f"{finding.saliency} over the film", series_uid=series_uid, instance_number=1))
        if options.counterfactual:
            from cfx_desktop.core.imaging.live import make_counterfactual

            cancel.raise_if_cancelled()
            cf = make_counterfactual(model, image.pixels, cancel=cancel)
            status = confirmation(cf.metrics)  # a confirmed one carries its reservations (the panel's amber heading)
            finding.referee = (f"{status}{caveats(cf.metrics) if status == 'confirmed' else ''}: {cf.source} -> {cf.target}, "
                               f"{verdict_line(cf.metrics)}")
            captures.append(secondary_capture(
                header, render.comparison(cf.full_original, cf.full_counterfactual, cf.full_difference,
                                          comparison_captions(cf.source, cf.target, cf.metrics)),
                f"counterfactual {cf.source} -> {cf.target}: original | counterfactual | difference",
                series_uid=series_uid, instance_number=2))
        else:
            finding.referee = "not made (not asked for)"
    report = structured_report(header, finding, captures)
    out.mkdir(parents=True, exist_ok=True)
    outputs = [out / f"{sop_uid}.sr.dcm"] + [out / f"{sop_uid}.sc{i + 1}.dcm" for i in range(len(captures))]
    for dataset, target in zip([report, *captures], outputs):
        dataset.save_as(target, enforce_file_format=True)
    done.write_text(json.dumps({"finding": asdict(finding), "outputs": [str(p) for p in outputs]}, indent=1), encoding="utf-8")
    return Analysed(path, sop_uid, finding, outputs)


@dataclass
class Outcome:
    """One file of a study: analysed (``done``), skipped (``skipped`` says why), or failed (``error``)."""

    path: Path
    done: Analysed | None = None
    skipped: str = ""
    error: Exception | None = None


def analyse_files(files: list[Path], model: Any, guard: Any, out: Path, options: Options = Options(),
                  cancel: CancelToken = NEVER_CANCELLED) -> Iterator[Outcome]:
    """Every file of a retrieved study, one `Outcome` each, as the CLI and the study browser go through it; a
    failure is handed on, never raised, so the caller decides whether one bad image stops the study. Cancel
    stops between images."""
    for path in files:
        cancel.raise_if_cancelled()
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
            reason = skip_reason(header)
            yield Outcome(path, skipped=reason) if reason else Outcome(path, analyse_file(path, model, guard, out, options,
                                                                                       cancel, header))
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - reported per file; the file stays in the cache
            yield Outcome(path, error=exc)
