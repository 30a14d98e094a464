"""Memory growth over 300 explanations (patient counterfactuals + Shapley, image Grad-CAM + prediction):
resident set size after a 20-call warm-up versus after 300 more calls. Target: growth < 50 MB.

Run: python -m benchmarks.memory   (writes benchmarks/results/memory.json)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.common import machine, write_json


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(calls: int = 300) -> dict[str, Any]:
    from cfx_desktop.core.imaging import saliency
    from cfx_desktop.core.imaging.models import load_image_model
    from cfx_desktop.core.tabular.live import predict_and_attribute, suggest
    from cfx_desktop.core.tabular.counterfactuals import Constraints
    from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME
    rng = np.random.default_rng(0)
    image_model = load_image_model()
    images = [rng.random((224, 224)).astype(np.float32) for _ in range(4)]
    base = HEART_FAILURE_NO_TIME.example_vector()

    def one(i: int) -> None:
        x = base.copy()
        x[HEART_FAILURE_NO_TIME.index("serum_creatinine")] = round(float(rng.uniform(0.7, 3.0)), 2)
        if i % 2 == 0:
            predict_and_attribute("heart-failure-no-time-mlp", x)
            suggest("heart-failure-no-time-mlp", x, Constraints(), "sparse", 3)
        else:
            saliency.saliency_map(image_model, images[i % 4], "gradcam")
            image_model.probability(images[i % 4])

    for i in range(20):
        one(i)
    before = rss_mb()
    samples = []
    for i in range(calls):
        one(i)
        if i % 50 == 49:
            samples.append(rss_mb())
    after = rss_mb()
    return {"machine": machine(), "calls": calls, "rss_after_warmup_mb": before, "rss_after_mb": after,
            "growth_mb": after - before, "rss_samples_mb": samples, "target_growth_mb": 50}


def main() -> None:
    results = run()
    print(results)
    print(f"wrote {write_json('memory', results)}")


if __name__ == "__main__":
    main()
