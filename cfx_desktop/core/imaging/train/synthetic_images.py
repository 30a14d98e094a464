"""Images that are not chest radiographs, made offline and reproducibly: negatives for the guard's
chest-radiograph-vs-other classifier (drawn with training seeds) and a measuring set for the guard benchmark
(drawn with another seed, so no measured image was trained on; the families are the same, which flatters the
synthetic rows, and is why the benchmark also scores real DICOM files the guard never saw).

Families: CT-like axial slices, MR-like slices, bone-scan-like whole-body images, ultrasound-like fans, hand /
limb-like radiographs, colour test patterns, gray test patterns (bars, gratings, checkerboards, gradients,
uniform fields), 1/f noise textures, document-like pages and random shapes; plus chest radiographs that are not
"of the kind the model was trained on": rotated 90 degrees, upside down, and inverted. Real DICOM files come from
pydicom's bundled test files (`pydicom_files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from cfx_desktop.core.imaging.io.load import LoadedImage, colour_spread

SIZE = 256


def _grid(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return (x - size / 2) / (size / 2), (y - size / 2) / (size / 2)


def _smooth_noise(rng: np.random.Generator, size: int = SIZE, power: float = 2.0) -> np.ndarray:
    spectrum = rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0
    field = np.real(np.fft.ifft2(spectrum / radius ** (power / 2)))
    return ((field - field.min()) / (np.ptp(field) + 1e-9)).astype(np.float32)


def _norm(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float32)
    return np.clip((a - a.min()) / (np.ptp(a) + 1e-9), 0, 1)


def ct_slice(rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    a, b = rng.uniform(0.6, 0.9), rng.uniform(0.5, 0.8)
    r = (x / a) ** 2 + (y / b) ** 2
    img = np.where(r < 1, 0.45 + 0.05 * _smooth_noise(rng), 0.0)
    img = np.where((r > 0.85) & (r < 1), 0.95, img)  # skull or rib ring
    for _ in range(rng.integers(2, 6)):
        cx, cy, rad = rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), rng.uniform(0.05, 0.2)
        img = np.where((x - cx) ** 2 + (y - cy) ** 2 < rad**2, rng.uniform(0.2, 0.8), img)
    return np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)


def mr_slice(rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    r = (x / rng.uniform(0.6, 0.85)) ** 2 + (y / rng.uniform(0.7, 0.9)) ** 2
    tissue = 0.3 + 0.6 * _smooth_noise(rng, power=3.0)
    return np.clip(np.where(r < 1, tissue, 0.02) * (1 - 0.3 * r.clip(0, 1)) + rng.normal(0, 0.015, r.shape), 0, 1)


def bone_scan(rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    body = (np.abs(x) < 0.18 + 0.05 * np.cos(3 * y)) | ((np.abs(x) < 0.5) & (np.abs(y + 0.3) < 0.08))
    img = np.where(body, 0.6, 1.0) - 0.1 * _smooth_noise(rng)
    for _ in range(rng.integers(5, 20)):
        cx, cy = rng.uniform(-0.3, 0.3), rng.uniform(-0.9, 0.9)
        img = np.where((x - cx) ** 2 + (y - cy) ** 2 < 0.002, 0.05, img)
    return np.clip(img + rng.normal(0, 0.04, img.shape), 0, 1)


def ultrasound(rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    angle, radius = np.arctan2(x, y + 1), np.sqrt(x**2 + (y + 1) ** 2)
    fan = (np.abs(angle) < rng.uniform(0.5, 0.8)) & (radius < 1.9) & (radius > 0.2)
    speckle = rng.rayleigh(0.25, x.shape) * (0.4 + 0.6 * _smooth_noise(rng))
    return np.clip(np.where(fan, speckle, 0.0), 0, 1)


def limb_radiograph(rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    img = 0.08 + 0.05 * _smooth_noise(rng)
    for _ in range(rng.integers(1, 5)):
        cx, w = rng.uniform(-0.6, 0.6), rng.uniform(0.06, 0.15)
        tilt = rng.uniform(-0.3, 0.3)
        d = np.abs(x - cx - tilt * y)
        img = np.where(d < w * 1.8, 0.35, img)  # soft tissue
        img = np.where(d < w, 0.75 + 0.15 * (1 - d / w), img)  # bone with a brighter cortex
    return np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)


def gray_pattern(rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    kind = rng.integers(0, 5)
    if kind == 0:
        return np.floor((x + 1) * rng.integers(4, 12) / 2) % 2 * 0.8 + 0.1
    if kind == 1:
        return 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 20) * (x * np.cos(rng.uniform(0, 3)) + y * np.sin(rng.uniform(0, 3))))
    if kind == 2:
        n = rng.integers(4, 16)
        return ((np.floor((x + 1) * n / 2) + np.floor((y + 1) * n / 2)) % 2).astype(np.float32)
    if kind == 3:
        return _norm(x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1))
    return np.full(x.shape, rng.uniform(0, 1), dtype=np.float32)


def colour_pattern(rng: np.random.Generator) -> np.ndarray:
    """An RGB (H, W, 3) uint8 test pattern: colour bars or a hue wheel."""
    x, y = _grid()
    if rng.integers(0, 2) == 0:
        bars = np.array([[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0], [192, 0, 192], [192, 0, 0], [0, 0, 192]])
        return bars[np.clip(((x + 1) / 2 * 7).astype(int), 0, 6)].astype(np.uint8)
    hue = (np.arctan2(y, x) / (2 * np.pi) + 0.5)[..., None]
    rgb = np.clip(np.abs((hue * 6 + np.array([0, 4, 2])) % 6 - 3) - 1, 0, 1)
    return (rgb * 255).astype(np.uint8)


def noise_texture(rng: np.random.Generator) -> np.ndarray:
    return _smooth_noise(rng, power=rng.uniform(0.5, 3.0))


def document(rng: np.random.Generator) -> np.ndarray:
    img = np.ones((SIZE, SIZE), dtype=np.float32)
    for row in range(20, SIZE - 20, rng.integers(10, 18)):
        end = rng.integers(SIZE // 2, SIZE - 20)
        img[row : row + 4, 20:end] = (rng.random(end - 20) > 0.25) * -1 + 1
    return img


def shapes(rng: np.random.Generator) -> np.ndarray:
    x, y = _grid()
    img = np.full(x.shape, rng.uniform(0, 1), dtype=np.float32)
    for _ in range(rng.integers(3, 12)):
        cx, cy, s = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.05, 0.5)
        mask = ((x - cx) ** 2 + (y - cy) ** 2 < s**2) if rng.random() < 0.5 else ((np.abs(x - cx) < s) & (np.abs(y - cy) < s))
        img = np.where(mask, rng.uniform(0, 1), img)
    return img


SYNTHETIC: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "CT-like slice": ct_slice, "MR-like slice": mr_slice, "bone-scan-like": bone_scan, "ultrasound-like": ultrasound,
    "limb-radiograph-like": limb_radiograph, "gray test pattern": gray_pattern, "colour test pattern": colour_pattern,
    "noise texture": noise_texture, "document-like": document, "random shapes": shapes,
}


def as_loaded(array: np.ndarray, name: str) -> LoadedImage:
    """What `load_image` would return for a PNG of ``array`` (gray float, or RGB uint8 with its colour spread)."""
    if array.ndim == 3:
        gray = (array[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) / 255.0
        return LoadedImage(gray, name, "PNG", {"mode": "RGB", "colour": True, "chroma": colour_spread(array)})
    return LoadedImage(np.clip(array, 0, 1).astype(np.float32), name, "PNG", {"mode": "L", "colour": False, "chroma": 0.0})


def synthetic(per_family: int = 20, seed: int = 1234) -> Iterator[tuple[str, LoadedImage]]:
    rng = np.random.default_rng(seed)
    for family, make in SYNTHETIC.items():
        for i in range(per_family):
            yield family, as_loaded(make(rng), f"{family} {i}")


def unusual_chest(images: list[LoadedImage]) -> Iterator[tuple[str, LoadedImage]]:
    for image in images:
        yield "chest rotated 90 deg", LoadedImage(np.rot90(image.pixels).copy(), image.source, image.format, {})
        yield "chest upside down", LoadedImage(image.pixels[::-1].copy(), image.source, image.format, {})
        yield "chest inverted", LoadedImage(1.0 - image.pixels, image.source, image.format, {})


def pydicom_files() -> list[Path]:
    import os

    import pydicom

    folder = Path(os.path.dirname(pydicom.__file__)) / "data" / "test_files"
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".dcm", ""))
