"""The Patient tab's state: dataset variant, patient values, locks, model, suggestion settings, undo history,
loaded cohorts, and the prediction and suggestions that answer them.

Why here and not in widgets: "is this result still the answer?", "what does Undo restore?" and "what survives a
dataset switch?" are rules, and rules belong where a test can reach them without a window. Each undo step holds
the dataset with its patient and locks, so Undo after a dataset switch goes back to that dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cfx_desktop.core.tabular.counterfactuals import DEFAULT_METHOD, METHODS, Constraints
from cfx_desktop.core.tabular.data import Cohort
from cfx_desktop.core.tabular.datasets import default_variant, find_variant
from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT
from cfx_desktop.core.tabular.model_set import CONSENSUS_MEMBERS, MARGIN_FLOOR, default_margin
from cfx_desktop.core.tabular.models import model_name
from cfx_desktop.core.tabular.patient_report import PatientSource
from cfx_desktop.core.tabular.schema import Feature, Kind, Mutability, Schema
from cfx_desktop.sessions.events import Event

if TYPE_CHECKING:  # results arrive from the worker pool, which imports these (and torch) before the session needs them
    from cfx_desktop.core.tabular.live import PredictionResult, SuggestionResult
    from cfx_desktop.core.tabular.recourse import CohortPrediction, GlobalRecourse


def default_locks(schema: Schema) -> frozenset[str]:
    """Features whose lock box starts checked: those locked by default (immutable ones are not lockable)."""
    return frozenset(f.name for f in schema.features if f.mutability == Mutability.LOCKABLE)


def _compatible(a: Feature, b: Feature) -> bool:
    numeric = (Kind.INTEGER, Kind.CONTINUOUS)
    if a.kind in numeric and b.kind in numeric:
        return True
    return a.kind == b.kind and a.n_levels == b.n_levels


@dataclass(frozen=True)
class CarryOver:
    values: np.ndarray
    locks: frozenset[str]
    kept: list[str]  # labels in the new schema
    dropped: list[str]  # labels of the old schema's features with no counterpart


def carry_over(old: Schema, values: np.ndarray, locks: frozenset[str], new: Schema) -> CarryOver:
    """Values and locks of the features both schemas share (matched by `Feature.concept` and kind, values snapped
    into the new range); the rest start at the new schema's example patient and default locks."""
    by_concept = {f.concept: (f, float(v)) for f, v in zip(old.features, values)}
    result = new.example_vector().astype(np.float64)
    new_locks = set(default_locks(new))
    kept, matched = [], set()
    for j, feature in enumerate(new.features):
        found = by_concept.get(feature.concept)
        if found is None or not _compatible(found[0], feature):
            continue
        source, value = found
        result[j] = value if np.isnan(value) else feature.snap(value)
        matched.add(source.name)
        kept.append(feature.label)
        if feature.mutability != Mutability.IMMUTABLE:
            (new_locks.add if source.name in locks else new_locks.discard)(feature.name)
    dropped = [f.label for f in old.features if f.name not in matched]
    return CarryOver(result, frozenset(new_locks), kept, dropped)


@dataclass(frozen=True)
class Snapshot:
    """One undo step: everything that defines the patient on screen."""

    variant: str
    values: np.ndarray
    locks: frozenset[str]
    banner: str
    is_example: bool
    source: PatientSource = PatientSource("example")


@dataclass
class SuggestionSettings:
    method: str = DEFAULT_METHOD
    k: int = 3
    max_changes: int | None = None
    margin: float = MARGIN_FLOOR  # replaced by the model set's validated default (`model_set.default_margin`)
    consensus: bool = True  # every model of the consensus set must cross; False: "this model only" (fragile)
    consensus_members: int = CONSENSUS_MEMBERS  # per architecture
    allow_markers: bool = False
    max_shift: float | None = DEFAULT_MAX_SHIFT  # "how big a change", percentile points; None: any size


