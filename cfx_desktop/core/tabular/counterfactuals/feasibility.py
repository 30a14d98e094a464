"""How big a change is: the percentile shift within the training patients, and the feasible change per feature.

Why percentiles: a change of 0.5 mg/dL of creatinine means little at 9 mg/dL and a lot at 0.9; a clinician judges
a change by how far it moves the patient among patients like them (the percentile shift of Ustun et al. 2019,
"Actionable recourse in linear classification"). Two limits follow, both hard:

* the **feasible change** of each feature (schema ``Feature.feasible_change``, in the feature's unit, and
  ``Feature.feasible_share``, a share of the present value; the smaller holds): the largest change a treatment
  could bring about. Its data-driven default is the span of the central 80 % of the training patients (10th to
  90th percentile, `DEFAULT_RULE`): no treatment moves a patient across more than the bulk of the population.
  Where the clinical literature knows a treatment's reach, the schema says it instead, with its source (heart
  failure: ejection fraction 20 points, where the data's span is 35; serum creatinine half of its value).
* the **cap** on any single change in percentile points (`Constraints.max_shift`, default `DEFAULT_MAX_SHIFT`,
  "how big a change" in the tab, ``--max-shift`` on the command line). Where a reference cohort is known, the cap
  holds among the patients like this one as well (`Population.of_peers`: the nearest 20 % in age and the other
  immutable features, same sex): a rise of ejection fraction that is ordinary in the whole population can move a
  patient past most of the patients of their age and sex, and the plausibility check would call it a large change.

Population quantiles come from the model card (``reference_stats[...]["quantiles"]``: 101 quantiles of the
training rows), so the limits hold on a fresh install without data. A card without them (an old bundle) has
no percentile limits; the feasible change of the schema still applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from cfx_desktop.core.tabular.schema import Feature, Kind, Mutability, Schema

DEFAULT_MAX_SHIFT = 50.0  # percentile points: no single change moves the patient past half of the population
LEVELS = np.linspace(0.0, 1.0, 101)
PEER_SHARE, PEER_MINIMUM = 0.2, 30  # patients "like this one": the nearest 20 % in age, sex, ... (at least 30)
DEFAULT_RULE = "the span of the central 80 % of the training patients (10th-90th percentile)"


def quantiles(column: np.ndarray) -> list[float]:
    """The 101 quantiles (0, 1, ..., 100 %) of a column's measured values, for the card."""
    column = column[~np.isnan(column)]
    return [float(q) for q in np.quantile(column, LEVELS)] if len(column) else []


