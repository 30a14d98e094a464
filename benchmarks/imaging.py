"""Imaging speed: classifier inference, Grad-CAM, Integrated Gradients (50 steps) and occlusion for one 224 px
image, median of 5 after a warm-up, on the CPU and on CUDA when present.

Run: python -m benchmarks.imaging   (uses a Kermany image from ../shared/data when present, else a synthetic one)
Writes benchmarks/results/imaging.json and the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

import numpy as np
import torch

from benchmarks.common import machine, machine_line, median, publish, require
from cfx_desktop import paths
from cfx_desktop.core.imaging.explain import saliency
from cfx_desktop.core.imaging.io.load import load_image
from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model
from cfx_desktop.core.model_cache import clear as clear_cache

TARGETS = {"gradcam": 0.025, "ig": 0.150, "occlusion": 0.4}


def sample_image() -> tuple[np.ndarray, str]:
    folder = paths.data_file("kermany_cxr_224/train/PNEUMONIA")
    if folder is not None:
        first = sorted(folder.iterdir())[0]
        return load_image(first).pixels, f"{first.name} (224 x 224)"
    rng = np.random.default_rng(0)
    return rng.random((224, 224)).astype(np.float32), "synthetic 224 x 224 noise"


def _is_map(result: Any, shape: tuple[int, ...]) -> bool:
    """A saliency result with a finite, non-constant map of the image's size: the work the row claims to time."""
    values = getattr(result, "values", None)
    return (values is not None and values.shape == shape and bool(np.isfinite(values).all())
            and float(values.max() - values.min()) > 0)


def median_time(fn: Callable[[], Any], row: str, check: Callable[[Any], bool], repeats: int = 5) -> float:
    """Median seconds of ``fn`` after a warm-up; every call's result must pass ``check``, else the row is refused."""
    require(check(fn()), row, "the warm-up call returned no usable result")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        require(check(result), row, "a timed call returned no usable result")
    return median(times, row)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a.ravel())).astype(float)
    rb = np.argsort(np.argsort(b.ravel())).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def run(repeats: int = 5) -> dict[str, Any]:
    pixels, source = sample_image()
    results: dict[str, Any] = {"machine": machine(), "image": source, "model": DEFAULT_MODEL, "devices": {}}
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        clear_cache()
        model = load_image_model(DEFAULT_MODEL, device)
        is_map = lambda result: _is_map(result, pixels.shape)  # noqa: E731
        is_probability = lambda p: 0.0 <= float(p) <= 1.0  # noqa: E731
        row = {
            "input_size": model.input_size,
            "inference_s": median_time(lambda: model.probability(pixels), f"{device} inference", is_probability, repeats),
            "gradcam_s": median_time(lambda: saliency.saliency_map(model, pixels, "gradcam"), f"{device} Grad-CAM", is_map, repeats),
            "ig_s": median_time(lambda: saliency.saliency_map(model, pixels, "ig"), f"{device} IG", is_map, repeats),
            "ig50_s": median_time(lambda: saliency.saliency_map(model, pixels, "ig", params={"n_steps": 50, "internal_batch_size": 10}),
                                  f"{device} IG 50 steps", is_map, repeats),
            "occlusion_s": median_time(lambda: saliency.saliency_map(model, pixels, "occlusion"), f"{device} occlusion", is_map, repeats),
            "occlusion_16_8_s": median_time(lambda: saliency.saliency_map(model, pixels, "occlusion", params={"window": 16, "stride": 8}),
                                            f"{device} occlusion 16/8", is_map, repeats),
        }
        ig = saliency.saliency_map(model, pixels, "ig")
        row["ig_steps_used"] = ig.params["steps_used"]
        row["ig_relative_delta"] = ig.params["relative_delta"]
        ig50 = saliency.saliency_map(model, pixels, "ig", params={"n_steps": 50, "internal_batch_size": 10})
        row["ig50_relative_delta"] = ig50.params["relative_delta"]
        row["ig_map_spearman_vs_50"] = _spearman(ig.model_values, ig50.model_values)
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
        "| device | model input | inference | Grad-CAM | IG (app default: 24 steps, checked) | steps used / relative delta | "
        "IG, 50 steps | its relative delta | Spearman, 24 vs 50 steps | occlusion (app default: 26 px / 17) | occlusion (16 px / 8) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for device, r in results["devices"].items():
        lines.append(f"| {device} | {r['input_size']} px | {r['inference_s'] * 1000:.1f} ms | {r['gradcam_s'] * 1000:.1f} ms | "
                     f"{r['ig_s'] * 1000:.0f} ms | {r['ig_steps_used']} / {r['ig_relative_delta']:.3f} | {r['ig50_s'] * 1000:.0f} ms | "
                     f"{r['ig50_relative_delta']:.3f} | {r['ig_map_spearman_vs_50']:.3f} | {r['occlusion_s'] * 1000:.0f} ms | "
                     f"{r['occlusion_16_8_s'] * 1000:.0f} ms |")
    lines += ["", f"Targets on CPU: Grad-CAM < {TARGETS['gradcam'] * 1000:.0f} ms, IG <= {TARGETS['ig'] * 1000:.0f} ms, "
              f"occlusion <= {TARGETS['occlusion']:.1f} s. Relative delta: captum's convergence delta over |F(x) - F(baseline)| "
              "(IG adds steps while it exceeds 0.05)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = run(args.repeats)
    path = publish("imaging", results, markdown(results))
    print(f"wrote {path} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
