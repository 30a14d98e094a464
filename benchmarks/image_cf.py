"""Image counterfactuals, judged by something independent: the first version's generator, each variant tried, and
two baselines, on validation images of each class (the classifier card's patient-level split).

    python -m benchmarks.image_cf [--per-class 15]     (about 10 minutes on 2 CPU cores; needs ../shared/data)

Per row: flip rate on the explained model; referee flip rate (an independently trained classifier of another
architecture and seed, never used by any generator, crossing its own threshold) and its relative change (its
logit's move toward the target over the explained model's); the decoded image's own inside-mask share (before any
pasting); SSIM; re-encoding consistency ||x_cf - D(E(x_cf))|| / ||x - D(E(x))|| (near 1: the result is as
"natural" to the autoencoder as the original); the change's energy share above 0.25 cycles/pixel; median / p95
seconds. The default is chosen by a rule fixed before the run: among rows with explained flip rate >= 0.95 and
SSIM >= 0.85, the highest referee flip rate (ties: the faster). Writes benchmarks/results/image_cf.json and a
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any, Callable

import numpy as np
import torch

from benchmarks.common import machine, machine_line, publish
from cfx_desktop import paths
from cfx_desktop.core.imaging import augment
from cfx_desktop.core.imaging.autoencoder import load_autoencoder
from cfx_desktop.core.imaging.counterfactual import (SearchSettings, generate, high_frequency_share, make_mask,
                                                     referee_agreement)
from cfx_desktop.core.imaging.data import validation_files
from cfx_desktop.core.imaging.io import load_image
from cfx_desktop.core.imaging.models import DEFAULT_MODEL, ImageModel, load_image_model, referee_for
from cfx_desktop.core.imaging.preprocess import resize_square
from cfx_desktop.core.imaging.sanity import ssim
from cfx_desktop.core.model_cache import clear as clear_cache

SEGNET, VAE = "autoencoder-128", "bottleneck-vae-128"
VARIANTS: list[tuple[str, str, SearchSettings]] = [
    ("first version: SegNet (pooling indices), Adam, paste, just past the threshold", SEGNET, SearchSettings()),
    ("bottleneck VAE, Adam, delta, just past the threshold", VAE, SearchSettings(compose="delta")),
    ("bottleneck VAE, Adam + latent prior, delta, source class <= 0.2", VAE,
     SearchSettings(compose="delta", weight_prior=10.0, target_probability=0.2)),
    ("bottleneck VAE, Latent Shift, delta, source class <= 0.2", VAE,
     SearchSettings(method="latent-shift", compose="delta", target_probability=0.2, steps=40)),
    ("bottleneck VAE, Latent Shift, paste, source class <= 0.2", VAE,
     SearchSettings(method="latent-shift", compose="paste", target_probability=0.2, steps=40)),
]


def reencoding(autoencoder: torch.nn.Module, x: np.ndarray, x_cf: np.ndarray) -> float:
    with torch.inference_mode():
        def error(image: np.ndarray) -> float:
            t = torch.as_tensor(image, dtype=torch.float32)[None, None]
            z, context = autoencoder.encode_latent(t)
            return float(torch.linalg.vector_norm(autoencoder.decode_latent(z, context) - t))
        return error(x_cf) / max(error(x), 1e-9)


def baseline_row(model: ImageModel, referee: ImageModel, autoencoder: torch.nn.Module, pixels: np.ndarray,
                 edit: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> dict[str, Any]:
    """Apply ``edit(x, soft mask)`` in the counterfactual's mask and score it like a counterfactual."""
    import time

    start = time.perf_counter()
    x = resize_square(pixels, model.input_size)
    p0 = model.probability(pixels)
    source = model.label(p0)
    soft, binary = make_mask(model, pixels, source)
    composed = edit(x, torch.as_tensor(soft)[None, None]).clamp(0, 1)
    original, cf = x[0, 0].numpy(), composed[0, 0].numpy()
    p1 = model.probability(cf)
    want_normal = source == model.labels[1]
    return {"source": source, "flipped": bool(p1 < model.threshold if want_normal else p1 >= model.threshold),
            "decoded_inside_mask_fraction": None, "ssim": ssim(original, cf), "high_frequency_share": high_frequency_share(cf - original),
            "seconds": time.perf_counter() - start, "reencoding": reencoding(autoencoder, original, cf),
            **referee_agreement(model, referee, original, cf, want_normal)}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(values)) if values else None

    seconds = [r["seconds"] for r in rows]
    return {"images": len(rows), "flip_rate": mean("flipped"), "referee_flip_rate": mean("referee_flipped"),
            "referee_relative_change_median": float(np.median([r["referee_relative_change"] for r in rows])),
            "decoded_inside_mask_fraction": mean("decoded_inside_mask_fraction"), "ssim": mean("ssim"),
            "reencoding": float(np.median([r["reencoding"] for r in rows])), "high_frequency_share": mean("high_frequency_share"),
            "median_s": float(np.median(seconds)), "p95_s": float(np.percentile(seconds, 95))}


