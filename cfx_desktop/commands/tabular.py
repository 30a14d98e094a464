"""``train-tabular`` and ``report-tabular``: train shipped patient models and write the comparison table."""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

from cfx_desktop.commands.errors import UserError
from cfx_desktop.commands import choices


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-tabular", help="train patient models (a registered dataset, or your own CSV with "
                       "--data CSV --target COLUMN --name NAME), evaluate them (CV) and write weights + cards")
    p.add_argument("--dataset", choices=choices.RegistryChoices(choices.datasets, "all"),
                   help="a registered dataset, or all (every variant of every dataset, as shipped)")
    p.add_argument("--model", choices=choices.RegistryChoices(choices.tabular_architectures, "all"),
                   help="architecture (default for your own data: all; required with --dataset)")
    p.add_argument("--target", help="your own data: the outcome column of --data (makes a new dataset named --name)")
    p.add_argument("--name", help="your own data: the new dataset's name (as listed under Dataset in the app)")
    p.add_argument("--schema", type=Path, help="your own data: a schema JSON (from `cfx-desktop schema infer`, edited) "
                   "instead of inferring one")
    p.add_argument("--positive", help="your own data: the outcome value that counts as the event (default: 1, "
                   "else the rarer value)")
    p.add_argument("--data", type=Path, help="CSV to train on (default: the development file in ../shared/data)")
    p.add_argument("--exclude", nargs="*", default=[], metavar="FEATURE", help="features to leave out, e.g. time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cv-repeats", type=int, default=None, help="repeats of 5-fold CV (0 skips CV; default 5, "
                   "for your own data 1)")
    p.add_argument("--members", type=int, default=None, help="model-set size per architecture: the base model plus "
                   "N-1 bootstrap members (seed + k; cross-validated only the base; default 1, for your own data 2)")
    p.add_argument("--out", type=Path, help="weights folder (default: the shipped weights/)")
    p.set_defaults(handler=train_tabular)

    r = sub.add_parser("report-tabular", help="write docs/models.md from the shipped cards plus a logistic baseline")
    r.add_argument("--out", type=Path, default=Path("docs/models.md"))
    r.add_argument("--cv-repeats", type=int, default=5)
    r.set_defaults(handler=report_tabular)


def _command_line(args: argparse.Namespace, dataset: str, exclude: list[str], model: str, members: int) -> str:
    parts = ["cfx-desktop", "train-tabular", "--dataset", dataset, "--model", model]
    if exclude:
        parts += ["--exclude", *exclude]
    if args.data:
        parts += ["--data", str(args.data)]
    parts += ["--seed", str(args.seed), "--cv-repeats", str(args.cv_repeats)]
    if members > 1:
        parts += ["--members", str(members)]
    return shlex.join(parts)


def train_tabular(args: argparse.Namespace) -> int:
    if args.target or args.name or args.schema:
        from cfx_desktop.commands.own_data import train_own

        return train_own(args)
    if not args.dataset or not args.model:
        raise UserError("train-tabular needs --dataset and --model, or --data CSV --target COLUMN --name NAME for your own data")
    args.cv_repeats = 5 if args.cv_repeats is None else args.cv_repeats
    args.members = 1 if args.members is None else args.members
    from cfx_desktop.core.tabular import train
    from cfx_desktop.core.tabular.data import CsvError
    from cfx_desktop.core.tabular.datasets import DATASETS
    from cfx_desktop.core.tabular.models import ARCHITECTURES

    warnings.filterwarnings("ignore", category=UserWarning)
    models = ARCHITECTURES.keys() if args.model == "all" else [args.model]
    if args.dataset == "all":
        if args.exclude or args.data:
            raise UserError("--dataset all trains every registered variant from its own file; drop --exclude and --data")
        jobs = [(d.key, list(v.excluded)) for d in DATASETS.values() for v in d.variants]
    else:
        jobs = [(args.dataset, args.exclude)]
    for (dataset, exclude), model, member in ((job, model, k) for job in jobs for model in models for k in range(max(args.members, 1))):
        print(f"training {dataset} {model} member {member} (exclude: {', '.join(exclude) or 'none'}) ...", flush=True)
        try:
            card = train.train_and_save(
                dataset, model, exclude=exclude, data=args.data, seed=args.seed, member=member,
                cv_repeats=args.cv_repeats if member == 0 else 0, out=args.out,
                command=_command_line(args, dataset, exclude, model, args.members),
                progress=lambda f, m="", p=None: print(f"  {m}", file=sys.stderr, flush=True) if m.endswith("0/25") or "hold-out" in m else None,
            )
        except (CsvError, FileNotFoundError, ValueError) as exc:
            raise UserError(str(exc)) from exc
        print(f"  wrote {card['name']}: {card['metrics_summary']}; threshold {card['threshold']:.3f}", flush=True)
    return 0


