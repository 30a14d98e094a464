"""How a suggestion is worded for a reader, shared by the Patient tab, the CLI and the reports.

Plain words, never codes: "Anaemia: yes -> no", "platelets 262,000 kiloplatelets/mL", treatment targets as target
states. Kept Qt-free so a report written from the command line reads exactly like the table on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cfx_desktop.core.tabular.schema import Actionability, Kind, Schema

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


def change_text(schema: Schema, cf: Counterfactual) -> str:
    """One phrase per change: treatment targets as target states ("bring serum creatinine to <= 0.93 mg/dL"),
    other numeric changes as moves ("raise ... 25 -> 38 %"), findings as "label: before -> after"."""
    parts = []
    for c in cf.changes:
        f = schema[c.feature]
        before, after = _shown(schema, c.feature, c.before), _shown(schema, c.feature, c.after)
        if c.delta is None or f.categories or f.kind == Kind.BINARY:
            parts.append(f"{f.label}: {before} -> {after}")
            continue
        unit = f" {f.unit}" if f.unit else ""
        if f.actionability == Actionability.TREATMENT_TARGET:
            parts.append(f"bring {f.label.lower()} to {'>=' if c.delta > 0 else '<='} {after}{unit} (now {before})")
            continue
        verb = "raise" if c.delta > 0 else "lower"
        step = f"{abs(c.delta):,.{f.decimals}f}"
        parts.append(f"{verb} {f.label.lower()} {before} -> {after}{unit} ({'+' if c.delta > 0 else '-'}{step})")
    return "; ".join(parts)


def plausibility_text(metrics: dict[str, float]) -> str:
    if "lof_outlier" not in metrics:
        return "n/a (no reference cohort)"
    verdict = "outlier" if metrics["lof_outlier"] else "typical"
    return f"{verdict} (kNN {metrics.get('knn_distance', float('nan')):.1f})"


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
