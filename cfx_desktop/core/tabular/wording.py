"""How a suggestion is worded for a reader, shared by the Patient tab, the CLI and the reports.

Plain words, never codes: "Anaemia: yes -> no", "platelets 262,000 per µL", treatment targets as target
states. Kept Qt-free so a report written from the command line reads exactly like the table on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT
from cfx_desktop.core.tabular.schema import Actionability, Kind, Mutability, Schema

if TYPE_CHECKING:
    from cfx_desktop.core.tabular.counterfactuals import Counterfactual

CAVEAT = ("Model-based what-ifs, not treatment effects: no causal model is used, and a model's prediction is not a "
          "diagnosis. Research and teaching tool.")


def _shown(schema: Schema, name: str, value: object) -> str:
    feature = schema[name]
    if value is None:
        return "missing"
    if feature.kind == Kind.CATEGORICAL or feature.kind == Kind.BINARY:
        return feature.display(feature.encode(value))
    return feature.display(float(value))  # type: ignore[arg-type]


def _is_finding(schema: Schema, name: str) -> bool:
    return schema[name].is_finding


def _present(schema: Schema, name: str, value: object) -> bool:
    f = schema[name]
    return bool(f.encode(value)) if value is not None else False


def _phrase(schema: Schema, c, what_if: bool) -> str:  # noqa: ANN001 - counterfactuals.Change
    """One change in words. Recourse: "without anaemia", "bring serum creatinine to <= 1.4 mg/dL (now 1.9)",
    "lower platelets 262,000 -> 200,000 per µL (-62,000)". Risk what-if: "anaemia appeared",
    "ejection fraction fell to <= 18 %"."""
    f = schema[c.feature]
    label = f.in_sentence
    before, after = _shown(schema, c.feature, c.before), _shown(schema, c.feature, c.after)
    if _is_finding(schema, c.feature):
        now = _present(schema, c.feature, c.after)
        if what_if:
            return f"{label} {'appeared' if now else 'went away'}"
        return f"{'with' if now else 'without'} {label}"
    if c.delta is None or f.kind in (Kind.BINARY, Kind.CATEGORICAL):
        return f"{label} {'became' if what_if else ''} {after} instead of {before}".replace("  ", " ")
    unit = f" {f.unit}" if f.unit else ""
    if what_if:
        verb = "rose" if c.delta > 0 else "fell"
        return f"{label} {verb} to {'>=' if c.delta > 0 else '<='} {after}{unit} (now {before})"
    if f.actionability == Actionability.TREATMENT_TARGET:
        return f"bring {label} to {'>=' if c.delta > 0 else '<='} {after}{unit} (now {before})"
    verb = "raise" if c.delta > 0 else "lower"
    step = f"{abs(c.delta):,.{f.decimals}f}"
    return f"{verb} {label} {before} -> {after}{unit} ({'+' if c.delta > 0 else '-'}{step})"


def change_text(schema: Schema, cf: Counterfactual, what_if: bool = False) -> str:
    """The changes of one suggestion, ``; ``-separated: as recourse (what would have to change), or with
    ``what_if`` as a risk what-if for a patient whose prediction is already the favourable one (never as advice
    to get worse)."""
    return ("; " if not what_if else " and ").join(_phrase(schema, c, what_if) for c in cf.changes)


def is_what_if(schema: Schema, outcome: str) -> bool:
    """True when the suggestions reach the unfavourable outcome (``outcome_words[1]``): the patient is predicted
    the favourable one, so each row is a risk what-if, not recourse."""
    return outcome == schema.outcome_words[1]


def what_if_text(schema: Schema, cf: Counterfactual, outcome: str) -> str:
    """ "The prediction would turn to death if ejection fraction fell to <= 18 % (now 30)"."""
    return f"the prediction would turn to {outcome} if {change_text(schema, cf, what_if=True)}"


def suggestion_text(schema: Schema, cf: Counterfactual, outcome: str) -> str:
    """The row's text: recourse, or the risk what-if sentence when ``outcome`` is the unfavourable one."""
    return what_if_text(schema, cf, outcome) if is_what_if(schema, outcome) else change_text(schema, cf)


