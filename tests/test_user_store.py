"""One store for the user's own datasets and image models: one layout, one error type, one registration path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfx_desktop.core import bundles
from cfx_desktop.core.imaging.models import user_models
from cfx_desktop.core.tabular import user_datasets
from cfx_desktop.core.user_store import DATASETS, IMAGE_MODELS, SHELVES, UserDataError


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CFX_USER_DATA_DIR", str(tmp_path / "user"))
    return tmp_path / "user"


def test_both_kinds_share_one_layout_and_one_error_type(store: Path) -> None:
    assert user_datasets.UserDatasetError is user_models.FolderError is UserDataError
    assert user_datasets.root() == DATASETS.root() == store / "datasets"
    assert user_models.root() == IMAGE_MODELS.root() == store / "image-models"
    for shelf in SHELVES:
        with pytest.raises(UserDataError, match=f"no {shelf.noun} of yours named 'nope' \\(yours: none yet\\)"):
            shelf.remove("nope")


@pytest.mark.parametrize("shelf", SHELVES, ids=lambda s: s.kind)
def test_an_entry_is_visible_once_its_record_and_manifest_exist_and_removed_whole(shelf, store: Path) -> None:  # noqa: ANN001
    folder = shelf.folder("mine")
    weights = shelf.weights(folder)
    weights.mkdir(parents=True)
    assert shelf.register_bundles() == []  # no record yet: a half-made folder is not an entry
    shelf.write_record(folder, {"name": "mine"})
    assert shelf.register_bundles() == []  # no manifest: nothing to load
    (weights / bundles.MANIFEST).write_text("{}", encoding="utf-8")
    assert shelf.register_bundles() == ["mine"] and shelf.names() == ["mine"]
    assert shelf.read_record(folder) == {"name": "mine"}
    (folder / shelf.record).write_text("{broken", encoding="utf-8")
    with pytest.raises(UserDataError, match=f"mine: not a readable {shelf.noun}"):
        shelf.read_record(folder)
    shelf.remove("mine")
    assert not folder.exists() and shelf.names() == []
