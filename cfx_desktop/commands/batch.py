"""``batch-explain-patients`` and ``batch-explain-images``: many items into one folder of JSON lines, with a
progress bar, resumable, in this process or on Dask distributed (``--dask-local N`` / ``--scheduler ADDRESS``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cfx_desktop.commands.errors import UserError
from cfx_desktop.commands import choices


def _add_common(p: argparse.ArgumentParser, chunk: int) -> None:
    p.add_argument("--out", type=Path, required=True, help="folder for results.jsonl, errors.jsonl, run.json (and maps/); "
                   "running again into it resumes")
    p.add_argument("--restart", action="store_true", help="discard what --out holds and start over")
    p.add_argument("--chunk-size", type=int, default=chunk, help=f"items per task / per GPU batch (default {chunk})")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dask-local", type=int, metavar="N", help="run on a local Dask cluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                       "(its workers need cfx-desktop installed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (one summary line at the end)")


def register(sub: argparse._SubParsersAction) -> None:
    from cfx_desktop.commands.tabular import add_search_arguments

    p = sub.add_parser("batch-explain-patients", help="explain every row of a patient CSV into DIR/results.jsonl "
                       "(prediction, counterfactuals with robustness, attributions)")
    p.add_argument("csv", type=Path, metavar="CSV")
    p.add_argument("--dataset", help="a dataset (a built-in one or yours from train-tabular --name): its default model")
    p.add_argument("--model", help="an installed model name instead (see `cfx-desktop info`)")
    p.add_argument("--shapley", type=int, default=32, metavar="N", help="Shapley permutations per patient (exact "
                   "contributions for NAM/Lasso; 0: none; default 32)")
    add_search_arguments(p)
    _add_common(p, chunk=8)
    p.set_defaults(handler=batch_patients)

    i = sub.add_parser("batch-explain-images", help="explain every image under DIR into OUT/results.jsonl with maps as "
                       "PNG and NPY (saliency; counterfactuals on request)")
    i.add_argument("folder", type=Path, metavar="DIR")
    i.add_argument("--methods", default="gradcam", help="comma-separated saliency methods, e.g. gradcam,ig "
                   "(default gradcam; an empty string: predictions only)")
    i.add_argument("--counterfactuals", action="store_true", help="also a local counterfactual image per image (slow)")
    i.add_argument("--model", default=None, help="image model bundle (default: the shipped classifier)")
    _add_common(i, chunk=16)
    i.set_defaults(handler=batch_images)


def _executor(args: argparse.Namespace):  # noqa: ANN202
    from cfx_desktop.core.batch.dask_cluster import DaskExecutor

    if args.dask_local is not None and args.dask_local < 1:
        raise UserError("--dask-local needs at least 1 worker")
    if args.dask_local or args.scheduler:
        return DaskExecutor(args.scheduler, args.dask_local)
    return None


def _run(job, args: argparse.Namespace) -> int:  # noqa: ANN001
    from contextlib import nullcontext

    from tqdm import tqdm

    from cfx_desktop.core.batch import runner

    if args.chunk_size < 1:
        raise UserError("--chunk-size must be at least 1")
    job.chunk_size = args.chunk_size
    bar = None

    def progress(p: runner.Progress) -> None:
        nonlocal bar
        if args.no_progress or (not p.total and not p.done):
            return
        if bar is None:
            if p.skipped:
                print(f"resuming: {p.skipped} of {p.total + p.skipped} already in {args.out / runner.RESULTS}", file=sys.stderr)
            bar = tqdm(total=p.total, unit="item", file=sys.stderr, dynamic_ncols=True)
        bar.update(p.done - bar.n)
        bar.set_postfix(errors=p.errors, refresh=False)

    try:
        executor = _executor(args)
        with executor or nullcontext():
            summary = runner.run(job, args.out, executor=executor, restart=args.restart, progress=progress)
    except runner.BatchError as exc:
        raise UserError(str(exc)) from exc
    except KeyboardInterrupt:
        print(f"\ninterrupted: what was finished is in {args.out / runner.RESULTS}; run the same command to resume",
              file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(f"{summary.done} explained, {summary.skipped} already done, {summary.errors} failed "
          f"({summary.items_per_second:.2f} items/s on {summary.executor}); results: {args.out / runner.RESULTS}")
    if summary.errors:
        print(f"failures and why: {args.out / runner.ERRORS} (they are tried again on the next run)")
    return 1 if summary.errors and not summary.done and not summary.skipped else 0


def batch_patients(args: argparse.Namespace) -> int:
    from cfx_desktop.commands.tabular import explain_settings, load_model_for
    from cfx_desktop.core.batch import patients
    from cfx_desktop.core.tabular.data import CsvError

    if not args.csv.exists():
        raise UserError(f"{args.csv}: not found")
    model = load_model_for(args)
    settings = explain_settings(args, model.schema, shapley_samples=max(args.shapley, 0))
    try:
        job = patients.build_job(args.csv, model, settings)
    except CsvError as exc:
        raise UserError(str(exc)) from exc
    print(f"{len(job.items)} patients from {args.csv}; model {model.name}; method {job.settings['explain']['method']}",
          file=sys.stderr)
    return _run(job, args)


def batch_images(args: argparse.Namespace) -> int:
    from cfx_desktop.commands.imaging import image_model
    from cfx_desktop.core.batch import images

    if not args.folder.is_dir():
        raise UserError(f"{args.folder}: not a folder")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in choices.saliency_methods()]
    if unknown:
        raise UserError(f"unknown saliency method(s) {', '.join(unknown)}; known: {', '.join(choices.saliency_methods())}")
    model = image_model(args.model)
    job = images.build_job(args.folder, model.name, methods, args.counterfactuals)
    if not job.items:
        raise UserError(f"{args.folder} holds no images (PNG, JPEG, TIFF, DICOM), in it or in its sub-folders")
    print(f"{len(job.items)} images under {args.folder}; model {model.name}; maps: {', '.join(methods) or 'none'}"
          f"{'; counterfactuals' if args.counterfactuals else ''}", file=sys.stderr)
    return _run(job, args)
