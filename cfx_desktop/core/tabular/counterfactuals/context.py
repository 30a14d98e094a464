"""Everything a search needs about one request, computed once: the box, the target, scales, a batched oracle."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken
from cfx_desktop.core.tabular.counterfactuals.constraints import Constraints, changed_mask, snap_vector
from cfx_desktop.core.tabular.counterfactuals.feasibility import Population
from cfx_desktop.core.tabular.counterfactuals.types import Change, Counterfactual
from cfx_desktop.core.tabular.models.base import TabularModel
from cfx_desktop.core.tabular.schema import Kind

SPARSITY_WEIGHT = 1.0  # cost of each changed feature, in MAD units: cost = distance + SPARSITY_WEIGHT * L0
PERCENTILE_SCALE = 25.0  # percentile points that cost as much as one MAD


def mad_scales(model: TabularModel, reference: np.ndarray | None = None) -> np.ndarray:
    """MAD per feature from the model card's training statistics (or a reference cohort when given)."""
    stats = model.card.get("reference_stats") if model.card else None
    if stats:
        return np.array([max(stats[f.name]["mad"], 1e-6) for f in model.schema.features])
    if reference is not None and len(reference):
        med = np.nanmedian(reference, axis=0)
        mad = 1.4826 * np.nanmedian(np.abs(reference - med), axis=0)
        std = np.nanstd(reference, axis=0)
        return np.where(mad > 0, mad, np.where(std > 0, std, 1.0))
    return model.net.pre.std.detach().cpu().numpy().astype(np.float64)  # last resort: z-score scale


