"""Loading patient CSVs against a schema, with errors a clinician can act on.

Why not ``pandas.read_csv`` directly: pandas guesses types and silently turns bad cells into NaN or objects, and
its errors do not name the row. Here every problem is reported as (file, line, column, reason), all of them
collected (up to a limit) so the user can fix a file in one go, and nothing escapes but `CsvError`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cfx_desktop.core.tabular.schema import Kind, Schema, SchemaError

MAX_REPORTED = 20
MAX_BYTES = 50_000_000
MISSING_CELLS = frozenset({"", "na", "nan", "n/a", "null", "none", "?", "-"})  # lower-cased cells that mean "no value"
SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}


@dataclass(frozen=True)
class CsvProblem:
    line: int | None  # 1-based line in the file (the header is line 1); None for whole-file problems
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class CsvError(ValueError):
    """A CSV that does not fit the schema. ``problems`` lists each one; the message shows the first few."""

    def __init__(self, source: str, problems: list[CsvProblem], total: int | None = None) -> None:
        self.source = source
        self.problems = problems
        self.total = total if total is not None else len(problems)
        shown = "\n".join(f"  - {p}" for p in problems[:8])
        more = f"\n  ... and {self.total - 8} more" if self.total > 8 else ""
        super().__init__(f"{source}: {self.total} problem{'s' if self.total != 1 else ''}:\n{shown}{more}")


@dataclass(frozen=True)
class Cohort:
    """Validated rows: ``X`` in schema order (categories as indices, missing as NaN), ``y`` if the target was there."""

    schema: Schema
    X: np.ndarray
    y: np.ndarray | None
    source: str
    lines: np.ndarray  # file line of each row, so the UI can say "row from line 57"

    def __len__(self) -> int:
        return len(self.X)

    def patient(self, row: int) -> dict:
        return self.schema.to_patient(self.X[row])


def _decode(raw: bytes, source: str) -> str:
    if not raw.strip():
        raise CsvError(source, [CsvProblem(None, None, "the file is empty")])
    if b"\x00" in raw[:4096]:
        raise CsvError(source, [CsvProblem(None, None, "this is not a text CSV (it contains binary data; UTF-16 or a spreadsheet file?)")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CsvError(
            source,
            [CsvProblem(line, None, f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8 CSV")],
        ) from None


def load_csv(
    path_or_text: str | Path,
    schema: Schema,
    *,
    require_target: bool = False,
    allow_extra: bool = False,
    missing_ok: bool = False,
    text: str | None = None,
) -> Cohort:
    """Parse and validate. ``missing_ok`` lets declared missing values (e.g. Cholesterol 0) through as NaN, and for a
    schema with ``missing_allowed`` (a user dataset) empty cells too; a development file (``require_target``) then
    leaves out rows without an outcome, as inference said it would (other reads keep them, without outcomes)."""
    source = str(path_or_text) if text is None else "<text>"
    if text is None:
        path = Path(path_or_text)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise CsvError(source, [CsvProblem(None, None, f"file is larger than {MAX_BYTES // 1_000_000} MB")])
            raw = path.read_bytes()
        except OSError as exc:
            raise CsvError(source, [CsvProblem(None, None, f"cannot read the file: {exc.strerror or exc}")]) from None
        text = _decode(raw, source)
    elif not text.strip():
        raise CsvError(source, [CsvProblem(None, None, "the file is empty")])

    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=schema.delimiter))
    except csv.Error as exc:
        raise CsvError(source, [CsvProblem(None, None, f"not a valid CSV: {exc}")]) from None
    rows_with_lines = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not rows_with_lines:
        raise CsvError(source, [CsvProblem(None, None, "the file is empty")])
    header_line, header = rows_with_lines[0]
    header = [h.strip() for h in header]
    body = rows_with_lines[1:]

    problems: list[CsvProblem] = []
    if len(header) == 1:
        for sep, name in SEPARATORS.items():
            if sep != schema.delimiter and sep in header[0]:
                raise CsvError(source, [CsvProblem(header_line, None, f"columns are separated by {name}; "
                                                   f"expected {SEPARATORS.get(schema.delimiter, repr(schema.delimiter))}")])
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(CsvProblem(header_line, name, "duplicate column name in the header"))
        seen.add(name)
    expected = set(schema.names) | {schema.target}
    missing = [n for n in schema.names if n not in header]
    if missing:
        problems.append(CsvProblem(header_line, None, f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"))
    if require_target and schema.target not in header:
        problems.append(CsvProblem(header_line, schema.target, "the outcome column is missing"))
    extra = [h for h in header if h not in expected and h not in schema.ignored]
    if extra and not allow_extra:
        problems.append(
            CsvProblem(header_line, None, f"unknown column{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}; "
                       f"expected {', '.join(schema.names)} and optionally {schema.target}")
        )
    if problems:
        raise CsvError(source, problems)
    if not body:
        raise CsvError(source, [CsvProblem(None, None, "the file has a header but no patient rows")])

    position = {name: header.index(name) for name in header}
    X = np.full((len(body), len(schema.features)), np.nan)
    has_target = schema.target in position
    y = np.zeros(len(body), dtype=np.int64) if has_target else None
    total = 0

    def report(problem: CsvProblem) -> None:
        nonlocal total
        total += 1
        if len(problems) < MAX_REPORTED:
            problems.append(problem)

    unlabelled = np.zeros(len(body), dtype=bool)  # rows without an outcome (allowed by the schema)
    for r, (line, row) in enumerate(body):
        if len(row) != len(header):
            report(CsvProblem(line, None, f"has {len(row)} cells but the header has {len(header)}"))
            continue
        if (missing_ok and schema.missing_allowed and has_target
                and row[position[schema.target]].strip().lower() in MISSING_CELLS):
            unlabelled[r] = True
            if require_target:
                continue  # a development file: nothing to learn from this row
        for j, feature in enumerate(schema.features):
            cell = row[position[feature.name]].strip()
            if cell.lower() in MISSING_CELLS:
                if not (missing_ok and schema.missing_allowed):
                    report(CsvProblem(line, feature.name, "empty or missing value"))
                continue  # stays NaN; the model imputes it with the training median
            try:
                number = feature.encode(cell)
                if feature.zero_is_missing and number == 0:
                    if missing_ok:
                        continue  # stays NaN; the model imputes it
                    raise SchemaError(f"{feature.name}: 0 means 'not measured'; a value is needed here")
                feature.check_range(number)
            except SchemaError as exc:
                reason = str(exc).split(": ", 1)[-1]
                if feature.kind not in (Kind.CATEGORICAL,) and not feature.categories and "not a number" in reason:
                    reason = f"{cell!r} is not a number"
                report(CsvProblem(line, feature.name, reason))
                continue
            X[r, j] = number
        if has_target and y is not None and not unlabelled[r]:
            cell = row[position[schema.target]].strip()
            if schema.target_values and cell in schema.target_values:
                y[r] = schema.target_values.index(cell)
            elif cell in {"0", "1", "0.0", "1.0"} and not schema.target_values:
                y[r] = int(float(cell))
            else:
                allowed = " or ".join(schema.target_values or ("0", "1"))
                report(CsvProblem(line, schema.target, f"outcome must be {allowed}, found {cell!r}"))
    if total:
        raise CsvError(source, problems, total)
    lines = np.array([line for line, _ in body])
    if require_target:
        keep = ~unlabelled
        return Cohort(schema, X[keep], None if y is None else y[keep], source, lines[keep])
    # patients to explain: every row stays; with some outcomes unknown the file's outcomes are not shown at all
    return Cohort(schema, X, None if unlabelled.any() else y, source, lines)


def load_dataset(schema: Schema, path: str | Path) -> Cohort:
    """A development data file for ``schema``: outcome required, declared-missing values allowed."""
    return load_csv(path, schema, require_target=True, missing_ok=True)
