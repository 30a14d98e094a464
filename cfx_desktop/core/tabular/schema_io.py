"""A `Schema` as JSON and back: how a dataset built from the user's CSV is stored (``schema.json``) and what
`cfx-desktop schema infer` prints, so a schema can be edited by hand and given back with ``--schema``."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from cfx_desktop.core.tabular.schema import Actionability, Direction, Feature, Kind, Mutability, Schema, SchemaError

FORMAT = "cfx-desktop schema 1"
_ENUMS = {"kind": Kind, "mutability": Mutability, "direction": Direction, "actionability": Actionability}


def feature_to_dict(feature: Feature) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(Feature):
        value = getattr(feature, f.name)
        out[f.name] = value.value if f.name in _ENUMS else list(value) if isinstance(value, tuple) else value
    return out


def feature_from_dict(data: dict[str, Any]) -> Feature:
    known = {f.name for f in fields(Feature)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SchemaError(f"feature {data.get('name', '?')!r}: unknown field(s) {', '.join(unknown)}")
    values = dict(data)
    try:
        for key, enum in _ENUMS.items():
            if key in values:
                values[key] = enum(values[key])
    except ValueError as exc:
        raise SchemaError(f"feature {data.get('name', '?')!r}: {exc}") from None
    for key in ("categories", "category_labels"):
        if key in values:
            values[key] = tuple(str(c) for c in values[key])
    for key in ("min", "max", "step", "precision", "feasible_change", "feasible_share"):
        if key in values:
            values[key] = float(values[key])
    if values.get("normal_range") is not None:
        try:
            low, high = (float(v) for v in values["normal_range"])
        except (TypeError, ValueError):
            raise SchemaError(f"feature {data.get('name', '?')!r}: normal_range must be two numbers") from None
        values["normal_range"] = (low, high)
    return Feature(**values)


def schema_to_dict(schema: Schema) -> dict[str, Any]:
    return {
        "format": FORMAT, "name": schema.name, "title": schema.title, "target": schema.target,
        "target_label": schema.target_label, "outcome_words": list(schema.outcome_words),
        "target_values": list(schema.target_values), "missing_allowed": schema.missing_allowed,
        "delimiter": schema.delimiter, "reviewed": schema.reviewed,
        "example": dict(schema.example), "example_label": schema.example_label, "ignored": list(schema.ignored),
        "features": [feature_to_dict(f) for f in schema.features],
    }


def schema_from_dict(data: dict[str, Any]) -> Schema:
    if data.get("format") != FORMAT:
        raise SchemaError(f"not a cfx-desktop schema (format {data.get('format')!r}, expected {FORMAT!r})")
    try:
        schema = Schema(
            name=str(data["name"]), title=str(data["title"]), target=str(data["target"]),
            target_label=str(data["target_label"]), outcome_words=tuple(data["outcome_words"]),  # type: ignore[arg-type]
            features=tuple(feature_from_dict(f) for f in data["features"]), example=dict(data.get("example", {})),
            example_label=str(data.get("example_label", "")), ignored=tuple(data.get("ignored", ())),
            target_values=tuple(str(v) for v in data.get("target_values", ())),  # type: ignore[arg-type]
            missing_allowed=bool(data.get("missing_allowed", False)), delimiter=str(data.get("delimiter", ",")),
            reviewed=bool(data.get("reviewed", True)),
        )
    except KeyError as exc:
        raise SchemaError(f"schema is missing {exc.args[0]!r}") from None
    if not schema.features:
        raise SchemaError("schema has no features")
    if len(set(schema.names)) != len(schema.names):
        raise SchemaError("schema names a feature twice")
    if schema.target in schema.names:
        raise SchemaError(f"the outcome column {schema.target!r} is also listed as a feature")
    schema.example_vector()  # the example patient must fit the schema (raises SchemaError naming the value)
    return schema


def write_schema(schema: Schema, path: Path) -> None:
    path.write_text(json.dumps(schema_to_dict(schema), indent=2) + "\n", encoding="utf-8")


def read_schema(path: Path) -> Schema:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read the schema ({exc})") from None
    return schema_from_dict(data)
