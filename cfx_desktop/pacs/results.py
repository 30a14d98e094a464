"""The app's results as DICOM, built with highdicom: a Comprehensive SR that states the finding in words (with
its probability, the threshold, the model card, the guard's, the referee's and the sanity verdicts, and a
reference to the source image by its SOP Instance UID), and Secondary Capture images of the saliency overlay
and the counterfactual comparison, all in the source's study, in new series.

Why an SR and not a PDF: every viewer in the reading room shows an SR in the study, next to the film it is
about, and a script reads it back item by item (`read_report`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

MANUFACTURER = "cfx-desktop"
SCHEME = "99CFX"  # a private coding scheme (the 99 prefix is reserved for local schemes) for the app's own items
SR_SERIES_NUMBER = 9901
CAPTURE_SERIES_NUMBER = 9902


def _concept(value: str, meaning: str, scheme: str = SCHEME) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


REPORT = _concept("18748-4", "Diagnostic imaging report", "LN")
ITEMS = {  # field -> concept of its TEXT item, in the order the report states them
    "statement": codes.DCM.Finding,
    "finding": _concept("CFX-OUT", "Model output"),
    "positive": _concept("CFX-POS", "Class whose probability is stated"),
    "model_label": _concept("111001", "Algorithm Name", "DCM"),
    "model_version": _concept("111003", "Algorithm Version", "DCM"),
    "validation": _concept("CFX-VAL", "Validation metrics"),
    "guard": _concept("CFX-GUARD", "Chest radiograph check"),
    "saliency": _concept("CFX-SAL", "Saliency"),
    "sanity": _concept("CFX-SANITY", "Saliency sanity checks"),
    "referee": _concept("CFX-REF", "Counterfactual verdict"),
    "withheld_reason": _concept("CFX-WITHHELD", "Prediction withheld"),
}
PROBABILITY = _concept("CFX-P", "Probability of finding")
THRESHOLD = _concept("CFX-T", "Decision threshold")
SOURCE = _concept("121112", "Source of Measurement", "DCM")
CAPTURE = _concept("CFX-SC", "Explanation image")
NO_UNITS = _concept("1", "no units", "UCUM")


@dataclass
class Finding:
    """What the app concluded about one image, in words; the SR states each field as an item."""

    finding: str  # the label ("pneumonia", "normal", "uncertain"), or "withheld"
    statement: str  # the finding as a sentence
    probability: float | None  # p(positive); None when withheld
    threshold: float
    positive: str  # the model's finding class (the card's word)
    model_label: str
    model_version: str
    validation: str
    guard: str
    saliency: str
    sanity: str
    referee: str
    withheld_reason: str = ""

    @property
    def withheld(self) -> bool:
        return self.finding == "withheld"


def _text(name: hd.sr.CodedConcept, value: str) -> hd.sr.TextContentItem:
    return hd.sr.TextContentItem(name=name, value=value or "-", relationship_type="CONTAINS")


def structured_report(source: Dataset, finding: Finding, captures: list[Dataset] = (), *,  # type: ignore[assignment]
                      series_uid: str | None = None, instance_number: int = 1) -> Dataset:
    """A Comprehensive SR about ``source`` (the image as retrieved: only its header is read), referencing it and
    the Secondary Captures made of it."""
    items: list[Any] = []
    for key, concept in ITEMS.items():
        value = getattr(finding, key)
        if key == "withheld_reason" and not finding.withheld:
            continue
        items.append(_text(concept, value))
    if finding.probability is not None:
        items.append(hd.sr.NumContentItem(name=PROBABILITY, value=round(float(finding.probability), 6), unit=NO_UNITS,
                                          relationship_type="CONTAINS"))
    items.append(hd.sr.NumContentItem(name=THRESHOLD, value=round(float(finding.threshold), 6), unit=NO_UNITS,
                                      relationship_type="CONTAINS"))
    items.append(hd.sr.ImageContentItem(name=SOURCE, referenced_sop_class_uid=source.SOPClassUID,
                                        referenced_sop_instance_uid=source.SOPInstanceUID, relationship_type="CONTAINS"))
    for capture in captures:
        items.append(hd.sr.ImageContentItem(name=CAPTURE, referenced_sop_class_uid=capture.SOPClassUID,
                                            referenced_sop_instance_uid=capture.SOPInstanceUID, relationship_type="CONTAINS"))
    root = hd.sr.ContainerContentItem(name=REPORT)
    root.ContentSequence = hd.sr.ContentSequence(items)
    report = hd.sr.ComprehensiveSR(
        evidence=[source, *captures], content=root, series_instance_uid=series_uid or hd.UID(),
        series_number=SR_SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=instance_number,
        manufacturer=MANUFACTURER, is_complete=True, series_description="cfx-desktop explanation (research use)",
    )
    report.ContentDate = dt.date.today().strftime("%Y%m%d")
    return report


def secondary_capture(source: Dataset, rgb: np.ndarray, description: str, *, series_uid: str,
                      instance_number: int) -> Dataset:
    """An RGB picture (the overlay, the comparison) as a Secondary Capture in the source's study."""
    rgb = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[..., :3])
    capture = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source, pixel_array=rgb, photometric_interpretation="RGB", bits_allocated=8,
        coordinate_system="PATIENT", series_instance_uid=series_uid, series_number=CAPTURE_SERIES_NUMBER,
        sop_instance_uid=hd.UID(), instance_number=instance_number, manufacturer=MANUFACTURER,
        patient_orientation=("L", "F"), transfer_syntax_uid=ExplicitVRLittleEndian,
    )
    capture.SeriesDescription = "cfx-desktop explanation images (research use)"
    capture.ImageComments = description
    capture.DerivationDescription = description
    return capture


