"""Hard constraints on a counterfactual and the one checker every method's output passes through.

Why one checker: methods differ (neighbours, gradients, random search), but "a violating counterfactual is
never shown" must hold for all of them, so `violations()` is applied to every candidate before it is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np

from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT
from cfx_desktop.core.tabular.schema import Actionability, Direction, Kind, Mutability, Schema

TOL = 1e-9


@dataclass(frozen=True)
class Constraints:
    """What a counterfactual may change.

    * ``locked``: features the user locked (immutable features are always locked).
    * ``unlocked``: lockable features (locked by default, e.g. diabetes, follow-up time) the user allowed.
    * ``max_changes``: at most this many features may differ from the patient.
    * ``margin``: the probability must clear the threshold by this much (e.g. 0.05: p <= t - 0.05).
    * ``directions``: per-feature overrides of the schema's increase-only / decrease-only rule.
    * ``ranges``: per-feature (low, high) narrower than the clinical range.
    * ``max_shift``: the largest move of any single feature in percentile points of the training patients
      ("how big a change"); with it, each feature's feasible change (`feasibility`). None: neither limit.
    * ``allow_markers``: observational markers (CPK, platelets, ...) may change too. Off by default: a suggestion
      to move a reading nobody treats toward a value describes the model, not something to do. A marker the user
      explicitly unlocked may change either way.
    """

    locked: frozenset[str] = frozenset()
    unlocked: frozenset[str] = frozenset()
    max_changes: int | None = None
    margin: float = 0.0
    directions: Mapping[str, Direction] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    allow_markers: bool = False
    max_shift: float | None = DEFAULT_MAX_SHIFT

    def with_locks(self, *names: str) -> Constraints:
        return replace(self, locked=self.locked | frozenset(names))

    def is_frozen(self, schema: Schema, name: str) -> bool:
        feature = schema[name]
        if feature.mutability == Mutability.IMMUTABLE or name in self.locked:
            return True
        if feature.mutability == Mutability.LOCKABLE:
            return name not in self.unlocked
        return feature.actionability == Actionability.MARKER and not self.allow_markers

    def frozen_mask(self, schema: Schema) -> np.ndarray:
        return np.array([self.is_frozen(schema, f.name) for f in schema.features])

    def for_risk(self, schema: Schema) -> Constraints:
        """The rules for a risk what-if (a patient predicted the favourable outcome, asked what would turn it): the
        schema's increase-only / decrease-only rules say what a treatment can do, so deterioration runs the other
        way (ejection fraction that therapy can only raise may fall; anaemia that treatment can only clear may
        appear). The user's own overrides in ``directions`` stay as they are."""
        mirror = {Direction.INCREASE: Direction.DECREASE, Direction.DECREASE: Direction.INCREASE,
                  Direction.TOWARD_NORMAL: Direction.ANY}  # a value may leave its normal range either way
        flipped = {f.name: mirror[f.direction] for f in schema.features
                   if f.direction in mirror and f.name not in self.directions}
        return replace(self, directions={**flipped, **self.directions}) if flipped else self

    def direction(self, schema: Schema, name: str) -> Direction:
        return self.directions.get(name, schema[name].direction)

    def bounds(self, schema: Schema, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature box the counterfactual must lie in: clinical (or user) range, direction, frozen."""
        lo = np.empty(len(schema.features))
        hi = np.empty(len(schema.features))
        for j, feature in enumerate(schema.features):
            if feature.kind == Kind.CATEGORICAL:
                low, high = 0.0, float(feature.n_levels - 1)
            else:
                low, high = self.ranges.get(feature.name, (feature.min, feature.max))
            direction = self.direction(schema, feature.name)
            if np.isnan(x[j]):  # an unmeasured value is never "suggested"; it stays missing
                low = high = np.nan
            else:
                if feature.kind != Kind.CATEGORICAL:
                    allowed = feature.direction_bounds(float(x[j]), direction)
                    low, high = max(low, allowed[0]), min(high, allowed[1])
                if self.is_frozen(schema, feature.name):
                    low = high = x[j]
            lo[j], hi[j] = low, high
        return lo, hi

    def violations(self, schema: Schema, x: np.ndarray, cf: np.ndarray, check_grid: bool = True) -> list[str]:
        """Every broken rule, in words; empty when the counterfactual is admissible.

        ``check_grid=False`` skips the whole-number/decimals rule (used to judge other libraries' output fairly)."""
        problems = []
        changed = changed_mask(x, cf)
        for j, feature in enumerate(schema.features):
            if not changed[j]:
                continue
            name = feature.name
            if self.is_frozen(schema, name):
                kind = ("immutable" if feature.mutability == Mutability.IMMUTABLE else
                        "an observational marker (markers not allowed)" if feature.actionability == Actionability.MARKER
                        and name not in self.locked else "locked")
                problems.append(f"{name} is {kind}")
                continue
            if np.isnan(cf[j]):
                problems.append(f"{name} became missing")
                continue
            if feature.kind == Kind.CATEGORICAL:
                if not (0 <= cf[j] < feature.n_levels) or not float(cf[j]).is_integer():
                    problems.append(f"{name} is not a valid category")
                continue
            low, high = self.ranges.get(name, (feature.min, feature.max))
            if cf[j] < low - TOL or cf[j] > high + TOL:
                problems.append(f"{name} = {feature.format(cf[j])} is outside {feature.format(low)}-{feature.format(high)}")
            if not check_grid:
                pass
            elif feature.kind in (Kind.BINARY, Kind.INTEGER) and not float(cf[j]).is_integer():
                problems.append(f"{name} must be a whole number")
            elif feature.kind == Kind.CONTINUOUS and abs(round(cf[j], feature.decimals) - cf[j]) > 1e-6:
                problems.append(f"{name} has more than {feature.decimals} decimals")
            direction = self.direction(schema, name)
            if not np.isnan(x[j]):
                allowed = feature.direction_bounds(float(x[j]), direction)
                if cf[j] < allowed[0] - TOL or cf[j] > allowed[1] + TOL:
                    problems.append(f"{name} {feature.describe_direction(direction)}")
        if self.max_changes is not None and changed.sum() > self.max_changes:
            problems.append(f"{int(changed.sum())} features changed (at most {self.max_changes} allowed)")
        return problems


def changed_mask(x: np.ndarray, cf: np.ndarray) -> np.ndarray:
    """True where ``cf`` differs from ``x`` (missing on both sides counts as unchanged)."""
    with np.errstate(invalid="ignore"):
        differs = np.abs(cf - x) > 1e-9
    return differs | (np.isnan(x) ^ np.isnan(cf))


def snap_vector(schema: Schema, V: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Round values (one row or a batch) to each kind's grid inside the box, vectorised over rows.

    Values that round back onto the patient's value become exactly that value, values the search did not move stay
    as they are; missing values stay missing."""
    V = np.array(V, dtype=np.float64)
    single = V.ndim == 1
    V = np.atleast_2d(V)
    whole = np.array([f.kind in (Kind.BINARY, Kind.INTEGER, Kind.CATEGORICAL) for f in schema.features])
    scale = np.array([1.0 if w else 10.0**f.decimals for f, w in zip(schema.features, whole)])
    lo_f = np.where(np.isnan(lo), x, lo)
    hi_f = np.where(np.isnan(hi), x, hi)
    out = np.clip(V, lo_f, hi_f)
    # a value the search left where the patient has it stays exactly that, even when it is off the grid (the real
    # heart-failure data has platelets such as 263358.03): rounding it would count as a change of a locked feature
    untouched = np.isclose(out, x, rtol=0, atol=1e-9) | (lo_f == hi_f)
    out = np.where(untouched, x, np.round(out * scale) / scale)
    step = 1.0 / scale
    out = np.where(out < lo_f - TOL, out + step, out)  # rounding pushed it outside: move one grid step in
    out = np.where(out > hi_f + TOL, out - step, out)
    out = np.where(np.isclose(out, x, rtol=0, atol=1e-9) | np.isnan(x), x, out)
    return out[0] if single else out
