"""Image counterfactual benchmark: flip rate, inside-mask fraction, SSIM and time per image, over validation
images of each class (the classifier card's patient-level split), with the shipped classifier and autoencoder.

Run: python -m benchmarks.image_cf [--per-class 100]   (needs ../shared/data/kermany_cxr_224)
Writes benchmarks/results/image_cf.json and the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from benchmarks.common import machine, machine_line, write_doc_section, write_json
from cfx_desktop import paths
from cfx_desktop.core.imaging.autoencoder import load_autoencoder
from cfx_desktop.core.imaging.counterfactual import SearchSettings, generate
from cfx_desktop.core.imaging.data import validation_files
from cfx_desktop.core.imaging.io import load_image
from cfx_desktop.core.imaging.models import DEFAULT_MODEL, load_image_model
from cfx_desktop.core.model_cache import clear as clear_cache


def run(per_class: int, device: torch.device, steps: int) -> dict[str, Any]:
    folder = paths.data_file("kermany_cxr_224/train")
    if folder is None:
        raise SystemExit("needs ../shared/data/kermany_cxr_224/train (or CFX_DATA_DIR)")
    clear_cache()
    model = load_image_model(DEFAULT_MODEL, device)
    autoencoder, ae_card = load_autoencoder(model.card["autoencoder"], device)
    files = validation_files(folder, model.card.get("seed", 0))
    rows = []
    for label in (0, 1):
        chosen = [p for p, lab in files if lab == label][:per_class]
        for path in chosen:
            pixels = load_image(path).pixels
            result = generate(model, autoencoder, pixels, search=SearchSettings(steps=steps))
            rows.append({"file": path.name, "label": label, "source": result.source, "target": result.target, **result.metrics})
        print(f"class {label}: {len(chosen)} images done", flush=True)

    def summary(subset: list[dict[str, Any]]) -> dict[str, Any]:
        seconds = [r["seconds"] for r in subset]
        return {
            "images": len(subset),
            "flip_rate": float(np.mean([r["flipped"] for r in subset])),
            "inside_mask_fraction": float(np.mean([r["inside_mask_fraction"] for r in subset])),
            "decoded_inside_mask_fraction": float(np.mean([r["decoded_inside_mask_fraction"] for r in subset])),
            "ssim": float(np.mean([r["ssim"] for r in subset])),
            "l1": float(np.mean([r["l1"] for r in subset])),
            "mask_area": float(np.mean([r["mask_area"] for r in subset])),
            "steps_median": float(np.median([r["steps"] for r in subset])),
            "median_s": float(np.median(seconds)),
            "p95_s": float(np.percentile(seconds, 95)),
        }

    groups = {
        "pneumonia -> normal": [r for r in rows if r["source"] == "pneumonia"],
        "normal -> pneumonia": [r for r in rows if r["source"] == "normal"],
        "all": rows,
    }
    return {"machine": machine(), "device": str(device), "classifier": DEFAULT_MODEL, "autoencoder": ae_card["name"],
            "steps_budget": steps, "summary": {k: summary(v) for k, v in groups.items() if v}, "images": rows}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "## Image counterfactuals (`python -m benchmarks.image_cf`)",
        "",
        machine_line(m) + f" Device {results['device']}. Classifier `{results['classifier']}`, autoencoder `{results['autoencoder']}`, at most "
        f"{results['steps_budget']} Adam steps, Grad-CAM masks. Validation images of the classifier's patient-level split, "
        "grouped by the class the classifier gave them. *Inside-mask fraction*: share of the total absolute change inside "
        "the (binary) mask, for the composed output and, for comparison, for the raw decoded image.",
        "",
        "| direction | images | flip rate | inside-mask fraction | (raw decoded) | SSIM | mean abs change | mask area | median steps | median / p95 s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results["summary"].items():
        lines.append(f"| {key} | {r['images']} | {r['flip_rate']:.2f} | {r['inside_mask_fraction']:.3f} | {r['decoded_inside_mask_fraction']:.3f} | "
                     f"{r['ssim']:.3f} | {r['l1']:.4f} | {r['mask_area']:.2f} | {r['steps_median']:.0f} | {r['median_s']:.2f} / {r['p95_s']:.2f} |")
    lines += ["", "Targets: flip rate >= 0.95, inside-mask fraction >= 0.8, <= 3 s per image on the CPU."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    results = run(args.per_class, torch.device(args.device), args.steps)
    path = write_json("image_cf", results)
    write_doc_section("image_cf", markdown(results))
    print(markdown(results))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