def read_report(ds: Dataset) -> dict[str, Any]:
    """The finding and references of an SR this app wrote (read with highdicom), as a plain dict: the fields of
    `Finding`, plus ``source`` (the referenced image's SOP Instance UID) and ``captures``."""
    report = hd.sr.ComprehensiveSR.from_dataset(ds, copy=True) if not isinstance(ds, hd.sr.ComprehensiveSR) else ds
    meanings = {concept.meaning: key for key, concept in ITEMS.items()}
    out: dict[str, Any] = {"probability": None, "captures": [], "withheld_reason": ""}
    for item in hd.sr.ContentSequence.from_sequence(report.ContentSequence):
        name, kind = item.name.meaning, item.value_type.value
        if kind == "TEXT" and name in meanings:
            out[meanings[name]] = item.value
        elif kind == "NUM" and name == PROBABILITY.meaning:
            out["probability"] = float(item.value)
        elif kind == "NUM" and name == THRESHOLD.meaning:
            out["threshold"] = float(item.value)
        elif kind == "IMAGE" and name == SOURCE.meaning:
            out["source"] = str(item.referenced_sop_instance_uid)
        elif kind == "IMAGE" and name == CAPTURE.meaning:
            out["captures"].append(str(item.referenced_sop_instance_uid))
    return out


def report_text(ds: Dataset) -> str:
    """An SR this app wrote, as a radiologist's viewer would list it (the docs' example; a check by eye)."""
    content = read_report(ds)
    lines = [f"{REPORT.meaning} ({ds.SeriesDescription})",
             f"Patient {ds.get('PatientID', '')}, study {ds.StudyInstanceUID} of {ds.get('StudyDate', '')}"]
    for key, concept in ITEMS.items():
        if content.get(key):
            lines.append(f"  {concept.meaning}: {content[key]}")
    if content["probability"] is not None:
        lines.append(f"  {PROBABILITY.meaning} ({content.get('positive', '')}): {content['probability']:.6f}")
    lines.append(f"  {THRESHOLD.meaning}: {content.get('threshold', float('nan')):.6f}")
    lines.append(f"  {SOURCE.meaning}: image {content.get('source', '')}")
    lines += [f"  {CAPTURE.meaning}: Secondary Capture {uid}" for uid in content["captures"]]
    return "\n".join(lines)