def report_tabular(args: argparse.Namespace) -> int:
    from cfx_desktop.core.tabular.report import write_models_table

    text = write_models_table(args.out, cv_repeats=args.cv_repeats)
    print(text)
    return 0


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """The counterfactual search's options, shared by explain-patient and batch-explain-patients."""
    p.add_argument("--method", choices=choices.RegistryChoices(choices.counterfactual_methods),
                   help="counterfactual method (default: the registry's default, sparse)")
    p.add_argument("--k", type=int, default=1, help="number of counterfactuals (default 1; 4 for diverse)")
    p.add_argument("--lock", nargs="*", default=[], metavar="FEATURE", help="features that must not change")
    p.add_argument("--unlock", nargs="*", default=[], metavar="FEATURE", help="lockable features allowed to change")
    p.add_argument("--max-changes", type=int, help="at most this many features may change")
    p.add_argument("--margin", type=float, help="required probability margin beyond each model's threshold "
                   "(default: the model set's, chosen on validation data, at least 0.05)")
    p.add_argument("--single-model", action="store_true", help="only the chosen model must flip (fragile; default: "
                   "every model of the dataset's model set must)")
    p.add_argument("--allow-markers", action="store_true", help="also change observational markers (CPK, platelets, ...)")
    p.add_argument("--full-agreement-only", action="store_true",
                   help="no fallback tiers: when no change moves every model of the consensus with the margin, report "
                   "why instead of a suggestion that moves 3 of 4 of them, or that only reaches the thresholds (default: "
                   "such a suggestion is shown, marked \"partial\" in its tier, or \"without_margin\": fragile)")
    choices.add_max_shift(p)
    p.add_argument("--set-members", type=int, default=None, metavar="N",
                   help="models per architecture in the consensus (default 1: the four base models; 5: all 20)")


