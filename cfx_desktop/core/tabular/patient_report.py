"""The Patient report: who was explained (values, units, source file and row), by which model (its card), under
which settings (method, locks, k, margin, model set), with what result (prediction and its spread over the model
set, suggestions and their robustness, attributions), and the command that writes it again.

The app and `cfx-desktop report-patient` both build it from the same two results (`live.predict_and_attribute`,
`live.suggest`), so a report filed from the app can be reproduced from its last section.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cfx_desktop.core.report.document import BarChart, Facts, Paragraph, Report, Section, Table
from cfx_desktop.core.tabular.schema import Actionability, Mutability, Schema
from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT
from cfx_desktop.core.tabular.wording import (CAVEAT, is_what_if, plausibility_text, robustness_grade_words, robustness_words,
                                              suggestion_text, tier_words)

if TYPE_CHECKING:
    from cfx_desktop.core.tabular.live import PredictionResult, SuggestionResult


@dataclass(frozen=True)
class PatientSource:
    """Where the patient's values came from. ``row`` is numbered as in the app's cohort table and the CLI's
    ``--row`` (1 = the first patient under the header); ``line`` is the file line, for a text editor."""

    kind: str  # example, csv or values (typed or edited in the form)
    file: str | None = None
    row: int | None = None
    line: int | None = None
    edited_from: str = ""  # what the form held before the user edited it

    def describe(self) -> str:
        if self.kind == "example":
            return "the built-in example patient (not a real person)"
        if self.kind == "csv":
            return f"{self.file}, row {self.row} (file line {self.line})"
        return f"values typed in the form{f', edited from {self.edited_from}' if self.edited_from else ''}"


@dataclass(frozen=True)
class Settings:
    """The suggestion settings a report states (and its reproduce command repeats)."""

    method: str
    k: int
    margin: float
    consensus: bool
    consensus_members: int
    locked: frozenset[str] = frozenset()
    unlocked: frozenset[str] = frozenset()
    max_changes: int | None = None
    allow_markers: bool = False
    reference_file: str | None = None  # a loaded cohort used as the reference (else the model's training rows)
    max_shift: float | None = DEFAULT_MAX_SHIFT  # "how big a change" in percentile points; None: any size
    extra: dict[str, Any] = field(default_factory=dict)


def _can_change(feature, settings: Settings) -> str:  # noqa: ANN001 - schema.Feature
    if feature.mutability == Mutability.IMMUTABLE:
        return "never"
    if feature.mutability == Mutability.LOCKABLE:
        return "yes (unlocked)" if feature.name in settings.unlocked else "locked by default"
    if feature.name in settings.locked:
        return "locked"
    if feature.actionability == Actionability.MARKER and not settings.allow_markers:
        return "no (a marker, kept as measured)"  # what the search does, and what the Settings section says
    return "yes"


def reproduce_command(model_name: str, schema: Schema, x: np.ndarray, source: PatientSource, settings: Settings,
                      out: str = "report.pdf") -> str:
    parts = ["cfx-desktop", "report-patient"]
    if source.kind == "example":
        parts += ["--example"]
    elif source.kind == "csv" and source.file:
        parts += ["--csv", str(source.file), "--row", str(source.row)]
    else:
        parts += ["--values", *(f"{f.name}={f.format(v)}" for f, v in zip(schema.features, x))]
    parts += ["--model", model_name, "--method", settings.method, "--k", str(settings.k), "--margin", f"{settings.margin:g}"]
    parts += ["--single-model"] if not settings.consensus else ["--set-members", str(settings.consensus_members)]
    if settings.locked:
        parts += ["--lock", *sorted(settings.locked)]
    if settings.unlocked:
        parts += ["--unlock", *sorted(settings.unlocked)]
    if settings.max_changes:
        parts += ["--max-changes", str(settings.max_changes)]
    if settings.allow_markers:
        parts += ["--allow-markers"]
    if settings.reference_file:
        parts += ["--reference", settings.reference_file]
    if settings.max_shift != DEFAULT_MAX_SHIFT:
        parts += ["--max-shift", "any" if settings.max_shift is None else f"{settings.max_shift:g}"]
    return shlex.join(parts + ["--out", out])


def _model_section(card: dict[str, Any], calibration: dict[str, Any]) -> Section:
    data = card.get("data", {})
    validation = card.get("metrics", {}).get("validation", {})
    metrics = ", ".join(f"{name.replace('_', ' ')} {validation[key]:.3f}" for key, name in
                        (("roc_auc", "ROC AUC"), ("balanced_accuracy", "balanced accuracy"), ("f1", "F1"))
                        if key in validation)
    rows = [("Model", f"{card.get('label', card.get('name', ''))}; bundle {card.get('name', '')}"),
            ("Predicts", card.get("task", "")),
            ("Data", f"{data.get('file', '')} ({data.get('rows', '?')} rows, sha256 {str(data.get('sha256', ''))[:12]}...)"),
            ("Split", data.get("split", "")),
            ("Validation metrics", metrics or "not recorded"),
            ("Cross-validation", card.get("metrics_summary", ""))]
    if calibration:
        rows.append(("Calibration", f"Brier {calibration.get('brier', float('nan')):.3f}, expected calibration error "
                                    f"{calibration.get('ece', float('nan')):.3f} on {calibration.get('on', 'validation rows')}"))
    rows += [("Decision threshold", f"{card.get('threshold', float('nan')):.3f}: {card.get('threshold_rule', '')}"),
             ("Licence", f"{card.get('licence', '')}. {card.get('attribution', '')}"),
             ("Trained by", card.get("command", ""))]
    return Section("Model", [Facts(rows)])


def _settings_section(schema: Schema, settings: Settings, suggestions: SuggestionResult | None, method_label: str,
                      method_text: str) -> Section:
    locked_labels = [schema[n].label for n in sorted(settings.locked)]
    lockable_locked = [f.label for f in schema.features if f.mutability == Mutability.LOCKABLE and f.name not in settings.unlocked]
    immutable = [f.label for f in schema.features if f.mutability == Mutability.IMMUTABLE]
    requirement = (f"every model of the consensus set ({suggestions.set_size if suggestions else '?'} models, "
                   f"{settings.consensus_members} per architecture) must predict the other outcome, each past its own "
                   f"threshold by {settings.margin:.2f}" if settings.consensus else
                   f"only the selected model must cross its threshold, by {settings.margin:.2f} (fragile)")
    # a lockable marker (diabetes) is governed by its lock, listed above: not "kept as measured" here as well
    marker_labels = ", ".join(f.label for f in schema.features if f.actionability == Actionability.MARKER
                              and f.mutability == Mutability.MUTABLE) or "none in this dataset"
    markers = f"may change ({marker_labels})" if settings.allow_markers else f"kept as measured ({marker_labels})"
    reference = (suggestions.reference_source if suggestions and suggestions.reference_source else
                 "none (plausibility not judged)")
    rows = [("Method", f"{method_label}: {method_text}"),
            ("Suggestions asked for (k)", str(settings.k)),
            ("Requirement", requirement),
            ("Margin", f"{settings.margin:.2f} past each model's threshold"),
            ("Most features changed", str(settings.max_changes) if settings.max_changes else "any number"),
            ("How big a change", "any size (no feasibility limit)" if settings.max_shift is None else
             f"each feature within its feasible change and at most {settings.max_shift:.0f} percentile points of the "
             "training patients"),
            ("Feasible changes from the schema", ("; ".join(f"{f.label} {f.describe_feasible()}" for f in schema.features
                                                            if f.describe_feasible()) or "none set")
             + (" (not applied: any size)" if settings.max_shift is None else "")),
            ("Locked by the user", ", ".join(locked_labels) or "none"),
            ("Locked by default", ", ".join(lockable_locked) or "none"),
            ("Never changed (immutable)", ", ".join(immutable) or "none"),
            ("Observational markers", markers),
            ("Reference cohort", reference),
            ("Robustness judged by", "all models of the model set (most of them unseen by the search)")]
    return Section("Settings", [Facts(rows)])


def build_patient_report(schema: Schema, card: dict[str, Any], prediction: PredictionResult,
                         suggestions: SuggestionResult | None, source: PatientSource, settings: Settings,
                         method_label: str, method_text: str, out_name: str = "report.pdf") -> Report:
    x = prediction.x
    patient = Section("Patient", [
        Paragraph(f"Source: {source.describe()}."),
        Table(["Feature", "Value", "Unit", "Can change?"],
              [[f.label, f.display(v), f.unit, _can_change(f, settings)] for f, v in zip(schema.features, x)],
              [3, 2, 2, 1.8]),
    ])
    p = prediction.probability
    spread = prediction.set_probabilities
    facts = [("Outcome", f"predicted {prediction.outcome}"),
             (f"p({schema.target_label})", f"{p:.2f} (this model's threshold {prediction.threshold:.2f}: predicted "
                                            f"{schema.outcome_words[1]} at or above it)")]
    if len(spread):
        facts.append(("Uncertainty range", f"{spread.min():.2f} to {spread.max():.2f} over the {len(spread)} models of the "
                                           f"model set (middle 80 %: {np.quantile(spread, 0.1):.2f} to {np.quantile(spread, 0.9):.2f})"))
        facts.append(("Model set vote", f"{prediction.set_votes} of {len(spread)} models predict {schema.outcome_words[1]}, "
                                        "each at its own threshold"))
    unusual = suggestions.typicality.words() if suggestions is not None and suggestions.typicality is not None else ""
    if unusual:  # it qualifies the prediction as much as the suggestions
        facts.append(("Unusual patient", unusual))
    result_section = Section("Prediction", [Facts(facts)])
    order = np.argsort(-np.abs(prediction.attribution.values))
    attribution = prediction.attribution
    chart = BarChart(
        [f"{schema[attribution.features[j]].label} = {schema[attribution.features[j]].display(attribution.patient[j])}" for j in order],
        [float(attribution.values[j]) for j in order],
        f"Contributions to the log-odds of {schema.target_label}: {attribution.method}",
        f"contribution to the log-odds (logit {attribution.base_logit:+.2f} at the baseline, {attribution.logit:+.2f} for this patient)",
        positive_means=f"toward {schema.target_label}", negative_means=f"away from {schema.target_label}")
    attribution_section = Section("Why: feature attributions", [chart, Paragraph(
        f"{attribution.note}. Each bar is the change in the model's log-odds that the feature's value brings, "
        f"compared with the baseline patient; the bars add up to the difference "
        f"(residual {attribution.residual:+.3f}).", "note")])
    suggestion_section = Section("What would have to change", [Paragraph(CAVEAT, "caveat")])
    if suggestions is None:
        suggestion_section.add(Paragraph("No suggestions were computed for this patient."))
    elif not suggestions.counterfactuals:
        suggestion_section.add(Paragraph(f"No suggestion: {suggestions.counterfactuals.reason}"))
    else:
        what_if = is_what_if(schema, suggestions.outcome)
        rows = []
        for i, cf in enumerate(suggestions.counterfactuals, 1):
            badge, _, _ = robustness_words(cf.robustness)
            offered = ("" if not cf.metrics.get("lof_outlier") else "not offered (the patient is already unlike the "
                       "training patients)" if cf.metrics.get("patient_outlier") else "not offered (unlike the training patients)")
            rows.append([str(i), suggestion_text(schema, cf, suggestions.outcome), f"{cf.probability:.2f}",
                         f"{badge}{robustness_grade_words(cf.robustness)}", str(cf.l0), f"{cf.metrics.get('distance', 0):.2f}",
                         plausibility_text(cf.metrics, schema, settings.max_shift) + (f"; {offered}" if offered else "")])
        if what_if:
            suggestion_section.title = "Risk what-ifs (not advice)"
            suggestion_section.add(Paragraph(
                f"This patient is predicted {schema.outcome_words[0]}. Each row says what would turn the prediction to "
                f"{suggestions.outcome}: a description of the model, never a recommendation.", "caveat"))
        suggestion_section.add(Paragraph(
            f"{len(rows)} {'what-if' if what_if else 'suggestion'}{'s that move' if len(rows) > 1 else ' that moves'} "
            f"the prediction to {suggestions.outcome}, "
            f"found in {suggestions.counterfactuals.seconds:.2f} s."
            + (f" Note: {suggestions.counterfactuals.note}." if suggestions.counterfactuals.note else "")))
        tier = tier_words(suggestions.counterfactuals[0]) if suggestions.counterfactuals else ""
        heading = "Risk what-if" if what_if else "What would have to change" + (f" ({tier})" if tier else "")
        suggestion_section.add(Table(["#", heading, "p after", "Holds for",
                                      "Changed", "Distance", "Plausibility"], rows, [0.35, 4.4, 0.9, 2.1, 1.25, 1.35, 2]))
        suggestion_section.add(Paragraph(
            "Holds for: how many models of the set (each at its own threshold) predict the new outcome, and how often "
            "re-measuring the changed patient at each feature's stated precision undoes it. Distance: how far the patient "
            "moves, in percentile points of the training patients (25 points count as 1) per numeric feature and 1 per "
            "changed category. Plausibility: typical; a large change (a feature moves more than the cap among the "
            "reference patients most like this one in the immutable features); or an outlier end point by the local "
            "outlier factor (LOF); kNN is the distance to the nearest reference patients.", "note"))
    reproduce = reproduce_command(card.get("name", prediction.model_name), schema, x, source, settings, out_name)
    settings_section = _settings_section(schema, settings, suggestions, method_label, method_text)
    settings_section.add(Paragraph("This report is written again, from the same inputs and settings, by:", "note"))
    settings_section.add(Paragraph(reproduce, "code"))
    return Report("Patient explanation", f"{schema.title}: {source.describe()}",
                  [patient, _model_section(card, prediction.calibration), settings_section, result_section,
                   attribution_section, suggestion_section], reproduce)

