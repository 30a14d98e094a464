"""Out-of-distribution guard: what share of non-chest images it flags, and what share of chest radiographs.

    python -m benchmarks.ood_guard          (about 2 minutes on 2 CPU cores)

Chest radiographs: the guard card's own held-out half of the validation patients (clean and under acquisition
shift; never used to calibrate), and PneumoniaMNIST's validation images (another export of chest radiographs, at
28 px, upsampled: a hard case). Non-chest: the synthetic families of `benchmarks.ood_samples`, chest
radiographs rotated / flipped / inverted, and pydicom's bundled DICOM test files, scored twice: with their
headers, and as bare pixels (header removed) to measure the image score on its own. Nothing here fits or
calibrates anything. Targets: >= 95 % of non-chest images flagged, <= 2 % of chest radiographs flagged.
Writes benchmarks/results/ood_guard.json and a section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any, Iterable

import numpy as np

from benchmarks.common import machine, machine_line, publish_and_show, require, share
from cfx_desktop import paths
from cfx_desktop.core.imaging.train import synthetic_images as ood_samples
from cfx_desktop.core.imaging.guard.model import load_guard
from cfx_desktop.core.imaging.io.load import ImageLoadError, LoadedImage, load_image
from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model

TARGET_NON_CHEST, TARGET_CHEST = 0.95, 0.02


def _tally(guard, model, items: Iterable[tuple[str, LoadedImage]]) -> dict[str, dict[str, Any]]:  # noqa: ANN001
    counts: dict[str, dict[str, Any]] = defaultdict(lambda: {"n": 0, "flagged": 0, "withheld": 0, "scores": []})
    for family, image in items:
        verdict = guard.check(model, image)
        row = counts[family]
        row["n"] += 1
        row["flagged"] += int(not verdict.in_distribution)
        row["withheld"] += int(verdict.withheld)
        if verdict.score is not None:
            row["scores"].append(verdict.score)
    return {k: {"n": v["n"], "flagged": v["flagged"] / v["n"], "withheld": v["withheld"] / v["n"],
                "median_score": float(np.median(v["scores"])) if v["scores"] else None} for k, v in counts.items()}


def _pydicom(strip_header: bool) -> Iterable[tuple[str, LoadedImage]]:
    for path in ood_samples.pydicom_files():
        try:
            image = load_image(path)
        except ImageLoadError:
            continue
        modality = str(image.metadata.get("dicom", {}).get("Modality", "?"))
        if strip_header:
            image = LoadedImage(image.pixels, image.source, "PNG", {"chroma": image.metadata.get("chroma", 0.0)})
        yield f"pydicom {modality}", image


def _chest_samples(limit: int) -> list[LoadedImage]:
    from cfx_desktop.core.imaging.train.data import validation_files

    folder = paths.data_file("kermany_cxr_224/train")
    if folder is None:
        return []
    files = validation_files(folder)
    step = max(1, len(files) // limit)
    return [load_image(p) for p, _ in files[::step][:limit]]


def _mnist_chest(limit: int) -> list[LoadedImage]:
    path = paths.data_file("pneumoniamnist_28_rijulshr_variant.npz") or paths.data_file("pneumoniamnist_28_balanced_subset.npz")
    if path is None:
        return []
    with np.load(path) as data:
        key = "val_images" if "val_images" in data else "train_images"
        images = data[key][:limit]
    return [LoadedImage(img.astype(np.float32) / 255.0, f"pneumoniamnist {i}", "NPZ", {}) for i, img in enumerate(images)]


def run(per_family: int = 20, chest_limit: int = 100) -> dict[str, Any]:
    model = load_image_model(DEFAULT_MODEL)
    guard = load_guard(model)
    chest = _chest_samples(chest_limit)
    results: dict[str, Any] = {
        "machine": machine(), "model": model.name, "guard": guard.card.get("name"),
        "guard_card_metrics": guard.card.get("metrics", {}),
        "chest": _tally(guard, model, [("PneumoniaMNIST validation (28 px, upsampled)", im) for im in _mnist_chest(200)]),
        "synthetic": _tally(guard, model, ood_samples.synthetic(per_family)),
        "unusual_chest": _tally(guard, model, ood_samples.unusual_chest(chest)),
        "pydicom_with_header": _tally(guard, model, _pydicom(False)),
        "pydicom_pixels_only": _tally(guard, model, _pydicom(True)),
    }
    def flagged(rows: list[dict[str, Any]], row: str) -> float:  # a share of zero images is refused, not reported as 0 %
        return share(sum(r["flagged"] * r["n"] for r in rows), sum(r["n"] for r in rows), row, "images")

    non_chest = [r for key in ("synthetic", "unusual_chest", "pydicom_with_header") for r in results[key].values()]
    results["non_chest_flagged"] = flagged(non_chest, "all non-chest images flagged")
    results["non_chest_images"] = sum(r["n"] for r in non_chest)
    real = list(results["pydicom_pixels_only"].values())
    results["real_dicom_pixels_only_flagged"] = flagged(real, "real DICOM images, pixels only")
    results["image_score_only_flagged"] = flagged(real + list(results["synthetic"].values()), "image checks alone")
    require(results["chest"] or results["unusual_chest"], "chest radiographs flagged",
            "no chest radiographs were scored (../shared/data absent?)")
    return results


def markdown(r: dict[str, Any]) -> str:
    card = r["guard_card_metrics"]
    lines = [
        "## Out-of-distribution guard (`python -m benchmarks.ood_guard`)",
        "",
        machine_line(r["machine"]) + f" Classifier `{r['model']}`, guard `{r['guard']}`. Flagged = caution or withheld.",
        "",
        "| images | n | flagged | withheld | median score |",
        "|---|---|---|---|---|",
    ]
    if card:
        lines.append(f"| chest: held-out validation patients, clean | {card['held_out_images']} | {card['held_out_flagged_clean']:.1%} | | |")
        lines.append(f"| chest: held-out validation patients, acquisition shift | {card['held_out_images']} | {card['held_out_flagged_shifted']:.1%} | | |")
    for group in ("chest", "synthetic", "unusual_chest", "pydicom_with_header", "pydicom_pixels_only"):
        for family, row in sorted(r[group].items()):
            score = "" if row["median_score"] is None else f"{row['median_score']:.2f}"
            suffix = " (pixels only)" if group == "pydicom_pixels_only" else ""
            lines.append(f"| {family}{suffix} | {row['n']} | {row['flagged']:.0%} | {row['withheld']:.0%} | {score} |")
    lines += ["", f"All non-chest images (synthetic, unusual chest, pydicom with headers): **{r['non_chest_flagged']:.1%}** of "
              f"{r['non_chest_images']} flagged (target >= {TARGET_NON_CHEST:.0%}). Image checks alone (synthetic and header-less "
              f"pydicom): {r['image_score_only_flagged']:.1%}; on the real DICOM images alone, with their headers removed (never "
              f"seen in training, the most honest row): {r['real_dicom_pixels_only_flagged']:.1%}. Chest radiographs flagged: "
              f"target <= {TARGET_CHEST:.0%}. The synthetic families are the ones the discriminator was trained on (other "
              "draws), so their 100 % is optimistic."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-family", type=int, default=20)
    args = parser.parse_args()
    results = run(args.per_family)
    publish_and_show("ood_guard", results, markdown(results))


if __name__ == "__main__":
    main()
