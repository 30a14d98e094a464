"""Robustness to acquisition shift: ROC AUC (and accuracy at each model's shipped threshold) on the validation
split, clean and under each shift family of `core/imaging/train/augment.py` at three strengths.

    python -m benchmarks.image_stress [--weights DIR ...]      (about a minute per model on 2 CPU cores)

The stress set is built from the classifier card's own patient-level validation split (the same seed), so no
image any model trained on is in it; the shifts are applied at the model's input size with a fixed seed, so every
model sees identical images. Each ``--weights`` folder adds its classifier (e.g. a candidate trained elsewhere),
so a candidate and the shipped model are compared in one run. Writes benchmarks/results/image_stress.json and a
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import machine, machine_line, publish_and_show, require
from cfx_desktop import paths
from cfx_desktop.core.imaging.train import augment
from cfx_desktop.core.imaging.train.data import validation_files
from cfx_desktop.core.imaging.io.load import load_image
from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, ImageModel, load_image_model, referee_for
from cfx_desktop.core.imaging.models.preprocess import resize_square
from cfx_desktop.core.metrics import binary_metrics


def validation_set(size: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    folder = paths.data_file("kermany_cxr_224/train")
    if folder is None:
        raise SystemExit("needs ../shared/data/kermany_cxr_224/train (or CFX_DATA_DIR)")
    files = validation_files(folder, seed)
    labels = np.array([label for _, label in files])
    require(set(labels.tolist()) == {0, 1}, "validation images", "a ROC AUC needs validation images of both classes")
    images = torch.cat([resize_square(load_image(p).pixels, size) for p, _ in files])
    return images, labels


def probabilities(model: ImageModel, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    out = []
    with model.lock, torch.inference_mode():
        for start in range(0, len(images), batch):
            x = (images[start : start + batch] - model.mean) / model.std
            out.append(torch.sigmoid(model.logits(x)).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def shifted(images: torch.Tensor, family: str, strength: float, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([augment.FAMILIES[family](chunk, strength, generator) for chunk in images.split(128)])


def evaluate(model: ImageModel, images: torch.Tensor, labels: np.ndarray) -> dict[str, Any]:
    def score(x: torch.Tensor) -> dict[str, float]:
        m = binary_metrics(labels, probabilities(model, x), model.threshold)
        return {"roc_auc": m["roc_auc"], "accuracy": m["accuracy"]}

    row: dict[str, Any] = {"clean": score(images), "families": {}}
    for family in augment.FAMILIES:
        row["families"][family] = [score(shifted(images, family, s)) for s in augment.STRESS_STRENGTHS]
    aucs = [r["roc_auc"] for rows in row["families"].values() for r in rows]
    row["mean_auc_under_shift"] = float(np.mean(aucs))
    row["worst_auc_under_shift"] = float(np.min(aucs))
    return row


def run(extra_weights: list[Path]) -> dict[str, Any]:
    shipped = load_image_model(DEFAULT_MODEL)
    seed = int(shipped.card.get("seed", 0))
    images, labels = validation_set(shipped.input_size, seed)
    models: dict[str, ImageModel] = {f"{shipped.name} (shipped)": shipped}
    referee = referee_for(shipped)
    if referee is not None:
        models[f"{referee.name} (referee)"] = referee
    for folder in extra_weights:
        candidate = load_image_model(DEFAULT_MODEL, root=folder)
        models[f"{candidate.name} from {folder}"] = candidate
    results: dict[str, Any] = {"machine": machine(), "validation_images": int(len(labels)), "seed": seed,
                               "strengths": list(augment.STRESS_STRENGTHS), "models": {}}
    for label, model in models.items():
        results["models"][label] = {"training": model.card.get("training", {}).get("augmentation"), **evaluate(model, images, labels)}
        print(label, results["models"][label]["clean"], results["models"][label]["mean_auc_under_shift"], flush=True)
    return results


def markdown(r: dict[str, Any]) -> str:
    families = list(augment.FAMILIES)
    lines = [
        "## Robustness to acquisition shift (`python -m benchmarks.image_stress`)",
        "",
        machine_line(r["machine"]) + f" {r['validation_images']} validation images (patient split, seed {r['seed']}); "
        "ROC AUC clean and per shift family at strengths 1/3, 2/3 and 1 (see `core/imaging/train/augment.py` for the magnitudes).",
        "",
        "| model | clean AUC (acc.) | " + " | ".join(families) + " | mean / worst under shift |",
        "|---|---|" + "---|" * len(families) + "---|",
    ]
    for label, row in r["models"].items():
        cells = [" / ".join(f"{x['roc_auc']:.3f}" for x in row["families"][f]) for f in families]
        lines.append(f"| {label} | {row['clean']['roc_auc']:.3f} ({row['clean']['accuracy']:.3f}) | " + " | ".join(cells)
                     + f" | {row['mean_auc_under_shift']:.3f} / {row['worst_auc_under_shift']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, action="append", default=[], help="another weights folder to compare")
    args = parser.parse_args()
    results = run(args.weights)
    publish_and_show("image_stress", results, markdown(results))


if __name__ == "__main__":
    main()
