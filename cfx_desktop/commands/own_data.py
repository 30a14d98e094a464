"""Your own data on the command line: ``schema infer``, ``train-tabular --data CSV --target COLUMN --name NAME``,
``datasets list|remove``; the same core functions as File > New dataset from CSV in the app."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cfx_desktop.commands.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("schema", help="infer a schema for your own CSV (print it as JSON to edit)")
    ss = s.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    infer = ss.add_parser("infer", help="print a schema inferred from CSV (column notes go to standard error)")
    infer.add_argument("csv", type=Path, metavar="CSV")
    infer.add_argument("--target", required=True, help="the outcome column (two classes)")
    infer.add_argument("--name", help="dataset name (default: the file's name)")
    infer.add_argument("--positive", help="the outcome value that counts as the event (default: 1, else the rarer)")
    infer.add_argument("--margin", type=float, default=0.1, help="range margin around the values seen (default 0.1 = 10%%)")
    infer.set_defaults(handler=schema_infer)

    d = sub.add_parser("datasets", help="list or remove the datasets you built from your own CSVs (no ACTION: list)")
    d.set_defaults(handler=datasets_list)  # what a user typing the bare command wants to see
    dd = d.add_subparsers(dest="datasets_command", metavar="ACTION")
    dd.add_parser("list", help="your datasets, their files and models").set_defaults(handler=datasets_list)
    rm = dd.add_parser("remove", help="delete a dataset's schema, models and cards (never the CSV)")
    rm.add_argument("name")
    rm.set_defaults(handler=datasets_remove)

    im = sub.add_parser("image-models", help="list or remove the image models you trained on your own folders (no ACTION: list)")
    im.set_defaults(handler=image_models_list)
    ii = im.add_subparsers(dest="image_models_command", metavar="ACTION")
    ii.add_parser("list", help="your image models, their classes and validation metrics").set_defaults(handler=image_models_list)
    irm = ii.add_parser("remove", help="delete an image model's bundles (never the images)")
    irm.add_argument("name")
    irm.set_defaults(handler=image_models_remove)


def _infer(csv: Path, target: str, name: str | None, positive: str | None, margin: float = 0.1):  # noqa: ANN202
    from cfx_desktop.core.tabular.infer import InferenceError, infer_schema

    try:
        return infer_schema(csv, target, name, margin, positive)
    except InferenceError as exc:
        raise UserError(str(exc)) from exc


def print_columns(inference) -> None:  # noqa: ANN001
    for c in inference.columns:
        tail = f": {c.reason}" if c.reason else ""
        print(f"  {c.role:8} {c.name} ({c.kind}){tail}", file=sys.stderr)
    for note in inference.notes:
        print(f"  note: {note}", file=sys.stderr)


def print_treatment(schema) -> None:  # noqa: ANN001 - schema.Schema
    """How suggestions will treat each feature, and why; said whenever the schema was not reviewed."""
    if schema.reviewed:
        return
    print("  schema NOT reviewed: suggestions treat the features as follows (review them in the app's schema editor, "
          "or write `cfx-desktop schema infer` to a file, edit it and pass --schema):", file=sys.stderr)
    for f in schema.features:
        if f.mutability.value == "immutable":
            how = "never changed"
        elif f.mutability.value == "lockable":
            how = "locked unless unlocked"
        elif f.actionability.value == "observational marker":
            how = "kept as measured (a marker)"
        else:
            how = f"may change ({f.actionability.value}; {f.describe_direction()})"
        reach = f"; feasible change {f.feasible_text()}" if f.feasible_text() else ""
        print(f"    {f.name}: {how}{reach} [{f.tag_source or 'no rule'}]", file=sys.stderr)


def schema_infer(args: argparse.Namespace) -> int:
    from cfx_desktop.core.tabular.schema_io import schema_to_dict

    inference = _infer(args.csv, args.target, args.name, args.positive, args.margin)
    print(f"{args.csv.name}: {inference.rows} rows, outcome {inference.class_counts}; columns:", file=sys.stderr)
    print_columns(inference)
    print_treatment(inference.schema)
    print(json.dumps(schema_to_dict(inference.schema), indent=2))
    return 0


def train_own(args: argparse.Namespace) -> int:
    """Infer (or read) the schema, create the dataset in the user's folder, train its model set, print the CV table."""
    from cfx_desktop.core.tabular import user_datasets
    from cfx_desktop.core.tabular.infer import slug
    from cfx_desktop.core.tabular.models import ARCHITECTURES
    from cfx_desktop.core.tabular.schema import SchemaError
    from cfx_desktop.core.tabular.schema_io import read_schema

    if not args.data or not args.name or not (args.target or args.schema):
        raise UserError("your own data needs --data CSV, --name NAME and --target COLUMN (or --schema schema.json)")
    if not args.data.exists():
        raise UserError(f"{args.data}: not found")
    if args.schema:
        try:
            schema = read_schema(args.schema)
        except SchemaError as exc:
            raise UserError(str(exc)) from exc
        from dataclasses import replace

        schema = replace(schema, name=slug(args.name), title=args.name)
    else:
        inference = _infer(args.data, args.target, args.name, args.positive)
        print(f"{args.data.name}: {inference.rows} rows, outcome {inference.class_counts}; inferred columns:", file=sys.stderr)
        print_columns(inference)
        schema = inference.schema
    print_treatment(schema)
    architectures = None if args.model in (None, "all") else [args.model]
    if architectures and architectures[0] not in ARCHITECTURES:
        raise UserError(f"unknown architecture {args.model!r}")
    try:
        item = user_datasets.create(schema, args.data, {"source": "command line"})
    except user_datasets.UserDatasetError as exc:
        raise UserError(str(exc)) from exc
    members = 2 if args.members is None else args.members  # as the schema editor: a base model and one member
    cv_repeats = 1 if args.cv_repeats is None else args.cv_repeats
    try:
        item = user_datasets.train(item.name, architectures, members=members, cv_repeats=cv_repeats, seed=args.seed,
                                   progress=lambda f, m="", p=None: print(f"  {f:4.0%} {m}", file=sys.stderr, flush=True)
                                   if m.startswith("training") else None)
    except Exception as exc:  # noqa: BLE001 - a failed training leaves no half-made dataset behind
        user_datasets.remove(item.name)
        raise UserError(f"training failed, the dataset was not kept: {type(exc).__name__}: {exc}") from exc
    print(f"dataset {item.name}: {len(item.info['cv'])} architecture(s) x {members} models in {item.weights}")
    for row in item.info["cv"]:
        print(f"  {row['model']}: CV ROC AUC {row['cv_roc_auc']}, balanced accuracy {row['cv_balanced_accuracy']}, "
              f"validation ROC AUC {row['validation_roc_auc']}, threshold {row['threshold']}")
    print(f"explain a row: cfx-desktop explain-patient --dataset {item.name} --csv {args.data} --row 1")
    return 0


