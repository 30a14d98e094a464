"""Sanity checks for saliency maps (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

* Cascading model-parameter randomization: re-initialise the layers from the output back toward the input, one
  more at a time, and recompute the map. A method whose maps barely change is not explaining the model.
* Data randomization: the same architecture trained on permuted labels (shipped as its own bundle).
* The top layer is judged over several random draws (`TOP_LAYER_DRAWS`), by the draw with the median |Spearman|.
  Why: a one-logit model's top layer is one weight vector, so one draw is one random direction, and whether its map
  resembles the trained one depends on that direction. On 40 validation films one draw's top-layer pass rate
  ranged over five draws from 0.00 to 0.35 for Grad-CAM on the classifier shipped before, and from 0.00 to 0.85 for
  Integrated Gradients on the one shipped now (fine-tuned with an auxiliary read-out); a verdict, and a default method
  chosen by it, must not rest on which draw came first.
Each map is compared with the original by Spearman rank correlation and by SSIM (on the model-resolution maps
scaled to [0, 1]); low values mean the method passes. The rank correlation is of the signed maps for methods whose
sign means something (`SaliencyMethod.signed`: Integrated Gradients, occlusion) and of the map as it is for
Grad-CAM, which is non-negative; both choices were stated before any pass rate was measured
(`benchmarks/saliency_sanity.py` measures them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import ndimage, stats
from torch import nn

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.imaging.explain import saliency
from cfx_desktop.core.imaging.models.classifier import ImageModel



def spearman_abs(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of |a| and |b|; a constant map (randomization can zero every gradient) ranks nothing
    the way the original does, so it scores 0 rather than an undefined value."""
    x, y = np.abs(a).ravel(), np.abs(b).ravel()
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    rho = stats.spearmanr(x, y).statistic
    return float(0.0 if np.isnan(rho) else rho)


def spearman_signed(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of the maps themselves, sign included (constant maps score 0, as in `spearman_abs`)."""
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    rho = stats.spearmanr(x, y).statistic
    return float(0.0 if np.isnan(rho) else rho)


def comparison(method: str, params: Any = None):  # noqa: ANN201
    """The rank correlation a method's sanity checks use: signed for signed maps, else of absolute values."""
    return spearman_signed if saliency.SALIENCY_METHODS.get(method).is_signed(params) else spearman_abs


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.abs(a).astype(np.float64)
    top = a.max()
    return a / top if top > 0 else a


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> float:
    """Structural similarity of two maps scaled to [0, 1] (Wang et al. 2004, Gaussian window)."""
    x, y = _unit(a), _unit(b)
    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = ndimage.gaussian_filter(x, sigma), ndimage.gaussian_filter(y, sigma)
    var_x = ndimage.gaussian_filter(x * x, sigma) - mu_x**2
    var_y = ndimage.gaussian_filter(y * y, sigma) - mu_y**2
    cov = ndimage.gaussian_filter(x * y, sigma) - mu_x * mu_y
    value = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(value.mean())


@dataclass
class SanityRow:
    name: str
    spearman: float
    ssim: float
    map: np.ndarray  # model-resolution map
    draws: tuple[float, ...] = ()  # the top layer's rank correlation per random draw; this row is their median draw


@dataclass
class SanityReport:
    method: str
    original: np.ndarray
    rows: list[SanityRow] = field(default_factory=list)

    def table(self) -> str:
        lines = [f"{'randomized':<34} {'Spearman':>13} {'SSIM':>8}"]
        lines += [f"{r.name:<34} {r.spearman:>13.3f} {r.ssim:>8.3f}" for r in self.rows]
        return "\n".join(lines)

    def plain_name(self, row: SanityRow) -> str:
        """The row in words ("top 2 of 7 layers randomized (down to head.2)"), not the internal layer name alone."""
        cascade = [r.name for r in self.rows if r.name.startswith(CASCADE_PREFIX)]
        if row.name in cascade:
            k, n = cascade.index(row.name) + 1, len(cascade)
            layer = row.name[len(CASCADE_PREFIX):]
            if k == n:
                return f"all {n} layers randomized"
            drawn = f", median of {len(row.draws)} random draws" if row.draws else ""
            return f"top {k} of {n} layers randomized (down to {layer}{drawn})"
        if row.name == DATA_ROW:
            return "trained on shuffled labels (twin model)"
        return row.name

    def verdicts(self) -> list[Verdict]:
        """Pass/fail per check, each against a bound stated before any map was looked at (`BOUNDS`)."""
        cascade = [r for r in self.rows if r.name.startswith(CASCADE_PREFIX)]
        picked = []
        if cascade:
            picked += [("top layer randomized", cascade[0]), ("all layers randomized", cascade[-1])]
        picked += [("labels randomized", r) for r in self.rows if r.name == DATA_ROW]
        empty = bool(np.ptp(np.abs(self.original)) == 0)
        return [Verdict(check, row.name, row.spearman, BOUNDS[check], empty) for check, row in picked]


# A map that still depends on what the model learned must change when that is destroyed. Adebayo et al. (2018)
# judge by eye and give no numbers; these bounds on the rank correlation with the trained model's map are
# ours, set from what the words mean, not tuned on any result: after the output layer alone is randomized, at most
# moderate similarity may survive; after every layer, or after training on permuted labels, little may.
BOUNDS = {"top layer randomized": 0.5, "all layers randomized": 0.3, "labels randomized": 0.3}
# Random draws of the top layer (see the module's docstring); the first is the cascade's own, the others are
# drawn from seeds of their own and put back, so the rest of the cascade is what a single draw gave.
TOP_LAYER_DRAWS = 5
CASCADE_PREFIX = "cascade up to "
DATA_ROW = "data randomization (shuffled labels)"


@dataclass(frozen=True)
class Verdict:
    check: str
    row: str  # the report row it reads
    spearman: float
    bound: float
    empty: bool = False  # the trained model's map is constant: a low correlation with it would mean nothing

    @property
    def passed(self) -> bool:
        """Strong *negative* correlation fails too: an inverted copy of the structure is still the same structure
        (an input-driven map, the edge-detector case of the paper), not a map that lost what the model learned.
        An empty (constant) map never passes: its correlation with anything is 0, which proves nothing."""
        return bool(abs(self.spearman) < self.bound) and not self.empty

    @property
    def word(self) -> str:
        return "cannot judge" if self.empty else ("pass" if self.passed else "FAIL")

    @property
    def criterion(self) -> str:
        return f"|Spearman| < {self.bound:.2f}"

    def line(self) -> str:
        why = "; the trained model's map is empty (constant), so there is nothing to compare" if self.empty else ""
        return f"{self.word}: {self.check}: Spearman {self.spearman:.3f} (criterion {self.criterion}){why}"


def cascade_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """Layers with parameters, from the output back to the input (the cascading order)."""
    layers = [(name, m) for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]
    grouped: list[tuple[str, list[nn.Module]]] = []
    for name, module in layers:  # a conv and its batch norm form one step
        key = name.rsplit(".", 1)[0] if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)) else name
        if grouped and grouped[-1][0] == key:
            grouped[-1][1].append(module)
        else:
            grouped.append((key, [module]))
    return [(key, nn.ModuleList(mods)) for key, mods in reversed(grouped)]


