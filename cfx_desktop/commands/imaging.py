"""Image sub-commands: train-imaging, predict-image, explain-image, sanity."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from cfx_desktop.cli import UserError
from cfx_desktop.commands import choices

SALIENCY = choices.RegistryChoices(choices.saliency_methods)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-imaging", help="train a pneumonia classifier from a Kermany-style folder or a .npz")
    p.add_argument("--data", type=Path, required=True, help="folder with NORMAL/ and PNEUMONIA/, or a MedMNIST .npz")
    p.add_argument("--model", default="slim-cnn", choices=choices.RegistryChoices(choices.image_architectures),
                   help="image architecture (default slim-cnn)")
    p.add_argument("--size", type=int, default=128, choices=[224, 128, 96, 64])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shuffle-labels", action="store_true", help="train on permuted labels (for the sanity check)")
    p.add_argument("--out", type=Path, help="weights folder (default: the shipped weights/)")
    p.add_argument("--autoencoder", help="autoencoder bundle the card names for counterfactuals (default autoencoder-SIZE)")
    p.add_argument("--shuffled-twin", help="shuffled-label twin the card names for the sanity check "
                   "(default pneumonia-MODEL-shuffled-labels)")
    p.set_defaults(handler=train_imaging)


def train_imaging(args: argparse.Namespace) -> int:
    from cfx_desktop.core import device
    from cfx_desktop.core.imaging.train import train_image_model

    if not args.data.exists():
        raise UserError(f"{args.data}: not found")
    parts = ["cfx-desktop", "train-imaging", "--data", str(args.data), "--model", args.model, "--size", str(args.size),
             "--epochs", str(args.epochs), "--seed", str(args.seed)] + (["--shuffle-labels"] if args.shuffle_labels else [])
    try:
        card = train_image_model(args.data, args.model, args.size, args.epochs, args.seed, shuffle_labels=args.shuffle_labels,
                                 out=args.out, autoencoder=args.autoencoder, shuffled_twin=args.shuffled_twin, command=shlex.join(parts), device=device.current(),
                                 progress=lambda f, m="", p=None: print(m, flush=True) if m.startswith("epoch") else None)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    print(f"wrote {card['name']}: {card['metrics_summary']}; threshold {card['threshold']:.3f}; "
          f"{card['training']['minutes_per_epoch']} min/epoch", file=sys.stdout)
    return 0


def register_usage(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict-image", help="probability of pneumonia for images or folders (CSV: file,probability,label,error)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH_OR_DIR")
    p.add_argument("--model", default=None, help="image model bundle (default: the shipped classifier)")
    p.add_argument("--csv", type=Path, help="write the table here instead of standard output")
    p.set_defaults(handler=predict_image)

    e = sub.add_parser("explain-image", help="write a saliency overlay for one image")
    e.add_argument("path", type=Path)
    e.add_argument("--method", choices=SALIENCY, help="saliency method (default: gradcam)")
    e.add_argument("--target", choices=["pneumonia", "normal"], help="class to explain (default: the predicted one)")
    e.add_argument("--out", type=Path, required=True, help="PNG to write (image | overlay)")
    e.add_argument("--model", default=None)
    e.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the method, e.g. n_steps=32 or baseline=blurred for ig, window=12 for occlusion")
    e.set_defaults(handler=explain_image)

    s = sub.add_parser("sanity", help="model- and data-randomization sanity checks for a saliency method")
    s.add_argument("--image", type=Path, required=True)
    s.add_argument("--method", choices=SALIENCY, help="saliency method (default: gradcam)")
    s.add_argument("--out-dir", type=Path, default=Path("sanity-maps"))
    s.add_argument("--model", default=None)
    s.set_defaults(handler=sanity)


def _model(name: str | None):  # noqa: ANN202
    from cfx_desktop.core.bundles import BundleError
    from cfx_desktop.core.imaging.models import DEFAULT_MODEL, load_image_model

    try:
        return load_image_model(name or DEFAULT_MODEL)
    except BundleError as exc:
        raise UserError(str(exc)) from exc


def _load(path: Path):  # noqa: ANN202
    from cfx_desktop.core.imaging.io import ImageLoadError, load_image

    try:
        return load_image(path)
    except ImageLoadError as exc:
        raise UserError(str(exc)) from exc


def predict_image(args: argparse.Namespace) -> int:
    import csv

    from cfx_desktop.core.imaging.io import ImageLoadError, list_images, load_image

    model = _model(args.model)
    files: list[Path] = []
    for path in args.paths:
        files.extend(list_images(path) if path.is_dir() else [path])
    handle = open(args.csv, "w", newline="", encoding="utf-8") if args.csv else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow(["file", "probability", "label", "error"])
        failures = 0
        for path in files:
            try:
                p = model.probability(load_image(path).pixels)
                writer.writerow([str(path), f"{p:.6f}", model.label(p), ""])
            except ImageLoadError as exc:
                failures += 1
                writer.writerow([str(path), "", "", str(exc)])
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
                failures += 1
                writer.writerow([str(path), "", "", f"{type(exc).__name__}: {exc}"])
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
    from cfx_desktop.core.imaging import render, saliency

    model = _model(args.model)
    image = _load(args.path)
    try:
        result = saliency.saliency_map(model, image.pixels, args.method, args.target, _params(args.param))
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    panel = render.side_by_side(render.gray_rgb(image.pixels), render.overlay(image.pixels, result.values, 0.55))
    render.save_png(panel, args.out)
    extra = ", ".join(f"{k} {v}" for k, v in result.params.items())
    print(f"{args.path}: p(pneumonia) = {result.probability:.3f} -> {model.label(result.probability)}; "
          f"{saliency.label(result.method)} for '{result.target}' in {result.seconds:.2f} s ({extra}); wrote {args.out}")
    return 0


def sanity(args: argparse.Namespace) -> int:
    from cfx_desktop.core.imaging import render, sanity as sanity_mod
    from cfx_desktop.core.imaging.live import twin_or_reason

    model = _model(args.model)
    image = _load(args.image)
    twin, note = twin_or_reason(model.name)
    if note:
        print(f"note: data randomization skipped: {note}", file=sys.stderr)
    report = sanity_mod.run(model, image.pixels, args.method, twin)
    print(f"{report.method} sanity checks on {args.image} (Spearman of |map| and SSIM against the trained model's map; "
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
    t.add_argument("--out", type=Path)
    t.set_defaults(handler=train_autoencoder)

    c = sub.add_parser("counterfactual-image", help="local counterfactual: original | counterfactual | difference")
    c.add_argument("path", type=Path)
    c.add_argument("--out", type=Path, required=True, help="PNG to write")
    c.add_argument("--json", type=Path, help="write the metrics here")
    c.add_argument("--steps", type=int, default=200)
    c.add_argument("--target", choices=["normal", "pneumonia"], help="class to reach (default: the other one)")
    c.add_argument("--mask-method", choices=SALIENCY, help="saliency method of the mask (default: gradcam)")
    c.add_argument("--mask-threshold", type=float, default=0.35)
    c.add_argument("--dilation", type=int, default=3)
    c.add_argument("--model", default=None)
    c.set_defaults(handler=counterfactual_image)


def train_autoencoder(args: argparse.Namespace) -> int:
    from cfx_desktop.core import device
    from cfx_desktop.core.imaging.autoencoder import train_autoencoder as train

    if not args.data.exists():
        raise UserError(f"{args.data}: not found")
    parts = ["cfx-desktop", "train-autoencoder", "--data", str(args.data), "--size", str(args.size),
             "--epochs", str(args.epochs), "--seed", str(args.seed)]
    card = train(args.data, args.size, args.epochs, args.seed, out=args.out, command=shlex.join(parts), device=device.current(),
                 progress=lambda f, m="", p=None: print(m, flush=True) if m.startswith("epoch") else None)
    print(f"wrote {card['name']}: {card['metrics_summary']}; {card['training']['minutes_per_epoch']} min/epoch")
    return 0


def counterfactual_image(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from cfx_desktop.core.bundles import BundleError
    from cfx_desktop.core.imaging import render
    from cfx_desktop.core.imaging.autoencoder import autoencoder_for
    from cfx_desktop.core.imaging.counterfactual import MaskSettings, SearchSettings, generate

    model = _model(args.model)
    image = _load(args.path)
    try:
        autoencoder = autoencoder_for(model)
    except BundleError as exc:
        raise UserError(str(exc)) from exc
    try:
        result = generate(model, autoencoder, image.pixels, args.target, SearchSettings(steps=args.steps),
                          MaskSettings(args.mask_method, args.mask_threshold, args.dilation))
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    diff = result.full_difference
    panel = render.side_by_side(render.gray_rgb(result.full_original), render.gray_rgb(result.full_counterfactual),
                                render.colorize(diff, "coolwarm", signed=True) if np.abs(diff).max() > 0 else render.gray_rgb(diff))
    render.save_png(panel, args.out)
    m = result.metrics
    print(f"{args.path}: {result.source} -> {result.target}: p(pneumonia) {m['initial_probability']:.3f} -> {m['final_probability']:.3f} "
          f"({'flipped' if m['flipped'] else 'NOT flipped'}) in {m['steps']} steps, {m['seconds']:.2f} s; "
          f"inside-mask fraction {m['inside_mask_fraction']:.3f}, SSIM {m['ssim']:.3f}; wrote {args.out}")
    if args.json:
        args.json.write_text(json.dumps({"file": str(args.path), "source": result.source, "target": result.target, **m}, indent=2) + "\n")
    return 0
