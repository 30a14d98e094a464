"""Real films in the autoencoder's latent space, and where the lungs are: what data-supported counterfactuals need.

Why: a counterfactual that follows the classifier's gradient alone found edits the classifier accepts and nobody
else does (pneumonia to normal convinced neither the referee nor an independent model: 0 of 12). Data-supported
counterfactuals (as in tabular recourse, and FACE / prototype-guided search for images) move the film's latent code
toward the codes of *real* training films of the other class that resemble it, so the edit is a step toward films
that exist, and the independent referee has something real to agree with.

The bank holds, per class, the VAE means of a sample of the classifier's *training* patients (never its
validation patients, so validation of the counterfactuals stays honest), and a lung-field prior: the dark regions
of the mean normal training film, where edits are allowed and against which "change outside the lungs" is
measured. Built by ``cfx-desktop build-latent-bank`` and shipped as a hash-checked bundle like every model.
"""

from __future__ import annotations

import datetime as dt
import platform
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from cfx_desktop.core import bundles, model_cache
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress


@dataclass
class LatentBank:
    name: str
    codes: dict[int, torch.Tensor]  # label -> (N, C, H, W) float32 latent means of real training films
    lung_prior: np.ndarray  # (S, S) bool at the autoencoder's input size
    card: dict[str, Any]
    # label -> the lung contrast (`realism.lung_contrast`) of the same real films' originals, the reference a
    # counterfactual's lungs are judged against; empty for a bank built before it was stored
    lung_contrast: dict[int, np.ndarray] = field(default_factory=dict)

    def neighbours(self, z: torch.Tensor, label: int, k: int = 8, allowed: torch.Tensor | None = None) -> torch.Tensor:
        """The mean code of the ``k`` films of class ``label`` nearest to ``z`` (Euclidean, in the latent), among
        the ``allowed`` ones (a boolean mask over the class's codes) when given."""
        codes = self.codes[label].to(z.device)
        if allowed is not None and bool(allowed.any()):
            codes = codes[allowed.to(z.device)]
        distance = (codes - z).flatten(1).pow(2).sum(1)
        nearest = distance.topk(min(k, len(codes)), largest=False).indices
        return codes[nearest].mean(0, keepdim=True)


_clear: dict[tuple[str, str, int, float], torch.Tensor] = {}
_clear_lock = threading.Lock()


def clearly(bank: LatentBank, label: int, model: Any, autoencoder: torch.nn.Module, at_most: float) -> torch.Tensor:
    """Mask of the bank's films of class ``label`` whose *reconstruction* the explained model itself reads as that
    class, its probability of the other class at most ``at_most``. Why: the VAE blurs, and two thirds of the normal
    films' reconstructions read as pneumonia to the classifier (median p 0.34), so walking toward them taught it
    little. Computed once per (model, bank), in chunks (all 600 films through the classifier at once peaked at
    2 GB), and ahead of the first request by `prepare` (it takes seconds on a CPU); the referee is never consulted.
    A second caller waits for the first instead of computing it again."""
    key = (model.name, bank.name, label, at_most)
    with _clear_lock:
        if key not in _clear:
            chunks = []
            for c in bank.codes[label].split(50):  # the model's lock per chunk: a saliency job can go in between
                with model.lock, torch.inference_mode():
                    chunks.append(torch.sigmoid(model.logits((autoencoder.decode_latent(c) - model.mean) / model.std)).reshape(-1))
            p = torch.cat(chunks).cpu()
            _clear[key] = (p <= at_most) if label == 0 else (1 - p <= at_most)
        return _clear[key]


def lung_prior_from(mean_normal: np.ndarray, local_sigma: float = 12.0) -> np.ndarray:
    """The lungs of the mean normal film: inside the body (brighter than the side background, eroded), darker than
    their neighbourhood (a Gaussian of ``local_sigma`` px), the two largest such regions, closed and hole-filled.
    A global dark threshold would pick the air beside the body instead."""
    image = ndimage.gaussian_filter(mean_normal.astype(np.float64), 1.5)
    body = ndimage.binary_erosion(image > np.quantile(image, 0.15), iterations=4)
    dark = ndimage.binary_opening((image - ndimage.gaussian_filter(image, local_sigma) < 0) & body, iterations=2)
    labels, count = ndimage.label(dark)
    if count == 0:
        return body
    areas = ndimage.sum(dark, labels, range(1, count + 1))
    keep = np.isin(labels, 1 + np.argsort(areas)[::-1][:2])
    return ndimage.binary_fill_holes(ndimage.binary_closing(keep, iterations=3))


