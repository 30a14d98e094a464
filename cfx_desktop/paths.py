"""Where the shipped weights, resources and the (optional) real datasets are.

Weights and resources sit beside the package in a checkout/editable install and under ``sys._MEIPASS`` in the
frozen installer; environment variables override both so tests and packagers can point elsewhere. Real data
is never copied into the project: it is read from ``../shared/data`` or a path the user gives.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def app_root() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else PACKAGE_DIR.parent


def weights_dir() -> Path:
    return Path(os.environ.get("CFX_WEIGHTS_DIR") or app_root() / "weights")


def resources_dir() -> Path:
    return Path(os.environ.get("CFX_RESOURCES_DIR") or app_root() / "resources")


def shared_data_dir() -> Path | None:
    """The real-data folder, or None on a fresh install (the app then runs on its embedded defaults)."""
    env = os.environ.get("CFX_DATA_DIR")
    candidates = [Path(env)] if env else [app_root().parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def data_file(name: str) -> Path | None:
    """A file of the real-data folder, or None; an absolute ``name`` (a user's own CSV) is itself, wherever the
    real-data folder is, or whether there is one at all (a fresh install has none)."""
    if Path(name).is_absolute():
        return Path(name) if Path(name).exists() else None
    root = shared_data_dir()
    if root is None:
        return None
    path = root / name
    return path if path.exists() else None


def user_data_dir() -> Path:
    """Where the user's own datasets and models live (not the install folder, which may be read-only):
    ``CFX_USER_DATA_DIR``, else the platform's per-user data folder."""
    env = os.environ.get("CFX_USER_DATA_DIR")
    if env:
        return Path(env)
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "cfx-desktop" / "user"