def datasets_list(args: argparse.Namespace) -> int:
    from cfx_desktop.core import bundles
    from cfx_desktop.core.tabular import user_datasets

    items = user_datasets.installed()
    if not items:
        print(f"no datasets of yours yet (folder: {user_datasets.root()})")
    for item in items:
        models = bundles.list_bundles(item.weights) if (item.weights / "MANIFEST.json").exists() else []
        print(f"{item.name}: {item.schema.title}; {len(item.schema.features)} features, outcome {item.schema.target}; "
              f"{len(models)} models; data {item.csv}")
    return 0


def datasets_remove(args: argparse.Namespace) -> int:
    from cfx_desktop.core.tabular import user_datasets

    try:
        user_datasets.remove(args.name)
    except user_datasets.UserDatasetError as exc:
        raise UserError(str(exc)) from exc
    print(f"removed {args.name} (its CSV was not touched)")
    return 0


def image_models_list(args: argparse.Namespace) -> int:
    from cfx_desktop.core.imaging.models import user_models

    items = user_models.installed()
    if not items:
        print(f"no image models of yours yet (folder: {user_models.root()})")
    for item in items:
        c = item["metrics"]["classifier"]
        print(f"{item['name']}: {item['labels'][1]} vs {item['labels'][0]}, validation ROC AUC {c['roc_auc']:.3f}; "
              f"images {item['folder']}")
    return 0


def image_models_remove(args: argparse.Namespace) -> int:
    from cfx_desktop.core.imaging.models import user_models

    try:
        user_models.remove(args.name)
    except user_models.FolderError as exc:
        raise UserError(str(exc)) from exc
    print(f"removed {args.name} (the images were not touched)")
    return 0
