"""Datasets built from the user's own CSV: stored in the user's data folder, registered beside the built-in ones.

Each is an entry of the user store (`core.user_store.DATASETS`, laid out as every kind of the user's own things):
``<user data>/datasets/<name>/dataset.json`` (the CSV's path, sha256 and size, the training settings and the
cross-validation table), ``weights/`` with the bundles, their cards and a manifest of sha256s that is checked
before any of them loads, exactly as for the shipped models, and, of its own, ``schema.json`` (what the user
confirmed in the schema editor or gave with ``--schema``). The CSV itself is not copied: it is the user's
data, and the models are trained from it where it is.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfx_desktop.core import bundles
from cfx_desktop.core.user_store import DATASETS as SHELF
from cfx_desktop.core.user_store import UserDataError
from cfx_desktop.core.hashing import sha256_file
from cfx_desktop.core.tabular.datasets.base import DATASETS, TabularDataset, Variant
from cfx_desktop.core.tabular.schema import Schema, SchemaError
from cfx_desktop.core.tabular.schema_io import read_schema, write_schema

log = logging.getLogger(__name__)
LICENCE = "the user's own data (not shipped, not redistributed)"


UserDatasetError = UserDataError  # the store's one error type, under the name the callers knew


@dataclass(frozen=True)
class UserDataset:
    name: str
    folder: Path
    schema: Schema
    info: dict[str, Any]

    @property
    def weights(self) -> Path:
        return SHELF.weights(self.folder)

    @property
    def csv(self) -> Path:
        return Path(self.info["data"]["path"])


def root() -> Path:
    return SHELF.root()


def _as_dataset(item: UserDataset) -> TabularDataset:
    variant = Variant(item.schema, f"{item.schema.title} (your data)")
    trained = item.info.get("settings", {}).get("architectures") or ["mlp"]
    default = "mlp" if "mlp" in trained else trained[0]
    return TabularDataset(item.name, item.schema.title, str(item.csv), LICENCE,
                          f"{item.csv.name}, provided by the user", (variant,), default, str(item.folder))


def read(folder: Path) -> UserDataset:
    info = SHELF.read_record(folder)
    try:
        schema = read_schema(folder / "schema.json")
    except SchemaError as exc:
        raise UserDatasetError(f"{folder.name}: not a readable dataset ({exc})") from None
    return UserDataset(schema.name, folder, schema, info)


def installed() -> list[UserDataset]:
    """Every readable dataset in the user's folder (an unreadable one is logged and skipped)."""
    found = []
    for folder in SHELF.entries():
        try:
            found.append(read(folder))
        except UserDatasetError as exc:
            log.warning("%s", exc)
    return found


def register_all() -> list[str]:
    """Register every installed user dataset (and its bundle folder); returns their names."""
    names = []
    for item in installed():
        if item.name in DATASETS and not DATASETS.get(item.name).user_folder:
            log.warning("user dataset %s clashes with a built-in dataset; not registered", item.name)
            continue
        DATASETS.register(item.name, _as_dataset(item), replace=True)
        bundles.add_root(item.weights)
        names.append(item.name)
    return names


def create(schema: Schema, csv_path: Path, settings: dict[str, Any] | None = None) -> UserDataset:
    """Write the schema and the dataset record, and register it (no models yet: `train` adds them)."""
    if schema.name in DATASETS and not DATASETS.get(schema.name).user_folder:
        raise UserDatasetError(f"{schema.name!r} is the name of a built-in dataset; choose another name")
    csv_path = Path(csv_path).resolve()
    folder = SHELF.folder(schema.name)
    if SHELF.exists(schema.name):
        raise UserDatasetError(f"a dataset named {schema.name!r} exists already; remove it first or choose another name")
    folder.mkdir(parents=True, exist_ok=True)
    write_schema(schema, folder / "schema.json")
    info = {"name": schema.name, "created": dt.datetime.now().isoformat(timespec="seconds"),
            "data": {"path": str(csv_path), "sha256": sha256_file(csv_path), "bytes": csv_path.stat().st_size},
            "settings": settings or {}, "cv": []}
    SHELF.write_record(folder, info)
    item = UserDataset(schema.name, folder, schema, info)
    DATASETS.register(item.name, _as_dataset(item), replace=True)
    bundles.add_root(item.weights)
    return item


