"""Training of the pneumonia classifiers; writes a bundle with a full model card.

Choices, all on validation data split by patient: the epoch (best validation ROC AUC) and the decision threshold
(max balanced accuracy). Classes are balanced once, by the loss's pos_weight, not also by resampling.

``auxiliary_grid`` (4 in the shipped classifier's fine-tuning stage) adds a training-only read-out: a linear layer from the features the top
layer reads to the film's coarse ``grid x grid`` mean intensities, with its mean squared error added to the loss, and
discarded afterwards (the bundle is the plain architecture). Why: a two-class model trained alone collapses those
features to one direction (the first singular direction of their input Jacobian held a median 0.96 of the energy),
so any read-out of them, a randomized top layer included, gave the trained saliency map or its negative and the
top-layer sanity check failed for every method. Features that must also say where the film is bright and dark
are spread over more directions, so a random read-out of them retraces the trained map less often (measured: the
README's "Sanity checks").

``init`` starts from an installed bundle of the same architecture instead of random weights (the shipped
classifier is the plainly trained one fine-tuned with the read-out); the card records the bundle's name, its weights'
sha256 and the command that made it, so the chain can be rerun.

Augmentation ``acquisition`` (the default) draws from `augment.FAMILIES`, the same shifts the stress set measures;
``basic`` is the first version's shifts and brightness jitter; ``none`` is for the shuffled-label twin, whose job
(Adebayo et al. 2018) is to memorise permuted labels, which augmentation and weight decay would prevent.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cfx_desktop.core import bundles
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging.train import augment as augment_mod, data as data_mod
from cfx_desktop.core.imaging.models.classifier import build
from cfx_desktop.core.metrics import binary_metrics, choose_threshold

KERMANY_LICENCE = ("CC BY 4.0", "Kermany DS, Zhang K, Goldbaum M (2018), Labeled Optical Coherence Tomography (OCT) and "
                   "Chest X-Ray Images for Classification, Mendeley Data v2, doi:10.17632/rscbjbr9sj.2 (train split, "
                   "224 px copy); PneumoniaMNIST: Yang J et al. (2023) MedMNIST v2, Sci Data.")


AUGMENTATIONS = {
    "acquisition": "acquisition shift (core/imaging/train/augment.py): exposure, contrast and gamma, rotation/scale/translation, "
                   "crop jitter, noise, blur, JPEG re-encoding; each with p 0.5 at a uniform random strength, per 16 images",
    "basic": "shifts up to 8 px, brightness/contrast +-5%/10%",
    "none": "none",
}


def augment_batch(batch: torch.Tensor, generator: torch.Generator, kind: str) -> torch.Tensor:
    if kind == "acquisition":
        return augment_mod.random_shift(batch, generator)
    if kind == "basic":
        return augment(batch, generator)
    return batch


def augment(batch: torch.Tensor, generator: torch.Generator, shift: int = 8) -> torch.Tensor:
    """Small random shifts (reflect-padded crops) and brightness/contrast jitter, in [0, 1] pixel space."""
    n, _, h, w = batch.shape
    padded = F.pad(batch, (shift, shift, shift, shift), mode="reflect")
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
    out = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    bias = (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.1
    return (out * gain + bias).clamp(0, 1)


class AuxiliaryReadout(torch.nn.Module):
    """The training-only coarse-intensity read-out (see the module's docstring); it reads the input of the
    network's last linear layer through a forward pre-hook, so any architecture with a linear top layer takes it."""

    def __init__(self, net: torch.nn.Module, grid: int) -> None:
        super().__init__()
        top = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
        self.grid = grid
        self.decoder = torch.nn.Linear(top.in_features, grid * grid)
        self._features: torch.Tensor | None = None
        self._handle = top.register_forward_pre_hook(self._capture)

    def _capture(self, _module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        self._features = inputs[0]

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Error of the read-out for the batch the network has just seen (``x``, as the network read it)."""
        if self._features is None:
            raise RuntimeError("the network has not run on this batch")
        target = F.adaptive_avg_pool2d(x, self.grid).flatten(1)
        target = (target - target.mean(0)) / (target.std(0) + 1e-3)
        return F.mse_loss(self.decoder(self._features), target)

    def remove(self) -> None:
        self._handle.remove()


def _initialise(net: torch.nn.Module, init: str, architecture: str, root: Path | None) -> dict[str, Any]:
    """Load ``init``'s weights into ``net`` (same architecture, checked) and say where they came from."""
    try:
        bundle = bundles.load(init, root)
    except bundles.BundleError as exc:
        raise ValueError(f"--init {init}: {exc}") from exc
    if bundle.card.get("architecture") != architecture:
        raise ValueError(f"--init {init} is a {bundle.card.get('architecture')}, not a {architecture}")
    net.load_state_dict(bundle.state)
    path = (root or bundles.root_of(init)) / f"{init}.pt"
    return {"bundle": init, "sha256": bundles.sha256_file(path), "command": bundle.card.get("command", "")}


def _probabilities(net: torch.nn.Module, images: np.ndarray, mean: float, std: float, device: torch.device, batch: int = 256) -> np.ndarray:
    net.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            x = torch.as_tensor(images[start : start + batch], dtype=torch.float32, device=device)[:, None] / 255.0
            out.append(torch.sigmoid(net((x - mean) / std)).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def _is_folder(source: "Path | data_mod.LabelledFolder") -> bool:
    return isinstance(source, data_mod.LabelledFolder) or source.is_dir()


def _folder_split(source: "Path | data_mod.LabelledFolder", size: int, seed: int, progress=no_progress,  # noqa: ANN001
                  cancel: CancelToken = NEVER_CANCELLED) -> tuple[data_mod.ImageSet, np.ndarray, np.ndarray]:
    """A folder's images and its (training, validation) indices: 15 % of each class's patients for validation."""
    ds = data_mod.load_folder(source, size, progress, cancel)
    train_idx, valid_idx = data_mod.split_by_patient(ds, 0.15, seed)
    return ds, train_idx, valid_idx


def training_names(source: Path, size: int, seed: int) -> list[str]:
    """File names of the training images, in the order `load_training_data` returns them (folders only)."""
    if not _is_folder(source):
        return []
    ds, train_idx, _ = _folder_split(source, size, seed)
    return [ds.names[i] for i in train_idx]


def subtype_targets(net: torch.nn.Module, names: list[str], labels: np.ndarray) -> np.ndarray | None:
    """Class index per training image for an architecture with a head over sub-classes (``classes``: the negative
    class, then the positive class's subtypes), read from Kermany's file names; None for a one-logit architecture.
    Refused when the names do not carry the subtype."""
    from cfx_desktop.core.imaging.models import shift

    classes = getattr(net, "classes", None)
    if classes is None:
        return None
    index = {"normal": 0, "pneumonia-bacterial": classes.index("bacterial"), "pneumonia-viral": classes.index("viral")}
    families = [shift.family(n, int(y)) for n, y in zip(names, labels)]
    targets = [0 if y == 0 else index.get(f) for f, y in zip(families, labels)]
    unknown = sum(t is None for t in targets)
    if len(names) != len(labels) or unknown:
        raise ValueError(f"this architecture learns {', '.join(classes)}: it needs Kermany file names "
                         f"(person..._bacteria_... / person..._virus_...); {unknown or len(labels)} training images carry none")
    return np.array(targets, dtype=np.int64)


def load_training_data(source: Path, size: int, seed: int, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED):  # noqa: ANN001, ANN201
    """(train images, train labels, validation images, validation labels, provenance, split text)."""
    if _is_folder(source):
        ds, train_idx, valid_idx = _folder_split(source, size, seed, progress, cancel)
        how = data_mod.GROUPINGS[data_mod.as_folder(source).grouping]
        split = (f"by patient ({how}): 15% of each class's patients (seed {seed}) for validation; {len(train_idx)} training and "
                 f"{len(valid_idx)} validation images from {len(np.unique(ds.groups[train_idx]))} / "
                 f"{len(np.unique(ds.groups[valid_idx]))} patients")
        return ds.images[train_idx], ds.labels[train_idx], ds.images[valid_idx], ds.labels[valid_idx], ds.digest, split
    train = data_mod.load_npz(source, size, "train")
    try:
        valid = data_mod.load_npz(source, size, "val")
        split = f"the file's own train ({len(train.labels)}) and val ({len(valid.labels)}) arrays"
        return train.images, train.labels, valid.images, valid.labels, train.digest, split
    except KeyError:
        t, v = data_mod.split_by_patient(train, 0.15, seed)
        return train.images[t], train.labels[t], train.images[v], train.labels[v], train.digest, "random 15% of train (no patient ids)"


def train_image_model(
    source: Path, architecture: str = "slim-cnn", size: int = 128, epochs: int = 12, seed: int = 0,
    batch_size: int = 64, lr: float = 2e-3, shuffle_labels: bool = False, out: Path | None = None,
    autoencoder: str | None = None, shuffled_twin: str | None = None, augmentation: str | None = None,
    label_smoothing: float | None = None, subset: int | None = None, name: str | None = None, role: str = "classifier",
    command: str = "", device: torch.device | None = None, progress=no_progress,  # noqa: ANN001
    cancel: CancelToken = NEVER_CANCELLED, labels: tuple[str, str] = ("normal", "pneumonia"),
    licence: tuple[str, str] = KERMANY_LICENCE, auxiliary_grid: int = 0, auxiliary_weight: float = 1.0,
    init: str | None = None,
) -> dict[str, Any]:
    """Train one classifier; ``labels`` are the (negative, positive) class words, ``shuffled_twin=""`` names none."""
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    with data_mod.decoded_once():  # the names come from the same decoded folder, read once
        X_tr, y_tr, X_va, y_va, provenance, split = load_training_data(source, size, seed, progress, cancel)
        net = build(architecture).to(device)
        started_from = _initialise(net, init, architecture, out) if init else None
        subtypes = subtype_targets(net, training_names(source, size, seed), y_tr) if hasattr(net, "classes") else None
    if augmentation is None:
        augmentation = "none" if shuffle_labels else "acquisition"
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {augmentation!r}: one of {', '.join(AUGMENTATIONS)}")
    if label_smoothing is None:
        label_smoothing = 0.0 if shuffle_labels else 0.05
    if subset and subset < len(y_tr):  # a random subset, e.g. so the shuffled-label twin can memorise in minutes
        keep = np.sort(np.random.default_rng(seed + 2).choice(len(y_tr), size=subset, replace=False))
        X_tr, y_tr = X_tr[keep], y_tr[keep]
        subtypes = None if subtypes is None else subtypes[keep]
    if shuffle_labels:  # Adebayo et al.'s data randomization test: same data, labels permuted
        order = np.random.default_rng(seed + 1).permutation(len(y_tr))
        y_tr = y_tr[order]
        subtypes = None if subtypes is None else subtypes[order]
    mean, std = float(X_tr.mean() / 255.0), float(X_tr.std() / 255.0)
    auxiliary = AuxiliaryReadout(net, auxiliary_grid).to(device) if auxiliary_grid else None
    trained = list(net.parameters()) + (list(auxiliary.parameters()) if auxiliary else [])
    optimiser = torch.optim.AdamW(trained, lr=lr, weight_decay=0.0 if shuffle_labels else 1e-4)
    steps = epochs * int(np.ceil(len(X_tr) / batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.15)
    pos_weight = torch.tensor(float((y_tr == 0).sum()) / max(float((y_tr == 1).sum()), 1.0), device=device)
    if subtypes is not None:  # each class weighted by the inverse of its share: balanced once, as pos_weight does
        counts = np.bincount(subtypes, minlength=len(net.classes)).astype(np.float64)
        class_weight = torch.tensor(counts.sum() / (len(counts) * np.maximum(counts, 1.0)), dtype=torch.float32, device=device)
        sub_all = torch.as_tensor(subtypes)
    generator = torch.Generator().manual_seed(seed)
    X_all = torch.as_tensor(X_tr)
    y_all = torch.as_tensor(y_tr, dtype=torch.float32)
    best_auc, best_state, best_epoch, history = -1.0, None, 0, []
    started = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(X_all), generator=generator)
        losses = []
        for start in range(0, len(order), batch_size):
            cancel.raise_if_cancelled()
            idx = order[start : start + batch_size]
            x = augment_batch(X_all[idx][:, None].float() / 255.0, generator, augmentation)
            x = ((x - mean) / std).to(device)
            target = y_all[idx].to(device) * (1 - label_smoothing) + label_smoothing / 2
            if subtypes is None:
                loss = F.binary_cross_entropy_with_logits(net(x), target, pos_weight=pos_weight)
            else:
                loss = F.cross_entropy(net.class_logits(x), sub_all[idx].to(device), weight=class_weight,
                                       label_smoothing=label_smoothing)
            if auxiliary is not None:
                loss = loss + auxiliary_weight * auxiliary.loss(x)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(float(loss.detach()))
        p_va = _probabilities(net, X_va, mean, std, device)
        auc = binary_metrics(y_va, p_va, 0.5)["roc_auc"]
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_roc_auc": auc})
        progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}, validation ROC AUC {auc:.4f}")
        if shuffle_labels:  # no real signal to select on: the twin is the last epoch, however well it memorised
            best_auc, best_epoch = auc, epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        elif auc > best_auc:
            best_auc, best_epoch = auc, epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    minutes = (time.perf_counter() - started) / 60
    if auxiliary is not None:
        auxiliary.remove()
    net.load_state_dict(best_state)
    p_va = _probabilities(net, X_va, mean, std, device)
    threshold = choose_threshold(y_va, p_va)
    metrics = binary_metrics(y_va, p_va, threshold)
    train_accuracy = float(((_probabilities(net, X_tr, mean, std, device) >= threshold) == y_tr).mean())
    name = name or f"pneumonia-{architecture}" + ("-shuffled-labels" if shuffle_labels else "")
    card = {
        "name": name,
        "task": f"chest X-ray: probability of {labels[1]} (vs {labels[0]})" + (" -- SANITY-CHECK MODEL trained on shuffled labels; not for prediction" if shuffle_labels else ""),
        "label": f"{architecture} at {size} px" + (" (shuffled labels)" if shuffle_labels else ""),
        "kind": "image-classifier",
        "architecture": architecture,
        "input_size": size,
        "mean": mean,
        "std": std,
        "threshold": threshold,
        "threshold_rule": "maximises balanced accuracy on the patient-level validation split",
        "labels": list(labels),
        "role": role,
        "autoencoder": None if shuffle_labels or role == "referee" else (autoencoder or f"autoencoder-{size}"),
        "shuffled_twin": None if shuffle_labels or role == "referee" or shuffled_twin == "" else (
            shuffled_twin or f"pneumonia-{architecture}-shuffled-labels"),
        "preprocessing": "grayscale in [0, 1] -> centre square crop on the short side -> area resize -> (x - mean) / std",
        "training": {"epochs": epochs, "best_epoch": best_epoch, "batch_size": batch_size, "optimizer": "AdamW, one-cycle LR",
                     "max_lr": lr, "class_balance": "pos_weight = n_normal / n_pneumonia (once; no resampling)" if subtypes is None
                     else f"cross-entropy over {', '.join(net.classes)}, each class weighted by the inverse of its share",
                     "augmentation": AUGMENTATIONS[augmentation], "label_smoothing": label_smoothing,
                     "auxiliary": None if auxiliary is None else {
                         "readout": f"linear, from the features the top layer reads to the film's {auxiliary_grid} x {auxiliary_grid} "
                                    "mean intensities (standardised per batch); mean squared error added to the loss; "
                                    "training only, not in the bundle",
                         "grid": auxiliary_grid, "weight": auxiliary_weight},
                     "weight_decay": optimiser.param_groups[0]["weight_decay"], "subset": subset, "shuffled_labels": shuffle_labels,
                     "minutes": round(minutes, 2), "minutes_per_epoch": round(minutes / epochs, 2), "device": str(device),
                     "history": history, "train_accuracy_at_threshold": train_accuracy, "init": started_from},
        "data": {**provenance, "split": split, "train_images": int(len(y_tr)), "validation_images": int(len(y_va)),
                 "validation_pneumonia": int(y_va.sum())},
        "seed": seed,
        "command": command,
        "metrics": {"validation": metrics},
        "metrics_summary": f"validation ROC AUC {metrics['roc_auc']:.3f}, accuracy {metrics['accuracy']:.3f}, F1 {metrics['f1']:.3f}",
        "licence": licence[0],
        "attribution": licence[1],
        "environment": {"torch": torch.__version__, "python": platform.python_version()},
        "created": dt.date.today().isoformat(),
    }
    bundles.save(name, net.state_dict(), card, out)
    return card
