"""Fitting and calibrating a classifier's out-of-distribution guard (see `guard`), from the classifier's own
training folder and patient split, so nothing outside that split is ever used.

The Gaussian is fitted on the training images, each once as is and once under a random acquisition shift (the
shifts the classifier was trained to tolerate, so an over-exposed or JPEG-damaged radiograph is not "foreign").
The validation patients are then halved, by patient: half A sets the 99th-percentile thresholds, half B (never
used for any choice) reports how many real radiographs the guard flags, clean and shifted.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cfx_desktop.core import bundles
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging.train import augment, data as data_mod, synthetic_images
from cfx_desktop.core.imaging.guard.model import DISCRIMINATOR_SIZE, GROUPS, ChestOrOther, GuardModel, describe, image_verdict
from cfx_desktop.core.imaging.models.classifier import ImageModel
from cfx_desktop.core.imaging.models.preprocess import resize_square

NEGATIVE_FAMILIES = [f for f in synthetic_images.SYNTHETIC if f != "colour test pattern"]  # colour is the header check's job


def synthetic_pool(per_family: int, seed: int) -> torch.Tensor:
    """(N, 1, 64, 64) gray synthetic negatives, drawn with a training seed (the benchmark draws with another)."""
    rng = np.random.default_rng(seed)
    images = [resize_square(synthetic_images.SYNTHETIC[f](rng), DISCRIMINATOR_SIZE) for f in NEGATIVE_FAMILIES for _ in range(per_family)]
    return torch.cat(images)


def transformed_radiographs(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Radiographs made into what the model was not trained on: rotated 90/180/270 degrees, upside down, inverted."""
    kinds = torch.randint(0, 5, (len(x),), generator=generator)
    out = x.clone()
    for i, kind in enumerate(kinds.tolist()):
        image = x[i]
        out[i] = (torch.rot90(image, kind + 1, (1, 2)) if kind < 3 else image.flip(1) if kind == 3 else 1.0 - image)
    return out


