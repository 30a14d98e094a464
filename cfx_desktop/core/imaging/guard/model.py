"""Is this a chest radiograph of the kind the model was trained on? Decided before any verdict is shown.

Two stages, so the cheap and certain one speaks first:
1. **The file's own word.** A DICOM header that says Modality CT, MR, NM, US, RTDOSE..., a Body Part other than
   the chest, several frames, or a colour photometric interpretation; or a colour (not gray) picture. These
   withhold the prediction outright, with the header's words as the reason.
2. **The image's statistics, as the classifier sees them.** Two feature groups: every convolution's output
   summarised by its channels' spatial mean and spread (a "feature-statistics" vector in the spirit of Lee et al.,
   NeurIPS 2018), and the input's coarse layout (an 8 x 8 grid of cell means and spreads). Each group is
   standardised and scored by a Gaussian fitted on training radiographs under the same acquisition shifts the
   classifier was trained with: a Mahalanobis distance in the top principal components plus the energy left
   outside them. Each part is divided by its 99th percentile on validation radiographs (patients never trained
   on), the largest ratio is taken and rescaled so that 1 in 100 validation radiographs scores above 1.
   Score > 1: "unusual image: treat the prediction with caution"; score > `WITHHOLD_RATIO`: "not a chest
   radiograph: prediction withheld".
3. **A discriminator that has seen what is not a chest radiograph** (`ChestOrOther`): density scores miss
   images that are atypical in a way the features do not encode (a smooth gradient, an upside-down or inverted
   radiograph). Its threshold is the 99th percentile of p(other) on validation half A.

The fitted statistics ship as a bundle of their own (``kind: "ood-guard"``) that names its classifier, and load
through the same hash-checked path as every weight file. A classifier without one gets header checks only, and
the verdict says so.
"""

from __future__ import annotations

import threading

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cfx_desktop.core import bundles
from cfx_desktop.core.imaging.io.load import LoadedImage

CHEST_MODALITIES = {"CR", "DX", "DR", "RG"}
CHEST_BODY_PARTS = {"CHEST", "THORAX", "LUNG", "LUNGS", "TORAX", "THORACIC", "CHEST_LAT", "CHEST_PA"}
MONOCHROME = {"MONOCHROME1", "MONOCHROME2"}
COLOUR_CHROMA = 0.04
"""Mean per-pixel channel spread (0-1) above which an RGB file is a colour picture, not a gray radiograph
saved as RGB (those have spread ~0; JPEG chroma noise stays below 0.01)."""
WITHHOLD_RATIO = 2.0
"""Twice the distance at which 1 in 100 validation radiographs lies: so far out that no verdict is shown."""


@dataclass(frozen=True)
class GuardVerdict:
    level: str  # "ok" | "caution" | "withheld"
    reason: str
    score: float | None = None  # image score in units of its calibrated threshold (None: not computed)

    @property
    def in_distribution(self) -> bool:
        return self.level == "ok"

    @property
    def withheld(self) -> bool:
        return self.level == "withheld"

    def banner(self) -> str:
        if self.level == "withheld":
            return f"Not a chest radiograph: prediction withheld. {self.reason}"
        if self.level == "caution":
            return f"Unusual image: treat the prediction with caution. {self.reason}"
        return ""


def header_verdict(image: LoadedImage) -> GuardVerdict | None:
    """A withheld verdict when the file itself says it is not a gray chest radiograph; None otherwise."""
    meta = image.metadata or {}
    dicom = meta.get("dicom")
    if dicom is not None:
        modality = str(dicom.get("Modality", "")).strip().upper()
        if modality and modality not in CHEST_MODALITIES:
            return GuardVerdict("withheld", f"The DICOM header says Modality {modality}; the model reads chest radiographs (CR, DX).")
        part = str(dicom.get("BodyPartExamined", "")).strip().upper()
        if part and part not in CHEST_BODY_PARTS:
            return GuardVerdict("withheld", f"The DICOM header says Body Part {part}; the model reads chest radiographs.")
        frames = int(meta.get("frames", 1) or 1)
        if frames > 1 and modality not in CHEST_MODALITIES:  # a CR/DX series of chest frames (dual energy) is read frame by frame
            return GuardVerdict("withheld", f"The DICOM holds {frames} frames (a volume or cine) and does not say it is a radiograph.")
        photometric = str(meta.get("photometric", "MONOCHROME2")).upper()
        if photometric not in MONOCHROME:
            return GuardVerdict("withheld", f"The DICOM is a colour image ({photometric}); radiographs are monochrome.")
    if float(meta.get("chroma", 0.0) or 0.0) > COLOUR_CHROMA:
        return GuardVerdict("withheld", f"The picture is in colour (mean channel spread {meta['chroma']:.2f}); radiographs are gray.")
    return None


