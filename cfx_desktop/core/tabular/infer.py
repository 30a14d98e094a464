"""A first schema for the user's own CSV, inferred from its columns; the user edits it before anything trains.

Inference only proposes: a kind per column (binary, integer, continuous, categorical), a range with a margin
around what was seen, a step, and which columns to leave out and why (constant, identifier, free text, empty, a
follow-up time); what a change of each means and which way it may go, from its name
(`column_names.NAME_RULES`); for a treatment target, the range treatment aims at and its unit, and zeros that mean
"not measured", from its values (`reference_ranges`). Each proposal says where it came from; the user decides everything in the schema editor (or
by editing the JSON that `cfx-desktop schema infer` prints). Problems that make the file unusable as it is (no
such outcome column, an outcome with three classes, too few rows) are errors that say what to do.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cfx_desktop.core.tabular.column_names import LEFT_OUT, YES_NO, first_rule, tags
from cfx_desktop.core.tabular.data import MISSING_CELLS as MISSING
from cfx_desktop.core.tabular.reference_ranges import analyte_of, with_target_range, zero_means_unmeasured
from cfx_desktop.core.tabular.schema import Actionability, Direction, Feature, Kind, Mutability, Schema, parse_feasible

MAX_BYTES = 200_000_000
MAX_CATEGORIES = 12
MIN_PER_CLASS = 10
def feasible_default(numbers: np.ndarray, decimals: int, integral: bool) -> tuple[float, str]:
    """The span of the central 80 % of the column (`counterfactuals.feasibility.DEFAULT_RULE`), on its grid."""
    q10, q90 = np.percentile(numbers, [10, 90])
    spread = float(q90 - q10)
    if spread <= 0:
        low, high = float(numbers.min()), float(numbers.max())
        spread, what = high - low, f"the whole range of the file's rows ({low:g}-{high:g})"
    else:
        what = f"the central 80 % of the file's rows ({q10:g}-{q90:g})"
    spread = float(max(1, round(spread))) if integral else round(spread, decimals)
    return spread, f"data: {what}; edit it to what a treatment can achieve"
ID_NAMES = re.compile(r"(^|[^a-z])(id|identifier|key|record|patient|subject|mrn|uuid|index|no)([^a-z]|$)", re.I)


class InferenceError(ValueError):
    """The file cannot become a dataset as it is; the message says why and what to do."""


@dataclass(frozen=True)
class ColumnReport:
    name: str
    role: str  # "feature", "target" or "excluded"
    kind: str  # the inferred kind, or what the column looked like ("free text", "identifier", ...)
    reason: str  # why it was excluded, or notes for a feature (missing values, a wide range)
    missing: float  # share of rows without a value
    distinct: int


@dataclass
class Inference:
    schema: Schema
    columns: list[ColumnReport]
    rows: int
    class_counts: dict[str, int]
    notes: list[str] = field(default_factory=list)
    # columns that could be features but are proposed as left out (a follow-up time), with their typical values:
    # ticking Use in the editor (or "use": true) takes them back in
    left_out: dict[str, Feature] = field(default_factory=dict)
    left_out_example: dict[str, object] = field(default_factory=dict)

    @property
    def offered(self) -> dict[str, Feature]:
        """Every column that can be a feature, by name: the proposed ones and the ones proposed as left out."""
        return {**self.left_out, **{f.name: f for f in self.schema.features}}

    @property
    def excluded(self) -> list[ColumnReport]:
        return [c for c in self.columns if c.role == "excluded"]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "dataset"


def label_of(column: str) -> str:
    """The column's name as words: "DiabetesPedigreeFunction" -> "Diabetes pedigree function", "serum_sodium" ->
    "Serum sodium", "RestingBP" -> "Resting BP" (abbreviations keep their capitals). Camel case is split only after
    a part of three letters or more, so that a term such as "HbA1c" or "eGFR" stays whole."""
    words = re.sub(r"[_\s]+", " ", re.sub(r"(?<=[A-Za-z][a-z0-9]{2})(?=[A-Z])", " ", column)).split()
    if not words:
        return column
    words = [words[0]] + [w if w[:2].isupper() else w.lower() for w in words[1:]]
    text = " ".join(words)
    return text if any(c.isupper() for c in words[0][1:]) else text[:1].upper() + text[1:]  # "eGFR", "pH" as written


@dataclass(frozen=True)
class Table:
    """A CSV as text cells; ``delimiter`` goes into the schema so that training reads the file the same way."""

    header: list[str]
    body: list[list[str]]
    delimiter: str


def read_table(path: Path) -> Table:
    """Header and rows as text, the separator sniffed (comma, semicolon, tab); raises `InferenceError`."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InferenceError(f"{path.name} is {size // 1_000_000} MB; at most {MAX_BYTES // 1_000_000} MB can be read")
        raw = path.read_bytes()
    except OSError as exc:
        raise InferenceError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InferenceError(f"{path.name} is not UTF-8 text; save it as CSV (UTF-8) from the spreadsheet") from None
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise InferenceError(f"{path.name} has no data rows under its header")
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise InferenceError(f"{path.name} has one column only; columns must be separated by commas, semicolons or tabs")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise InferenceError(f"{path.name}: column name(s) {', '.join(duplicates)} appear twice in the header")
    body = [r for r in rows[1:]]
    ragged = [i + 2 for i, r in enumerate(body) if len(r) != len(header)]
    if ragged:
        raise InferenceError(f"{path.name}: {len(ragged)} row(s) do not have {len(header)} cells, the first on line {ragged[0]}")
    return Table(header, body, delimiter)


def _numbers(cells: list[str]) -> np.ndarray | None:
    try:
        return np.array([float(c) for c in cells], dtype=np.float64)
    except ValueError:
        return None


def _decimals(cells: list[str]) -> int:
    most = 0
    for c in cells[:5000]:
        if "." in c and "e" not in c.lower():
            most = max(most, len(c.split(".", 1)[1].rstrip("0")))
    return min(most, 3)


def _nice_step(span: float, decimals: int, integer: bool) -> float:
    if integer:
        return float(max(1, 10 ** max(0, int(math.log10(span / 200)) if span > 200 else 0)))
    step = 10.0 ** -decimals
    while span / step > 5000:
        step *= 10
    return step


def _feature(name: str, cells: list[str], margin: float) -> tuple[Feature | None, str, str]:
    """(feature or None, kind seen, reason or note)."""
    values = sorted(set(cells))
    numbers = _numbers(cells)

    def common(kind: Kind, extra: dict[str, object] | None = None) -> dict[str, object]:
        ordered = numbers is not None or tuple(v.lower() for v in values) in YES_NO  # values are sorted
        mutability, actionability, source, direction = tags(name, kind, len(values), ordered)
        return {"label": label_of(name), "mutability": mutability, "actionability": actionability, "tag_source": source,
                "direction": direction, "description": f"{label_of(name)} (from the CSV column {name!r})", **(extra or {})}

    note = ""
    if len(values) == 1:
        return None, "constant", f"the same value ({values[0]}) in every row: it cannot explain anything"
    if numbers is not None:
        distinct = np.unique(numbers)
        if set(distinct) <= {0.0, 1.0}:
            return Feature(name, kind=Kind.BINARY, min=0, max=1, **common(Kind.BINARY)), "binary", note
        integral = bool(np.all(np.equal(np.mod(numbers, 1), 0)))
        unique_rows = len(distinct) == len(numbers)
        if integral and unique_rows and (ID_NAMES.search(name) or np.all(np.diff(numbers) > 0)):
            return None, "identifier", "a different whole number in every row, like a record number: an identifier tells the model nothing about the patient"
        lo, hi = float(numbers.min()), float(numbers.max())
        span = hi - lo
        decimals = 0 if integral else max(_decimals(cells), 1)
        low, high = lo - margin * span, hi + margin * span
        if lo >= 0:
            low = max(low, 0.0)
        if integral:
            low, high = math.floor(low), math.ceil(high)
        else:
            low, high = round(low, decimals), round(high, decimals)
        kind = Kind.INTEGER if integral else Kind.CONTINUOUS
        step = _nice_step(span, decimals, integral)
        wide = f"; values span {lo:g} to {hi:g}" if span > 0 else ""
        reach, reach_note = feasible_default(numbers, decimals, integral)
        feature = Feature(name, kind=kind, min=low, max=high, step=step, decimals=decimals,
                          **common(kind, {"feasible_change": reach, "feasible_note": reach_note}))
        return (with_target_range(feature, numbers), kind.value,
                "; ".join(x for x in (note, f"range = seen values +- {margin:.0%}{wide}") if x))
    if len(values) == len(cells) and (ID_NAMES.search(name) or len(values) > MAX_CATEGORIES):
        return None, "identifier", "a different text in every row: an identifier or free text tells the model nothing it can generalise"
    if len(values) == 2:
        return Feature(name, kind=Kind.BINARY, min=0, max=1, categories=tuple(values), **common(Kind.BINARY)), "binary", note
    if len(values) <= MAX_CATEGORIES:
        return (Feature(name, kind=Kind.CATEGORICAL, min=0, max=len(values) - 1, categories=tuple(values),
                        **common(Kind.CATEGORICAL)),
                "categorical", note)
    return None, "free text", (f"{len(values)} different texts: the models take numbers or up to {MAX_CATEGORIES} "
                               "categories; turn it into one of those in the file, or leave it out")


def infer_schema(path: str | Path, target: str, name: str | None = None, margin: float = 0.1,
                 positive: str | None = None, table: Table | None = None) -> Inference:
    """``table``: the file already read (the schema editor re-infers on every change without reading it again)."""
    path = Path(path)
    table = table or read_table(path)
    header, body = table.header, table.body
    if target not in header:
        raise InferenceError(f"{path.name} has no column {target!r}; its columns are {', '.join(header)}")
    t = header.index(target)
    outcome = [r[t].strip() for r in body]
    labelled = [i for i, v in enumerate(outcome) if v.lower() not in MISSING]
    classes = sorted({outcome[i] for i in labelled})
    if len(classes) < 2:
        raise InferenceError(f"the outcome {target!r} has only one class ({', '.join(classes) or 'no values'}); "
                             "a model needs examples of both outcomes")
    if len(classes) > 2:
        shown = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
        raise InferenceError(f"the outcome {target!r} has {len(classes)} classes ({shown}); the app explains yes/no "
                             "outcomes: choose another column, or merge the classes into two in the file")
    counts = {c: sum(outcome[i] == c for i in labelled) for c in classes}
    if min(counts.values()) < MIN_PER_CLASS:
        raise InferenceError(f"too few rows: the outcome {target!r} has {counts} and each class needs at least "
                             f"{MIN_PER_CLASS} to train and validate a model")
    zero_one = set(classes) <= {"0", "1", "0.0", "1.0"}
    if positive is None:
        positive = ("1" if "1" in classes else "1.0") if zero_one else min(classes, key=lambda c: (counts[c], c))
    if positive not in classes:
        raise InferenceError(f"positive class {positive!r} is not one of the outcome's values ({', '.join(classes)})")
    negative = next(c for c in classes if c != positive)
    rows = [body[i] for i in labelled]
    dropped_outcome = len(body) - len(rows)
    features, reports, notes = [], [], []
    left_out: dict[str, Feature] = {}
    for j, column in enumerate(header):
        if j == t:
            reports.append(ColumnReport(column, "target", "binary", f"positive class {positive!r}", dropped_outcome / len(body), 2))
            continue
        cells = [r[j].strip() for r in rows]
        present = [c for c in cells if c.lower() not in MISSING]
        unmeasured = _unmeasured_zeros(column, present)
        if unmeasured:
            present = [c for c in present if c not in unmeasured.cells]
        missing = 1 - len(present) / len(cells)
        if not present:
            reports.append(ColumnReport(column, "excluded", "empty", "no values at all", 1.0, 0))
            continue
        feature, kind, reason = _feature(column, present, margin)
        if feature is not None and unmeasured:
            feature = replace(feature, zero_is_missing=True)
            reason = "; ".join(x for x in (reason, unmeasured.note) if x)
        distinct = len(set(present))
        if feature is None:
            reports.append(ColumnReport(column, "excluded", kind, reason, missing, distinct))
            continue
        rule = first_rule(column)
        if rule is not None and rule.leaks:
            left_out[column] = feature
            reports.append(ColumnReport(column, "excluded", kind, LEFT_OUT, missing, distinct))
            continue
        if missing > 0:
            reason = "; ".join(x for x in (reason, f"missing in {_share(missing)} of rows: the models fill it with the "
                                                  "training median (or most common category)") if x)
        features.append(feature)
        reports.append(ColumnReport(column, "feature", kind, reason, missing, distinct))
    if len(features) < 1:
        raise InferenceError(f"no usable feature column in {path.name}: " +
                             "; ".join(f"{r.name}: {r.reason}" for r in reports if r.role == "excluded"))
    if dropped_outcome:
        notes.append(f"{dropped_outcome} row(s) without an outcome are left out of training")
    example = _typical(features, header, rows)
    title = name or path.stem
    outcome_words = ((f"not {target}", target) if zero_one else (f"{target} {negative}", f"{target} {positive}"))
    schema = Schema(
        name=slug(title), title=title, features=tuple(features), target=target,
        target_label=target if zero_one else f"{target} = {positive}", outcome_words=outcome_words, example=example,
        example_label=f"Typical patient of {path.name} (medians and most common values; not a real person)",
        ignored=tuple(r.name for r in reports if r.role == "excluded"),
        target_values=() if zero_one and set(classes) == {"0", "1"} else (negative, positive),
        missing_allowed=any(r.missing > 0 for r in reports if r.role in ("feature", "target")), delimiter=table.delimiter,
        reviewed=False,
    )
    return Inference(schema, reports, len(rows), counts, notes, left_out, _typical(list(left_out.values()), header, rows))


def _share(part: float) -> str:
    """A share in whole percent, where one row of 918 is "under 1%", not "0%"."""
    return f"{part:.0%}" if part >= 0.005 else "under 1%"


@dataclass(frozen=True)
class _Unmeasured:
    cells: frozenset[str]  # how the file writes 0 ("0", "0.0")
    note: str


def _unmeasured_zeros(column: str, present: list[str]) -> _Unmeasured | None:
    """Zeros that a file writes for "not measured" (`reference_ranges.zero_means_unmeasured`), with the note the
    column's report shows. Only a column named like an analyte is read as numbers here: `_feature` reads every
    column anyway, and parsing all of them twice cost a 100,000-row file a quarter of its inference time."""
    if analyte_of(column) is None:
        return None
    numbers = _numbers(present)
    if numbers is None:
        return None
    found = zero_means_unmeasured(column, numbers)
    if found is None:
        return None
    count = int((numbers == 0).sum())
    return _Unmeasured(frozenset(c for c, v in zip(present, numbers) if v == 0),
                       f"0 in {count} row(s) read as not measured (no {found.analyte.what} is 0): filled like any "
                       "missing value")


def _typical(features: list[Feature], header: list[str], rows: list[list[str]]) -> dict[str, object]:
    """The example patient: each feature's median (numbers) or most common value, snapped into the schema."""
    example: dict[str, object] = {}
    for feature in features:
        j = header.index(feature.name)
        present = [r[j].strip() for r in rows if r[j].strip().lower() not in MISSING]
        if feature.zero_is_missing:
            present = [c for c in present if float(c) != 0]
        if feature.categories:
            example[feature.name] = max(set(present), key=lambda v: (present.count(v), v))
            continue
        value = float(np.median(np.array([float(c) for c in present])))
        example[feature.name] = feature.decode(feature.snap(value))
    return example


EDITABLE = ("use", "label", "kind", "min", "max", "step", "unit", "mutability", "actionability", "direction",
            "normal_range", "feasible_change")
_RANGE = re.compile(r"\s*([-+]?\d*\.?\d+)\s*(?:-|–|to|,|\.\.)\s*([-+]?\d*\.?\d+)\s*")


def parse_normal_range(value: object, column: str) -> tuple[float, float] | None:
    """A normal range as typed ("135-145", "135 to 145") or as JSON (``[135, 145]``); empty clears it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            return float(value[0]), float(value[1])
        except (TypeError, ValueError):
            pass
    match = _RANGE.fullmatch(str(value)) if isinstance(value, str) else None
    if match is None:
        raise InferenceError(f"{column}: normal range {value!r} is not two numbers such as 135-145")
    return float(match.group(1)), float(match.group(2))


def apply_edits(inference: Inference, edits: dict[str, dict[str, object]], name: str | None = None) -> Schema:
    """The schema the user confirmed (``reviewed``): the inferred one with their per-column edits (`EDITABLE`); a
    feature whose tags the user changed says "review" as their source. Raises `InferenceError` naming the column
    and what is wrong, so the editor can keep everything and say it."""

    from cfx_desktop.core.tabular.schema import SchemaError

    base = inference.schema
    by_name = {f.name: f for f in base.features}
    features, ignored = [], list(base.ignored)
    for report in inference.columns:
        if report.role == "target":
            continue
        edit = edits.get(report.name, {})
        feature = by_name.get(report.name) or inference.left_out.get(report.name)
        use = bool(edit.get("use", report.name in by_name))
        if not use or feature is None:
            if use and feature is None:
                raise InferenceError(f"{report.name}: cannot be a feature ({report.kind}: {report.reason})")
            if report.name not in ignored:
                ignored.append(report.name)
            continue
        changes: dict[str, object] = {}
        for key in ("label", "unit"):
            if key in edit:
                changes[key] = str(edit[key]).strip() or (feature.label if key == "label" else "")
        if "kind" in edit and edit["kind"] != feature.kind.value:
            kind = Kind(str(edit["kind"]))
            if (kind in (Kind.BINARY, Kind.CATEGORICAL)) != bool(feature.categories or feature.kind == Kind.BINARY):
                raise InferenceError(f"{report.name}: a {feature.kind.value} column cannot become {kind.value}")
            if kind == Kind.BINARY and len(feature.categories) > 2:
                raise InferenceError(f"{report.name}: has {len(feature.categories)} categories, not two")
            changes["kind"] = kind
            if kind == Kind.INTEGER:
                changes["decimals"] = 0
        for key in ("min", "max", "step"):
            if key in edit:
                try:
                    changes[key] = float(edit[key])  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    raise InferenceError(f"{report.name}: {key} {edit[key]!r} is not a number") from None
        if "mutability" in edit:
            changes["mutability"] = Mutability(str(edit["mutability"]))
        if "actionability" in edit:
            changes["actionability"] = Actionability(str(edit["actionability"]))
        if "direction" in edit:
            changes["direction"] = Direction(str(edit["direction"]))
        if "normal_range" in edit:
            changes["normal_range"] = parse_normal_range(edit["normal_range"], report.name)
        if any(key in edit for key in ("mutability", "actionability", "direction")):
            changes["tag_source"] = "review: set by the user"
        if "feasible_change" in edit:
            try:  # "15" (in the unit), "33%" (of the value) or both ("1.3; 33%")
                changes["feasible_change"], changes["feasible_share"] = parse_feasible(str(edit["feasible_change"]))
            except ValueError:
                raise InferenceError(f"{report.name}: feasible change {edit['feasible_change']!r} is not a number "
                                     ">= 0, a share such as 33%, or both (1.3; 33%)") from None
            changes["feasible_note"] = "review: set by the user"
        if changes.get("mutability") == Mutability.IMMUTABLE:
            changes["actionability"] = Actionability.IMMUTABLE
        try:
            edited = replace(feature, **changes)
        except SchemaError as exc:  # e.g. 'toward normal' without a normal range
            raise InferenceError(str(exc)) from None
        if edited.kind in (Kind.INTEGER, Kind.CONTINUOUS):
            if not edited.min < edited.max:
                raise InferenceError(f"{report.name}: the range {edited.min:g} to {edited.max:g} is empty")
            if not 0 < edited.step <= edited.max - edited.min:
                raise InferenceError(f"{report.name}: step {edited.step:g} must be positive and fit the range")
        features.append(edited)
        if report.name in ignored:  # a column inference proposed to leave out, taken back in
            ignored.remove(report.name)
    if not features:
        raise InferenceError("no column is used as a feature: tick at least one")
    typical = {**inference.left_out_example, **base.example}
    example = {f.name: typical[f.name] for f in features}
    for f in features:  # a narrowed range must still hold the typical patient
        if f.kind in (Kind.INTEGER, Kind.CONTINUOUS):
            example[f.name] = f.decode(f.snap(float(example[f.name])))  # type: ignore[arg-type]
    title = (name or base.title).strip()
    if not title:
        raise InferenceError("the dataset needs a name")
    schema = replace(base, name=slug(title), title=title, features=tuple(features), example=example, ignored=tuple(ignored),
                     reviewed=True,
                     missing_allowed=any(c.missing > 0 for c in inference.columns
                                         if c.role == "target" or c.name in {f.name for f in features}))
    try:
        schema.example_vector()
    except SchemaError as exc:
        raise InferenceError(str(exc)) from None
    return schema
