"""One patient's explanation as plain JSON: what `explain-patient --json` prints and what each line of
`batch-explain-patients` holds, built by one function so the two can never drift apart."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cfx_desktop.core.tabular import attributions, typicality
from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT, Population
from cfx_desktop.core.tabular.counterfactuals.types import Counterfactual
from cfx_desktop.core.tabular.wording import is_what_if, plausibility_text, suggestion_text
from cfx_desktop.core.tabular.counterfactuals import METHODS, Constraints, CounterfactualList, Reference, find_counterfactuals
from cfx_desktop.core.tabular.model_set import CONSENSUS_MEMBERS, ModelSet, default_margin, load_model_set
from cfx_desktop.core.tabular.models import TabularModel


@dataclass
class ExplainSettings:
    """How every patient is explained; a batch stores it so a resumed run explains the rest the same way."""

    method: str | None = None
    k: int = 1
    margin: float | None = None
    single_model: bool = False
    set_members: int | None = None
    locked: tuple[str, ...] = ()
    unlocked: tuple[str, ...] = ()
    max_changes: int | None = None
    allow_markers: bool = False
    shapley_samples: int = 0  # 0: no attributions (the single-patient command leaves them to the app)
    max_shift: float | None = DEFAULT_MAX_SHIFT  # "how big a change", percentile points; None: any size
    partial: bool = True  # fall back to a quorum of the set (3 of 4) when no change moves every member

    def resolved(self, schema_name: str) -> "ExplainSettings":
        """Defaults filled in (the registry's method, the model set's validated margin, k=4 for set methods)."""
        method = self.method or METHODS.default
        k = self.k if self.k != 1 or not METHODS.get(method).is_set else 4
        margin = default_margin(schema_name) if self.margin is None else self.margin
        return ExplainSettings(method, k, margin, self.single_model, self.set_members, tuple(self.locked),
                               tuple(self.unlocked), self.max_changes, self.allow_markers, self.shapley_samples,
                               self.max_shift, self.partial)

    def constraints(self) -> Constraints:
        return Constraints(locked=frozenset(self.locked), unlocked=frozenset(self.unlocked), max_changes=self.max_changes,
                           margin=float(self.margin or 0.0), allow_markers=self.allow_markers, max_shift=self.max_shift)


@dataclass
class Explainer:
    """The model, its consensus set and judges, loaded once and used for many patients."""

    model: TabularModel
    settings: ExplainSettings
    reference: Reference | None
    models: ModelSet
    judges: ModelSet

    @classmethod
    def load(cls, model: TabularModel, settings: ExplainSettings, reference: Reference | None) -> "Explainer":
        settings = settings.resolved(model.schema.name)
        models = load_model_set(model.schema.name, per_architecture=settings.set_members or CONSENSUS_MEMBERS)
        return cls(model, settings, reference, models, load_model_set(model.schema.name))

    def _counterfactual(self, cf: Counterfactual, x: np.ndarray, outcome: str) -> dict[str, Any]:
        schema = self.model.schema
        shifts = Population.of_model(self.model).shifts(x, cf.values)[0]
        return {
            "values": schema.to_patient(cf.values),
            "changes": [{"feature": c.feature, "from": c.before, "to": c.after,
                         "percentile_shift": float(shifts[schema.index(c.feature)])} for c in cf.changes],
            "text": suggestion_text(schema, cf, outcome),
            # how much agreement stands behind it: the whole consensus set, a quorum of it, or the selected model
            "tier": ("single model" if self.settings.single_model else "partial" if cf.quorum else "consensus"),
            "quorum": list(cf.quorum) if cf.quorum else None,
            "without_margin": cf.without_margin,  # it only reaches the thresholds: no suggestion clears the margin
            "what_if": is_what_if(schema, outcome),
            "plausibility": plausibility_text(cf.metrics, schema, self.settings.max_shift),
            "probability": cf.probability,
            "metrics": {k: float(v) for k, v in cf.metrics.items()},
            "robustness": cf.robustness,
            "summary": cf.summary(outcome),
        }

    def explain(self, x: np.ndarray) -> tuple[dict[str, Any], CounterfactualList]:
        """The JSON payload and the search's result (for printing it in words)."""
        model, schema, s = self.model, self.model.schema, self.settings
        x = np.asarray(x, dtype=np.float64)
        result = find_counterfactuals(model, x, s.constraints(), k=s.k, method=s.method, reference=self.reference,
                                      model_set=self.models, consensus=not s.single_model, judges=self.judges,
                                      partial=s.partial)
        p = float(model.predict_proba(x)[0])
        label = int(p >= model.threshold)
        typical = typicality.assess(model, x, self.reference)
        payload: dict[str, Any] = {
            "patient": schema.to_patient(x),
            "prediction": {"probability": p, "threshold": model.threshold, "label": label,
                           "outcome": schema.outcome_words[label],
                           "set_votes": int((self.judges.probabilities(x)[:, 0] >= self.judges.thresholds).sum()),
                           "set_size": len(self.judges)},
            "model": model.name,
            "method": s.method,
            "requirement": (f"{model.name} only (fragile)" if s.single_model else
                            f"every model of the {schema.name} set ({len(self.models)}) past its threshold by {s.margin:.2f}"),
            "consensus_set": [] if s.single_model else [m.name for m in self.models.members],
            "robustness_judged_by": [m.name for m in self.judges.members],
            "max_shift": s.max_shift,
            "patient_typicality": asdict(typical) | {"words": typical.words()},
            "counterfactuals": [self._counterfactual(cf, x, schema.outcome_words[1 - label]) for cf in result],
            "seconds": result.seconds,
        }
        if result.reason:
            payload["reason"] = result.reason
        if result.note:
            payload["note"] = result.note
        if s.shapley_samples:
            a = attributions.attribute(model, x, n_samples=s.shapley_samples)
            payload["attribution"] = {"method": a.method, "exact": a.exact, "note": a.note, "base_logit": a.base_logit,
                                      "logit": a.logit, "values": dict(a.ranked())}
        return payload, result
