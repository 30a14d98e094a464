"""Image sub-commands: train-imaging, predict-image, explain-image, sanity."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from cfx_desktop.commands.errors import UserError
from cfx_desktop.commands import choices

SALIENCY = choices.RegistryChoices(choices.saliency_methods)
SEARCH_METHODS = choices.RegistryChoices(choices.image_search_methods)
REGIONS = choices.RegistryChoices(choices.image_edit_regions)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-imaging", help="train an image model on your own labelled folder (--folder DIR --name NAME: "
                       "classifier, referee, autoencoder, sanity twin and guard), or one shipped-style bundle (--data)")
    p.add_argument("--folder", type=Path, help="your own images: one sub-folder per class (two classes); everything the "
                   "X-ray tab's explanations need is trained into your data folder under --name")
    p.add_argument("--positive", help="with --folder: the class sub-folder that is the finding (default: the one that "
                   "is not normal/healthy/negative, else the second alphabetically)")
    p.add_argument("--data", type=Path, help="folder with NORMAL/ and PNEUMONIA/, or a MedMNIST .npz (one bundle)")
    p.add_argument("--model", default="slim-cnn", choices=choices.RegistryChoices(choices.image_architectures),
                   help="image architecture (default slim-cnn)")
    p.add_argument("--size", type=int, default=128, choices=[224, 128, 96, 64])
    p.add_argument("--epochs", type=int, help="training epochs (default 12; 8 with --folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shuffle-labels", action="store_true", help="train on permuted labels (for the sanity check)")
    p.add_argument("--augmentation", choices=["acquisition", "basic", "none"],
                   help="training augmentation (default: acquisition; none with --shuffle-labels)")
    p.add_argument("--label-smoothing", type=float, help="default 0.05 (0 with --shuffle-labels)")
    p.add_argument("--subset", type=int, help="train on this many randomly chosen training images")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--auxiliary-grid", type=int, default=0, help="train with a read-out of the film's coarse GRID x GRID "
                   "intensities from the features the top layer reads (the shipped classifier's fine-tuning: 4), so that a random "
                   "read-out of them retraces the saliency map less often; 0: none")
    p.add_argument("--init", help="start from this installed bundle's weights (same architecture) instead of random ones")
    p.add_argument("--name", help="bundle name (default pneumonia-MODEL[-shuffled-labels])")
    p.add_argument("--role", choices=["classifier", "referee"], default="classifier",
                   help="referee: an independent second opinion on counterfactuals, never explained or used to make them")
    p.add_argument("--out", type=Path, help="weights folder (default: the shipped weights/)")
    p.add_argument("--autoencoder", help="autoencoder bundle the card names for counterfactuals (default autoencoder-SIZE)")
    p.add_argument("--shuffled-twin", help="shuffled-label twin the card names for the sanity check "
                   "(default pneumonia-MODEL-shuffled-labels)")
    p.set_defaults(handler=train_imaging)

    g = sub.add_parser("fit-guard", help="fit and calibrate a classifier's out-of-distribution guard on its training folder")
    g.add_argument("--data", type=Path, required=True, help="the classifier's training folder (NORMAL/ and PNEUMONIA/)")
    g.add_argument("--model", default=None, help="classifier bundle (default: the shipped classifier)")
    g.add_argument("--out", type=Path, help="weights folder (default: the shipped weights/)")
    g.set_defaults(handler=fit_guard)


def train_imaging(args: argparse.Namespace) -> int:
    from cfx_desktop.core import device
    from cfx_desktop.core.imaging.train.classifier import train_image_model

    if args.folder is not None:
        return train_own_images(args)
    if args.data is None:
        raise UserError("train-imaging needs --folder DIR --name NAME (your own images) or --data (a shipped-style bundle)")
    args.epochs = args.epochs or 12
    if not args.data.exists():
        raise UserError(f"{args.data}: not found")
    parts = ["cfx-desktop", "train-imaging", "--data", str(args.data), "--model", args.model, "--size", str(args.size),
             "--epochs", str(args.epochs), "--seed", str(args.seed)] + (["--shuffle-labels"] if args.shuffle_labels else [])
    for flag in ("augmentation", "label_smoothing", "subset", "init", "name", "autoencoder", "shuffled_twin"):
        if getattr(args, flag) is not None:
            parts += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    if args.lr != 2e-3:
        parts += ["--lr", str(args.lr)]
    if args.auxiliary_grid:
        parts += ["--auxiliary-grid", str(args.auxiliary_grid)]
    if args.role != "classifier":
        parts += ["--role", args.role]
    try:
        card = train_image_model(args.data, args.model, args.size, args.epochs, args.seed, lr=args.lr, shuffle_labels=args.shuffle_labels,
                                 augmentation=args.augmentation, label_smoothing=args.label_smoothing, subset=args.subset, name=args.name, role=args.role,
                                 out=args.out, autoencoder=args.autoencoder, shuffled_twin=args.shuffled_twin, command=shlex.join(parts), device=device.current(),
                                 auxiliary_grid=args.auxiliary_grid, init=args.init,
                                 progress=lambda f, m="", p=None: print(m, flush=True) if m.startswith("epoch") else None)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    print(f"wrote {card['name']}: {card['metrics_summary']}; threshold {card['threshold']:.3f}; "
          f"{card['training']['minutes_per_epoch']} min/epoch", file=sys.stdout)
    return 0




def train_own_images(args: argparse.Namespace) -> int:
    """--folder DIR --name NAME: scan, say how the split is made, train everything, print the metrics."""
    from cfx_desktop.core.imaging.models import user_models

    if not args.name:
        raise UserError("--folder needs --name NAME (how the model is listed in the X-ray tab)")
    try:
        scan = user_models.scan(args.folder, args.positive)
    except user_models.FolderError as exc:
        raise UserError(str(exc)) from exc
    print(f"{args.folder}: {scan.describe()}", file=sys.stderr)
    settings = user_models.TrainSettings(epochs=args.epochs or 8, size=args.size, seed=args.seed)
    last = [""]

    def progress(fraction: float, text: str = "", _payload: object = None) -> None:
        stage = text.split(":")[0]
        if "epoch" in text or stage != last[0]:
            print(f"  {fraction:4.0%} {text}", file=sys.stderr, flush=True)
            last[0] = stage

    try:
        summary = user_models.train(scan, args.name, settings, progress=progress)
    except (user_models.FolderError, FileNotFoundError, ValueError) as exc:
        raise UserError(f"{exc} (nothing was kept)") from exc
    print(f"image model {summary['name']} ({summary['labels'][1]} vs {summary['labels'][0]}) in "
          f"{user_models.root() / summary['name']}")
    for line in user_models.summary_lines(summary):
        print(f"  {line}")
    print(f"use it: cfx-desktop predict-image --model {summary['classifier']} IMAGE, or choose it in the X-ray tab")
    return 0


def register_links(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("link-image-model", help="name, in a classifier's card, the bundles that work with it "
                       "(autoencoder, referee, guard) and its default counterfactual generator")
    k.add_argument("--model", required=True, help="classifier bundle whose card is updated")
    k.add_argument("--autoencoder")
    k.add_argument("--referee")
    k.add_argument("--guard")
    k.add_argument("--counterfactual-search", metavar="JSON", help='e.g. {"method": "latent-shift", "compose": "delta"}')
    k.add_argument("--counterfactual-search-by-target", metavar="JSON",
                   help='a generator per target class (the card\'s class words), chosen per direction: {"normal": {...}, "pneumonia": {...}}')
    k.add_argument("--sanity-results", type=Path, metavar="JSON",
                   help="benchmarks/results/saliency_sanity.json: record the saliency methods' sanity pass rates in the card")
    k.add_argument("--shift-results", type=Path, metavar="JSON",
                   help="benchmarks/results/shift_validation.json: apply its rule's choice (threshold rule and views) to "
                        "the classifier it measured, and record the held-out results in its card")
    k.add_argument("--out", type=Path, help="weights folder (default: the shipped weights/)")
    k.set_defaults(handler=link_image_model)

    q = sub.add_parser("calibrate-selective", help="measure the 'uncertain' rule on the classifier's validation patients "
                       "(coverage; sensitivity, specificity and accuracy on the films given a label) and record it in its card")
    q.add_argument("--model", required=True, help="classifier bundle whose card is updated")
    q.add_argument("--data", type=Path, required=True, help="the classifier's training folder (its card's patient split is used)")
    q.add_argument("--out", type=Path, help="weights folder (default: the shipped weights/)")
    q.set_defaults(handler=calibrate_selective)


def link_image_model(args: argparse.Namespace) -> int:
    import json

    from cfx_desktop.core import bundles

    try:
        bundle = bundles.load(args.model, args.out)
    except bundles.BundleError as exc:
        raise UserError(str(exc)) from exc
    card = dict(bundle.card)
    if card.get("kind") != "image-classifier":
        raise UserError(f"{args.model} is not an image classifier")
    for key in ("autoencoder", "referee", "guard"):
        name = getattr(args, key)
        if name is not None:
            if name not in bundles.list_bundles(args.out):
                raise UserError(f"{key} {name!r} is not an installed bundle")
            card[key] = name
    for key in ("counterfactual_search", "counterfactual_search_by_target"):
        given = getattr(args, key)
        if given:
            try:
                card[key] = json.loads(given)
            except json.JSONDecodeError as exc:
                raise UserError(f"--{key.replace('_', '-')} must be JSON: {exc}") from exc
    if args.sanity_results:
        try:
            measured = json.loads(args.sanity_results.read_text(encoding="utf-8"))
            card["saliency_sanity"] = {
                "default": measured["rule_choice"], "films": len(measured["films"]), "bounds": measured["bounds"],
                "rule": "the highest share of validation films passing all three checks, ties to the faster",
                "pass_rates": {label: {"method": c["method"], "params": c["params"], "all_three": c["all_three"],
                                       **c["pass_rate"]} for label, c in measured["candidates"].items()}}
        except (OSError, KeyError, json.JSONDecodeError) as exc:
            raise UserError(f"--sanity-results: not a saliency_sanity benchmark result ({exc})") from exc
    if args.shift_results:
        for key, value in _shift_decision(args.shift_results, args.model).items():
            if value is None:  # a field the choice removes (the views' threshold of an earlier choice); no other is touched
                card.pop(key, None)
            else:
                card[key] = value
    unknown = set(card.get("counterfactual_search_by_target") or {}) - set(card.get("labels", ()))
    if unknown:
        raise UserError(f"--counterfactual-search-by-target names {', '.join(sorted(unknown))}, not a class of {args.model}")
    parts = ["cfx-desktop", "link-image-model", "--model", args.model]
    for key in ("autoencoder", "referee", "guard", "counterfactual_search", "counterfactual_search_by_target", "sanity_results",
                "shift_results"):
        if getattr(args, key) is not None:
            parts += ["--" + key.replace("_", "-"), str(getattr(args, key))]
    card["links_command"] = shlex.join(parts)
    bundles.save(args.model, bundle.state, card, args.out)
    print(f"updated {args.model}: " + ", ".join(f"{k} = {card.get(k)}" for k in ("autoencoder", "referee", "guard", "counterfactual_search")))
    return 0


THRESHOLD_RULES = {  # the shift benchmark's rule names, in the words a card gives
    "first version (balanced, clean validation)": "maximises balanced accuracy on the patient-level validation split",
    "worst case over acquisition shifts": "maximises the lowest balanced accuracy over the patient-level validation split, "
                                          "clean and under each simulated acquisition shift",
}


def _shift_decision(path: Path, model: str) -> dict:
    """The card fields that apply a shift-validation run's choice: the threshold its rule gives on this model's own
    validation patients (for the views' mean, a threshold of its own), whether the label reads that mean, and the
    held-out figures behind it. None marks a field to remove."""
    import json

    try:
        measured = json.loads(path.read_text(encoding="utf-8"))
        shipped, choice = measured["shipped"], measured["choice"]
        rule = THRESHOLD_RULES[choice["rule"]]
        chosen = {fold: {"held_out": block["held_out"],
                         "sensitivity": block["variants"][choice["variant"]]["per_family"][block["held_out"][1]]["sensitivity"],
                         "specificity": block["variants"][choice["variant"]]["per_family"][block["held_out"][0]]["specificity"]}
                  for fold, block in measured["folds"].items()}
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise UserError(f"--shift-results: not a shift_validation benchmark result ({exc})") from exc
    if shipped.get("model") != model:
        raise UserError(f"--shift-results measured {shipped.get('model')!r}, not {model!r}: its threshold belongs to that model")
    tta = choice["views"] == "tta"
    chosen_by = "; rule and views chosen by held-out balanced accuracy over acquisition families and statistics clusters (benchmarks/shift_validation.py)"
    fields = {"decision_views": "tta" if tta else "single",
              "shift_validation": {"choice": choice["variant"], "mean_held_out_balanced_accuracy": choice["mean_held_out_balanced_accuracy"],
                                   "held_out_folds": chosen, "validation_at_threshold": shipped["all"], "epochs": measured.get("epochs")}}
    if tta:  # the views' mean gets its own threshold; the single view (what saliency and counterfactuals read) keeps its own
        fields.update(decision_threshold=float(shipped["threshold"]), decision_rule=rule + " of the mean over the 4 test-time views" + chosen_by)
    else:
        fields.update(threshold=float(shipped["threshold"]), threshold_rule=rule + chosen_by, decision_threshold=None, decision_rule=None)
    return fields


def calibrate_selective(args: argparse.Namespace) -> int:
    import numpy as np

    from cfx_desktop.core import bundles
    from cfx_desktop.core.imaging.models import shift
    from cfx_desktop.core.imaging.train.data import validation_files
    from cfx_desktop.core.imaging.models.decision import guarded_decision
    from cfx_desktop.core.imaging.guard.model import load_guard

    if not args.data.is_dir():
        raise UserError(f"{args.data}: not a folder with NORMAL/ and PNEUMONIA/")
    try:
        bundle = bundles.load(args.model, args.out)
    except bundles.BundleError as exc:
        raise UserError(str(exc)) from exc
    model = image_model(args.model)
    guard = load_guard(model)
    files = validation_files(args.data, int(model.card.get("seed", 0)))
    y, p, uncertain, families = [], [], [], []
    for path, label in files:
        verdict, decision = guarded_decision(guard, model, _load(path))
        y.append(label)
        p.append(np.nan if decision is None else decision.probability)
        uncertain.append(decision is None or decision.uncertain or not verdict.in_distribution)
        families.append(shift.family(path.name, label))
    y_arr, p_arr, u_arr, f_arr = np.array(y), np.nan_to_num(np.array(p), nan=0.0), np.array(uncertain), np.array(families)
    report = shift.coverage_report(y_arr, p_arr, model.decision_threshold, u_arr)
    report["per_family"] = {f: shift.coverage_report(y_arr[f_arr == f], p_arr[f_arr == f], model.decision_threshold, u_arr[f_arr == f])
                            for f in sorted(set(families))}
    report["rule"] = ("uncertain when the independent referee disagrees, when the test-time views (exposure, framing) "
                      "disagree, or when the guard finds the film unusual")
    report["films"] = int(len(y))
    report["split"] = "the card's validation patients"
    card = dict(bundle.card)
    card["selective"] = report
    card["selective_command"] = shlex.join(["cfx-desktop", "calibrate-selective", "--model", args.model, "--data", str(args.data)])
    bundles.save(args.model, bundle.state, card, args.out)
    print(f"{args.model}: coverage {report['coverage']:.3f} of {len(y)} validation films; on the covered films sensitivity "
          f"{report['covered_sensitivity']:.3f}, specificity {report['covered_specificity']:.3f}, accuracy {report['covered_accuracy']:.3f}")
    return 0


def _is_signed(method: str) -> bool:
    from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS

    return SALIENCY_METHODS.get(method).is_signed()


def fit_guard(args: argparse.Namespace) -> int:
    from cfx_desktop.core.imaging.guard.fit import fit_guard as fit

    if not args.data.is_dir():
        raise UserError(f"{args.data}: not a folder with NORMAL/ and PNEUMONIA/")
    model = image_model(args.model)
    parts = ["cfx-desktop", "fit-guard", "--data", str(args.data)] + (["--model", args.model] if args.model else [])
    try:
        card = fit(model, args.data, out=args.out, command=shlex.join(parts),
                   progress=lambda f, m="", p=None: print(m, flush=True))
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc
    print(f"wrote {card['name']}: {card['metrics_summary']}")
    return 0


def register_usage(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict-image", help="probability of pneumonia for images or folders "
                       "(CSV: file,probability,label,in_distribution,reason,error)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH_OR_DIR")
    p.add_argument("--model", default=None, help="image model bundle (default: the shipped classifier)")
    p.add_argument("--csv", type=Path, help="write the table here instead of standard output")
    p.set_defaults(handler=predict_image)

    e = sub.add_parser("explain-image", help="write a saliency overlay for one image")
    e.add_argument("path", type=Path)
    e.add_argument("--method", choices=SALIENCY, help="saliency method (default: the one the model's card chose by its sanity checks, else gradcam)")
    e.add_argument("--target", metavar="CLASS", help="class to explain, a class word of the model's card "
                   "(e.g. normal or pneumonia; default: the predicted one)")
    e.add_argument("--out", type=Path, required=True, help="PNG to write (image | overlay)")
    e.add_argument("--model", default=None)
    e.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the method, e.g. n_steps=32 or baseline=blurred for ig, window=12 for occlusion")
    e.set_defaults(handler=explain_image)

    s = sub.add_parser("sanity", help="model- and data-randomization sanity checks for a saliency method")
    s.add_argument("--image", type=Path, required=True)
    s.add_argument("--method", choices=SALIENCY, help="saliency method (default: the one the model's card chose by its sanity checks, else gradcam)")
    s.add_argument("--out-dir", type=Path, default=Path("sanity-maps"))
    s.add_argument("--model", default=None)
    s.set_defaults(handler=sanity)


def image_model(name: str | None):  # noqa: ANN202
    from cfx_desktop.core.bundles import BundleError
    from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model

    try:
        return load_image_model(name or DEFAULT_MODEL)
    except BundleError as exc:
        raise UserError(str(exc)) from exc


def _load(path: Path):  # noqa: ANN202
    from cfx_desktop.core.imaging.io.load import ImageLoadError, load_image

    try:
        return load_image(path)
    except ImageLoadError as exc:
        raise UserError(str(exc)) from exc


def _guarded(model, image, path: Path, nothing: str):  # noqa: ANN001, ANN202
    """(verdict, decision) for a film about to be explained, as the app reads it first: an image the guard withholds
    (not a chest radiograph of the kind the model learnt) is refused with the guard's reason, and ``nothing`` says
    what is therefore not made. Explaining it anyway would print a label the app never shows for it."""
    from cfx_desktop.core.imaging.guard.model import load_guard
    from cfx_desktop.core.imaging.models.decision import guarded_decision

    verdict, decision = guarded_decision(load_guard(model), model, image)
    if decision is None:
        raise UserError(f"{path}: {verdict.banner()} No {nothing}, as in the app.")
    return verdict, decision


def _finding(verdict, decision, positive: str) -> str:  # noqa: ANN001
    """The film's label in the app's words; an unusual film gets its number but no label, as in the panel."""
    if verdict.in_distribution:
        return decision.sentence(positive)
    return f"no label, p({positive}) {decision.probability:.2f} ({verdict.banner()})"


def predict_image(args: argparse.Namespace) -> int:
    import csv

    from cfx_desktop.core.imaging.io.load import ImageLoadError, list_images, load_image

    from cfx_desktop.core.imaging.models.decision import guarded_prediction
    from cfx_desktop.core.imaging.guard.model import load_guard

    model = image_model(args.model)
    guard = load_guard(model)
    files: list[Path] = []
    for path in args.paths:
        files.extend(list_images(path) if path.is_dir() else [path])
    handle = open(args.csv, "w", newline="", encoding="utf-8") if args.csv else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow(["file", "probability", "label", "in_distribution", "reason", "error"])
        failures = 0
        for path in files:
            try:
                image = load_image(path)  # a multi-frame file shows (and is scored on) frame 1
                verdict, p, label = guarded_prediction(guard, model, image)
                reason = verdict.banner() or verdict.reason
                if image.frame_count > 1:
                    reason = f"{image.frame_note()} scored (of a multi-frame file)" + (f"; {reason}" if reason else "")
                writer.writerow([str(path), "" if p is None else f"{p:.6f}", label, str(verdict.in_distribution).lower(),
                                 reason, ""])
            except ImageLoadError as exc:
                failures += 1
                writer.writerow([str(path), "", "", "", "", str(exc)])
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
                failures += 1
                writer.writerow([str(path), "", "", "", "", f"{type(exc).__name__}: {exc}"])
    finally:
        if args.csv:
            handle.close()
    if args.csv:
        print(f"wrote {len(files)} rows to {args.csv} ({failures} failed)")
    return 0


def _params(items: list[str]) -> dict[str, str]:
    params = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--param takes NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        params[name.strip()] = value.strip()
    return params


def explain_image(args: argparse.Namespace) -> int:
    from cfx_desktop.core.imaging.explain import render, saliency

    model = image_model(args.model)
    image = _load(args.path)
    verdict, decision = _guarded(model, image, args.path, "saliency map")
    try:
        result = saliency.saliency_map(model, image.pixels, args.method, args.target, _params(args.param))
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    panel = render.side_by_side(render.gray_rgb(image.pixels), render.overlay(image.pixels, result.values, 0.55))
    render.save_png(panel, args.out)
    extra = saliency.SALIENCY_METHODS.get(result.method).words(result.params)
    print(f"{args.path}: {_finding(verdict, decision, model.labels[1])}; {saliency.label(result.method)} for "
          f"'{result.target}' (the single view, p({model.labels[1]}) {result.probability:.3f}) in {result.seconds:.2f} s "
          f"({extra}); wrote {args.out}")
    return 0


def sanity(args: argparse.Namespace) -> int:
    from cfx_desktop.core.imaging.explain import render, sanity as sanity_mod
    from cfx_desktop.core.imaging.live import twin_or_reason

    model = image_model(args.model)
    image = _load(args.image)
    _guarded(model, image, args.image, "sanity checks")
    twin, note = twin_or_reason(model.name)
    if note:
        print(f"note: data randomization skipped: {note}", file=sys.stderr)
    report = sanity_mod.run(model, image.pixels, args.method, twin)
    how = "signed maps" if _is_signed(report.method) else "the maps (non-negative)"
    print(f"{report.method} sanity checks on {args.image} (Spearman rank correlation of {how} and SSIM against the trained model's map; "
          "low = the map depends on what the model learned):")
    print(report.table())
    verdicts = report.verdicts()
    for verdict in verdicts:
        print(verdict.line())
    print(f"{sum(v.passed for v in verdicts)} of {len(verdicts)} checks pass")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    render.save_png(render.colorize(report.original), args.out_dir / "00-original.png")
    for i, row in enumerate(report.rows, 1):
        safe = "".join(c if c.isalnum() else "-" for c in row.name).strip("-")
        render.save_png(render.colorize(row.map), args.out_dir / f"{i:02d}-{safe}.png")
    print(f"wrote {len(report.rows) + 1} maps to {args.out_dir}")
    return 0


def register_counterfactual(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train-autoencoder", help="train the autoencoder used for image counterfactuals")
    t.add_argument("--data", type=Path, required=True, help="folder with NORMAL/ and PNEUMONIA/, or a MedMNIST .npz")
    t.add_argument("--size", type=int, default=128)
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--architecture", choices=choices.RegistryChoices(choices.autoencoders), default="segnet-ae",
                   help="a registered autoencoder (bottleneck-vae: no pooling indices or skips, Gaussian latent prior, "
                        "for Latent Shift)")
    t.add_argument("--kl-weight", type=float, default=1e-4, help="KL weight of the VAE's latent prior")
    t.add_argument("--name", help="bundle name (default autoencoder-SIZE, or ARCHITECTURE-SIZE)")
    t.add_argument("--out", type=Path)
    t.set_defaults(handler=train_autoencoder)

    b = sub.add_parser("build-latent-bank", help="encode real training films of each class (and a lung-field prior) for "
                       "data-supported image counterfactuals")
    b.add_argument("--data", type=Path, required=True, help="folder with NORMAL/ and PNEUMONIA/ (the classifier's training folder)")
    b.add_argument("--autoencoder", default="bottleneck-vae-128")
    b.add_argument("--per-class", type=int, default=600, help="training films encoded per class (validation patients never)")
    b.add_argument("--seed", type=int, default=0, help="the patient split's seed (the classifier card's)")
    b.add_argument("--out", type=Path)
    b.set_defaults(handler=build_latent_bank)

    c = sub.add_parser("counterfactual-image", help="local counterfactual: original | counterfactual | difference")
    c.add_argument("path", type=Path)
    c.add_argument("--out", type=Path, required=True, help="PNG to write")
    c.add_argument("--json", type=Path, help="write the metrics here")
    c.add_argument("--steps", type=int, help="Adam steps or line-search points (default: the model card's generator)")
    c.add_argument("--search", choices=SEARCH_METHODS, help="search method (default: the model card's generator)")
    c.add_argument("--region", choices=REGIONS, help="where the edit may go (default: the model card's generator)")
    c.add_argument("--compose", choices=["paste", "delta"], help="paste the decoded image in the mask, or add the decoder's change")
    c.add_argument("--target-probability", type=float,
                   help="drive the source class's probability to at most this (default: the card's generator)")
    c.add_argument("--opacity-rule", action="store_true", default=None,
                   help="hold the edit to an opacity's sign: toward the negative class it may only darken the film, toward "
                   "the positive class only brighten it (the default generator is not held to it: see the README)")
    c.add_argument("--target", metavar="CLASS", help="class to reach, a class word of the model's card (default: the other one)")
    c.add_argument("--mask-method", choices=SALIENCY, help="saliency method of the mask (default: gradcam)")
    c.add_argument("--mask-threshold", type=float, default=0.35)
    c.add_argument("--dilation", type=int, default=3)
    c.add_argument("--model", default=None)
    c.set_defaults(handler=counterfactual_image)


def train_autoencoder(args: argparse.Namespace) -> int:
    from cfx_desktop.core import device
    from cfx_desktop.core.imaging.counterfactual.autoencoder import train_autoencoder as train

    if not args.data.exists():
        raise UserError(f"{args.data}: not found")
    parts = ["cfx-desktop", "train-autoencoder", "--data", str(args.data), "--size", str(args.size),
             "--epochs", str(args.epochs), "--seed", str(args.seed)]
    if args.architecture != "segnet-ae":
        parts += ["--architecture", args.architecture, "--kl-weight", str(args.kl_weight)]
    if args.name:
        parts += ["--name", args.name]
    card = train(args.data, args.size, args.epochs, args.seed, out=args.out, command=shlex.join(parts), device=device.current(),
                 progress=lambda f, m="", p=None: print(m, flush=True) if m.startswith("epoch") else None,
                 architecture=args.architecture, kl_weight=args.kl_weight, name=args.name)
    print(f"wrote {card['name']}: {card['metrics_summary']}; {card['training']['minutes_per_epoch']} min/epoch")
    return 0


def build_latent_bank(args: argparse.Namespace) -> int:
    from cfx_desktop.core.bundles import BundleError
    from cfx_desktop.core.imaging.counterfactual.latent_bank import build_bank

    if not args.data.is_dir():
        raise UserError(f"{args.data}: not a folder with NORMAL/ and PNEUMONIA/")
    parts = ["cfx-desktop", "build-latent-bank", "--data", str(args.data), "--autoencoder", args.autoencoder,
             "--per-class", str(args.per_class), "--seed", str(args.seed)]
    try:
        card = build_bank(args.data, args.autoencoder, args.per_class, args.seed, out=args.out, command=shlex.join(parts),
                          progress=lambda f, m="", p=None: None)
    except (BundleError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from exc
    print(f"wrote {card['name']}: {card['codes_per_class']} codes per class, lung prior {card['lung_prior_area']:.1%} of the film")
    return 0


def counterfactual_image(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from cfx_desktop.core.bundles import BundleError
    from cfx_desktop.core.imaging.explain import render
    from cfx_desktop.core.imaging.counterfactual.autoencoder import autoencoder_for
    from dataclasses import replace

    from cfx_desktop.core.imaging.counterfactual.generate import (MaskSettings, comparison_captions, confirmation, confirmation_words,
                                                                  expert_checks, generate, verdict_line)
    from cfx_desktop.core.imaging.counterfactual.latent_bank import bank_for
    from cfx_desktop.core.imaging.live import referee_or_none, search_for, target_of

    model = image_model(args.model)
    image = _load(args.path)
    try:
        _guarded(model, image, args.path, "counterfactual")
    except UserError as exc:
        if args.json:  # the JSON is always written: here it says why there is no counterfactual
            args.json.write_text(json.dumps({"file": str(args.path), "confirmation": "withheld", "referee_flipped": False,
                                             "flipped": False, "png": None, "withheld": str(exc)}, indent=2) + "\n")
        raise
    try:
        autoencoder = autoencoder_for(model)
    except BundleError as exc:
        raise UserError(str(exc)) from exc
    target = args.target or target_of(model, image.pixels)
    if target not in model.labels:
        raise UserError(f"--target {target!r} is not a class of {model.name}; its classes: {', '.join(model.labels)}")
    bank = bank_for(model.card.get("autoencoder"), model.device)
    search = search_for(model, target, bank)
    overrides = {"steps": args.steps, "method": args.search, "compose": args.compose, "target_probability": args.target_probability,
                 "region": args.region, "opacity_rule": args.opacity_rule}
    search = replace(search, **{k: v for k, v in overrides.items() if v is not None})
    referee = referee_or_none(model)
    try:
        result = generate(model, autoencoder, image.pixels, target, search,
                          MaskSettings(args.mask_method, args.mask_threshold, args.dilation), referee=referee,
                          bank=bank)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    m = result.metrics
    status = confirmation(m)
    panel = render.comparison(result.full_original, result.full_counterfactual, result.full_difference,
                              comparison_captions(result.source, result.target, m))
    render.save_png(panel, args.out)  # the picture of exactly the counterfactual the JSON describes
    print(f"{args.path}: {result.source} -> {result.target}: p({m['positive_label']}) {m['initial_probability']:.3f} -> "
          f"{m['final_probability']:.3f} in {m['steps']} steps ({search.method}, {search.compose}, {search.region}), "
          f"{m['seconds']:.2f} s: {confirmation_words(m).upper()}: {verdict_line(m)}; change outside the lung fields "
          f"{m['change_outside_lungs']:.0%}; {'; '.join(expert_checks(m))}; SSIM {m['ssim']:.3f}; wrote {args.out}"
          + ("" if status == "confirmed" else " (the best attempt, shown as not confirmed)"))
    if args.json:  # always, confirmed or not: referee_flipped is false (never absent) when nothing confirmed it
        payload = {"file": str(args.path), "source": result.source, "target": result.target, "png": str(args.out),
                   "confirmation": status, "referee": None, "referee_flipped": False, **m}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0
