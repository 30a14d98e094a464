"""What a column's name says about it: whether a change of it is possible, what such a change means, and which
way treatment or a healthier habit moves it (`NAME_RULES`, `tags`), read as words, camel case included.

One reading of names for every rule that looks at them (the tags here, the target ranges in `reference_ranges`), so
a column is never one thing to one rule and another to the next. Schema inference (`infer`) asks these first and
falls back on what the data look like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cfx_desktop.core.tabular.schema import Actionability, Direction, Kind, Mutability


def word_starts(*words: str) -> re.Pattern[str]:
    """Any of ``words`` as a whole word of the name or as its start ("glu" finds "glucose"); regular expressions
    are allowed (``bp(?!m)``: a blood pressure, not beats per minute)."""
    return re.compile(r"(^|[^a-z])(" + "|".join(words) + r")", re.I)


def as_words(name: str) -> str:
    """``name`` with its camel case split ("RestingBP" -> "Resting_BP"), for `word_starts` patterns to search."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)


IMMUTABLE_NAMES = re.compile(r"(^|[^a-z])(age|sex|gender|race|ethnic\w*|birth\w*|height|dob)([^a-z]|$)", re.I)


@dataclass(frozen=True)
class NameRule:
    """What a column's name says about changing it. The first rule whose pattern matches decides; ``why`` is
    shown in the schema editor as the tag's source. ``direction`` is the way treatment or a healthier habit moves
    such a value: without it, an unreviewed schema let the search propose "start smoking" or "raise LDL" wherever a
    model happened to reward it, which reads as advice to get worse."""

    pattern: re.Pattern[str]
    mutability: Mutability
    actionability: Actionability
    why: str
    direction: Direction = Direction.ANY  # said after ``why`` in the tag's source ("...: decrease-only")
    leaks: bool = False  # known only after the outcome: proposed as left out (the user may tick it back in)


NAME_RULES = (
    NameRule(IMMUTABLE_NAMES, Mutability.IMMUTABLE, Actionability.IMMUTABLE, "a characteristic nobody changes (age, sex, ...)"),
    NameRule(word_starts("preg", "npreg", "parity", "gravid"), Mutability.IMMUTABLE, Actionability.IMMUTABLE,
             "a history (pregnancies) that cannot be undone"),
    NameRule(word_starts("ped", "pedigree", "dpf", "famil", "hered", "genet"), Mutability.IMMUTABLE, Actionability.IMMUTABLE,
             "a family-history or genetic score"),
    NameRule(word_starts("stage", "grade", "histolog", "diagnos", "class", "type", "drug", "treat", "arm", "group"),
             Mutability.LOCKABLE, Actionability.MARKER, "a stage, diagnosis or treatment arm: locked unless unlocked"),
    # a finding named after what provoked it ("ExerciseAngina") is no habit: before the habits
    NameRule(word_starts("angina", "pain", "ecg", "ekg", "slope", "symptom"), Mutability.LOCKABLE, Actionability.MARKER,
             "a finding or symptom: locked until you review it"),
    # the habits before the follow-up rule: "smoking_status" is a habit, not a survival status
    NameRule(word_starts("smok", "alcohol", "drink", "tobacco", "cigar"), Mutability.MUTABLE, Actionability.ACTIONABLE,
             "a habit the patient can cut down", Direction.DECREASE),
    NameRule(word_starts("exercis", "activity", "physical", "steps"), Mutability.MUTABLE, Actionability.ACTIONABLE,
             "a habit the patient can take up", Direction.INCREASE),
    NameRule(word_starts("diet"), Mutability.MUTABLE, Actionability.ACTIONABLE, "a behaviour the patient can change"),
    NameRule(word_starts("time", "day", "n_days", "duration", "follow", "year", "date", "month", "week", "status"),
             Mutability.LOCKABLE, Actionability.MARKER, "a time or follow-up, known only afterwards: locked", leaks=True),
    # before the treatment targets: "creatinine_phosphokinase" (creatine kinase, a muscle enzyme) is no creatinine
    NameRule(word_starts("cpk", "phosphokinase", "kinase", "troponin", "platelet"), Mutability.MUTABLE, Actionability.MARKER,
             "a laboratory marker (an enzyme, platelets) no treatment aims at: kept as measured until you review it"),
    # the specific names first: HbA1c spelled out ("hemoglobin_a1c") and non-HDL cholesterol are lowered, HDL
    # ("hdl_cholesterol") raised, before the words haemoglobin and cholesterol decide
    NameRule(word_starts("hba1c", "a1c", "glycat", "glycosyl", "non_?hdl", "nonhdl"), Mutability.MUTABLE,
             Actionability.TREATMENT_TARGET, "a treatment target that treatment lowers (HbA1c, non-HDL cholesterol)",
             Direction.DECREASE),
    NameRule(word_starts("hdl", "ejection", "lvef", "haemoglobin", "hemoglobin"), Mutability.MUTABLE, Actionability.TREATMENT_TARGET,
             "a treatment target that treatment raises (HDL, ejection fraction, haemoglobin)", Direction.INCREASE),
    NameRule(word_starts("glu", "bmi", "weight", "chol", "ldl", "trig", "tryg", r"bp(?!m)", "sbp", "dbp", "trestbps", "ap_hi",
                    "ap_lo", "systolic", "diastolic", "pressure", "creatinine"),
             Mutability.MUTABLE, Actionability.TREATMENT_TARGET,
             "a treatment target that treatment lowers (glucose, BMI, lipids, blood pressure, ...)", Direction.DECREASE),
    NameRule(word_starts("sodium", "potassium"), Mutability.MUTABLE, Actionability.TREATMENT_TARGET,
             "a treatment target corrected toward its normal range (sodium, potassium)"),
)