def feature_statistics(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, F): the channel-wise spatial mean and standard deviation of every Conv2d output, in network order.

    The hooks sit on a net that other threads share, so they keep only this thread's pass: callers hold the model's
    lock, but a pass that does not (or a copy that took the hooks along) must never add its activations here."""
    captured: list[torch.Tensor] = []
    mine = threading.get_ident()

    def keep(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        if threading.get_ident() == mine:
            captured.append(out)

    hooks = [m.register_forward_hook(keep) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        net(x)
    finally:
        for hook in hooks:
            hook.remove()
    parts = []
    for out in captured:
        flat = out.flatten(2)
        parts += [flat.mean(2), flat.std(2)]
    return torch.cat(parts, 1)


LAYOUT_GRID = 8


def layout(x: torch.Tensor) -> torch.Tensor:
    """(N, 2 G^2): the normalised input's mean and spread in a G x G grid of cells. Pooled convolution statistics
    forget where things are; this keeps the coarse anatomy (dark lungs either side of a bright mediastinum, shoulders
    at the top), so an upside-down, rotated or inverted image, or a round CT slice on black, stands out."""
    mean = F.adaptive_avg_pool2d(x, LAYOUT_GRID)
    spread = (F.adaptive_avg_pool2d(x**2, LAYOUT_GRID) - mean**2).clamp_min(0).sqrt()
    return torch.cat([mean.flatten(1), spread.flatten(1)], 1)


def describe(net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every feature group the guard scores, for a normalised input batch."""
    return {"features": feature_statistics(net, x), "layout": layout(x)}


@dataclass
class FeatureGaussian:
    """Standardised features -> (Mahalanobis distance in the top components, norm of the residual)."""

    centre: torch.Tensor  # (F,)
    scale: torch.Tensor  # (F,)
    components: torch.Tensor  # (K, F) principal axes of the standardised features
    variances: torch.Tensor  # (K,)

    @classmethod
    def fit(cls, features: torch.Tensor, k: int = 32) -> "FeatureGaussian":
        centre = features.mean(0)
        scale = features.std(0).clamp_min(1e-6)
        z = (features - centre) / scale
        _, s, v = torch.linalg.svd(z, full_matrices=False)
        k = min(k, len(s))
        variances = (s[:k] ** 2 / max(len(z) - 1, 1)).clamp_min(1e-8)
        return cls(centre, scale, v[:k].contiguous(), variances)

    def parts(self, features: torch.Tensor) -> torch.Tensor:
        """(N, 2): Mahalanobis distance in the kept components and the norm of what they leave out."""
        z = (features - self.centre) / self.scale
        projected = z @ self.components.T
        distance = torch.sqrt((projected**2 / self.variances).sum(1))
        residual = torch.linalg.vector_norm(z - projected @ self.components, dim=1)
        return torch.stack([distance, residual], 1)


GROUPS = ("features", "layout")
DISCRIMINATOR_SIZE = 64


class ChestOrOther(nn.Module):
    """A small "chest radiograph or something else?" classifier at 64 px, trained on chest radiographs against
    what can be made offline (rotated, flipped and inverted radiographs; CT-, MR-, ultrasound-, bone-scan- and
    limb-like images; test patterns, textures, documents): the density score above only knows what is typical,
    this one has been shown what is not."""

    def __init__(self, widths: tuple[int, ...] = (8, 16, 32, 32)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for width in widths:
            layers += [nn.Conv2d(c_in, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            c_in = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c_in, 1)

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """x01: (N, 1, S, S) in [0, 1] at any size; returns the logit of "not a chest radiograph"."""
        x = F.interpolate(x01, size=(DISCRIMINATOR_SIZE, DISCRIMINATOR_SIZE), mode="area") if x01.shape[-1] != DISCRIMINATOR_SIZE else x01
        f = self.body(x - 0.5)
        return self.head(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1)).reshape(-1)


@dataclass
class GuardModel:
    """One Gaussian per feature group; score = the largest part-to-threshold ratio, rescaled so that exactly
    ``1 - quantile`` of the calibration radiographs score above 1 however many parts there are."""

    gaussians: dict[str, FeatureGaussian]
    thresholds: torch.Tensor  # (2 * groups,) per-part quantiles on calibration images
    rescale: torch.Tensor  # () the combined score's quantile on calibration images
    discriminator: ChestOrOther | None = None
    other_threshold: torch.Tensor = field(default_factory=lambda: torch.tensor(0.5))  # p(other) above which: caution

    @classmethod
    def fit(cls, groups: dict[str, torch.Tensor], k: int = 32) -> "GuardModel":
        return cls({g: FeatureGaussian.fit(groups[g], k) for g in GROUPS}, torch.ones(2 * len(GROUPS)), torch.tensor(1.0))

    def parts(self, groups: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.gaussians[g].parts(groups[g]) for g in GROUPS], 1)

    def calibrate(self, groups: dict[str, torch.Tensor], quantile: float = 0.99) -> None:
        parts = self.parts(groups)
        self.thresholds = torch.quantile(parts, quantile, dim=0)
        self.rescale = torch.quantile((parts / self.thresholds).max(1).values, quantile)

    def score(self, groups: dict[str, torch.Tensor]) -> torch.Tensor:
        return (self.parts(groups) / self.thresholds).max(1).values / self.rescale

    def other_probability(self, x01: torch.Tensor) -> torch.Tensor | None:
        if self.discriminator is None:
            return None
        return torch.sigmoid(self.discriminator(x01))

    def state(self) -> dict[str, torch.Tensor]:
        out = {"thresholds": self.thresholds, "rescale": self.rescale, "other_threshold": self.other_threshold}
        for g, gaussian in self.gaussians.items():
            out.update({f"{g}.{k}": getattr(gaussian, k) for k in ("centre", "scale", "components", "variances")})
        if self.discriminator is not None:
            out.update({f"discriminator.{k}": v for k, v in self.discriminator.state_dict().items()})
        return out

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> "GuardModel":
        try:
            gaussians = {g: FeatureGaussian(*(state[f"{g}.{k}"].float() for k in ("centre", "scale", "components", "variances")))
                         for g in GROUPS}
            discriminator = None
            disc_state = {k[len("discriminator."):]: v for k, v in state.items() if k.startswith("discriminator.")}
            if disc_state:
                discriminator = ChestOrOther()
                discriminator.load_state_dict(disc_state)
                discriminator.eval()
            return cls(gaussians, state["thresholds"].float(), state["rescale"].float(), discriminator,
                       state.get("other_threshold", torch.tensor(0.5)).float())
        except (KeyError, RuntimeError) as exc:
            raise bundles.BundleError(f"the guard bundle does not match its format: {exc}") from exc


