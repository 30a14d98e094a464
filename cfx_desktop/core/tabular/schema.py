"""Feature schemas: what each clinical input is, its unit, its plausible range and whether it may change.

Why this carries so much: the form, the CSV validator, the models' preprocessing and the counterfactual
constraints all read the same `Feature`, so a range or an immutability rule is stated once. Patients are plain
dicts of clinical values (categorical and labelled binary features by their code, e.g. ``"ATA"`` or ``"M"``);
models and search work on float vectors in schema order with categories as indices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Mapping

import numpy as np


class Kind(str, Enum):
    BINARY = "binary"
    INTEGER = "integer"
    CONTINUOUS = "continuous"
    CATEGORICAL = "categorical"


class Mutability(str, Enum):
    IMMUTABLE = "immutable"  # never changed by a counterfactual and cannot be unlocked (age, sex)
    MUTABLE = "mutable"  # may change; the user can lock it
    LOCKABLE = "lockable"  # could change but is locked by default (a diagnosis, follow-up time); the user may unlock


class Actionability(str, Enum):
    """What a suggestion to change a feature would mean clinically (decided per feature, with a reason)."""

    IMMUTABLE = "immutable"  # never changes (age, sex)
    ACTIONABLE = "actionable"  # the patient can change it directly (smoking)
    TREATMENT_TARGET = "treatment target"  # treatment aims at a value of it (ejection fraction, creatinine)
    MARKER = "observational marker"  # a reading or diagnosis nobody treats toward a value (CPK, platelets)


class Direction(str, Enum):
    ANY = "any"
    INCREASE = "increase-only"
    DECREASE = "decrease-only"
    TOWARD_NORMAL = "toward normal"  # treated toward its normal range, never past it; a normal value is no target


class SchemaError(ValueError):
    """A value does not fit its feature (unknown category, outside the clinical range, not a number)."""


YES_NO = ({"n", "no", "0", "false", "absent", "negative"}, {"y", "yes", "1", "true", "present", "positive"})


def in_sentence(label: str) -> str:
    """A label inside a sentence: its first letter in lower case, unless it starts an abbreviation ("BMI",
    "LDL cholesterol", "ST slope"), which ``str.lower`` turned into "bmi moves 23 percentile points"."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    kind: Kind
    min: float = 0.0
    max: float = 1.0
    unit: str = ""
    step: float = 1.0
    decimals: int = 0
    mutability: Mutability = Mutability.MUTABLE
    direction: Direction = Direction.ANY
    description: str = ""
    categories: tuple[str, ...] = ()  # categorical codes, or (label for 0, label for 1) of a labelled binary
    category_labels: tuple[str, ...] = ()  # the codes in words, same order ("ASY" -> "asymptomatic"); shown, never stored
    zero_is_missing: bool = False  # e.g. Cholesterol 0 in heart.csv means "not measured"
    actionability: Actionability = Actionability.ACTIONABLE
    actionability_note: str = ""  # why, with a source where there is one
    precision: float = 0.0  # measurement noise (one standard deviation, in the feature's unit); 0 = exact
    precision_note: str = ""  # where the figure comes from
    feasible_change: float = 0.0  # largest change a treatment could bring about, in the unit; 0 = the data's default
    # largest change as a share of the present value (0.5: half of it); 0 = none. Why a share: a concentration
    # such as creatinine changes in proportion (a recovery from 3.0 to 2.0 is as large as one from 1.5 to 1.0)
    feasible_share: float = 0.0
    feasible_note: str = ""  # why that figure
    tag_source: str = ""  # where mutability/actionability came from: "name rule: ...", "data: ...", "review", "none: ..."
    # the reference range a "toward normal" rule aims at, in the unit; with increase-only (decrease-only) it is the
    # treatment's target: a value below (above) it may rise (fall) into it, never past it, and one in it is no target
    normal_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.direction == Direction.TOWARD_NORMAL:
            if self.normal_range is None:
                raise SchemaError(f"{self.name}: 'toward normal' needs a normal range")
            if self.kind not in (Kind.INTEGER, Kind.CONTINUOUS):
                raise SchemaError(f"{self.name}: only a number can move toward a normal range")
        if self.normal_range is not None and not self.normal_range[0] < self.normal_range[1]:
            raise SchemaError(f"{self.name}: the normal range {self.normal_range[0]:g} to {self.normal_range[1]:g} is empty")
        if not 0.0 <= self.feasible_share < 1.0:
            raise SchemaError(f"{self.name}: a feasible change as a share of the value must lie in [0 %, 100 %)")

    def feasible_reach(self, value: float, absolute: float) -> float:
        """The feasible change at ``value``: the absolute one (the schema's, or the data's default passed in as
        ``absolute``), narrowed by the share of the value where the schema sets one."""
        if self.feasible_share > 0 and math.isfinite(value):
            return min(absolute, self.feasible_share * abs(value))
        return absolute

    def describe_feasible(self) -> str:
        """The schema's feasible change in words ("at most 15 %", "at most 33% of its value"; "" when the data
        decides), for the form's tooltips."""
        unit = f" {self.unit}" if self.unit else ""
        parts = [f"{self.format(self.feasible_change)}{unit}"] if self.feasible_change > 0 else []
        if self.feasible_share > 0:
            parts.append(f"{self.feasible_share:.0%} of its value")
        return f"at most {' and at most '.join(parts)}" if parts else ""

    def feasible_text(self) -> str:
        """The schema's feasible change as the editor writes it: "15", "33%", "1.3; 33%" ("" when the data decides)."""
        parts = [f"{self.feasible_change:g}"] if self.feasible_change > 0 else []
        if self.feasible_share > 0:
            parts.append(f"{self.feasible_share * 100:.0f}%")
        return "; ".join(parts)

    def direction_bounds(self, value: float, direction: Direction) -> tuple[float, float]:
        """Where a suggestion may take ``value`` under a direction rule (before the clinical range and locks).

        Why "toward normal" stops at the range's far edge and holds a normal value: a treatment corrects a low
        sodium toward 135-145 mEq/L, it never raises a normal sodium or overshoots into hypernatraemia, so moving
        an ordinary value would describe the model, not a treatment."""
        target = self.target_range(direction)
        if direction == Direction.INCREASE:
            if target is not None:  # e.g. a reduced ejection fraction rises toward 50-70 %; 55 % is no target
                return (value, value) if value >= target[0] else (value, target[1])
            return value, math.inf
        if direction == Direction.DECREASE:
            if target is not None:  # e.g. a raised blood pressure falls toward 120-130; 125 is no target
                return (value, value) if value <= target[1] else (target[0], value)
            return -math.inf, value
        if direction == Direction.TOWARD_NORMAL and self.normal_range is not None:
            low, high = self.normal_range
            if value < low:
                return value, high
            if value > high:
                return low, value
            return value, value
        return -math.inf, math.inf

    def target_range(self, direction: Direction) -> tuple[float, float] | None:
        """The normal range as a one-way rule's treatment target: only in the schema's own increase-only or
        decrease-only direction; a risk what-if, which runs the rule the other way (deterioration), is not bounded."""
        if direction == self.direction and direction in (Direction.INCREASE, Direction.DECREASE):
            return self.normal_range
        return None

    def describe_direction(self, direction: Direction | None = None) -> str:
        """The rule in words, for tooltips and messages ("moves only toward 135-145 mEq/L")."""
        direction = self.direction if direction is None else direction
        unit = f" {self.unit}" if self.unit else ""
        if direction == Direction.TOWARD_NORMAL and self.normal_range is not None:
            return f"moves only toward its normal range {self.normal_range[0]:g}-{self.normal_range[1]:g}{unit}"
        target = self.target_range(direction)
        if target is not None:
            low, high = target
            return (f"may only increase, while below its target range {low:g}-{high:g}{unit}, and at most to {high:g}"
                    if direction == Direction.INCREASE else
                    f"may only decrease, while above its target range {low:g}-{high:g}{unit}, and at least to {low:g}")
        return {Direction.INCREASE: "may only increase", Direction.DECREASE: "may only decrease"}.get(direction, "may move either way")

    @property
    def in_sentence(self) -> str:
        """The label inside a sentence (`in_sentence`): "serum creatinine", but "BMI" and "LDL" as written."""
        return in_sentence(self.label)

    @property
    def concept(self) -> str:
        """The name with case and punctuation folded ("Age" and "age" are one concept), so a patient's shared
        findings can be carried from one dataset's schema to another's."""
        return "".join(c for c in self.name.lower() if c.isalnum())

    @property
    def is_finding(self) -> bool:
        """A yes/no finding: an unlabelled binary, or one labelled no/yes (``("N", "Y")``)."""
        if self.kind != Kind.BINARY:
            return False
        return not self.categories or (self.categories[0].lower() in YES_NO[0] and self.categories[1].lower() in YES_NO[1])

    @property
    def is_discrete(self) -> bool:
        return self.kind in (Kind.BINARY, Kind.CATEGORICAL, Kind.INTEGER)

    @property
    def n_levels(self) -> int:
        if self.kind == Kind.CATEGORICAL:
            return len(self.categories)
        return 2 if self.kind == Kind.BINARY else 0

    def encode(self, value: Any) -> float:
        """A clinical value (number or code) -> the float used in vectors; raises `SchemaError`."""
        if self.kind == Kind.CATEGORICAL or (self.kind == Kind.BINARY and self.categories):
            text = str(value).strip()
            if text in self.categories:
                return float(self.categories.index(text))
            if self.kind == Kind.BINARY and text in {"0", "1", "0.0", "1.0"}:
                return float(int(float(text)))
            if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer() and 0 <= value < self.n_levels:
                return float(value)
            raise SchemaError(f"{self.name}: {value!r} is not one of {', '.join(self.categories)}")
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{self.name}: {value!r} is not a number") from exc
        if math.isnan(number) or math.isinf(number):
            raise SchemaError(f"{self.name}: value is missing (NaN)")
        if self.kind == Kind.BINARY and number not in (0.0, 1.0):
            raise SchemaError(f"{self.name}: {value!r} must be 0 or 1")
        return number

    def check_range(self, number: float) -> None:
        if self.kind == Kind.CATEGORICAL:
            if not (0 <= number < self.n_levels and float(number).is_integer()):
                raise SchemaError(f"{self.name}: category index {number} out of range")
            return
        if number < self.min or number > self.max:
            unit = f" {self.unit}" if self.unit else ""
            raise SchemaError(
                f"{self.name}: {self.format(number)}{unit} is outside the clinical range "
                f"{self.format(self.min)}-{self.format(self.max)}{unit}"
            )

    def decode(self, number: float) -> Any:
        """Vector float -> clinical value for display and JSON (codes for categorical/labelled binary).

        NaN (a declared-missing value such as an unmeasured cholesterol) decodes to None."""
        if math.isnan(number):
            return None
        if self.kind == Kind.CATEGORICAL or (self.kind == Kind.BINARY and self.categories):
            return self.categories[int(round(number))]
        if self.kind in (Kind.BINARY, Kind.INTEGER):
            return int(round(number))
        return round(float(number), self.decimals)

    def format(self, number: float) -> str:
        value = self.decode(number)
        if value is None:
            return "missing"
        if isinstance(value, float):
            return f"{value:.{self.decimals}f}"
        return str(value)

    def display(self, number: float, with_unit: bool = False) -> str:
        """The value as a reader wants it: "yes"/"no" for an unlabelled finding, the category's name, numbers with
        thousands separators ("262,000"), "missing" for NaN; `format` stays the form's and the CSV's spelling."""
        value = self.decode(number)
        if value is None:
            return "missing"
        if self.kind == Kind.BINARY and (not self.categories or self.is_finding):
            return "yes" if int(round(number)) else "no"
        if isinstance(value, str):
            index = int(round(number))
            return self.category_labels[index] if index < len(self.category_labels) else value
        text = f"{value:,.{self.decimals}f}" if isinstance(value, float) else f"{value:,}"
        return f"{text} {self.unit}" if with_unit and self.unit else text

    def snap(self, number: float) -> float:
        """Nearest value the form can hold: clipped to the range, rounded to the kind's grid."""
        if self.kind == Kind.CATEGORICAL:
            return float(min(max(round(number), 0), self.n_levels - 1))
        number = min(max(number, self.min), self.max)
        if self.kind == Kind.BINARY:
            return float(number >= 0.5)
        if self.kind == Kind.INTEGER:
            return float(round(number))
        return round(number, self.decimals)