# two words whose alphabetical order is absent -> present, so a direction rule means the same as on 0 / 1
YES_NO = {("no", "yes"), ("n", "y"), ("false", "true"), ("absent", "present"), ("negative", "positive")}
ORDINAL_LEVELS = 6  # an integer column with at most this many values (and more than two) reads as a grade or score


def first_rule(name: str) -> NameRule | None:
    """The name rule that decides a column, if any ("RestingBP" is read as "Resting_BP": camel case has words too)."""
    words = as_words(name)
    return next((rule for rule in NAME_RULES if rule.pattern.search(words)), None)


LEFT_OUT = ("a time or follow-up, known only after the outcome: left out, so that the models do not learn the outcome "
            "from how long a patient was followed; tick Use in the schema editor if it is known when the prediction "
            "is made")


def tags(name: str, kind: Kind, distinct: int, ordered: bool = True) -> tuple[Mutability, Actionability, str, Direction]:
    """(mutability, actionability, where the tag came from, direction) of a column. Nothing is changeable unless
    a name rule says so: a column no rule knows is kept as measured (an observational marker, which suggestions
    change only when the user allows markers) or locked, and says that it awaits review. A yes/no column that a
    treatment-target rule names ("high_blood_pressure") is a diagnosis: treatment controls it, it does not take it
    away, so it is locked like any finding. ``ordered``: whether the column's values have an order a direction
    can follow (numbers, or yes / no words); a rule's direction on words such as "current", "never" would follow
    their alphabetical order, so such a column is locked until the user says which way it may change."""
    rule = first_rule(name)
    if rule is not None:
        if kind == Kind.BINARY and rule.actionability == Actionability.TREATMENT_TARGET:
            return (Mutability.LOCKABLE, Actionability.MARKER,
                    "name rule and data: a yes/no diagnosis of a treatment target (treatment controls it, it does "
                    "not take it away); locked until you review it", Direction.ANY)
        if rule.direction == Direction.ANY:
            return rule.mutability, rule.actionability, f"name rule: {rule.why}", Direction.ANY
        if not ordered:
            return (Mutability.LOCKABLE, rule.actionability, f"name rule: {rule.why}; its values are words, whose order "
                    "says nothing: locked until you set which way it may change", Direction.ANY)
        return rule.mutability, rule.actionability, f"name rule: {rule.why}: {rule.direction.value}", rule.direction
    if kind in (Kind.BINARY, Kind.CATEGORICAL):
        return Mutability.LOCKABLE, Actionability.MARKER, "data: a finding or category; locked until you review it", Direction.ANY
    if kind == Kind.INTEGER and distinct <= ORDINAL_LEVELS:
        return (Mutability.LOCKABLE, Actionability.MARKER,
                f"data: {distinct} whole-number levels, like a grade or score; locked until you review it", Direction.ANY)
    return (Mutability.MUTABLE, Actionability.MARKER, "none: no rule knows this column; kept as measured (a marker) until "
            "you review it", Direction.ANY)