def image_verdict(score: float, other: float | None = None, other_threshold: float = 0.5) -> GuardVerdict:
    """Level from the density score (1 = the 99th percentile of validation radiographs) and, when the guard has
    its discriminator, p(other): above its calibrated threshold it is "unusual", above halfway from there to 1 it
    is "not a chest radiograph"."""
    if other is not None and other > other_threshold:
        withhold = other > (1 + other_threshold) / 2
        text = (f"The chest-radiograph check gives p(not a chest radiograph) = {other:.2f}; validation radiographs "
                f"stay below {other_threshold:.2f}.")
        if withhold or score > WITHHOLD_RATIO:
            return GuardVerdict("withheld", text, score)
        return GuardVerdict("caution", text + " Rotated, flipped or inverted images, and other body parts, look like this.", score)
    if score > WITHHOLD_RATIO:
        return GuardVerdict("withheld", f"Its statistics are {score:.1f}x as far from the training radiographs as "
                            "99 in 100 validation radiographs (ratio above " f"{WITHHOLD_RATIO:g}).", score)
    if score > 1.0:
        return GuardVerdict("caution", f"Its statistics lie outside what 99 in 100 validation radiographs show "
                            f"(ratio {score:.2f}; above {WITHHOLD_RATIO:g} the prediction is withheld).", score)
    return GuardVerdict("ok", "A chest radiograph like those the model was trained on "
                        f"(image score {score:.2f} of the 99th-percentile threshold).", score)


@dataclass
class Guard:
    """A classifier's out-of-distribution check (header rules + its fitted feature Gaussian, when it has one)."""

    classifier: str
    gaussian: GuardModel | None
    card: dict[str, Any]

    refused: str | None = None  # why the image-based part could not be loaded, if it could not

    def check(self, model: Any, image: LoadedImage) -> GuardVerdict:
        by_header = header_verdict(image)
        if by_header is not None:
            return by_header
        if self.refused:
            return GuardVerdict("caution", f"The image check could not run ({self.refused}); only the header was checked.")
        if self.gaussian is None:
            return GuardVerdict("ok", "Header checks only: this model ships no image-based guard.")
        with model.lock, torch.inference_mode():
            x = model.tensor(image.pixels)
            groups = {k: v.cpu() for k, v in describe(model.net, x).items()}
            other = self.gaussian.other_probability((x.cpu() * model.std + model.mean).clamp(0, 1))
        return image_verdict(float(self.gaussian.score(groups)[0]), None if other is None else float(other[0]),
                             float(self.gaussian.other_threshold))


def guard_name(classifier_card: dict[str, Any], root=None) -> str | None:  # noqa: ANN001
    """The guard bundle a classifier's card names, or the installed ``ood-guard`` bundle that names the classifier."""
    named = classifier_card.get("guard")
    if named:
        return str(named)
    for name, card in bundles.readable_cards(root):
        if card.get("kind") == "ood-guard" and card.get("classifier") == classifier_card.get("name"):
            return name
    return None


def load_guard(model: Any, root=None) -> Guard:  # noqa: ANN001
    """The model's guard; a refused or missing bundle leaves header checks only (the verdict then says so)."""
    from cfx_desktop.core import model_cache

    name = guard_name(model.card, root)
    if name is None:
        return Guard(model.name, None, {})

    def build(n: str, bundle: bundles.Bundle, _device: torch.device) -> Guard:
        if bundle.card.get("classifier") != model.name:
            raise bundles.BundleError(f"{n} was calibrated for {bundle.card.get('classifier')!r}, not {model.name!r}")
        return Guard(model.name, GuardModel.from_state(bundle.state), bundle.card)

    try:
        return model_cache.load(name, build, torch.device("cpu"), root)
    except bundles.BundleError as exc:
        return Guard(model.name, None, {}, refused=str(exc))
