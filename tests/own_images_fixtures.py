"""A small labelled image folder for the own-images tests: two classes that differ by a bright patch, names that
carry a patient prefix (``p03_2.png``: three images per patient) unless asked otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def labelled_folder(root: Path, per_class: int = 24, classes: tuple[str, str] = ("normal", "opacity"),
                    names: str = "prefix", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:96] / 95.0
    for label, cls in enumerate(classes):
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = 0.35 + 0.4 * np.exp(-((xx - 0.5) ** 2) / 0.08) * (0.6 + 0.4 * yy)
            if label:
                cy, cx = rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.4)
                base = base + 0.45 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.01)
            img = np.clip(base + rng.normal(0, 0.04, base.shape), 0, 1)
            name = f"{cls[:1]}{i // 3:02d}_{i % 3}.png" if names == "prefix" else f"img{label}{i:03d}.png"
            Image.fromarray((img * 255).astype(np.uint8)).save(folder / name)
    return root
