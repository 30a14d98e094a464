"""The cohort view's numbers: predictions with the model set's spread, the confusion matrix at the threshold, and
global recourse: which single changes and pairs flip how many of the patients predicted to have the event, at what
median cost (coverage against cost, as in AReS, Rawal & Lakkaraju 2020, and GLOBE-CE, Ley et al. 2023).

Global recourse here is a grid search per action, all patients at once: for a single feature, the smallest move
on a grid of its admissible values that flips a patient; for a pair, the cheapest flipping point of a grid over
both. "Flips" means what the Patient tab's suggestions mean: every model of the set past its own threshold by the
margin (consensus), or the selected model alone.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.tabular.counterfactuals import Constraints
from cfx_desktop.core.tabular.counterfactuals.consensus import ConsensusModel
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext, observed_range
from cfx_desktop.core.tabular.model_set import CONSENSUS_MEMBERS, load_model_set
from cfx_desktop.core.tabular.models import load_model
from cfx_desktop.core.tabular.schema import Feature, Kind

GRID = 13  # values per feature
PAIR_CANDIDATES = 6  # pairs are formed from the singles that flip the most patients


@dataclass
class CohortPrediction:
    model_name: str
    x: np.ndarray  # the cohort it answers (N, F)
    probability: np.ndarray  # (N,) the selected model
    set_low: np.ndarray  # (N,) lowest probability in the model set
    set_high: np.ndarray
    votes: np.ndarray  # (N,) members predicting the event
    set_size: int
    threshold: float
    y: np.ndarray | None

    @property
    def predicted(self) -> np.ndarray:
        return (self.probability >= self.threshold).astype(int)

    def confusion(self) -> dict[str, int] | None:
        if self.y is None:
            return None
        p, y = self.predicted, self.y
        return {"tp": int(((p == 1) & (y == 1)).sum()), "fp": int(((p == 1) & (y == 0)).sum()),
                "fn": int(((p == 0) & (y == 1)).sum()), "tn": int(((p == 0) & (y == 0)).sum())}

    def roc_point(self) -> tuple[float, float] | None:
        """(false-positive rate, true-positive rate) at the threshold."""
        c = self.confusion()
        if c is None or not (c["tp"] + c["fn"]) or not (c["fp"] + c["tn"]):
            return None
        return c["fp"] / (c["fp"] + c["tn"]), c["tp"] / (c["tp"] + c["fn"])


def predict_cohort(model_name: str, X: np.ndarray, y: np.ndarray | None = None, progress=no_progress,  # noqa: ANN001
                   cancel: CancelToken = NEVER_CANCELLED) -> CohortPrediction:
    model = load_model(model_name)
    models = load_model_set(model.schema.name)
    P = models.probabilities(X) if len(models) else model.predict_proba(X)[None]  # missing values: imputed in the models
    thresholds = models.thresholds if len(models) else np.array([model.threshold])
    return CohortPrediction(model_name, X, model.predict_proba(X), P.min(axis=0), P.max(axis=0),
                            (P >= thresholds[:, None]).sum(axis=0), len(P), model.threshold, y)


@dataclass
class RecourseAction:
    features: tuple[str, ...]  # labels
    flipped: int
    population: int
    median_cost: float  # MAD units over the flipped patients
    median_change: str  # e.g. "ejection fraction +13 %"

    @property
    def coverage(self) -> float:
        return self.flipped / self.population if self.population else 0.0


@dataclass
class GlobalRecourse:
    model_name: str
    x: np.ndarray
    consensus: bool
    margin: float
    population: int
    actions: list[RecourseAction]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["action", "patients_flipped", "population", "coverage", "median_cost_mad", "median_change",
                         "requirement"])
        requirement = "every model of the set" if self.consensus else f"{self.model_name} only"
        for a in self.actions:
            writer.writerow([" + ".join(a.features), a.flipped, a.population, f"{a.coverage:.3f}", f"{a.median_cost:.3f}",
                             a.median_change, f"{requirement}, margin {self.margin:.2f}"])
        return out.getvalue()


def typical_change(feature: Feature, before: np.ndarray, after: np.ndarray) -> str:
    """The change most patients needed, in words: the median step of a number ("ejection fraction +13 %"); the
    state most often reached for a finding or category ("without anaemia", "chest pain type: asymptomatic",
    never "anaemia -1")."""
    label = feature.label[:1].lower() + feature.label[1:] if not feature.label[:2].isupper() else feature.label
    if feature.kind in (Kind.BINARY, Kind.CATEGORICAL):
        values, counts = np.unique(after, return_counts=True)
        common = float(values[np.argmax(counts)])
        share = f" ({counts.max() / len(after):.0%} of them)" if len(values) > 1 else ""
        if feature.kind == Kind.BINARY and feature.is_finding:
            return f"{'with' if common else 'without'} {label}{share}"
        return f"{label}: {feature.display(common)}{share}"
    step = float(np.median(after - before))
    return f"{label} {step:+,.{feature.decimals}f}{' ' + feature.unit if feature.unit else ''}"


def _grid(ctx: SearchContext, j: int, lo_obs: np.ndarray, hi_obs: np.ndarray) -> np.ndarray:
    f = ctx.schema.features[j]
    low, high = max(ctx.lo[j], lo_obs[j]), min(ctx.hi[j], hi_obs[j])
    if f.kind in (Kind.BINARY, Kind.CATEGORICAL):
        values = np.arange(low, high + 1)
    else:
        values = np.unique(ctx.snap(np.tile(ctx.x, (GRID, 1)) + np.eye(len(ctx.x))[j] * (np.linspace(low, high, GRID) - ctx.x[j])[:, None])[:, j])
    return values[values != ctx.x[j]]


def global_recourse(model_name: str, X: np.ndarray, constraints: Constraints, consensus: bool = True,
                    consensus_members: int = CONSENSUS_MEMBERS, progress=no_progress,  # noqa: ANN001
                    cancel: CancelToken = NEVER_CANCELLED) -> GlobalRecourse:
    model = load_model(model_name)
    models = load_model_set(model.schema.name, per_architecture=consensus_members)
    at_risk = X[model.predict_proba(X) >= model.threshold]
    judge = ConsensusModel(models.members, model, 0, constraints.margin) if consensus and len(models) else None
    search_constraints = replace(constraints, margin=0.0) if judge else constraints
    contexts = [SearchContext.build(judge or model, x, search_constraints, None, cancel) for x in at_risk]
    lo_obs, hi_obs = observed_range(model)
    free = sorted({int(j) for ctx in contexts for j in ctx.free})
    actions: list[RecourseAction] = []
    total = len(free) + PAIR_CANDIDATES * (PAIR_CANDIDATES - 1) // 2

    def evaluate(features: tuple[int, ...], step: int) -> RecourseAction:
        costs, changes = [], []
        for ctx in contexts:
            cancel.raise_if_cancelled()
            grids = [_grid(ctx, j, lo_obs, hi_obs) if j in ctx.free else np.array([]) for j in features]
            if any(len(g) == 0 for g in grids):
                continue
            mesh = np.array(np.meshgrid(*grids, indexing="ij")).reshape(len(features), -1).T
            V = np.repeat(ctx.x[None], len(mesh), axis=0)
            V[:, list(features)] = mesh
            ok = ctx.is_valid(ctx.proba(V))
            if ok.any():
                cheapest = min(np.flatnonzero(ok), key=lambda i: ctx.distance(V[i]))
                costs.append(ctx.distance(V[cheapest]))
                changes.append((ctx.x[list(features)], V[cheapest][list(features)]))
        progress(step / total, "global recourse")
        labels = tuple(model.schema.features[j].label for j in features)
        if not costs:
            return RecourseAction(labels, 0, len(contexts), float("nan"), "")
        starts, reached = (np.array(side) for side in zip(*changes))
        described = ", ".join(typical_change(model.schema.features[j], starts[:, i], reached[:, i])
                              for i, j in enumerate(features))
        return RecourseAction(labels, len(costs), len(contexts), float(np.median(costs)), described)

    singles = [(j, evaluate((j,), i + 1)) for i, j in enumerate(free)]
    actions += [a for _, a in singles]
    best = [j for j, a in sorted(singles, key=lambda item: -item[1].flipped)[:PAIR_CANDIDATES] if a.flipped < len(contexts)]
    for i, pair in enumerate(combinations(sorted(best), 2)):
        actions.append(evaluate(pair, len(free) + i + 1))
    actions.sort(key=lambda a: (-a.flipped, a.median_cost if a.flipped else np.inf))
    return GlobalRecourse(model_name, X, bool(judge), constraints.margin, len(contexts), actions)
