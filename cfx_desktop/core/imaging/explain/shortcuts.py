"""Where a saliency map's evidence lies: on the film's border band, on burned-in markers, outside the lung fields.

Why: a classifier can score well by reading the wrong thing (the laterality "R", the collimation edge, the
shoulders) and a saliency overlay that lights them up looks like an explanation unless somebody says so. These
shares are shown beside the overlay and in the report, which says plainly when the evidence lies outside the lungs.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BORDER_BAND = 0.08  # of the side: the strip where collimation edges and film borders sit
OUTSIDE_LUNGS_WARNING = 0.5  # share of positive evidence above which the report says the evidence is outside the lungs


def border_band(size: int, band: float = BORDER_BAND) -> np.ndarray:
    width = max(1, int(round(band * size)))
    mask = np.ones((size, size), dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def marker_mask(pixels: np.ndarray, lungs: np.ndarray | None = None) -> np.ndarray:
    """Burned-in markers and text ("R", "L", annotations): small structures brighter than a 5 px grey opening of the
    film, in its outer 22 %, on dark surroundings (the ring around them is mostly below 0.4: air beside the body,
    not bone), and not in the lung fields. Dilated by 2 px to cover their strokes. A heuristic: it finds the
    laterality letters of this data, and it will also catch a bright clip or wire on the air beside the body."""
    x = np.asarray(pixels, dtype=np.float64)
    size = x.shape[0]
    peripheral = np.ones_like(x, dtype=bool)
    width = int(0.22 * size)
    peripheral[width:-width, width:-width] = False
    if lungs is not None:
        peripheral &= ~ndimage.binary_dilation(lungs, iterations=4)
    candidates = (x - ndimage.grey_opening(x, size=(5, 5)) > 0.12) & peripheral & (x > 0.4)
    labels, _ = ndimage.label(candidates, structure=np.ones((3, 3)))
    keep = np.zeros_like(candidates)
    for i, _slice in enumerate(ndimage.find_objects(labels), start=1):
        component = labels == i
        if not 2 <= component.sum() <= 0.005 * size * size:
            continue
        ring = ndimage.binary_dilation(component, iterations=3) & ~ndimage.binary_dilation(component, iterations=1)
        if np.quantile(x[ring], 0.75) < 0.4:
            keep |= component
    return ndimage.binary_dilation(keep, iterations=2) if keep.any() else keep


def evidence_shares(model_values: np.ndarray, pixels: np.ndarray, lungs: np.ndarray) -> dict[str, float]:
    """Shares of the map's positive evidence (at the model's resolution) on the border band, on markers (found in
    ``pixels``, the film at the model's resolution) and outside the lung fields (``lungs``, `latent_bank.lungs_for`)."""
    evidence = np.clip(np.asarray(model_values, dtype=np.float64), 0, None)
    total = float(evidence.sum())
    size = evidence.shape[0]
    if total <= 0:
        return {"border": 0.0, "markers": 0.0, "outside_lungs": 0.0}
    return {"border": float(evidence[border_band(size)].sum() / total),
            "markers": float(evidence[marker_mask(pixels, lungs)].sum() / total),
            "outside_lungs": float(evidence[~lungs].sum() / total)}


def describe(shares: dict[str, float]) -> str:
    """One sentence for the overlay panel and the report."""
    text = (f"Evidence on the film's border {shares['border']:.0%}, on burned-in markers {shares['markers']:.0%}, "
            f"outside the lung fields {shares['outside_lungs']:.0%}")
    if shares["outside_lungs"] > OUTSIDE_LUNGS_WARNING:
        text += ": most of the evidence lies outside the lungs, which a radiologist would not accept as a reason"
    elif shares["markers"] > 0.1 or shares["border"] > 0.25:
        text += ": part of the evidence is on markers or the border (possible shortcut)"
    return text + "."


def describe_short(shares: dict[str, float]) -> str:
    """A line that fits a side panel at 1280 x 720 (the full sentence goes in its tooltip)."""
    text = (f"Evidence: border {shares['border']:.0%}, markers {shares['markers']:.0%}, "
            f"outside the lungs {shares['outside_lungs']:.0%}")
    return text + (" (mostly outside the lungs)" if shares["outside_lungs"] > OUTSIDE_LUNGS_WARNING else "")