@dataclass(frozen=True)
class Schema:
    name: str
    title: str
    features: tuple[Feature, ...]
    target: str
    target_label: str  # what probability 1 means, in words
    outcome_words: tuple[str, str]  # (favourable, unfavourable) class names for the UI
    example: Mapping[str, Any] = field(default_factory=dict)
    example_label: str = ""
    ignored: tuple[str, ...] = ()  # columns a CSV may carry that this schema deliberately leaves out
    target_values: tuple[str, str] = ()  # (negative, positive) as written in the file, when not 0 / 1
    # user datasets: what inference decided about reading the file, so every later read agrees with it
    missing_allowed: bool = False  # empty cells are missing: a feature's is imputed, a row without outcome is not trained on
    delimiter: str = ","  # the file's column separator
    reviewed: bool = True  # False for an inferred schema nobody has confirmed (its tags are only proposals)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def __getitem__(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def without(self, *names: str) -> Schema:
        """The same schema minus some features (e.g. the follow-up ``time``)."""
        keep = tuple(f for f in self.features if f.name not in names)
        example = {k: v for k, v in self.example.items() if k not in names}
        suffix = "-no-" + "-".join(names)
        return replace(self, name=self.name + suffix, features=keep, example=example, ignored=self.ignored + names)

    def to_vector(self, patient: Mapping[str, Any], check_range: bool = True) -> np.ndarray:
        missing = [n for n in self.names if n not in patient]
        if missing:
            raise SchemaError(f"missing value for {', '.join(missing)}")
        values = []
        for feature in self.features:
            number = feature.encode(patient[feature.name])
            if check_range:
                feature.check_range(number)
            values.append(number)
        return np.asarray(values, dtype=np.float64)

    def to_patient(self, vector: np.ndarray) -> dict[str, Any]:
        return {f.name: f.decode(float(v)) for f, v in zip(self.features, vector)}

    def example_vector(self) -> np.ndarray:
        return self.to_vector(self.example)

    def with_annotations(self, notes: Mapping[str, Mapping[str, Any]]) -> Schema:
        """The same schema with per-feature annotations (actionability, precision) filled in by name."""
        unknown = sorted(set(notes) - set(self.names))
        if unknown:
            raise SchemaError(f"annotations for unknown feature(s) {', '.join(unknown)}")
        return replace(self, features=tuple(replace(f, **notes.get(f.name, {})) for f in self.features))


def parse_feasible(text: str) -> tuple[float, float]:
    """A feasible change as typed ("15", "33%", "1.3; 33%") -> (absolute change, share of the value); raises
    ValueError on anything else."""
    tokens = [t.strip() for t in text.split(";") if t.strip()]
    shares = [float(t[:-1]) / 100.0 for t in tokens if t.endswith("%")]
    units = [float(t) for t in tokens if not t.endswith("%")]  # "1,3" is refused here, never read as 1 and 3
    if len(shares) > 1 or len(units) > 1:
        raise ValueError(f"{text!r}: at most one change in the unit and one share")
    absolute, share = (units or [0.0])[0], (shares or [0.0])[0]
    if not absolute >= 0 or not 0 <= share < 1:
        raise ValueError(f"{text!r}: a feasible change is a number >= 0 and/or a share below 100 %")
    return absolute, share


def binary_feature(name: str, label: str, description: str, **kw: Any) -> Feature:
    """A yes/no finding stored as 0/1."""
    return Feature(name, label, Kind.BINARY, 0, 1, description=description, **kw)
