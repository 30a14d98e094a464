"""Is this patient like the patients the models were trained on?

Why it matters: a suggestion whose end point is unlike every training patient is shown but never offered (the
model's answer there is not to be trusted). When the *patient* is already unlike them (4 % of the heart-failure
patients, e.g. creatinine phosphokinase 7,861 mcg/L), every end point inherits that, and calling each suggestion
an "outlier" blames the change for what the patient brought: a clinician would read "this change is implausible"
where the truth is "the model has not seen a patient like this one, so neither its prediction nor what would
change it is sure". This module says which it is, and names the values that stand out.

Two sources, the stronger first:
* the local outlier factor of the plausibility check (`metrics.lof_model`, scikit-learn), when reference patients
  are known (../shared/data or a loaded cohort);
* on a fresh install without them, the card's quantiles of the training patients: a value beyond every training
  patient's is outside what the model learned from.
The values named are those at or beyond the 1st / 99th percentile of the training patients (card quantiles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cfx_desktop.core.tabular.counterfactuals.context import mad_scales
from cfx_desktop.core.tabular.counterfactuals.feasibility import Population
from cfx_desktop.core.tabular.counterfactuals.metrics import lof_outlier
from cfx_desktop.core.tabular.counterfactuals.reference import Reference
from cfx_desktop.core.tabular.models.base import TabularModel

EXTREME = 1.0  # percent at each end: a value at or beyond the 1st / 99th percentile of the training patients


@dataclass(frozen=True)
class Typicality:
    unusual: bool
    source: str  # what decided: "local outlier factor" or "outside the training range"
    extremes: tuple[str, ...] = ()  # the values that stand out, in words

    def words(self) -> str:
        """One sentence for the panel, the CLI and the report, after a heading such as "Unusual patient" (empty
        when the patient is typical)."""
        if not self.unusual:
            return ""
        why = "; ".join(self.extremes) if self.extremes else "no single value is extreme, the combination is"
        return (f"Unlike the training patients ({self.source}: {why}): the models learned from few or none like this "
                "one, so the prediction and every suggestion are less certain, and a suggestion that leaves the patient "
                "so is shown, not offered.")


def extreme_values(model: TabularModel, x: np.ndarray) -> list[tuple[str, bool]]:
    """The patient's values at or beyond the 1st / 99th percentile of the training patients, in words, each with
    whether it lies outside every training patient's value (from the card's quantiles; none without them)."""
    population = Population.of_model(model)
    found: list[tuple[str, bool]] = []
    for j, (feature, ecdf) in enumerate(zip(model.schema.features, population.ecdfs)):
        if ecdf is None or np.isnan(x[j]):
            continue
        low, high = float(ecdf.raw[0]), float(ecdf.raw[-1])
        value = f"{feature.in_sentence} {feature.display(x[j], with_unit=True)}"
        if x[j] > high or x[j] < low:
            side, edge = ("above", high) if x[j] > high else ("below", low)
            found.append((f"{value}, {side} every training patient ({'highest' if side == 'above' else 'lowest'} "
                          f"{feature.display(edge)})", True))
            continue
        percentile = float(ecdf.percentile(x[j]))
        side = "above" if percentile >= 100.0 - EXTREME else "below" if percentile <= EXTREME else None
        if side is not None:
            found.append((f"{value}, {side} {100 - EXTREME:.0f} % of the training patients{_normal_words(feature, x[j])}",
                          False))
    return found


def _normal_words(feature, value: float) -> str:  # noqa: ANN001 - schema.Feature
    """" (within the normal range 50-70 %: rare in this cohort, not abnormal)" for a value inside the feature's
    clinical normal range: an ejection fraction of 62 % is above 99 % of heart-failure patients, and a reader must
    not take "extreme" for "abnormal"."""
    if feature.normal_range is None or not feature.normal_range[0] <= value <= feature.normal_range[1]:
        return ""
    low, high = feature.normal_range
    unit = f" {feature.unit}" if feature.unit else ""
    return f" (within the normal range {low:g}-{high:g}{unit}: rare in this cohort, not abnormal)"


def assess(model: TabularModel, x: np.ndarray, reference: Reference | None) -> Typicality:
    """The patient's typicality: by the local outlier factor where reference patients are known, else by the
    training range of the card."""
    x = np.asarray(x, dtype=np.float64)
    extremes = extreme_values(model, x)
    if reference is not None and len(reference.X) >= 3:
        unusual = lof_outlier(reference, mad_scales(model, reference.X), x)
        return Typicality(unusual, "local outlier factor", tuple(text for text, _ in extremes))
    outside = tuple(text for text, beyond in extremes if beyond)
    return Typicality(bool(outside), "outside the training range", outside)
