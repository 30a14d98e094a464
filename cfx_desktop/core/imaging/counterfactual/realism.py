"""Whether a counterfactual's lungs stay within what real films of its target class look like.

Why: the opacity-sign share (`generate`) passes an edit that darkens the whole of both lungs, because darkening is
what clearing an opacity does. A radiologist calls such a film over-lucent, not cleared: on the validation films
(`benchmarks.image_cf`), 6 of the 15 shipped walks toward normal left lungs darker, against the tissue around them,
than 97.5 % of real normal films, two of them confirmed by the referee.

The measure is the **lung contrast**: the mean intensity inside the estimated lung fields minus the mean of a band
of tissue around them (from 2 px to `BAND` of the film's width outside them), at the classifier's input. Taken
against the surroundings, exposure differences between films cancel to first order (an absolute lung mean varies
more between normal films than between the classes). The reference is the same measure on the latent bank's real
training films of each class (`build-latent-bank` stores it); real normal films measure -0.27 to -0.07 (2.5th to
97.5th percentile), real pneumonia films -0.19 to 0.03. A counterfactual is **unlike real films** of its target class
when its lung contrast lies outside their central 95 % (`TAIL` percent each side): *beyond* them on the side the edit
should move (over-lucent toward normal, denser than real pneumonia toward it), or *short* of them on the other (lungs
still darker than nearly every real pneumonia film: no opacity as dense as a real one was added). The bounds are
the reference's own percentiles; the shipped generators were chosen before this check existed and are not chosen by
it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

BAND = 0.08  # the surrounding band's outer edge, as a share of the film's width (10 px at 128 px)
TAIL = 2.5  # percent of the target class's real films outside the bound, on each side


def surround(lungs: np.ndarray) -> np.ndarray:
    """The band of tissue around the lung fields the contrast is taken against (mediastinum, diaphragm, chest
    wall), skipping the 2 px next to them, where the fields are least certain."""
    outer = ndimage.binary_dilation(lungs, iterations=max(3, int(round(BAND * lungs.shape[0]))))
    return outer & ~ndimage.binary_dilation(lungs, iterations=2)


def lung_contrast(images: np.ndarray, lungs: np.ndarray) -> np.ndarray:
    """Mean intensity in the lungs minus that of the band around them, per image of (N, S, S) or for one (S, S)."""
    images = np.asarray(images, dtype=np.float64)
    band = surround(lungs)
    values = images[..., lungs].mean(-1) - images[..., band].mean(-1)
    return values


def judge(original: np.ndarray, counterfactual: np.ndarray, lungs: np.ndarray, reference: np.ndarray,
          target: str, want_normal: bool) -> dict[str, Any]:
    """The counterfactual's lung contrast beside its original's, and where it falls among real films of the target
    class (``reference``): *beyond* them when it lies past the `TAIL` percentile on the side its edit should move
    (darker toward normal, brighter toward the finding), *short* of them past the other `TAIL`, else *within*."""
    before, after = (float(v) for v in lung_contrast(np.stack([original, counterfactual]), lungs))
    reference = np.asarray(reference, dtype=np.float64)
    percentile = float(100.0 * (reference < after).mean())
    darker, brighter = percentile < TAIL, percentile > 100.0 - TAIL
    where = ("beyond" if (darker if want_normal else brighter) else
             "short" if (brighter if want_normal else darker) else "within")
    return {"lung_contrast_original": before, "lung_contrast": after, "lung_contrast_percentile": percentile,
            "lung_contrast_where": where, "lung_contrast_unlike_real": where != "within", "lung_contrast_target": target,
            "lung_contrast_side": "darker" if want_normal else "brighter", "lung_contrast_reference": int(len(reference))}


def _how_far(metrics: dict[str, Any]) -> tuple[str, float]:
    """('darker' or 'brighter', the share of real films of the target class it lies beyond on that side)."""
    p = metrics["lung_contrast_percentile"]
    return ("darker", 100.0 - p) if p < 50.0 else ("brighter", p)


_NAMES = {("beyond", "darker"): "over-lucent", ("beyond", "brighter"): "denser than real ones",
          ("short", "darker"): "not cleared as far as a real normal film's",
          ("short", "brighter"): "no opacity as dense as a real one added"}


def realism_words(metrics: dict[str, Any]) -> str:
    """Where the counterfactual's lungs fall among real films of its target class, in words; empty when no
    reference was installed (an older bank, or none)."""
    if "lung_contrast" not in metrics:
        return ""
    target, where = metrics["lung_contrast_target"], metrics["lung_contrast_where"]
    change = (f"lung contrast {metrics['lung_contrast_original']:+.2f} -> {metrics['lung_contrast']:+.2f} against the "
              "tissue around them")
    if where == "within":
        return (f"{change}: within the central {100 - 2 * TAIL:.0f} % of real {target} films (percentile "
                f"{metrics['lung_contrast_percentile']:.0f})")
    side, share = _how_far(metrics)
    still = "still " if where == "short" else ""
    return f"{change}: {still}{side} than {share:.0f} % of real {target} films ({_NAMES[(where, metrics['lung_contrast_side'])]})"


def realism_caveat(metrics: dict[str, Any], conjunction: str = "but") -> str:
    """What a radiologist would add to a confirmed counterfactual whose lungs lie outside real films of the target
    class, on either side; empty otherwise. ``conjunction`` joins it to the sentence ("and" after another caveat)."""
    if not metrics.get("lung_contrast_unlike_real"):
        return ""
    side, share = _how_far(metrics)
    still = "still " if metrics["lung_contrast_where"] == "short" else ""
    return f", {conjunction} its lungs are {still}{side} than those of {share:.0f} % of real {metrics['lung_contrast_target']} films"
