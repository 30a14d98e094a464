"""What the Patient tab asks for on every edit, as plain functions the worker pool runs: the prediction (fast), the
suggestions, and the prediction with its attributions (Shapley values, the slow part).

Each returns the inputs it answered, so the UI can check a result against the form before showing it, on top of
the pool's latest-request-wins rule.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.tabular import attributions, typicality
from cfx_desktop.core.tabular.counterfactuals import METHODS, Constraints, CounterfactualList, Reference, find_counterfactuals
from cfx_desktop.core.tabular.datasets import DATASETS, default_variant
from cfx_desktop.core.tabular.model_set import CONSENSUS_MEMBERS, load_model_set
from cfx_desktop.core.tabular.models import TabularModel, load_model
from cfx_desktop.core.tabular.models import model_name as bundle_name


@dataclass
class PredictionResult:
    model_name: str
    x: np.ndarray
    probability: float
    threshold: float
    label: int
    outcome: str
    attribution: attributions.Attribution | None  # None from `predict`: the attributions follow
    side: Any  # the architecture's side view (NAM shape function, Lasso weights) or None
    card_label: str = ""
    metrics_summary: str = ""
    set_names: list[str] = field(default_factory=list)  # the model set's members (this model among them)
    set_probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0))
    set_thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    calibration: dict[str, Any] = field(default_factory=dict)  # from the card: Brier, ECE, reliability curve

    @property
    def set_votes(self) -> int:
        """Members that predict the event, each at its own threshold."""
        return int((self.set_probabilities >= self.set_thresholds).sum())


@dataclass
class SuggestionResult:
    model_name: str
    x: np.ndarray
    constraints: Constraints
    method: str
    k: int
    counterfactuals: CounterfactualList
    outcome: str  # the outcome the suggestions reach, in words
    reference_source: str | None
    consensus: bool = True
    set_size: int = 0  # models the search required to cross (1: this model only)
    consensus_members: int = 1  # per architecture
    typicality: typicality.Typicality | None = None  # is the patient like the training patients?


def predict(model_name: str, x: np.ndarray, progress=no_progress,  # noqa: ANN001
            cancel: CancelToken = NEVER_CANCELLED) -> PredictionResult:
    """The prediction and the model set's spread, without attributions: a few milliseconds, so the gauge follows
    an edit at once while the suggestions search (the attributions come after it, `predict_and_attribute`)."""
    model = load_model(model_name)
    x = np.asarray(x, dtype=np.float64)
    p = float(model.predict_proba(x)[0])
    label = int(p >= model.threshold)
    models = load_model_set(model.schema.name)
    return PredictionResult(model_name, x, p, model.threshold, label, model.schema.outcome_words[label], None, None,
                            model.card.get("label", model_name), model.card.get("metrics_summary", ""),
                            [m.name for m in models.members], models.probabilities(x)[:, 0], models.thresholds,
                            model.card.get("calibration", {}))


def predict_and_attribute(model_name: str, x: np.ndarray, shape_feature: str | None = None, shapley_samples: int = 48,
                          progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> PredictionResult:  # noqa: ANN001
    result = predict(model_name, x, cancel=cancel)
    model = load_model(model_name)
    progress(0.3, "attributions")
    attribution = attributions.attribute(model, result.x, n_samples=shapley_samples, cancel=cancel)
    return replace(result, attribution=attribution, side=attributions.side_view(model, result.x, shape_feature))


_references: dict[tuple[str, int], Reference | None] = {}
_ref_lock = threading.Lock()


def default_reference(model: TabularModel) -> Reference | None:
    """The model's own training rows, read from ../shared/data when it is there (never shipped); else None."""
    from cfx_desktop.core.tabular import train

    key = (model.name, id(model))
    with _ref_lock:
        if key in _references:
            return _references[key]
    card = model.card
    reference = None
    try:
        _, cohort, _ = train.dev_cohort(card["dataset"], card.get("excluded_features") or [], None)
        rows = train.development_rows(cohort.y, card["data"].get("max_rows"), card.get("seed", 0))
        train_idx, _ = train.holdout_split(cohort.y[rows], card.get("seed", 0))
        reference = Reference.build(model, cohort.X[rows[train_idx]], f"{card['data']['file']} (training rows)")
    except (FileNotFoundError, KeyError, ValueError):
        reference = None
    with _ref_lock:
        _references[key] = reference
    return reference


_cohort_refs: dict[tuple[str, int, str], Reference] = {}
COHORT_REFERENCES_KEPT = 4


def cohort_reference(model: TabularModel, cohort: np.ndarray) -> Reference:
    """The loaded cohort as a reference, built once per model and cohort: the plausibility check fits its local
    outlier factor on it (about 1.4 s for 16,000 patients), which every live edit would otherwise pay again."""
    import hashlib

    cohort = np.ascontiguousarray(cohort, dtype=np.float64)
    key = (model.name, id(model), hashlib.sha1(cohort.tobytes() + str(cohort.shape).encode()).hexdigest())
    with _ref_lock:
        found = _cohort_refs.get(key)
    if found is None:
        found = Reference.build(model, cohort, "loaded cohort")
        with _ref_lock:
            while len(_cohort_refs) >= COHORT_REFERENCES_KEPT:
                _cohort_refs.pop(next(iter(_cohort_refs)))
            _cohort_refs[key] = found
    return found


def suggest(model_name: str, x: np.ndarray, constraints: Constraints, method: str | None = None, k: int = 1,
            cohort: np.ndarray | None = None, consensus: bool = True, consensus_members: int = CONSENSUS_MEMBERS,
            progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> SuggestionResult:  # noqa: ANN001
    """Suggestions for one patient. By default every model of the consensus set (``consensus_members`` per
    architecture) must cross its own threshold by the margin ("this model only" with ``consensus=False``); each
    suggestion reports its robustness against the full model set, most of which the search never used."""
    model = load_model(model_name)
    x = np.asarray(x, dtype=np.float64)
    if cohort is not None and len(cohort):
        reference: Reference | None = cohort_reference(model, cohort)
    else:
        reference = default_reference(model)
    method = method or METHODS.default
    progress(0.2, "searching")
    models = load_model_set(model.schema.name, per_architecture=consensus_members)
    judges = load_model_set(model.schema.name)
    result = find_counterfactuals(model, x, constraints, k=k, method=method, reference=reference, cancel=cancel,
                                  model_set=models, consensus=consensus, judges=judges)
    p = float(model.predict_proba(x)[0])
    target = 1 - int(p >= model.threshold)
    return SuggestionResult(model_name, x, constraints, method, k, result, model.schema.outcome_words[target],
                            reference.source if reference else None, consensus, len(models) if consensus else 1,
                            consensus_members, typicality.assess(model, x, reference))


def default_model_name() -> str:
    """The default dataset's default variant with its default architecture (what the app opens with)."""
    from cfx_desktop.core.tabular.datasets import schema_for

    return bundle_name(schema_for(default_variant()), DATASETS.get(DATASETS.default).default_architecture)