def _randomize(module: nn.Module, generator: torch.Generator) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            with torch.no_grad():
                m.weight.normal_(0, 1.0 / np.sqrt(m.weight[0].numel()), generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.fill_(1.0)
                m.bias.zero_()
                m.running_mean.zero_()
                m.running_var.fill_(1.0)


def randomizable_twin(model: ImageModel) -> ImageModel:
    """A copy of the model whose layers the cascade may overwrite. Copied under the model's lock: a guard check or a
    saliency map on another thread registers forward hooks on the shared net while it holds that lock, and a deep
    copy taken meanwhile carried those hooks into the twin, whose passes then fed the other thread's captured
    activations (a guard once scored three passes' features at once and failed)."""
    with model.lock:
        net = copy.deepcopy(model.net)
    return ImageModel(model.name + " (randomized)", model.architecture, net.cpu(), model.input_size, model.mean,
                      model.std, model.threshold, model.card, model.device, model.labels)


def _median_draw(first: SanityRow, twin: ImageModel, module: nn.Module, pixels: np.ndarray, original: Any, params: Any,
                 rank: Any, seed: int, draws: int, cancel: CancelToken) -> SanityRow:
    """The top layer's row over ``draws`` random draws: the draw whose |Spearman| is the median, with every draw's
    value. The module's first draw is put back afterwards."""
    kept = copy.deepcopy(module.state_dict())
    rows = [first]
    for k in range(1, draws):
        cancel.raise_if_cancelled()
        _randomize(module, torch.Generator().manual_seed(seed + 7919 * k))
        result = saliency.saliency_map(twin, pixels, original.method, target=original.target, params=params)
        rows.append(SanityRow(first.name, rank(original.model_values, result.model_values),
                              ssim(original.model_values, result.model_values), result.model_values))
    module.load_state_dict(kept)
    median = sorted(rows, key=lambda r: abs(r.spearman))[(len(rows) - 1) // 2]
    return SanityRow(first.name, median.spearman, median.ssim, median.map, tuple(r.spearman for r in rows))


def run(model: ImageModel, pixels: np.ndarray, method: str | None = None, shuffled: ImageModel | None = None,
        seed: int = 0, params: Any = None, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED,  # noqa: ANN001
        draws: int = TOP_LAYER_DRAWS) -> SanityReport:
    original = saliency.saliency_map(model, pixels, method, params=params)
    report = SanityReport(original.method, original.model_values)
    twin = randomizable_twin(model)
    generator = torch.Generator().manual_seed(seed)
    layers = cascade_layers(twin.net)
    rank = comparison(original.method, params)
    for i, (name, module) in enumerate(layers):
        cancel.raise_if_cancelled()
        _randomize(module, generator)
        result = saliency.saliency_map(twin, pixels, original.method, target=original.target, params=params)
        row = SanityRow(f"{CASCADE_PREFIX}{name}", rank(original.model_values, result.model_values),
                        ssim(original.model_values, result.model_values), result.model_values)
        if i == 0 and draws > 1:
            row = _median_draw(row, twin, module, pixels, original, params, rank, seed, draws, cancel)
        report.rows.append(row)
        progress((i + 1) / (len(layers) + 1), f"randomized {name}")
    if shuffled is not None:
        result = saliency.saliency_map(shuffled, pixels, original.method, target=original.target, params=params)
        report.rows.append(SanityRow(DATA_ROW, rank(original.model_values, result.model_values),
                                     ssim(original.model_values, result.model_values), result.model_values))
    return report
