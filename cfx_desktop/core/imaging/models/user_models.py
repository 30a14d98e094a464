"""Image models trained on the user's own labelled folder (one sub-folder per class, two classes).

`scan` reads the folder without decoding pixels and decides the split: patient ids from the file names when they
carry them (Kermany's patterns, else a shared prefix such as ``p017_1.png`` / ``p017_2.png``), from DICOM
PatientIDs, or, when nothing repeats, one patient per image, and says which and why. `train` then trains, on the
same patient split, everything an explanation needs: the classifier (slim-cnn), an independent referee
(strided-cnn, another seed) that judges counterfactuals, the autoencoder of the counterfactual search, a
shuffled-label twin for the data-randomisation sanity check, and the out-of-distribution guard, calibrated on
validation patients. Each trained model is an entry of the user store (`core.user_store.IMAGE_MODELS`:
``<user data>/image-models/NAME/image-model.json`` and ``weights/`` with its own hashed manifest) and appears in
the X-ray tab's model list. Nothing here knows about Qt.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cfx_desktop.core import bundles
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging.train import data as data_mod
from cfx_desktop.core.imaging.io.load import visible_images
from cfx_desktop.core.user_store import IMAGE_MODELS as SHELF
from cfx_desktop.core.user_store import UserDataError

MIN_IMAGES_PER_CLASS = 20
MIN_PATIENTS_PER_CLASS = 4  # so 15 % of each class's patients (at least one) leaves some for training
NEGATIVE_WORDS = re.compile(r"^(normal|healthy|negative|neg|no[_ -]?\w*|none|control|benign|absent|clear|0)$", re.I)
FolderError = UserDataError  # the store's one error type, under the name the callers knew


@dataclass
class FolderScan:
    root: Path
    classes: tuple[str, str]  # (negative, positive) sub-folder names
    counts: dict[str, int]
    grouping: str
    split_reason: str
    patients: dict[str, int]  # per class
    other_folders: list[str] = field(default_factory=list)  # sub-folders with images not used
    positive_reason: str = ""

    @property
    def folder(self) -> data_mod.LabelledFolder:
        return data_mod.LabelledFolder(self.root, self.classes, self.grouping)

    def describe(self) -> str:
        neg, pos = self.classes
        return (f"{self.counts[neg]} {neg} and {self.counts[pos]} {pos} images; positive class: {pos} "
                f"({self.positive_reason}); split: {self.split_reason}")


def _choose_positive(names: list[str], positive: str | None) -> tuple[tuple[str, str], str]:
    if positive is not None:
        if positive not in names:
            raise FolderError(f"--positive {positive!r} is not one of the class folders ({', '.join(names)})")
        other = next(n for n in names if n != positive)
        return (other, positive), "as you chose"
    negatives = [n for n in names if NEGATIVE_WORDS.match(n.strip())]
    if len(negatives) == 1:
        other = next(n for n in names if n not in negatives)
        return (negatives[0], other), f"'{negatives[0]}' reads as the normal class"
    ordered = sorted(names, key=str.lower)
    return (ordered[0], ordered[1]), "the second in alphabetical order; choose it explicitly if that is wrong"


def decide_grouping(files: list[Path]) -> tuple[str, str]:
    """(grouping, the reason in words) for the patient split of ``files`` (both classes together)."""
    n = len(files)
    dicoms = [p for p in files if p.suffix.lower() in (".dcm", ".dicom")]
    if dicoms and len(dicoms) == n:
        ids = [data_mod.dicom_patient(p) for p in files]
        if sum(bool(i) for i in ids) >= 0.95 * n:
            distinct = len(set(ids))
            return "dicom", f"by patient, from each DICOM file's PatientID ({distinct} patients for {n} images)"
    kermany = [data_mod.patient_id(p.name) != p.stem for p in files]
    if sum(kermany) >= 0.95 * n:
        distinct = len({data_mod.patient_id(p.name) for p in files})
        return "kermany", (f"by patient, from Kermany-style file names (personN_... / IM-NNNN-...): {distinct} patients "
                           f"for {n} images")
    prefixes = [data_mod.prefix_id(p.stem) for p in files]
    if sum(x is not None for x in prefixes) >= 0.95 * n:
        counts = Counter(f"{p.parent.name}/{x or p.stem}" for p, x in zip(files, prefixes))
        repeated = sum(c for c in counts.values() if c > 1)
        if repeated >= 0.2 * n and len(counts) >= 2:
            example = next(p for p, x in zip(files, prefixes) if x and counts[f"{p.parent.name}/{x}"] > 1)
            return "prefix", (f"by patient: images whose names share the part before the last '_' or '-' "
                              f"(e.g. '{data_mod.prefix_id(example.stem)}' from '{example.name}') are taken as one patient: "
                              f"{len(counts)} patients for {n} images")
    return "file", ("each image as its own patient: the file names carry no patient id (no Kermany pattern, no name "
                    "prefix shared by several images, no DICOM PatientID). If one patient has several images, images "
                    "of one patient may sit on both sides and the validation numbers are optimistic")


def scan(root: Path, positive: str | None = None) -> FolderScan:
    """The folder's classes, counts and split, or a FolderError saying what is wrong and what to do."""
    root = Path(root)
    if not root.is_dir():
        raise FolderError(f"{root} is not a folder")
    subs = {p.name: visible_images(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    with_images = {name: files for name, files in subs.items() if files}
    loose = visible_images(root)
    if not with_images:
        hint = f" ({len(loose)} images lie directly in it)" if loose else ""
        raise FolderError(f"{root} has no class sub-folders with images{hint}: make one sub-folder per class, e.g. "
                          f"{root.name}/normal/ and {root.name}/pneumonia/, and put each image in its class's folder")
    if len(with_images) == 1:
        only = next(iter(with_images))
        raise FolderError(f"{root} holds only one class ({only}, {len(with_images[only])} images): a model needs two. "
                          "Add a second sub-folder with the other class's images")
    other: list[str] = []
    if len(with_images) > 2:
        if positive is None:
            raise FolderError(f"{root} has {len(with_images)} class folders ({', '.join(with_images)}); the app trains two-class "
                              "models: choose two (move the others out, or name the positive class and its counterpart)")
        negatives = [n for n in with_images if n != positive and NEGATIVE_WORDS.match(n)]
        if positive not in with_images or len(negatives) != 1:
            raise FolderError(f"{root} has {len(with_images)} class folders ({', '.join(with_images)}); keep only two")
        other = [n for n in with_images if n not in (positive, negatives[0])]
        with_images = {n: with_images[n] for n in (negatives[0], positive)}
    classes, positive_reason = _choose_positive(list(with_images), positive)
    counts = {name: len(files) for name, files in with_images.items()}
    few = [f"{name} ({c})" for name, c in counts.items() if c < MIN_IMAGES_PER_CLASS]
    if few:
        raise FolderError(f"too few images to train and validate: {', '.join(few)}; each class needs at least "
                          f"{MIN_IMAGES_PER_CLASS} (a few hundred give a usable model)")
    files = [p for name in classes for p in with_images[name]]
    grouping, reason = decide_grouping(files)
    groups = data_mod.group_ids(files, grouping)
    labels = np.array([i for i, name in enumerate(classes) for _ in with_images[name]])
    patients = {name: len(np.unique(groups[labels == i])) for i, name in enumerate(classes)}
    thin = [f"{name} ({c})" for name, c in patients.items() if c < MIN_PATIENTS_PER_CLASS]
    if thin:
        raise FolderError(f"too few patients for a patient-level validation split: {', '.join(thin)}; each class needs "
                          f"images of at least {MIN_PATIENTS_PER_CLASS} patients ({reason})")
    return FolderScan(root, classes, counts, grouping, reason, patients, other, positive_reason)


def root() -> Path:
    return SHELF.root()


def slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    if not text:
        raise FolderError("the model needs a name with letters or digits")
    return text[:60]


def register_all() -> list[str]:
    """Make every trained model's bundles visible (the X-ray tab's model list, the CLI's --model)."""
    return SHELF.register_bundles()


def installed() -> list[dict[str, Any]]:
    items = []
    for folder in SHELF.entries():
        try:
            items.append(SHELF.read_record(folder))
        except UserDataError:
            continue
    return items


def remove(name: str) -> None:
    SHELF.remove(name)


def _stage(progress, start: float, end: float, label: str):  # noqa: ANN001, ANN202
    return lambda f, m="", p=None: progress(start + (end - start) * f, f"{label}: {m}" if m else label)


def shipped_search() -> dict[str, Any]:
    """The counterfactual generator chosen for the shipped classifier on its validation images (its card's
    ``counterfactual_search``): a user's model gets the same method, not an untested default."""
    from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL

    try:
        return dict(bundles.read_card(DEFAULT_MODEL).get("counterfactual_search") or {})
    except bundles.BundleError:
        return {}


@dataclass
class TrainSettings:
    epochs: int = 8
    autoencoder_epochs: int = 8
    twin_epochs: int = 6
    size: int = 128
    seed: int = 0


def train(scan_result: FolderScan, name: str, settings: TrainSettings = TrainSettings(), progress=no_progress,  # noqa: ANN001
          cancel: CancelToken = NEVER_CANCELLED, device=None) -> dict[str, Any]:  # noqa: ANN001
    """Train the classifier, referee, autoencoder, shuffled twin and guard into the user's folder; returns the
    summary (also written to image-model.json). A failure or Cancel removes the half-made folder."""
    from cfx_desktop.core import device as device_mod
    from cfx_desktop.core.imaging.counterfactual.autoencoder import train_autoencoder
    from cfx_desktop.core.imaging.guard.fit import fit_guard
    from cfx_desktop.core.imaging.models.classifier import load_image_model
    from cfx_desktop.core.imaging.train.classifier import train_image_model

    key = slug(name)
    folder = SHELF.folder(key)
    if folder.exists():
        raise FolderError(f"an image model called {key!r} exists already: choose another name or remove it first")
    if key in bundles.list_bundles():
        raise FolderError(f"{key!r} is the name of an installed model: choose another name")
    device = device or device_mod.current()
    s = settings
    labels = tuple(c.lower() for c in scan_result.classes)
    licence = ("the user's own images (not shipped)", f"trained on {scan_result.root}")
    src = scan_result.folder
    base = shlex.join(["cfx-desktop", "train-imaging", "--folder", str(scan_result.root), "--name", key,
                       "--positive", scan_result.classes[1], "--size", str(s.size), "--seed", str(s.seed)])
    weights = SHELF.weights(folder)
    weights.mkdir(parents=True)
    names = {"classifier": key, "referee": f"{key}-referee", "autoencoder": f"{key}-autoencoder",
             "twin": f"{key}-shuffled-labels"}
    try:
        with data_mod.decoded_once():
            progress(0.0, "reading the images")
            decoded = data_mod.load_folder(src, s.size, _stage(progress, 0.0, 0.1, "reading the images"), cancel)
            _check_readable(scan_result, decoded)
            common = dict(size=s.size, seed=s.seed, out=weights, device=device, cancel=cancel, labels=labels, licence=licence)
            classifier = train_image_model(
                src, "slim-cnn", epochs=s.epochs, name=names["classifier"], autoencoder=names["autoencoder"],
                shuffled_twin=names["twin"], command=f"{base} --epochs {s.epochs}",
                progress=_stage(progress, 0.1, 0.45, "classifier"), **common)
            referee = train_image_model(
                src, "strided-cnn", epochs=s.epochs, name=names["referee"], role="referee",
                command=f"{base} (referee: strided-cnn, seed {s.seed + 1})",
                progress=_stage(progress, 0.45, 0.65, "referee"), **{**common, "seed": s.seed + 1})
            autoencoder = train_autoencoder(
                src, s.size, s.autoencoder_epochs, s.seed, out=weights, device=device, name=names["autoencoder"],
                architecture="bottleneck-vae",
                command=f"{base} (autoencoder)", licence=licence, cancel=cancel,
                progress=_stage(progress, 0.65, 0.8, "autoencoder"))
            twin = train_image_model(
                src, "slim-cnn", epochs=s.twin_epochs, name=names["twin"], shuffle_labels=True, subset=2000,
                command=f"{base} (shuffled-label twin)", progress=_stage(progress, 0.8, 0.88, "sanity twin"), **common)
            bundles.add_root(weights)
            model = load_image_model(names["classifier"], device)
            guard = fit_guard(model, src, out=weights, command=f"{base} (guard)", cancel=cancel,
                              progress=_stage(progress, 0.88, 1.0, "out-of-distribution guard"))
            card = dict(classifier)
            card.update(referee=names["referee"], guard=guard["name"], counterfactual_search=shipped_search())
            bundles.save(names["classifier"], bundles.load(names["classifier"], weights).state, card, weights)
        from cfx_desktop.core import model_cache

        model_cache.clear()
        summary = {
            "name": key, "title": name, "folder": str(scan_result.root), "scan": _scan_json(scan_result),
            "skipped": decoded.skipped, "classifier": names["classifier"], "labels": list(labels),
            "metrics": {"classifier": classifier["metrics"]["validation"], "referee": referee["metrics"]["validation"],
                        "autoencoder": autoencoder["metrics"]["validation"], "twin": twin["metrics"]["validation"],
                        "guard": guard["metrics"]},
            "split": classifier["data"]["split"], "threshold": classifier["threshold"],
            "validation_images": classifier["data"]["validation_images"],
            "settings": asdict(s), "trained": dt.datetime.now().isoformat(timespec="seconds"),
        }
        SHELF.write_record(folder, summary)
        return summary
    except BaseException:
        SHELF.discard(folder)
        raise


def _check_readable(scan_result: FolderScan, decoded: data_mod.ImageSet) -> None:
    """Unreadable files are left out (and listed); a class left with too few images stops here, saying which."""
    for label, cls in enumerate(scan_result.classes):
        kept = int((decoded.labels == label).sum())
        if kept < MIN_IMAGES_PER_CLASS:
            bad = [s for s in decoded.skipped if s.startswith(f"{cls}/")]
            raise FolderError(f"only {kept} of the {scan_result.counts[cls]} images in {cls}/ could be read (e.g. "
                              f"{bad[0] if bad else 'none listed'}); each class needs at least {MIN_IMAGES_PER_CLASS} "
                              "readable images: convert or replace the unreadable files")


def _scan_json(s: FolderScan) -> dict[str, Any]:
    return {"classes": list(s.classes), "counts": s.counts, "grouping": s.grouping, "split_reason": s.split_reason,
            "patients": s.patients, "positive_reason": s.positive_reason, "unused_folders": s.other_folders}


WEAK_AUC = 0.8  # below this validation ROC AUC a classifier is called weak and is not put in use unasked
TWIN_MARGIN = 0.1  # a shuffled-label twin within this of the classifier's AUC: its "learning" may be chance


def weaknesses(summary: dict[str, Any]) -> list[str]:
    """Why this classifier should not be used without a person deciding to: empty when it is not weak."""
    c, t = summary["metrics"]["classifier"], summary["metrics"]["twin"]
    found = []
    if c["roc_auc"] < WEAK_AUC:
        found.append(f"the classifier is weak: validation ROC AUC {c['roc_auc']:.2f} (below {WEAK_AUC:.1f}); its labels "
                     "and explanations would mislead")
    if t["roc_auc"] >= c["roc_auc"] - TWIN_MARGIN:
        found.append(f"a twin trained on shuffled labels scores {t['roc_auc']:.2f}, near the classifier's {c['roc_auc']:.2f}: "
                     "what the classifier learned cannot be told from chance on these images")
    return found


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The validation metrics and the guard's calibration in words (the CLI prints them, the app shows them)."""
    m = summary["metrics"]
    c, r, g, a, t = m["classifier"], m["referee"], m["guard"], m["autoencoder"], m["twin"]
    neg, pos = summary["labels"]
    lines = [
        f"split: {summary['split']}",
        f"classifier: validation ROC AUC {c['roc_auc']:.3f}, balanced accuracy {c['balanced_accuracy']:.3f}, "
        f"F1 {c['f1']:.3f}, Brier {c['brier']:.3f} at threshold {summary['threshold']:.3f} "
        f"(p({pos}) at or above it reads as {pos}, below it as {neg})",
        f"referee (independent: another architecture and seed): validation ROC AUC {r['roc_auc']:.3f}",
        f"autoencoder: validation SSIM {a['ssim']:.3f}",
        f"sanity twin (shuffled labels): validation ROC AUC {t['roc_auc']:.3f} (near 0.5 expected)",
        f"out-of-distribution guard: flags {g['held_out_flagged_clean']:.1%} of held-out validation images "
        f"({g['held_out_flagged_shifted']:.1%} under acquisition shift); calibrated on {g['calibration_images']} "
        f"validation images, reported on {g['held_out_images']} others",
    ]
    lines += [f"WARNING: {w}" for w in weaknesses(summary)]
    if r["roc_auc"] < 0.7:
        lines.append(f"warning: the referee is weak (ROC AUC {r['roc_auc']:.2f}); its agreement with a counterfactual says "
                     "little. More images (or --epochs) make it a real second opinion")
    if a["ssim"] < 0.6:
        lines.append(f"warning: the autoencoder reconstructs poorly (SSIM {a['ssim']:.2f}); counterfactual images will look "
                     "blurred. More images (or epochs) help")
    if t["roc_auc"] > 0.65:
        lines.append(f"warning: the shuffled-label twin scores {t['roc_auc']:.2f} on validation, above chance: with "
                     f"{summary.get('validation_images', 'so few')} validation images chance alone varies this much, so the data-randomisation "
                     "sanity check is weak here")
    if summary.get("skipped"):
        shown = "; ".join(summary["skipped"][:5]) + (" ..." if len(summary["skipped"]) > 5 else "")
        lines.append(f"left out, unreadable ({len(summary['skipped'])}): {shown}")
    return lines
