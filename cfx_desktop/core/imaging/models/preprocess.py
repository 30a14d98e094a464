"""The one preprocessing function every image model uses: centre square crop on the short side (as MedMNIST
does), area-averaging resize to the model's input size, and normalisation with the model's own statistics.

Real radiographs are 1000-3000 px and not square; the crop box is returned so saliency maps can be put back
into the original image's coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class CropBox:
    top: int
    left: int
    side: int


def crop_box(height: int, width: int) -> CropBox:
    side = min(height, width)
    return CropBox((height - side) // 2, (width - side) // 2, side)


def resize_square(pixels: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """Centre-crop to a square and resize to ``size`` x ``size``; returns a (1, 1, size, size) float tensor in [0, 1]."""
    tensor = torch.as_tensor(np.asarray(pixels, dtype=np.float32)) if not isinstance(pixels, torch.Tensor) else pixels.float()
    if tensor.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {tuple(tensor.shape)}")
    box = crop_box(*tensor.shape)
    square = tensor[box.top : box.top + box.side, box.left : box.left + box.side][None, None]
    if box.side == size:
        return square.contiguous()
    # area averaging when shrinking (no aliasing of fine lung texture); bilinear when enlarging
    mode = "area" if box.side > size else "bilinear"
    kwargs = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(square, size=(size, size), mode=mode, **kwargs).clamp(0, 1)


def preprocess(pixels: np.ndarray | torch.Tensor, size: int, mean: float, std: float) -> torch.Tensor:
    """Grayscale image in [0, 1] (any size or aspect) -> normalised (1, 1, size, size) model input."""
    return (resize_square(pixels, size) - mean) / std


def to_map_space(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """A (size, size) map over the crop -> a (height, width) map over the whole image, zero outside the crop."""
    box = crop_box(height, width)
    resized = F.interpolate(torch.as_tensor(values, dtype=torch.float32)[None, None], size=(box.side, box.side),
                            mode="bilinear", align_corners=False)[0, 0].numpy()
    out = np.zeros((height, width), dtype=np.float32)
    out[box.top : box.top + box.side, box.left : box.left + box.side] = resized
    return out