class PatientSession:
    def __init__(self, variant: str | None = None) -> None:
        self.dataset_changed = Event()  # () schema, values and locks all replaced
        self.values_changed = Event()  # ()
        self.locks_changed = Event()  # ()
        self.banner_changed = Event()  # (text)
        self.model_changed = Event()  # ()
        self.shape_feature_changed = Event()  # () the NAM side view follows another feature
        self.settings_changed = Event()  # ()
        self.prediction_changed = Event()  # (PredictionResult)
        self.suggestions_changed = Event()  # (SuggestionResult)
        self.undo_changed = Event()  # (can undo: bool)
        self.cohort_changed = Event()  # (Cohort | None)
        self.cohort_prediction_changed = Event()  # (CohortPrediction | None)
        self.recourse_changed = Event()  # (GlobalRecourse | None)
        dataset, chosen = find_variant(variant or default_variant())
        self.variant = chosen.key
        self.schema = chosen.schema
        self.architecture = dataset.default_architecture
        self.values = self.schema.example_vector()
        self.locks = default_locks(self.schema)
        self.banner = self.schema.example_label
        self.is_example = True
        self.source = PatientSource("example")  # where the values came from, for reports and their command line
        self.highlighted: frozenset[str] = frozenset()  # features the last applied suggestion changed
        self.models_loaded = False  # the model libraries load in the worker pool after the window paints
        self.settings = SuggestionSettings()
        self.shape_feature: str | None = None
        self.cohorts: dict[str, Cohort] = {}
        self.undo_stack: list[Snapshot] = []
        self.prediction: PredictionResult | None = None
        self.suggestions: SuggestionResult | None = None
        self.cohort_prediction: CohortPrediction | None = None
        self.recourse: GlobalRecourse | None = None

    def mark_models_loaded(self) -> None:
        """The worker pool has imported the model libraries: settings that read the model set can be filled in
        (reading them earlier would import torch on the GUI thread before the window paints)."""
        self.models_loaded = True
        self.settings.margin = default_margin(self.variant)

    # ----- derived state ------------------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return model_name(self.schema, self.architecture)

    @property
    def cohort(self) -> Cohort | None:
        return self.cohorts.get(self.schema.name)

    def constraints(self) -> Constraints:
        user_locked = frozenset(n for n in self.locks if self.schema[n].mutability == Mutability.MUTABLE)
        unlocked = frozenset(f.name for f in self.schema.features if f.mutability == Mutability.LOCKABLE and f.name not in self.locks)
        return Constraints(locked=user_locked, unlocked=unlocked, max_changes=self.settings.max_changes, margin=self.settings.margin,
                           allow_markers=self.settings.allow_markers, max_shift=self.settings.max_shift)

    def answers_current(self, name: str, x: np.ndarray) -> bool:
        return name == self.model_name and len(x) == len(self.values) and bool(np.allclose(x, self.values, equal_nan=True))

    # ----- requests and results -----------------------------------------------------------------------------
    def prediction_request(self) -> tuple:
        """Arguments of `core.tabular.live.predict_and_attribute` for the state as it is now (the first two are
        `live.predict`'s)."""
        return (self.model_name, self.values.copy(), self.shape_feature)

    def suggestion_request(self) -> tuple:
        """Arguments of `core.tabular.live.suggest` for the state as it is now."""
        cohort = self.cohort
        return (self.model_name, self.values.copy(), self.constraints(), self.settings.method, self.k,
                None if cohort is None else cohort.X, self.settings.consensus, self.settings.consensus_members)

    @property
    def k(self) -> int:
        return self.settings.k if METHODS.get(self.settings.method).uses_k else 1

    def cohort_request(self) -> tuple | None:
        """Arguments of `core.tabular.recourse.predict_cohort`, or None without a cohort."""
        cohort = self.cohort
        return None if cohort is None else (self.model_name, cohort.X, cohort.y)

    def recourse_request(self) -> tuple | None:
        """Arguments of `core.tabular.recourse.global_recourse`: the same rules as the suggestions."""
        cohort = self.cohort
        return None if cohort is None else (self.model_name, cohort.X, self.constraints(), self.settings.consensus,
                                            self.settings.consensus_members)

    def _answers_cohort(self, name: str, X) -> bool:  # noqa: ANN001
        return self.cohort is not None and X is self.cohort.X and name == self.model_name

    def accept_cohort_prediction(self, result: CohortPrediction) -> bool:
        if not self._answers_cohort(result.model_name, result.x):
            return False
        self.cohort_prediction = result
        self.cohort_prediction_changed.emit(result)
        return True

    def accept_recourse(self, result: GlobalRecourse) -> bool:
        if not self._answers_cohort(result.model_name, result.x):
            return False
        self.recourse = result
        self.recourse_changed.emit(result)
        return True

    def _clear_cohort_results(self) -> None:
        self.cohort_prediction = self.recourse = None
        self.cohort_prediction_changed.emit(None)
        self.recourse_changed.emit(None)

    def accept_prediction(self, result: PredictionResult) -> bool:
        """The fast prediction (no attributions yet) or the full one; a fast one never replaces a full one that
        answers the same patient (the jobs run apart, so either may land first)."""
        if not self.answers_current(result.model_name, result.x):
            return False  # answers an older state; a newer request is on its way
        current = self.prediction
        if (result.attribution is None and current is not None and current.attribution is not None
                and self.answers_current(current.model_name, current.x)):
            return False
        self.prediction = result
        self.prediction_changed.emit(result)
        return True

    def accept_suggestions(self, result: SuggestionResult) -> bool:
        current = (result.constraints == self.constraints() and result.method == self.settings.method and result.k == self.k
                   and result.consensus == self.settings.consensus
                   and (not result.consensus or result.consensus_members == self.settings.consensus_members))
        if not (current and self.answers_current(result.model_name, result.x)):
            return False
        self.suggestions = result
        self.suggestions_changed.emit(result)
        return True

    # ----- user actions -------------------------------------------------------------------------------------
    def set_value(self, name: str, value: float) -> None:
        j = self.schema.index(name)
        feature = self.schema.features[j]
        value = float(value) if np.isnan(value) else feature.snap(float(value))
        if np.isclose(self.values[j], value, equal_nan=True):
            return
        self.values = self.values.copy()
        self.values[j] = value
        self.highlighted = frozenset()
        if self.is_example:
            self.is_example = False
            self._set_banner("Edited from the example patient (not a real person)")
        self._mark_edited()
        self.values_changed.emit()

    def set_locked(self, name: str, locked: bool) -> None:
        if self.schema[name].mutability == Mutability.IMMUTABLE or (name in self.locks) == locked:
            return
        self.locks = self.locks | {name} if locked else self.locks - {name}
        self.locks_changed.emit()

    def set_architecture(self, key: str) -> None:
        from cfx_desktop.core.tabular.models import ARCHITECTURES

        ARCHITECTURES.get(key)
        if key != self.architecture:
            self.architecture = key
            self._clear_cohort_results()
            self.model_changed.emit()

    def set_settings(self, **changes: object) -> None:
        for key, value in changes.items():
            if key == "method":
                METHODS.get(str(value))
            setattr(self.settings, key, value)
        self.settings_changed.emit()

    def set_shape_feature(self, name: str | None) -> None:
        self.shape_feature = name or None
        self.shape_feature_changed.emit()

    def set_dataset(self, variant: str) -> None:
        """Switch schema, keeping the shared features' values and locks and saying what could not be kept."""
        _, chosen = find_variant(variant)
        if chosen.key == self.variant:
            return
        self._push_undo()
        moved = carry_over(self.schema, self.values, self.locks, chosen.schema)
        dropped = f"; could not carry over {', '.join(moved.dropped)} (not in this dataset)" if moved.dropped else ""
        rest = "; the other features start at the example patient's values" if len(moved.kept) < len(chosen.schema.features) else ""
        kept = f"kept {', '.join(moved.kept)}" if moved.kept else "nothing shared"
        banner = f"Switched to {chosen.label}: {kept}{dropped}{rest}. Undo (Ctrl+Z) goes back."
        source = (PatientSource("example") if not moved.kept else
                  PatientSource("values", edited_from=f"{self.source.describe()}, carried over from {self.schema.title}"))
        self._restore(Snapshot(chosen.key, moved.values, moved.locks, banner, not moved.kept, source))

    def apply(self, index: int, description: str) -> bool:
        result = self.suggestions
        if result is None or not 0 <= index < len(result.counterfactuals):
            return False
        cf = result.counterfactuals[index]
        if cf.metrics.get("lof_outlier"):
            return False  # shown for information, never applied: the model was not trained on patients like it
        self._push_undo()
        before = self.values
        self.values = np.array([f.snap(v) if not np.isnan(v) else v for f, v in zip(self.schema.features, cf.values)])
        self.highlighted = frozenset(f.name for f, a, b in zip(self.schema.features, before, self.values) if not np.isclose(a, b, equal_nan=True))
        self.is_example = False
        self._mark_edited(f"after applying: {description}")
        self._set_banner(f"Suggestion applied: {description} (Undo restores the patient)")
        self.values_changed.emit()
        return True

    def reset_to_example(self) -> None:
        self._push_undo()
        self._restore(Snapshot(self.variant, self.schema.example_vector(), self.locks, self.schema.example_label, True))

    def set_cohort(self, cohort: Cohort) -> None:
        self.cohorts[self.schema.name] = cohort
        self._clear_cohort_results()
        self.cohort_changed.emit(cohort)

    def load_row(self, row: int) -> None:
        cohort = self.cohort
        if cohort is None or not 0 <= row < len(cohort):
            return
        values = cohort.X[row].copy()
        missing = [f.label for f, v in zip(self.schema.features, values) if np.isnan(v)]
        values = np.where(np.isnan(values), self.schema.example_vector(), values)
        note = f"; missing {', '.join(missing)} filled with the example value" if missing else ""
        source = PatientSource("csv", cohort.source, row + 1, int(cohort.lines[row]))
        if missing:
            source = PatientSource("values", edited_from=f"{source.describe()}{note}")
        self._push_undo()
        banner = f"Patient from {Path(cohort.source).name}, row {row + 1} (file line {int(cohort.lines[row])}){note}"
        self._restore(Snapshot(self.variant, values, self.locks, banner, False, source))

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        snapshot = self.undo_stack.pop()
        self._restore(Snapshot(snapshot.variant, snapshot.values, snapshot.locks, "Previous patient restored", snapshot.is_example,
                               snapshot.source))
        self.undo_changed.emit(bool(self.undo_stack))
        return True

    # ----- helpers ------------------------------------------------------------------------------------------
    def _mark_edited(self, how: str = "") -> None:
        """The form no longer holds the file's or the example's values: a report reproduces it with --values."""
        if self.source.kind != "values":
            self.source = PatientSource("values", edited_from=self.source.describe() + (f", {how}" if how else ""))
        elif how:
            self.source = PatientSource("values", edited_from=f"{self.source.edited_from}, {how}".strip(", "))

    def _push_undo(self) -> None:
        self.undo_stack.append(Snapshot(self.variant, self.values.copy(), self.locks, self.banner, self.is_example, self.source))
        self.undo_changed.emit(True)

    def _restore(self, snapshot: Snapshot) -> None:
        switched = snapshot.variant != self.variant
        if switched:
            _, chosen = find_variant(snapshot.variant)
            self.variant, self.schema = chosen.key, chosen.schema
            self.shape_feature = None
            if self.models_loaded:
                self.settings.margin = default_margin(self.variant)
        self.values = np.asarray(snapshot.values, dtype=np.float64).copy()
        self.locks = snapshot.locks
        self.is_example = snapshot.is_example
        self.source = snapshot.source
        self.highlighted = frozenset()
        self._set_banner(snapshot.banner)
        if switched:
            self._clear_cohort_results()
            self.dataset_changed.emit()
            self.cohort_changed.emit(self.cohort)
        else:
            self.locks_changed.emit()
            self.values_changed.emit()

    def _set_banner(self, text: str) -> None:
        self.banner = text
        self.banner_changed.emit(text)