def lung_fields(bank: LatentBank | None, size: int, dilation: int = 3) -> np.ndarray:
    """The region where counterfactual edits belong, at ``size`` px: the bank's prior, slightly dilated (films
    are centred and cropped alike, but not registered). Without a bank: the central 60 % of the film."""
    if bank is None:
        region = np.zeros((size, size), dtype=bool)
        region[int(0.2 * size) : int(0.8 * size), int(0.15 * size) : int(0.85 * size)] = True
        return region
    prior = bank.lung_prior
    if prior.shape[0] != size:
        prior = np.asarray(torch.nn.functional.interpolate(torch.as_tensor(prior, dtype=torch.float32)[None, None],
                                                           size=(size, size), mode="nearest")[0, 0] > 0.5)
    return ndimage.binary_dilation(prior, iterations=dilation) if dilation else prior


def lungs_for(model: Any) -> np.ndarray:
    """The estimated lung fields at an image model's input size, from its autoencoder's bank when installed."""
    return lung_fields(bank_for(model.card.get("autoencoder"), model.device), model.input_size, dilation=0)


def build_bank(source: Path, autoencoder_name: str, per_class: int = 600, seed: int = 0, out: Path | None = None,
               command: str = "", progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> dict[str, Any]:  # noqa: ANN001
    """Encode a sample of the training patients' films (the classifier card's patient split) into a bank bundle."""
    from cfx_desktop.core.imaging.counterfactual.autoencoder import load_autoencoder
    from cfx_desktop.core.imaging.train.classifier import KERMANY_LICENCE, load_training_data

    autoencoder, ae_card = load_autoencoder(autoencoder_name, torch.device("cpu"))
    size = int(ae_card["input_size"])
    X_tr, y_tr, _, _, provenance, split = load_training_data(source, size, seed, progress, cancel)
    from cfx_desktop.core.imaging.counterfactual.realism import lung_contrast

    rng = np.random.default_rng(seed)
    state: dict[str, torch.Tensor] = {}
    counts = {}
    mean_normal = X_tr[y_tr == 0].astype(np.float64).mean(0) / 255.0
    prior = lung_prior_from(mean_normal)
    state["lung_prior"] = torch.as_tensor(prior.astype(np.uint8))
    for label in (0, 1):
        index = np.flatnonzero(y_tr == label)
        chosen = np.sort(rng.choice(index, size=min(per_class, len(index)), replace=False))
        x = torch.as_tensor(X_tr[chosen])[:, None].float() / 255.0
        with torch.inference_mode():
            codes = torch.cat([autoencoder.encode_latent(chunk)[0] for chunk in x.split(128)])
        state[f"codes_{label}"] = codes.half()
        state[f"lung_contrast_{label}"] = torch.as_tensor(lung_contrast(x[:, 0].numpy(), prior), dtype=torch.float32)
        counts[label] = int(len(chosen))
        cancel.raise_if_cancelled()
    name = f"{autoencoder_name}-bank"
    card = {
        "name": name, "kind": "latent-bank", "autoencoder": autoencoder_name, "input_size": size,
        "task": "latent codes of real training films per class, and a lung-field prior, for data-supported counterfactuals",
        "codes_per_class": counts, "dtype": "float16", "lung_prior_area": float(prior.mean()),
        "lung_prior_rule": "the two largest regions of the mean normal training film (smoothed 1.5 px) that lie inside the "
                           "body and are darker than their 12 px Gaussian neighbourhood, opened, closed and hole-filled",
        "lung_contrast_rule": "per film, mean intensity in the lung prior minus that of the band around it (2 px to 8 % of "
                              "the width outside it), on the same films' originals: the reference a counterfactual's "
                              "lungs are judged against (core/imaging/counterfactual/realism.py)",
        "data": {**provenance, "split": split, "sampled_from": "training patients only (never validation)"},
        "seed": seed, "command": command, "licence": KERMANY_LICENCE[0], "attribution": KERMANY_LICENCE[1],
        "environment": {"torch": torch.__version__, "python": platform.python_version()},
        "created": dt.date.today().isoformat(),
    }
    bundles.save(name, state, card, out)
    return card


def _build(name: str, bundle: bundles.Bundle, device: torch.device) -> LatentBank:
    state = bundle.state
    if bundle.card.get("kind") != "latent-bank" or "lung_prior" not in state:
        raise bundles.BundleError(f"{name} is not a latent bank")
    codes = {label: state[f"codes_{label}"].float().to(device) for label in (0, 1)}
    contrast = {label: state[f"lung_contrast_{label}"].numpy().astype(np.float64) for label in (0, 1)
                if f"lung_contrast_{label}" in state}
    return LatentBank(name, codes, state["lung_prior"].numpy().astype(bool), bundle.card, contrast)


def bank_for(autoencoder_name: str | None, device: torch.device | None = None, root=None) -> LatentBank | None:  # noqa: ANN001
    """The bank built for this autoencoder, or None when none is installed or it is refused."""
    if not autoencoder_name:
        return None
    name = f"{autoencoder_name}-bank"
    if name not in bundles.list_bundles(root):
        return None
    try:
        return model_cache.load(name, _build, device, root)
    except bundles.BundleError:
        return None