def _within_observed(model: TabularModel, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plausibility: search only where training patients were observed (the card's min/max per feature), widened
    to include the patient's own value. The hard check stays the clinical range; this only narrows the search,
    so a suggestion never proposes, say, a creatinine phosphokinase lower than anyone in the data."""
    stats = (model.card or {}).get("reference_stats")
    if not stats:
        return lo, hi
    lo, hi = lo.copy(), hi.copy()
    for j, feature in enumerate(model.schema.features):
        if feature.kind not in (Kind.INTEGER, Kind.CONTINUOUS) or np.isnan(x[j]) or feature.name not in stats:
            continue
        observed_lo = min(stats[feature.name]["min"], x[j])
        observed_hi = max(stats[feature.name]["max"], x[j])
        lo[j], hi[j] = max(lo[j], observed_lo), min(hi[j], observed_hi)
    return lo, hi


def _within_feasible(population: Population, peers: Population | None, constraints: Constraints, x: np.ndarray,
                     lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feasibility: each numeric feature moves at most its feasible change and ``max_shift`` percentile points
    (`feasibility`), in the whole population and among the patients like this one (``peers``, same sex and
    similar age) when a reference cohort is known; without a cap (``max_shift`` None) no limit applies."""
    if constraints.max_shift is None:
        return lo, hi
    lo, hi = lo.copy(), hi.copy()
    for j in range(len(x)):
        if np.isnan(lo[j]) or lo[j] == hi[j]:
            continue
        low, high = population.window(j, x[j], constraints.max_shift)
        if peers is not None:
            peer_low, peer_high = peers.shift_window(j, x[j], constraints.max_shift)
            low, high = max(low, peer_low), min(high, peer_high)
        lo[j], hi[j] = max(lo[j], low), min(hi[j], high)
        if lo[j] > hi[j]:  # the clinical box and the window do not meet: nothing to move
            lo[j] = hi[j] = x[j]
    return lo, hi


def observed_range(model: TabularModel) -> tuple[np.ndarray, np.ndarray]:
    """Per feature, the lowest and highest value among the model's training patients (card statistics);
    unbounded where the card has none."""
    stats = (model.card or {}).get("reference_stats") or {}
    lo = np.array([stats.get(f.name, {}).get("min", -np.inf) for f in model.schema.features], dtype=np.float64)
    hi = np.array([stats.get(f.name, {}).get("max", np.inf) for f in model.schema.features], dtype=np.float64)
    return lo, hi


@dataclass
class SearchContext:
    model: TabularModel
    x: np.ndarray
    constraints: Constraints
    lo: np.ndarray
    hi: np.ndarray
    frozen: np.ndarray
    mad: np.ndarray
    desired: int  # the class the counterfactual must be predicted as
    p_original: float
    population: Population | None = None
    peers: Population | None = None  # the reference patients like this one (age, sex), when a cohort is known
    cancel: CancelToken = NEVER_CANCELLED
    evaluations: int = 0
    memo: dict = field(default_factory=dict)  # per-request results shared by search stages (e.g. the gradient ranking)

    @classmethod
    def build(cls, model: TabularModel, x: np.ndarray, constraints: Constraints, reference=None,  # noqa: ANN001 - Reference
              cancel: CancelToken = NEVER_CANCELLED) -> SearchContext:
        x = np.asarray(x, dtype=np.float64)
        lo, hi = constraints.bounds(model.schema, x)
        lo, hi = _within_observed(model, x, lo, hi)
        population = Population.of_model(model)
        mad = mad_scales(model, None if reference is None else reference.X)
        peers = None if reference is None else Population.of_peers(model.schema, reference.X, mad, x)
        lo, hi = _within_feasible(population, peers, constraints, x, lo, hi)
        p = float(model.predict_proba(x[None])[0])
        desired = 0 if p >= model.threshold else 1
        return cls(model, x, constraints, lo, hi, constraints.frozen_mask(model.schema), mad, desired, p, population,
                   peers, cancel)

    def judged_by(self, model: TabularModel) -> "SearchContext":
        """The same request (box, scales, populations) asked of another model with the same card (a quorum of the
        consensus set instead of all of it): nothing the box depends on is computed again."""
        p = float(model.predict_proba(self.x[None])[0])
        return replace(self, model=model, p_original=p, desired=0 if p >= model.threshold else 1, evaluations=0, memo={})

    def excluding(self, features: frozenset[int] | set[int]) -> "SearchContext":
        """The same request with some features held at the patient's values (a search for a different option);
        it counts its evaluations apart and keeps no memo of this one."""
        lo, hi, frozen = self.lo.copy(), self.hi.copy(), self.frozen.copy()
        for j in features:
            lo[j] = hi[j] = self.x[j]
            frozen[j] = True
        return replace(self, lo=lo, hi=hi, frozen=frozen, memo={})

    @property
    def schema(self):  # noqa: ANN201
        return self.model.schema

    @property
    def free(self) -> np.ndarray:
        """Indices of features the search may move (not frozen, and with room in the box)."""
        return np.flatnonzero(~self.frozen & (self.hi > self.lo))

    @property
    def target_probability(self) -> float:
        t, m = self.model.threshold, self.constraints.margin
        return t - m if self.desired == 0 else t + m

    @property
    def target_logit(self) -> float:
        p = min(max(self.target_probability, 1e-6), 1 - 1e-6)
        return float(np.log(p / (1 - p)))

    def proba(self, V: np.ndarray) -> np.ndarray:
        self.cancel.raise_if_cancelled()
        self.evaluations += len(V)
        return self.model.predict_proba(np.atleast_2d(V))

    def is_valid(self, p: np.ndarray | float) -> np.ndarray:
        p = np.asarray(p)
        return p <= self.target_probability if self.desired == 0 else p >= self.target_probability

    def snap(self, v: np.ndarray) -> np.ndarray:
        return snap_vector(self.schema, v, self.x, self.lo, self.hi)

    def distance(self, v: np.ndarray) -> float:
        """How far the patient moves: for a numeric feature with known population quantiles, its percentile shift
        (`PERCENTILE_SCALE` points cost as much as one MAD, about what one MAD spans in the middle of the data) with
        a small MAD term that orders moves inside a flat step of the quantiles; other numeric features by MAD; 1 per
        changed categorical feature."""
        shifts = self.percentile_shifts(v)
        total = 0.0
        for j, feature in enumerate(self.schema.features):
            if np.isnan(self.x[j]) and np.isnan(v[j]):
                continue
            if feature.kind == Kind.CATEGORICAL:
                total += float(v[j] != self.x[j])
            elif not np.isnan(self.x[j]):
                mad_move = abs(v[j] - self.x[j]) / self.mad[j]
                ordered = self.population is not None and self.population.ecdfs[j] is not None
                total += shifts[j] / PERCENTILE_SCALE + 0.1 * mad_move if ordered else mad_move
        return total

    def mad_distance(self, v: np.ndarray) -> float:
        """MAD-scaled L1 over numeric features, 1 per changed categorical feature (the ``mad_l1`` metric, comparable
        across methods and with the first version)."""
        total = 0.0
        for j, feature in enumerate(self.schema.features):
            if np.isnan(self.x[j]) and np.isnan(v[j]):
                continue
            if feature.kind == Kind.CATEGORICAL:
                total += float(v[j] != self.x[j])
            elif not np.isnan(self.x[j]):
                total += abs(v[j] - self.x[j]) / self.mad[j]
        return total

    def percentile_shifts(self, v: np.ndarray) -> np.ndarray:
        """Percentile points each feature moves (0 where the card has no quantiles)."""
        return self.population.shifts(self.x, v)[0] if self.population is not None else np.zeros(len(v))

    def infeasible(self, v: np.ndarray) -> list[str]:
        """Changes beyond a feature's feasible change or the percentile cap, in words (empty without a cap)."""
        if self.constraints.max_shift is None or self.population is None:
            return []
        shifts = self.percentile_shifts(v)
        peer_shifts = self.peers.shifts(self.x, v)[0] if self.peers is not None else np.zeros(len(v))
        problems = []
        for j in np.flatnonzero(changed_mask(self.x, v)):
            feature = self.schema.features[j]
            if feature.kind not in (Kind.INTEGER, Kind.CONTINUOUS) or np.isnan(self.x[j]):
                continue
            reach = self.population.feasible_change(j, self.x[j])
            step = feature.step if feature.kind == Kind.CONTINUOUS else 1.0
            if abs(v[j] - self.x[j]) > reach + 1e-9 and abs(v[j] - self.x[j]) > step + 1e-9:
                problems.append(f"{feature.label} moves {abs(v[j] - self.x[j]):g}, beyond its feasible change "
                                f"({self.population.describe_limit(j, self.x[j])})")
            elif shifts[j] > self.constraints.max_shift + 0.5:
                problems.append(f"{feature.label} moves {shifts[j]:.0f} percentile points (at most "
                                f"{self.constraints.max_shift:.0f})")
            elif peer_shifts[j] > self.constraints.max_shift + 0.5:
                problems.append(f"{feature.label} moves {peer_shifts[j]:.0f} percentile points among patients of this "
                                f"age and sex (at most {self.constraints.max_shift:.0f})")
        return problems

    def cost(self, v: np.ndarray) -> float:
        return self.distance(v) + SPARSITY_WEIGHT * int(changed_mask(self.x, v).sum())

    def outside_support(self, v: np.ndarray) -> list[str]:
        """Changed values outside the training patients' observed range, in words. The search box is widened to
        include the patient's own value (so paths start at the patient); a *suggested* value must still be one
        some training patient had."""
        lo, hi = observed_range(self.model)
        problems = []
        for j in np.flatnonzero(changed_mask(self.x, v)):
            feature = self.schema.features[j]
            if feature.kind in (Kind.INTEGER, Kind.CONTINUOUS) and not lo[j] - 1e-9 <= v[j] <= hi[j] + 1e-9:
                problems.append(f"{feature.name} = {feature.format(v[j])} is outside the observed training range "
                                f"{feature.format(lo[j])}-{feature.format(hi[j])}")
        return problems

    def admissible(self, v: np.ndarray) -> bool:
        return not self.constraints.violations(self.schema, self.x, v)

    def make(self, v: np.ndarray, probability: float, method: str) -> Counterfactual:
        changes = []
        for j in np.flatnonzero(changed_mask(self.x, v)):
            f = self.schema.features[j]
            before, after = f.decode(self.x[j]), f.decode(v[j])
            delta = None if f.kind == Kind.CATEGORICAL or np.isnan(self.x[j]) else float(v[j] - self.x[j])
            changes.append(Change(f.name, f.label, f.unit, before, after, delta, f.kind == Kind.BINARY and not f.categories))
        return Counterfactual(np.array(v, dtype=np.float64), float(probability), changes, method)
