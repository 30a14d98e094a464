"""Memory growth over 300 explanations (patient counterfactuals + Shapley, image Grad-CAM + prediction):
resident set size after a 20-call warm-up versus after 300 more calls. Target: growth < 50 MB.

Run: python -m benchmarks.memory   (writes benchmarks/results/memory.json)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.common import machine, require, write_json

ROW = "memory growth over 300 explanations"


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status: resident memory cannot be read here")


def run(calls: int = 300) -> dict[str, Any]:
    from cfx_desktop.core.imaging.explain import saliency
    from cfx_desktop.core.imaging.models.classifier import load_image_model
    from cfx_desktop.core.tabular.live import predict_and_attribute, suggest
    from cfx_desktop.core.tabular.counterfactuals import Constraints
    from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME
    rng = np.random.default_rng(0)
    image_model = load_image_model()
    images = [rng.random((224, 224)).astype(np.float32) for _ in range(4)]
    base = HEART_FAILURE_NO_TIME.example_vector()

    done = {"patients": 0, "images": 0}

    def one(i: int) -> None:
        """One explanation; counted only when it returned what it claims (a prediction with suggestions, a map)."""
        x = base.copy()
        x[HEART_FAILURE_NO_TIME.index("serum_creatinine")] = round(float(rng.uniform(0.7, 3.0)), 2)
        if i % 2 == 0:
            predicted = predict_and_attribute("heart-failure-no-time-mlp", x)
            suggested = suggest("heart-failure-no-time-mlp", x, Constraints(), "sparse", 3)
            answered = len(suggested.counterfactuals) > 0 or bool(suggested.counterfactuals.reason)
            done["patients"] += int(np.isfinite(predicted.probability) and answered)
        else:
            result = saliency.saliency_map(image_model, images[i % 4], "gradcam")
            image_model.probability(images[i % 4])
            done["images"] += int(result.values.shape == images[i % 4].shape)

    for i in range(20):
        one(i)
    before = rss_mb()
    samples = []
    for i in range(calls):
        one(i)
        if i % 50 == 49:
            samples.append(rss_mb())
    after = rss_mb()
    expected = {"patients": (calls + 20 + 1) // 2, "images": (calls + 20) // 2}
    require(done == expected, ROW, f"explanations that returned their result: {done}, expected {expected}")
    return {"machine": machine(), "calls": calls, "explanations_returned": done, "rss_after_warmup_mb": before, "rss_after_mb": after,
            "growth_mb": after - before, "rss_samples_mb": samples, "target_growth_mb": 50}


def main() -> None:
    results = run()
    print(results)
    print(f"wrote {write_json('memory', results)}")


if __name__ == "__main__":
    main()
