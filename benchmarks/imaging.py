"""Imaging speed: classifier inference, Grad-CAM, Integrated Gradients (50 steps) and occlusion for one 224 px
image, median of 5 after a warm-up, on the CPU and on CUDA when present.

Run: python -m benchmarks.imaging   (uses a Kermany image from ../shared/data when present, else a synthetic one)
Writes benchmarks/results/imaging.json and the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import numpy as np
import torch

from benchmarks.common import machine, machine_line, write_doc_section, write_json
from cfx_desktop import paths
from cfx_desktop.core.imaging import saliency
from cfx_desktop.core.imaging.io import load_image
from cfx_desktop.core.imaging.models import DEFAULT_MODEL, load_image_model
from cfx_desktop.core.model_cache import clear as clear_cache

TARGETS = {"gradcam": 0.050, "ig": 0.500, "occlusion": 2.0}


def sample_image() -> tuple[np.ndarray, str]:
    folder = paths.data_file("kermany_cxr_224/train/PNEUMONIA")
    if folder is not None:
        first = sorted(folder.iterdir())[0]
        return load_image(first).pixels, f"{first.name} (224 x 224)"
    rng = np.random.default_rng(0)
    return rng.random((224, 224)).astype(np.float32), "synthetic 224 x 224 noise"


def median_time(fn: Callable[[], Any], repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(repeats: int = 5) -> dict[str, Any]:
    pixels, source = sample_image()
    results: dict[str, Any] = {"machine": machine(), "image": source, "model": DEFAULT_MODEL, "devices": {}}
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        clear_cache()
        model = load_image_model(DEFAULT_MODEL, device)
        row = {
            "input_size": model.input_size,
            "inference_s": median_time(lambda: model.probability(pixels), repeats),
            "gradcam_s": median_time(lambda: saliency.saliency_map(model, pixels, "gradcam"), repeats),
            "ig50_s": median_time(lambda: saliency.saliency_map(model, pixels, "ig", params={"n_steps": 50, "internal_batch_size": 10}), repeats),
            "ig50_batch50_s": median_time(lambda: saliency.saliency_map(model, pixels, "ig", params={"n_steps": 50, "internal_batch_size": 50}), repeats),
            "occlusion_s": median_time(lambda: saliency.saliency_map(model, pixels, "occlusion", params={"window": 16, "stride": 8}), repeats),
        }
        ig = saliency.saliency_map(model, pixels, "ig", params={"n_steps": 50, "internal_batch_size": 10})
        row["ig50_convergence_delta"] = ig.params["convergence_delta"]
        results["devices"][str(device)] = row
        print(device, row, flush=True)
    clear_cache()
    return results


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "## Imaging saliency (`python -m benchmarks.imaging`)",
        "",
        machine_line(m) + f" Model `{results['model']}`; image {results['image']}; median of 5 after a warm-up; "
        "each call includes preprocessing and mapping back to the image size.",
        "",
        "| device | model input | inference | Grad-CAM | IG, 50 steps (batch 10, the app's default) | IG, 50 steps (batch 50) | IG convergence delta | occlusion 16 px / stride 8 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for device, r in results["devices"].items():
        lines.append(f"| {device} | {r['input_size']} px | {r['inference_s'] * 1000:.1f} ms | {r['gradcam_s'] * 1000:.1f} ms | "
                     f"{r['ig50_s'] * 1000:.0f} ms | {r['ig50_batch50_s'] * 1000:.0f} ms | {r['ig50_convergence_delta']:.2e} | {r['occlusion_s'] * 1000:.0f} ms |")
    lines += ["", f"Targets on CPU: Grad-CAM <= {TARGETS['gradcam'] * 1000:.0f} ms, IG <= {TARGETS['ig'] * 1000:.0f} ms, "
              f"occlusion <= {TARGETS['occlusion']:.0f} s. ANCHORS (seed-like CNN at 224 px, captum defaults): Grad-CAM 23 ms, "
              "IG 2.09 s, occlusion 16.8 s."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = run(args.repeats)
    path = write_json("imaging", results)
    write_doc_section("imaging", markdown(results))
    print(f"wrote {path} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
