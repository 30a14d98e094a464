"""Batch explanation: items per second in one process against a two-worker local Dask cluster.

    python -m benchmarks.batch            (about 5 minutes on 2 CPU cores)
    python -m benchmarks.batch --quick    (fewer items)

Both run the real command in a fresh process (`cfx-desktop batch-explain-patients|images ... --no-progress`),
alternating, into fresh output folders, so each pays its own start: imports, model loading, and for the cluster
starting two worker processes. Reported: the command's own items/s (from its first chunk to its last: model
loading on the workers included, process start not) and items per wall-clock second of the whole command, with
the cluster's ratio to one process measured in the same run. Patients: the first rows of the heart-failure CSV
when ../shared/data has it, else synthetic rows; images: the first radiographs of the Kermany training folder
when present, else synthetic pictures. Nothing is copied into the project: the inputs are read where they are or
written to a temporary folder. Writes benchmarks/results/batch.json and a section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import BenchmarkError, machine, machine_line, median, publish, require
from cfx_desktop import paths


def _patients(folder: Path, n: int) -> tuple[Path, str]:
    from cfx_desktop.core.tabular.datasets import default_variant, schema_for

    schema = schema_for(default_variant())
    real = paths.data_file("heart_failure_clinical_records_dataset.csv")
    path = folder / "patients.csv"
    if real is not None:
        lines = real.read_text().splitlines()[: n + 1]
        path.write_text("\n".join(lines) + "\n")
        return path, f"first {n} rows of {real.name}"
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(schema.names)
        for _ in range(n):
            w.writerow([schema.to_patient(schema.example_vector() * rng.uniform(0.8, 1.2))[c] for c in schema.names])
    return path, f"{n} synthetic rows (../shared/data absent)"


def _images(folder: Path, n: int) -> tuple[Path, str]:
    from PIL import Image

    images = folder / "images"
    images.mkdir()
    real = paths.shared_data_dir() / "kermany_cxr_224" / "train" if paths.shared_data_dir() else None
    if real is not None and real.is_dir():
        files = sorted((real / "NORMAL").iterdir())[: n // 2] + sorted((real / "PNEUMONIA").iterdir())[: n - n // 2]
        for f in files:  # links, not copies
            (images / f.name).symlink_to(f)
        return images, f"{len(files)} radiographs of kermany_cxr_224/train (half normal, half pneumonia)"
    rng = np.random.default_rng(0)
    for i in range(n):
        y = np.linspace(0, 1, 224)[:, None] * np.hanning(224)[None, :]
        Image.fromarray(np.clip(y * 220 + rng.normal(0, 8, y.shape), 0, 255).astype(np.uint8)).save(images / f"s{i}.png")
    return images, f"{n} synthetic pictures (../shared/data absent)"


def _run(command: list[str], expected: int, row: str, limit_s: float = 1800.0) -> dict[str, Any]:
    """One run of the real command; refused unless it exits 0 having explained every one of ``expected`` items
    (a fresh output folder: nothing is skipped as already done, nothing may fail)."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "cfx_desktop", *command, "--no-progress"], capture_output=True,
                              text=True, timeout=limit_s)
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(row, f"still running after its {limit_s:g} s limit") from exc
    wall = time.perf_counter() - start
    require(done.returncode == 0, row, f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    match = re.search(r"(\d+) explained.*?\(([\d.]+) items/s", done.stdout)
    require(match is not None, row, f"the command did not say how many it explained: {done.stdout[-500:]}")
    items = int(match.group(1))
    require(items == expected, row, f"{items} of {expected} items explained")
    return {"items": items, "items_per_second": float(match.group(2)), "wall_seconds": wall, "items_per_wall_second": items / wall}


def _compare(name: str, base: list[str], out: Path, repeats: int, expected: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"one process": [], "Dask local cluster, 2 workers": []}
    for r in range(repeats):
        for label, extra in (("one process", []), ("Dask local cluster, 2 workers", ["--dask-local", "2"])):
            runs[label].append(_run([*base, *extra, "--out", str(out / f"{name}-{len(runs[label])}-{extra != []}")],
                                    expected, f"{name}, {label}"))
            print(f"  {name} {label}: {runs[label][-1]}", flush=True)
    summary = {}
    for label, rows in runs.items():
        summary[label] = {key: median((row[key] for row in rows), f"{name}, {label}")
                          for key in ("items_per_second", "wall_seconds", "items_per_wall_second")}
        summary[label]["items"] = rows[0]["items"]
        summary[label]["runs"] = rows
    one, two = summary["one process"], summary["Dask local cluster, 2 workers"]
    summary["ratio_items_per_second"] = two["items_per_second"] / one["items_per_second"]
    summary["ratio_items_per_wall_second"] = two["items_per_wall_second"] / one["items_per_wall_second"]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_patients, n_images, repeats = (24, 16, 1) if args.quick else (240, 192, 2)
    m = machine()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path, patient_source = _patients(folder, n_patients)
        image_dir, image_source = _images(folder, n_images)
        n_image_files = len(list(image_dir.iterdir()))
        results = {
            "patients": {"source": patient_source, **_compare(
                "patients", ["batch-explain-patients", str(csv_path), "--shapley", "32"], folder, repeats, n_patients)},
            "images": {"source": image_source, **_compare(
                "images", ["batch-explain-images", str(image_dir), "--methods", "gradcam,ig"], folder, repeats, n_image_files)},
        }
    payload = {"machine": m, "repeats": repeats, **results}
    rows = []
    for kind, block in results.items():
        for label in ("one process", "Dask local cluster, 2 workers"):
            r = block[label]
            rows.append(f"| {kind} | {label} | {r['items']} | {r['items_per_second']:.2f} | {r['wall_seconds']:.1f} s | "
                        f"{r['items_per_wall_second']:.2f} |")
        rows.append(f"| {kind} | **cluster / one process** | | **{block['ratio_items_per_second']:.2f}x** | | "
                    f"**{block['ratio_items_per_wall_second']:.2f}x** |")
    markdown = "\n".join([
        "## Batch explanation: one process against a two-worker local Dask cluster (`python -m benchmarks.batch`)",
        "",
        machine_line(m),
        f"Patients: {results['patients']['source']} (consensus counterfactuals + 32-permutation Shapley values); images: "
        f"{results['images']['source']} (Grad-CAM + Integrated Gradients, one batch per 16-image chunk). Medians of "
        f"{repeats} alternating run(s) of the real command in fresh processes.",
        "",
        "| items | where | n | items/s (first chunk to last) | whole command | items per wall second |",
        "|---|---|---|---|---|---|",
        *rows,
    ])
    path = publish("batch", payload, markdown)
    print(markdown)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