def train_discriminator(positives: np.ndarray, seed: int, epochs: int = 4, batch: int = 128,
                        cancel: CancelToken = NEVER_CANCELLED) -> ChestOrOther:
    """Chest radiographs (under acquisition shift) against, in equal numbers, transformed radiographs and the
    synthetic pool (also under acquisition shift, so 'other' is never learned from a shift alone)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    pool = synthetic_pool(300, seed + 7)
    images = torch.as_tensor(positives)[:, None].float() / 255.0
    images = torch.nn.functional.avg_pool2d(images, images.shape[-1] // DISCRIMINATOR_SIZE) if images.shape[-1] != DISCRIMINATOR_SIZE else images
    net = ChestOrOther()
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    half = batch // 2
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(order) - half + 1, half):
            cancel.raise_if_cancelled()
            chest = images[order[start : start + half]]
            flipped = transformed_radiographs(images[torch.randint(0, len(images), (half // 2,), generator=generator)], generator)
            synthetic = pool[torch.randint(0, len(pool), (half - half // 2,), generator=generator)]
            x = augment.random_shift(torch.cat([chest, flipped, synthetic]), generator)
            y = torch.cat([torch.zeros(half), torch.ones(half)])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return net.eval()


def other_probabilities(discriminator: ChestOrOther, images: np.ndarray, shifted: bool, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(images)[:, None].float() / 255.0
    if shifted:
        x = augment.random_shift(x, generator)
    with torch.inference_mode():
        return torch.sigmoid(discriminator(x))


def features_of(model: ImageModel, images: np.ndarray, shifted: bool = False, seed: int = 0, batch: int = 128,
                cancel: CancelToken = NEVER_CANCELLED) -> dict[str, torch.Tensor]:
    """The guard's feature groups for uint8 (N, S, S) images at the model's input size, optionally under a random shift."""
    generator = torch.Generator().manual_seed(seed)
    out: list[dict[str, torch.Tensor]] = []
    with model.lock, torch.inference_mode():
        for start in range(0, len(images), batch):
            cancel.raise_if_cancelled()
            x = torch.as_tensor(images[start : start + batch])[:, None].float() / 255.0
            if shifted:
                x = augment.random_shift(x, generator)
            out.append({k: v.cpu() for k, v in describe(model.net, ((x - model.mean) / model.std).to(model.device)).items()})
    return {g: torch.cat([o[g] for o in out]) for g in GROUPS}


def _join(*parts: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {g: torch.cat([p[g] for p in parts]) for g in GROUPS}


def flagged_share(gaussian: GuardModel, features: dict[str, torch.Tensor], other: torch.Tensor) -> float:
    scores = gaussian.score(features)
    threshold = float(gaussian.other_threshold)
    return float(np.mean([not image_verdict(float(s), float(o), threshold).in_distribution for s, o in zip(scores, other)]))


def fit_guard(model: ImageModel, source: Path, seed: int | None = None, components: int = 32, out: Path | None = None,
              command: str = "", progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> dict[str, Any]:  # noqa: ANN001
    seed = int(model.card.get("seed", 0)) if seed is None else seed
    progress(0.0, "decoding the training folder")
    data = data_mod.load_folder(source, model.input_size, cancel=cancel)
    train_idx, valid_idx = data_mod.split_by_patient(data, 0.15, seed)
    patients = np.unique(data.groups[valid_idx])
    half_a = set(np.random.default_rng(seed + 10).choice(patients, size=len(patients) // 2, replace=False))
    in_a = np.array([g in half_a for g in data.groups[valid_idx]])
    calib_idx, held_idx = valid_idx[in_a], valid_idx[~in_a]
    progress(0.2, f"features of {len(train_idx)} training images")
    train_features = _join(features_of(model, data.images[train_idx], cancel=cancel),
                           features_of(model, data.images[train_idx], shifted=True, seed=seed, cancel=cancel))
    gaussian = GuardModel.fit(train_features, components)
    progress(0.7, "calibrating on validation half A")
    calib = _join(features_of(model, data.images[calib_idx], cancel=cancel),
                  features_of(model, data.images[calib_idx], shifted=True, seed=seed + 1, cancel=cancel))
    gaussian.calibrate(calib)
    progress(0.75, "training the chest-radiograph-vs-other discriminator")
    gaussian.discriminator = train_discriminator(data.images[train_idx], seed, cancel=cancel)
    other_calib = torch.cat([other_probabilities(gaussian.discriminator, data.images[calib_idx], False, seed),
                             other_probabilities(gaussian.discriminator, data.images[calib_idx], True, seed + 1)])
    gaussian.other_threshold = torch.quantile(other_calib, 0.99).clamp_min(0.5)
    held_clean = features_of(model, data.images[held_idx], cancel=cancel)
    held_shifted = features_of(model, data.images[held_idx], shifted=True, seed=seed + 2, cancel=cancel)
    other_clean = other_probabilities(gaussian.discriminator, data.images[held_idx], False, seed + 2)
    other_shifted = other_probabilities(gaussian.discriminator, data.images[held_idx], True, seed + 2)
    metrics = {
        "held_out_flagged_clean": flagged_share(gaussian, held_clean, other_clean),
        "held_out_flagged_shifted": flagged_share(gaussian, held_shifted, other_shifted),
        "other_threshold": float(gaussian.other_threshold),
        "held_out_images": int(len(held_idx)),
        "calibration_images": int(len(calib_idx)),
        "training_images": int(len(train_idx)),
    }
    name = f"{model.name}-guard"
    card = {
        "name": name,
        "kind": "ood-guard",
        "task": f"out-of-distribution guard: is the image a chest radiograph of the kind {model.name} was trained on?",
        "classifier": model.name,
        "label": f"out-of-distribution guard for {model.name}",
        "method": "two feature groups: statistics (channel mean and std of every Conv2d output) and layout (8 x 8 grid of "
                  "input cell means and spreads); per group, standardised, Mahalanobis distance in the top "
                  f"{components} principal components and the residual norm; each part divided by its 99th percentile "
                  "on validation half A, the largest ratio rescaled so 1% of half A scores above 1",
        "discriminator": "ChestOrOther at 64 px: training radiographs (acquisition shift) vs. rotated/upside-down/inverted "
                         f"radiographs and synthetic {', '.join(NEGATIVE_FAMILIES)} images; threshold = 99th percentile "
                         "of p(other) on validation half A (at least 0.5)",
        "levels": {"caution": "score > 1 or p(other) > threshold",
                   "withheld": "score > 2, p(other) > (1 + threshold) / 2, or a DICOM header / colour check fails"},
        "data": {**data.digest, "split": f"the classifier's patient split (seed {seed}); validation patients halved by "
                 f"patient (seed {seed + 10}): half A calibrates, half B is reported"},
        "thresholds": [float(t) for t in gaussian.thresholds],
        "rescale": float(gaussian.rescale),
        "metrics": metrics,
        "metrics_summary": (f"flags {metrics['held_out_flagged_clean']:.1%} of held-out validation radiographs "
                            f"({metrics['held_out_flagged_shifted']:.1%} under acquisition shift)"),
        "seed": seed,
        "command": command,
        "licence": model.card.get("licence", ""),
        "attribution": model.card.get("attribution", ""),
        "created": dt.date.today().isoformat(),
    }
    bundles.save(name, gaussian.state(), card, out)
    progress(1.0, card["metrics_summary"])
    return card