def _midrank(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct quantile values and the mean level at which each occurs: a tie (a spike of equal values, a
    whole-number feature) sits at the middle of its step, so a value's percentile is its mid-rank."""
    values, inverse = np.unique(q, return_inverse=True)
    levels = np.bincount(inverse, weights=np.linspace(0.0, 1.0, len(q)))
    return values, levels / np.bincount(inverse)


@dataclass(frozen=True)
class Ecdf:
    """One feature's population distribution, from its quantiles."""

    values: np.ndarray
    levels: np.ndarray
    raw: np.ndarray  # the quantiles as stored, evenly spaced levels from 0 to 1

    @classmethod
    def of(cls, q: list[float] | np.ndarray) -> "Ecdf":
        raw = np.asarray(q, dtype=np.float64)
        values, levels = _midrank(raw)
        return cls(values, levels, raw)

    def percentile(self, v: np.ndarray | float) -> np.ndarray:
        """Percentile (0-100) of each value; beyond the extremes it is 0 or 100."""
        if len(self.values) == 1:
            return np.full(np.shape(v), 50.0)
        return 100.0 * np.interp(v, self.values, self.levels, left=0.0, right=1.0)

    def value_at(self, percentile: float) -> float:
        if len(self.values) == 1:
            return float(self.values[0])
        return float(np.interp(np.clip(percentile / 100.0, 0, 1), self.levels, self.values))

    def quantile(self, percentile: float) -> float:
        """The stored quantile (not the mid-rank inverse): what ``np.percentile`` of the column gave."""
        return float(np.interp(percentile / 100.0, np.linspace(0.0, 1.0, len(self.raw)), self.raw))

    @property
    def central_span(self) -> float:
        """10th to 90th percentile: the default feasible change."""
        return self.quantile(90.0) - self.quantile(10.0)


class Population:
    """Per-feature ECDFs of the training patients (numeric features only; binary and categorical have none)."""

    def __init__(self, schema: Schema, stats: Mapping[str, Mapping[str, Any]] | None, size: int = 0) -> None:
        self.schema = schema
        self.size = size  # how many patients the quantiles describe (0: not known, e.g. from a card)
        self.ecdfs: list[Ecdf | None] = []
        for feature in schema.features:
            q = (stats or {}).get(feature.name, {}).get("quantiles")
            ordered = feature.kind in (Kind.INTEGER, Kind.CONTINUOUS)
            self.ecdfs.append(Ecdf.of(q) if ordered and q else None)

    @classmethod
    def of_model(cls, model) -> "Population":  # noqa: ANN001 - any classifier with a schema and a card
        return cls(model.schema, (model.card or {}).get("reference_stats"))

    @classmethod
    def of_peers(cls, schema: Schema, reference_X: np.ndarray, mad: np.ndarray, x: np.ndarray,
                 share: float = PEER_SHARE, minimum: int = PEER_MINIMUM) -> "Population | None":
        """The reference patients most like this one in the immutable features (age, sex, ...): the ``share``
        nearest (at least ``minimum``), same category where the immutable is categorical or binary. None when the
        schema has no immutable feature the patient has a value for, or the reference is too small. O(n)."""
        immutable = [j for j, f in enumerate(schema.features) if f.mutability == Mutability.IMMUTABLE and not np.isnan(x[j])]
        X = np.asarray(reference_X, dtype=np.float64)
        if not immutable or len(X) < minimum:
            return None
        distance = np.zeros(len(X))
        for j in immutable:
            column = X[:, j]
            if schema.features[j].kind in (Kind.BINARY, Kind.CATEGORICAL):
                distance += np.where(column == x[j], 0.0, 1e6)
            else:
                distance += np.abs(np.nan_to_num(column - x[j], nan=1e3)) / max(mad[j], 1e-9)
        group = X[np.argsort(distance, kind="stable")[: min(len(X), max(minimum, int(share * len(X))))]]
        stats = {}
        for j, feature in enumerate(schema.features):
            column = group[:, j][~np.isnan(group[:, j])]
            if len(column) >= 2:
                stats[feature.name] = {"quantiles": quantiles(column)}
        return cls(schema, stats, len(group))

    @property
    def known(self) -> bool:
        return any(e is not None for e in self.ecdfs)

    def shifts(self, x: np.ndarray, V: np.ndarray) -> np.ndarray:
        """Percentile points each feature moves from ``x`` to each row of ``V`` (0 where unknown or unchanged)."""
        V = np.atleast_2d(V)
        out = np.zeros(V.shape)
        for j, ecdf in enumerate(self.ecdfs):
            if ecdf is None or np.isnan(x[j]):
                continue
            column = np.nan_to_num(V[:, j], nan=x[j])
            out[:, j] = np.abs(ecdf.percentile(column) - ecdf.percentile(x[j]))
        return out

    def feasible_change(self, j: int, value: float = np.nan) -> float:
        """The feature's feasible change in its unit at ``value``: the schema's, else `DEFAULT_RULE` (inf when
        neither is known), narrowed by the schema's share of the value where it sets one."""
        feature = self.schema.features[j]
        return feature.feasible_reach(float(value), self._absolute_change(j))

    def _absolute_change(self, j: int) -> float:
        feature = self.schema.features[j]
        if feature.feasible_change > 0:
            return feature.feasible_change
        ecdf = self.ecdfs[j]
        if ecdf is None:
            return np.inf
        return ecdf.central_span if ecdf.central_span > 0 else max(ecdf.quantile(100) - ecdf.quantile(0), 0.0) or np.inf

    def window(self, j: int, value: float, max_shift: float | None) -> tuple[float, float]:
        """The values within the feasible change and ``max_shift`` percentile points of ``value``."""
        feature: Feature = self.schema.features[j]
        if feature.kind not in (Kind.INTEGER, Kind.CONTINUOUS) or np.isnan(value):
            return -np.inf, np.inf
        reach = self.feasible_change(j, value)
        lo, hi = self.shift_window(j, value, max_shift)
        return max(lo, value - reach), min(hi, value + reach)

    def shift_window(self, j: int, value: float, max_shift: float | None) -> tuple[float, float]:
        """The values within ``max_shift`` percentile points of ``value`` (unbounded where the cap does not bind)."""
        lo, hi = -np.inf, np.inf
        ecdf = self.ecdfs[j]
        if ecdf is not None and max_shift is not None and not np.isnan(value):
            here = float(ecdf.percentile(value))
            if here - max_shift > 0:  # below 0 percent the cap does not bind
                lo = min(ecdf.value_at(here - max_shift), value)
            if here + max_shift < 100:
                hi = max(ecdf.value_at(here + max_shift), value)
        return lo, hi

    def describe_limit(self, j: int, value: float = np.nan) -> str:
        """The feature's feasible change at ``value`` in words, for tooltips and messages."""
        amount, source = self.limit_words(j, value)
        return f"{amount} ({source})" if source else amount

    def limit_words(self, j: int, value: float = np.nan) -> tuple[str, str]:
        """(the feasible change at ``value``, "at most 4.50 mg/dL"; where that limit comes from), so a message
        can place the two as its own sentence needs."""
        feature = self.schema.features[j]
        reach = self.feasible_change(j, value)
        if not np.isfinite(reach):
            return "no limit known", ""
        unit = f" {feature.unit}" if feature.unit else ""
        source = "set in the schema" if feature.feasible_change > 0 else DEFAULT_RULE
        if feature.feasible_share > 0 and reach < self._absolute_change(j):
            source = f"{feature.feasible_share:.0%} of the present value, set in the schema"
        return f"at most {reach:,.{feature.decimals}f}{unit}", source


def conditional_shifts(schema: Schema, reference_X: np.ndarray, mad: np.ndarray, x: np.ndarray, v: np.ndarray,
                       share: float = PEER_SHARE, minimum: int = PEER_MINIMUM) -> tuple[np.ndarray, int]:
    """Percentile points each changed numeric feature moves among the patients most like this one in the
    immutable features (`Population.of_peers`; the whole reference when there are no immutable features).
    Returns (shift per feature, size of that group)."""
    peers = Population.of_peers(schema, reference_X, mad, x, share, minimum)
    if peers is None:
        X = np.asarray(reference_X, dtype=np.float64)
        peers = Population(schema, {f.name: {"quantiles": quantiles(X[:, j])} for j, f in enumerate(schema.features)}, len(X))
    return peers.shifts(x, v)[0], peers.size