def run(per_class: int, device: torch.device) -> dict[str, Any]:
    folder = paths.data_file("kermany_cxr_224/train")
    if folder is None:
        raise SystemExit("needs ../shared/data/kermany_cxr_224/train (or CFX_DATA_DIR)")
    clear_cache()
    model = load_image_model(DEFAULT_MODEL, device)
    referee = referee_for(model)
    if referee is None:
        raise SystemExit("no referee classifier installed (train one with train-imaging --role referee)")
    files = validation_files(folder, model.card.get("seed", 0))
    chosen = [p for label in (0, 1) for p in [p for p, lab in files if lab == label][:per_class]]
    images = [load_image(p).pixels for p in chosen]
    autoencoders = {name: load_autoencoder(name, device)[0] for name in (SEGNET, VAE)}
    rows: dict[str, list[dict[str, Any]]] = {}
    for label, ae_name, settings in VARIANTS:
        ae = autoencoders[ae_name]
        out = []
        for pixels in images:
            result = generate(model, ae, pixels, search=settings, referee=referee)
            out.append({"source": result.source, **result.metrics, "reencoding": reencoding(ae, result.original, result.counterfactual)})
        rows[label] = out
        print(label, summary(out), flush=True)
    vae = autoencoders[VAE]

    def blur(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return x + m * (augment.gaussian_blur(x, 2.0) - x)

    def reconstruction(ae: torch.nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        def edit(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                z, context = ae.encode_latent(x)
                return m * ae.decode_latent(z, context) + (1 - m) * x
        return edit

    for label, edit in (("baseline: Gaussian blur (sigma 2 px) in the mask", blur),
                        ("baseline: SegNet reconstruction only, in the mask", reconstruction(autoencoders[SEGNET])),
                        ("baseline: VAE reconstruction only, in the mask", reconstruction(vae))):
        rows[label] = [baseline_row(model, referee, vae, pixels, edit) for pixels in images]
        print(label, summary(rows[label]), flush=True)
    summaries = {label: {"all": summary(r), **{f"{s} -> other": summary([x for x in r if x["source"] == s])
                                                for s in model.labels if any(x["source"] == s for x in r)}}
                 for label, r in rows.items()}
    eligible = [(label, s["all"]) for label, s in summaries.items() if not label.startswith("baseline")
                and s["all"]["flip_rate"] >= 0.95 and s["all"]["ssim"] >= 0.85]
    chosen_label = max(eligible, key=lambda item: (item[1]["referee_flip_rate"], -item[1]["median_s"]))[0] if eligible else None
    return {"machine": machine(), "device": str(device), "classifier": model.name, "referee": referee.name,
            "images_per_class": per_class, "settings": {label: {"autoencoder": ae, **asdict(s)} for label, ae, s in VARIANTS},
            "summary": summaries, "rule_choice": chosen_label, "images": rows}


def _f(value: float | None, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(value, fmt)


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "## Image counterfactuals (`python -m benchmarks.image_cf`)",
        "",
        machine_line(r["machine"]) + f" Device {r['device']}. Explained classifier `{r['classifier']}`, referee `{r['referee']}` "
        f"(never used by a generator); {r['images_per_class']} validation images per class, Grad-CAM masks.",
        "",
        "| generator | flip rate | referee flip rate | referee / explained change (median) | decoded inside-mask share | SSIM | "
        "re-encoding consistency | high-frequency share | median / p95 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, groups in r["summary"].items():
        s = groups["all"]
        marker = " **(rule's choice)**" if label == r["rule_choice"] else ""
        lines.append(f"| {label}{marker} | {_f(s['flip_rate'])} | {_f(s['referee_flip_rate'])} | {_f(s['referee_relative_change_median'])} | "
                     f"{_f(s['decoded_inside_mask_fraction'])} | {_f(s['ssim'], '.3f')} | {_f(s['reencoding'])} | "
                     f"{_f(s['high_frequency_share'], '.3f')} | {s['median_s']:.2f} / {s['p95_s']:.2f} |")
    lines += ["", "Targets: referee flip rate >= 0.6 with explained flip rate >= 0.95, SSIM >= 0.85, <= 3 s per image on two "
              "CPU cores. Rule (fixed before the run): among generators meeting the flip and SSIM targets, the highest "
              "referee flip rate, ties to the faster."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=15)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    results = run(args.per_class, torch.device(args.device))
    path = publish("image_cf", results, markdown(results))
    print(markdown(results))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
