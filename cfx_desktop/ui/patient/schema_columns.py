"""The schema editor's columns and the review's words: what each column of the table means (its header tip),
the choices of its combo boxes, how an inferred feature is shown (to tell the user's edits from inference), and
the one-sentence summary of what awaits review."""

from __future__ import annotations

import html
from enum import IntEnum

from cfx_desktop.core.tabular.infer import Inference
from cfx_desktop.core.tabular.schema import Actionability, Direction, Feature, Kind, Mutability

COLUMNS = ["Use", "Column", "Kind", "Min", "Max", "Step", "Unit", "Can change", "A change means", "Direction",
           "Normal range", "Feasible change", "Tag from", "Notes"]


class Col(IntEnum):
    """Where each column of `COLUMNS` sits, by name (the table and its tests read them so)."""

    USE, NAME, KIND, MIN, MAX, STEP, UNIT, MUTABILITY, ACTIONABILITY, DIRECTION, NORMAL, FEASIBLE, TAG, NOTES = range(14)


NOTES = Col.NOTES
TIPS = ["Use the column as a feature (identifiers, free text and constant columns cannot be used)",
        "The column's name in the CSV", "binary (two values), integer, continuous, or categorical (a few named values)",
        "Lowest value the form accepts: the values seen, widened by the margin", "Highest value the form accepts",
        "How far one step of the spin box moves", "The unit shown beside the value (inference leaves it blank)",
        "mutable: suggestions may change it; lockable: locked unless the user unlocks it; immutable: never (age, sex)",
        "What a suggestion to change it would mean: actionable, a treatment target, an observational marker (kept as "
        "measured unless the user allows markers), or immutable",
        "Whether a suggestion may only raise it (increase-only), only lower it (decrease-only), only bring it toward "
        "its normal range (toward normal: never past it, and a normal value stays), or either",
        "The reference range a 'toward normal' rule aims at, e.g. 135-145 (needed by that rule); with increase-only "
        "or decrease-only, the treatment's target: a value is moved only from outside it, and never past it",
        "The largest change a treatment could bring about, in the column's unit (default: the span of the central "
        "80 % of the file's rows), or as a share of the value (33%), or both (1.3; 33%: the smaller holds); "
        "suggestions never move it further",
        "Where the tag came from: a name rule, the data, nothing (awaiting review) or your review",
        "Why a column is left out, missing values, and inference's suggestions"]
DIRECTIONS = [d.value for d in Direction]
KINDS = [k.value for k in Kind]
MUTABILITY = [m.value for m in Mutability]
ACTIONABILITY = [a.value for a in Actionability]


def as_shown(feature: Feature | None) -> dict[str, object]:
    """An inferred feature as `SchemaTable.fill` shows it, to tell the user's edits from inference."""
    if feature is None:
        return {"use": False}
    shown: dict[str, object] = {"use": True, "kind": feature.kind.value, "unit": feature.unit,
                                "mutability": feature.mutability.value, "actionability": feature.actionability.value,
                                "direction": feature.direction.value}
    if feature.kind in (Kind.INTEGER, Kind.CONTINUOUS):
        shown.update(min=f"{feature.min:g}", max=f"{feature.max:g}", step=f"{feature.step:g}",
                     feasible_change=feature.feasible_text(), normal_range=normal_text(feature))
    return shown


def normal_text(feature: Feature) -> str:
    """A normal range as the table writes it ("135-145"; empty when none)."""
    return "" if feature.normal_range is None else f"{feature.normal_range[0]:g}-{feature.normal_range[1]:g}"


def review_summary(inference: Inference) -> str:
    """What the review is about, in one sentence: which columns suggestions may change and by which rule, and
    how many no rule knows (kept as measured until the user decides)."""
    features = inference.schema.features
    changeable = [f.name for f in features if f.mutability == Mutability.MUTABLE and f.actionability != Actionability.MARKER]
    unknown = [f.name for f in features if f.tag_source.startswith("none")]
    text = (f"<b>Review:</b> suggestions may change {', '.join(map(html.escape, changeable)) or 'nothing yet'} "
            "(by name rules)")
    if unknown:
        text += (f"; {len(unknown)} column(s) no rule knows ({', '.join(map(html.escape, unknown[:6]))}"
                 f"{', ...' if len(unknown) > 6 else ''}) stay as measured until you set 'A change means'")
    if inference.left_out:
        text += (f"; left out as known only after the outcome: {', '.join(map(html.escape, inference.left_out))} "
                 "(tick Use if known when predicting)")
    return text + "."
