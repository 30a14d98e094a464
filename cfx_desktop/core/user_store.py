"""The user's own things, tabular datasets and image models, kept one way.

Why one store: the two kinds grew apart (bundles beside the record in one, in ``weights/`` in the other; a
different error type each; registration written twice), so the command line, the tabs and the tests had to know
both. Now each kind is a `Shelf`:

    <user data>/<kind>/<name>/<record>      what the user made and how (JSON)
    <user data>/<kind>/<name>/weights/      the bundles, their cards and the manifest of sha256s, checked before
                                            any bundle loads, as for the shipped models

One error type (`UserDataError`) says what is wrong and what to do; one rule makes an entry visible (its record
and its manifest exist, `Shelf.register_bundles`); one path removes it (`Shelf.remove`). The kinds add what is
theirs on top: a dataset's schema and its registry entry (`core.tabular.user_datasets`), an image model's training
(`core.imaging.user_models`). This module imports neither, so the model registries can list the user's entries
without importing any trainer.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfx_desktop import paths
from cfx_desktop.core import bundles


class UserDataError(ValueError):
    """A dataset or model of the user's cannot be created, read, trained or removed; the message says why."""


@dataclass(frozen=True)
class Shelf:
    kind: str  # the folder under the user data folder, e.g. "datasets"
    record: str  # the file that marks an entry and says what it is, e.g. "dataset.json"
    noun: str  # in messages: "dataset", "image model"

    def root(self) -> Path:
        return paths.user_data_dir() / self.kind

    def folder(self, name: str) -> Path:
        return self.root() / name

    @staticmethod
    def weights(folder: Path) -> Path:
        return folder / "weights"

    def entries(self) -> list[Path]:
        """The entries' folders (with a record), sorted by name."""
        root = self.root()
        return [f for f in sorted(root.glob("*/")) if (f / self.record).exists()] if root.is_dir() else []

    def exists(self, name: str) -> bool:
        return (self.folder(name) / self.record).exists()

    def read_record(self, folder: Path) -> dict[str, Any]:
        try:
            return json.loads((folder / self.record).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserDataError(f"{folder.name}: not a readable {self.noun} ({exc})") from None

    def write_record(self, folder: Path, info: dict[str, Any]) -> None:
        (folder / self.record).write_text(json.dumps(info, indent=2, default=float) + "\n", encoding="utf-8")

    def register_bundles(self) -> list[str]:
        """Make every entry's bundles loadable (its manifest is checked at load); returns the entries' names."""
        found = []
        for folder in self.entries():
            if (self.weights(folder) / bundles.MANIFEST).exists():
                bundles.add_root(self.weights(folder))
                found.append(folder.name)
        return found

    def names(self) -> list[str]:
        return [f.name for f in self.entries()]

    def require(self, name: str) -> Path:
        """The entry's folder, or a UserDataError that lists what there is."""
        if not self.exists(name):
            yours = ", ".join(self.names()) or "none yet"
            raise UserDataError(f"no {self.noun} of yours named {name!r} (yours: {yours})")
        return self.folder(name)

    def remove(self, name: str) -> None:
        """Forget the entry's bundles and delete its folder (never the user's source data)."""
        from cfx_desktop.core import model_cache

        folder = self.require(name)
        bundles.remove_root(self.weights(folder))
        model_cache.clear()
        shutil.rmtree(folder)

    def discard(self, folder: Path) -> None:
        """Undo a half-made entry (a failed or cancelled training)."""
        from cfx_desktop.core import model_cache

        bundles.remove_root(self.weights(folder))
        model_cache.clear()
        shutil.rmtree(folder, ignore_errors=True)


DATASETS = Shelf("datasets", "dataset.json", "dataset")
IMAGE_MODELS = Shelf("image-models", "image-model.json", "image model")
SHELVES = (DATASETS, IMAGE_MODELS)
