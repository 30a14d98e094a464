"""``report-patient`` and ``report-image``: the app's PDF reports (with their JSON sidecars) from the command line,
so every report the app writes can be written again from the command in its last section."""

from __future__ import annotations

import argparse
from pathlib import Path

from cfx_desktop.commands.errors import UserError
from cfx_desktop.commands import choices


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report-patient", help="write a patient's PDF report and its JSON sidecar (as File > Export does)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--example", action="store_true", help="the built-in example patient")
    source.add_argument("--csv", type=Path, help="CSV of patients (with the model's feature columns)")
    source.add_argument("--values", nargs="+", metavar="NAME=VALUE", help="a patient typed on the command line")
    p.add_argument("--row", type=int, help="row of --csv as numbered in the app's cohort table (default 1: the first patient)")
    p.add_argument("--model", help="installed model name (default: the app's default model)")
    p.add_argument("--method", choices=choices.RegistryChoices(choices.counterfactual_methods),
                   help="counterfactual method (default: the registry's default)")
    p.add_argument("--k", type=int, default=3, help="suggestions asked for (default 3, as in the app)")
    p.add_argument("--lock", nargs="*", default=[], metavar="FEATURE", help="features that must not change")
    p.add_argument("--unlock", nargs="*", default=[], metavar="FEATURE", help="lockable features allowed to change")
    p.add_argument("--max-changes", type=int)
    p.add_argument("--margin", type=float, help="margin past each model's threshold (default: the model set's)")
    p.add_argument("--single-model", action="store_true", help="only the chosen model must flip (fragile)")
    p.add_argument("--set-members", type=int, default=None, metavar="N", help="models per architecture in the consensus")
    p.add_argument("--allow-markers", action="store_true")
    choices.add_max_shift(p)
    p.add_argument("--reference", type=Path, help="reference cohort CSV (the app uses a loaded cohort this way)")
    p.add_argument("--out", type=Path, required=True, help="the PDF to write; the JSON sidecar goes beside it")
    p.set_defaults(handler=report_patient)

    i = sub.add_parser("report-image", help="write an image's PDF report and its JSON sidecar (as File > Export does)")
    i.add_argument("path", type=Path, metavar="IMAGE")
    i.add_argument("--out", type=Path, required=True, help="the PDF to write; the JSON sidecar goes beside it")
    i.add_argument("--method", choices=choices.RegistryChoices(choices.saliency_methods),
                   help="saliency method of the overlay (default: the one the model's card chose by its sanity checks, else gradcam)")
    i.add_argument("--model", default=None, help="image model bundle (default: the shipped classifier)")
    i.add_argument("--no-counterfactual", action="store_true", help="leave the counterfactual out")
    i.add_argument("--no-sanity", action="store_true", help="leave the sanity checks out")
    i.add_argument("--frame", type=int, default=1, help="frame of a multi-frame file (1 = first)")
    i.add_argument("--overlay-opacity", type=float, help="how strongly the map covers the film, 0-1 (default 0.5)")
    i.add_argument("--overlay-threshold", type=float,
                   help="values below this share of the strongest are not drawn, 0-1 (default 0; the app's is 0.2)")
    i.add_argument("--overlay-colormap", choices=choices.RegistryChoices(choices.overlay_colormaps),
                   help="default inferno")
    i.set_defaults(handler=report_image)


def report_patient(args: argparse.Namespace) -> int:
    import warnings

    from cfx_desktop.commands.tabular import patient_from_args
    from cfx_desktop.core.bundles import BundleError
    from cfx_desktop.core.tabular import live
    from cfx_desktop.core.tabular.counterfactuals import METHODS, Constraints
    from cfx_desktop.core.tabular.data import CsvError, load_csv
    from cfx_desktop.core.tabular.model_set import CONSENSUS_MEMBERS, default_margin
    from cfx_desktop.core.tabular.models import load_model
    from cfx_desktop.core.tabular.patient_report import Settings, build_patient_report

    warnings.filterwarnings("ignore", category=UserWarning)
    name = args.model or live.default_model_name()
    try:
        model = load_model(name)
    except BundleError as exc:
        raise UserError(str(exc)) from exc
    schema = model.schema
    for feature in args.lock + args.unlock:
        if feature not in schema.names:
            raise UserError(f"unknown feature {feature!r} in --lock/--unlock; this model uses {', '.join(schema.names)}")
    try:
        x, source = patient_from_args(args, schema)
        cohort = load_csv(args.reference, schema, allow_extra=True, missing_ok=True).X if args.reference else None
    except CsvError as exc:
        raise UserError(str(exc)) from exc
    method = args.method or METHODS.default
    k = args.k if METHODS.get(method).uses_k else 1
    settings = Settings(method, k, default_margin(schema.name) if args.margin is None else args.margin,
                        not args.single_model, args.set_members or CONSENSUS_MEMBERS, frozenset(args.lock),
                        frozenset(args.unlock), args.max_changes, args.allow_markers,
                        str(args.reference) if args.reference else None, args.max_shift)
    constraints = Constraints(locked=settings.locked, unlocked=settings.unlocked, max_changes=settings.max_changes,
                              margin=settings.margin, allow_markers=settings.allow_markers, max_shift=settings.max_shift)
    prediction = live.predict_and_attribute(name, x)
    suggestions = live.suggest(name, x, constraints, method, k, cohort, settings.consensus, settings.consensus_members)
    spec = METHODS.get(method)
    report = build_patient_report(schema, model.card, prediction, suggestions, source, settings, spec.label,
                                  spec.description, out_name=str(args.out))
    from cfx_desktop.core.report.pdf import write_report

    pdf, sidecar = write_report(report, args.out)
    print(f"wrote {pdf} and {sidecar}: p({schema.target_label}) = {prediction.probability:.2f}, "
          f"{len(suggestions.counterfactuals)} suggestion{'' if len(suggestions.counterfactuals) == 1 else 's'}")
    return 0


def report_image(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from cfx_desktop.core.imaging.image_report import REPORT_STYLE, compute_and_build

    given = {"opacity": args.overlay_opacity, "threshold": args.overlay_threshold, "colormap": args.overlay_colormap}
    style = replace(REPORT_STYLE, **{k: v for k, v in given.items() if v is not None})
    if not (0 <= style.opacity <= 1 and 0 <= style.threshold < 1):
        raise UserError("--overlay-opacity must be within 0-1 and --overlay-threshold within 0-1 (below 1)")
    try:
        report = compute_and_build(args.path, args.method, args.model, counterfactual=not args.no_counterfactual,
                                   sanity=not args.no_sanity, frame=args.frame, out_name=str(args.out), style=style)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from exc
    from cfx_desktop.core.report.pdf import write_report

    pdf, sidecar = write_report(report, args.out)
    print(f"wrote {pdf} and {sidecar}")
    return 0