def register_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain-patient", help="predict one patient and print counterfactuals")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="CSV of patients (with the model's feature columns)")
    source.add_argument("--values", nargs="+", metavar="NAME=VALUE", help="a patient typed on the command line")
    source.add_argument("--example", action="store_true", help="the built-in example patient")
    p.add_argument("--row", type=int, help="row of --csv as numbered in the app's cohort table: 1 = the first "
                   "patient under the header (default 1)")
    p.add_argument("--model", help="installed model name (see `cfx-desktop info`; default: the default dataset's default model)")
    p.add_argument("--dataset", help="a dataset (e.g. one you built with train-tabular --name): use its default model")
    add_search_arguments(p)
    p.add_argument("--reference", type=Path, help="reference cohort CSV for neighbour methods and plausibility "
                   "(default: the model's training rows from ../shared/data when present)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=explain_patient)


def patient_from_args(args: argparse.Namespace, schema) -> "tuple[object, object]":  # noqa: ANN001
    """The patient vector and where it came from (`patient_report.PatientSource`), from --example, --values or
    --csv with --row (numbered as in the app: 1 = the first patient)."""
    import numpy as np

    from cfx_desktop.core.tabular.data import load_csv
    from cfx_desktop.core.tabular.patient_report import PatientSource
    from cfx_desktop.core.tabular.schema import SchemaError

    if args.row is not None and args.csv is None:  # said, not ignored: the patient would not be the one asked for
        raise UserError("--row picks a patient of --csv; with --example or --values there is only the one patient")
    if args.example:
        return schema.example_vector(), PatientSource("example")
    if args.values:
        values = {}
        for item in args.values:
            if "=" not in item:
                raise UserError(f"--values takes NAME=VALUE pairs, got {item!r}")
            name, value = item.split("=", 1)
            values[name.strip()] = value.strip()
        unknown = [n for n in values if n not in schema.names]
        if unknown:
            raise UserError(f"unknown feature(s) {', '.join(unknown)}; this model uses {', '.join(schema.names)}")
        patient = dict(schema.example)
        missing = [n for n in schema.names if n not in values]
        if missing:
            raise UserError(f"--values is missing {', '.join(missing)} (use --example for the built-in example patient)")
        patient.update(values)
        try:
            return schema.to_vector(patient), PatientSource("values")
        except SchemaError as exc:
            raise UserError(str(exc)) from exc
    cohort = load_csv(args.csv, schema, allow_extra=True, missing_ok=schema.missing_allowed)
    number = 1 if args.row is None else args.row
    if not 1 <= number <= len(cohort):
        raise UserError(f"--row {number} is out of range: {args.csv} has {len(cohort)} patient rows, numbered 1-{len(cohort)} "
                        "as in the app's cohort table")
    row = cohort.X[number - 1]
    source = PatientSource("csv", str(args.csv), number, int(cohort.lines[number - 1]))
    missing = [f.name for f, v in zip(schema.features, row) if np.isnan(v)]
    if missing and not schema.missing_allowed:
        raise UserError(f"row {number} has missing values ({', '.join(missing)})")
    if missing:  # as the app does: filled with the example patient's value, and said
        print(f"note: row {number} has no {', '.join(missing)}; filled with the example patient's value", file=sys.stderr)
        row = np.where(np.isnan(row), schema.example_vector(), row)
        source = PatientSource("values", edited_from=f"{source.describe()}, missing {', '.join(missing)} filled in")
    return row, source


def load_model_for(args: argparse.Namespace):  # noqa: ANN201
    """The model of --model, else the default model of --dataset (its first variant, its default architecture),
    else the app's default; a refused or missing bundle is a UserError."""
    from cfx_desktop.core.bundles import BundleError
    from cfx_desktop.core.registry import RegistryError
    from cfx_desktop.core.tabular.datasets import DATASETS
    from cfx_desktop.core.tabular.live import default_model_name
    from cfx_desktop.core.tabular.models import load_model, model_name

    name = args.model
    if not name and args.dataset:
        try:
            spec = DATASETS.get(args.dataset)
        except RegistryError as exc:
            raise UserError(str(exc)) from exc
        name = model_name(spec.variants[0].schema, spec.default_architecture)
    try:
        return load_model(name or default_model_name())
    except BundleError as exc:
        raise UserError(str(exc)) from exc


def explain_settings(args: argparse.Namespace, schema, shapley_samples: int = 0):  # noqa: ANN001, ANN201
    """The search settings of --method/--k/--lock/--unlock/--max-changes/--margin/..., checked against the schema."""
    from cfx_desktop.core.tabular.explanation import ExplainSettings

    for name in args.lock + args.unlock:
        if name not in schema.names:
            raise UserError(f"unknown feature {name!r} in --lock/--unlock; this model uses {', '.join(schema.names)}")
    return ExplainSettings(args.method, args.k, args.margin, args.single_model, args.set_members, tuple(args.lock),
                           tuple(args.unlock), args.max_changes, args.allow_markers, shapley_samples, args.max_shift,
                           not args.full_agreement_only)


def explain_patient(args: argparse.Namespace) -> int:
    import json

    from cfx_desktop.core.tabular.counterfactuals import Reference
    from cfx_desktop.core.tabular.data import CsvError, load_csv
    from cfx_desktop.core.tabular.explanation import Explainer
    from cfx_desktop.core.tabular.live import default_reference
    from cfx_desktop.core.tabular.wording import is_what_if

    model = load_model_for(args)
    schema = model.schema
    settings = explain_settings(args, schema)
    try:
        x, _ = patient_from_args(args, schema)
        reference = (Reference.build(model, load_csv(args.reference, schema, allow_extra=True, missing_ok=True).X, str(args.reference))
                     if args.reference else default_reference(model))
    except CsvError as exc:
        raise UserError(str(exc)) from exc
    explainer = Explainer.load(model, settings, reference)
    payload, result = explainer.explain(x)
    p, label = payload["prediction"]["probability"], payload["prediction"]["label"]
    if args.json:
        print(json.dumps(payload, indent=2, default=float))
        return 0
    print(f"model: {model.name} ({model.card.get('label', '')})")
    print(f"prediction: p({schema.target_label}) = {p:.3f} (threshold {model.threshold:.3f}) -> {schema.outcome_words[label]}")
    if payload["patient_typicality"]["words"]:
        words = payload["patient_typicality"]["words"]
        print(f"unusual patient: {words[:1].lower()}{words[1:]}")
    if not result:
        print(f"no counterfactual: {result.reason}")
        return 0
    outcome = schema.outcome_words[1 - label]
    if is_what_if(schema, outcome):
        print(f"risk what-ifs, not advice: the patient is predicted {schema.outcome_words[label]}; each says what would "
              f"turn the prediction to {outcome}")
    for i, (cf, shown) in enumerate(zip(result, payload["counterfactuals"]), 1):
        r = cf.robustness
        holds = (f"; holds for {r['members_crossed']}/{r['members_total']} models, smallest margin {r['min_margin']:+.3f}, "
                 f"falls back under measurement noise {r['invalidation_rate']:.0%}") if r else ""
        tier = f", partial agreement: {cf.quorum[0]} of the {cf.quorum[1]} consensus models, less certain" if cf.quorum else ""
        if cf.without_margin:
            tier += ", at the models' thresholds without the margin: fragile"
        print(f"{'what-if' if shown['what_if'] else 'counterfactual'} {i} ({cf.method}{tier}): new p = {cf.probability:.3f}{holds}")
        print(f"  {shown['text']}")
        for c in shown["changes"]:
            moved = f" ({c['percentile_shift']:.0f} percentile points)" if c.get("percentile_shift") else ""
            print(f"  {c['feature']}: {c['from']} -> {c['to']}{moved}")
        print(f"  plausibility: {shown['plausibility']}")
    if result.note:
        print(f"note: {result.note}")
    return 0