def record(item: UserDataset, **updates: Any) -> UserDataset:
    info = {**item.info, **updates}
    SHELF.write_record(item.folder, info)
    updated = UserDataset(item.name, item.folder, item.schema, info)
    DATASETS.register(item.name, _as_dataset(updated), replace=True)
    return updated


def get(name: str) -> UserDataset:
    return read(SHELF.require(name))


def remove(name: str) -> None:
    """Unregister and delete the dataset's folder (its schema, models and cards; never the CSV)."""
    SHELF.require(name)
    if name in DATASETS and DATASETS.get(name).user_folder:
        DATASETS.unregister(name)
    SHELF.remove(name)


MAX_ROWS = 20_000  # larger files train on a stratified sample of this many rows (said in every card)


def cv_row(card: dict[str, Any]) -> dict[str, Any]:
    """One line of the cross-validation table the app shows after training."""
    cv = card.get("metrics", {}).get("cv") or {}
    valid = card.get("metrics", {}).get("validation", {})

    def cell(key: str) -> str:
        entry = cv.get(key)
        return f"{entry['mean']:.3f} +- {entry['sd']:.3f}" if isinstance(entry, dict) else "n/a"

    return {"model": card.get("label", card["name"]), "bundle": card["name"], "cv_roc_auc": cell("roc_auc"),
            "cv_balanced_accuracy": cell("balanced_accuracy"), "cv_brier": cell("brier"),
            "validation_roc_auc": f"{valid.get('roc_auc', float('nan')):.3f}", "threshold": f"{card['threshold']:.3f}",
            "protocol": cv.get("protocol", "no cross-validation")}


def train(name: str, architectures: list[str] | None = None, members: int = 2, cv_repeats: int = 1, seed: int = 0,
          max_rows: int = MAX_ROWS, progress=None, cancel=None) -> UserDataset:  # noqa: ANN001
    """Train every architecture's model set for a user dataset into its folder; returns it with its CV table.

    The base model of each architecture is cross-validated (``cv_repeats`` x 5-fold); ``members`` - 1 bootstrap
    members follow, as for the shipped sets. Cancelling stops between (and inside) models; what finished stays."""
    from cfx_desktop.core.cancel import NEVER_CANCELLED, no_progress
    from cfx_desktop.core.tabular import train as train_mod
    from cfx_desktop.core.tabular.models import ARCHITECTURES

    progress = progress or no_progress
    cancel = cancel or NEVER_CANCELLED
    item = get(name)
    archs = architectures or ARCHITECTURES.keys()
    jobs = [(arch, member) for arch in archs for member in range(max(members, 1))]
    cards = []
    for i, (arch, member) in enumerate(jobs):
        cancel.raise_if_cancelled()
        label = ARCHITECTURES.get(arch).label
        progress(i / len(jobs), f"training {label}" + (f", member {member + 1} of {members}" if members > 1 else ""))
        command = (f"cfx-desktop train-tabular --data {item.csv} --target {item.schema.target} --name {name} "
                   f"--model {arch} --members {members} --cv-repeats {cv_repeats} --seed {seed}")
        card = train_mod.train_and_save(
            name, arch, seed=seed, member=member, cv_repeats=cv_repeats if member == 0 else 0, out=item.weights,
            command=command, max_rows=max_rows, cancel=cancel,
            progress=lambda f, m="", p=None, i=i: progress((i + f) / len(jobs), f"{label}: {m}" if m else label))
        cards.append(card)
    progress(1.0, "done")
    table = [cv_row(card) for card in cards if card["member"] == 0]
    settings = {"architectures": list(archs), "members": members, "cv_repeats": cv_repeats, "seed": seed, "max_rows": max_rows}
    return record(item, cv=table, settings={**item.info.get("settings", {}), **settings},
                  trained=dt.datetime.now().isoformat(timespec="seconds"))


def train_or_remove(name: str, architectures: list[str] | None = None, members: int = 2, cv_repeats: int = 1,
                    progress=None, cancel=None) -> UserDataset:  # noqa: ANN001
    """`train` for the app: a training that fails or is cancelled removes the dataset it was making (the CSV and
    the reviewed schema are the user's, and stay), so nothing half-made is ever listed."""
    try:
        return train(name, architectures, members=members, cv_repeats=cv_repeats, progress=progress, cancel=cancel)
    except BaseException:
        try:
            remove(name)
        except UserDatasetError:
            pass
        raise


register_all()  # on import: `DATASETS` imports this module on its first read