def plausibility_text(metrics: dict[str, float], schema: Schema | None = None,
                      max_shift: float | None = None) -> str:
    """The verdict on the end point and on the change: "outlier" (no training patient looks like the end point),
    "unusual patient" (nor like the patient before the change: the verdict is the patient's, not the change's),
    "large change" (a feature moves more than ``max_shift`` percentile points among patients like this one),
    else "typical"; the figures behind it in brackets."""
    cap = DEFAULT_MAX_SHIFT if max_shift is None else max_shift
    moved = ""
    if "conditional_shift" in metrics and schema is not None:
        feature = schema.features[int(metrics["conditional_feature"])]
        moved = (f"{feature.in_sentence} moves {metrics['conditional_shift']:.0f} percentile points among the "
                 f"{int(metrics['conditional_group'])} reference patients most like this one in "
                 f"{', '.join(f.in_sentence for f in schema.features if f.mutability == Mutability.IMMUTABLE) or 'everything'}")
    elif "max_shift" in metrics and schema is not None:
        feature = schema.features[int(metrics["max_shift_feature"])]
        moved = f"{feature.in_sentence} moves {metrics['max_shift']:.0f} percentile points of the training patients"
    if "lof_outlier" not in metrics:
        return "n/a (no reference cohort" + (f"; {moved})" if moved else ")")
    if metrics["lof_outlier"] and metrics.get("patient_outlier"):  # the patient's, not the change's
        return (f"unusual patient (already unlike the training patients before any change; kNN "
                f"{metrics.get('knn_distance', float('nan')):.1f})")
    if metrics["lof_outlier"]:
        return f"outlier (unlike every training patient; kNN {metrics.get('knn_distance', float('nan')):.1f})"
    if metrics.get("conditional_shift", 0.0) > cap:
        return f"large change ({moved})"
    return f"typical (kNN {metrics.get('knn_distance', float('nan')):.1f}" + (f"; {moved})" if moved else ")")


def capitalised(text: str | None) -> str:
    """The sentence with its first letter in capitals (the rest as it is: labels keep their case)."""
    return (text[:1].upper() + text[1:]) if text else ""


def not_offered_reason(metrics: dict[str, float]) -> str | None:
    """Why a suggestion is shown but not offered (None when it is offered): its end point is unlike the training
    patients, either because the change takes the patient there or because the patient already was."""
    if not metrics.get("lof_outlier"):
        return None
    if metrics.get("patient_outlier"):
        return ("the patient is already unlike the training patients (local outlier factor) before any change: the "
                "model's answer is uncertain for the patient, and this change does not make the patient typical")
    return ("unlike the training patients (local outlier factor): a patient like this was never seen, so the "
            "model's answer there is not to be trusted")


def tier_words(cf: Counterfactual) -> str:
    """How much agreement, and what safety, stands behind a suggestion, for a heading or a line ("" for the full
    consensus with the margin): the partial-agreement tier, or a suggestion that only reaches the thresholds."""
    if cf.without_margin:
        return "no margin, fragile"
    return "partial agreement" if cf.quorum else ""


def robustness_grade_words(r: dict[str, float]) -> str:
    """The grade in words, for paper where the app has a colour (the grade's name "partial" read there as the
    partial-agreement tier)."""
    if not r:
        return ""
    crossed, total = int(r["members_crossed"]), int(r["members_total"])
    if crossed == total:
        return " (every model)" if r["invalidation_rate"] <= 0.05 else " (every model; re-measuring often undoes it)"
    return " (most models, not all)" if crossed * 2 >= total else " (fragile: half of the models or fewer)"


def robustness_words(r: dict[str, float]) -> tuple[str, str, str]:
    """(badge, explanation, grade) of a suggestion's robustness against the model set; grade is solid, partial,
    weak or none, for a colour or a word."""
    if not r:
        return "n/a", "no model set installed", "none"
    crossed, total = int(r["members_crossed"]), int(r["members_total"])
    solid = crossed == total and r["invalidation_rate"] <= 0.05
    grade = "solid" if solid else "partial" if crossed * 2 >= total else "weak"
    tip = (f"{crossed} of {total} models of the set predict the new outcome, each at its own threshold; "
           f"smallest margin past a threshold {r['min_margin']:+.3f}. Re-measured at each feature's stated precision, "
           f"the selected model's prediction falls back {r['invalidation_rate']:.0%} of the time.")
    return f"{crossed}/{total} models, noise {r['invalidation_rate']:.0%}", tip, grade
