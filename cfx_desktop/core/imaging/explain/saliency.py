"""Saliency maps for one image, all returning a float map the size of the input image plus the class explained.

Methods are classes in a registry (in the spirit of captum's `Attribution` subclasses): each has a key, a label,
a typed parameter dataclass and ``attribute(forward, model, x, params)``. The overlay's Method box, the CLI's
``--method`` choices, the sanity checks and the counterfactual mask all take whatever `SALIENCY_METHODS` holds.

Speed choices (targets on two CPU cores: Grad-CAM < 25 ms, IG <= 150 ms, occlusion <= 0.4 s): maps are computed
at the model's input size (128 px for the shipped model) with gradients taken for the input only (parameters
frozen); IG uses Gauss-Legendre quadrature (more accurate per step than the Riemann rule) with 24 steps in one
batches of 8 and doubles them while captum's convergence delta is too large. The check matters: for a ReLU
network the integrand is piecewise constant along the path, so quadrature error is erratic (on the benchmark
image 24 steps leave a 0.1 % completeness gap, while 16 and 32 leave more than 5 % and double to 64); occlusion
slides 26 px windows every 17 px (49 passes, one batch).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion
from torch import nn

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.registry import Registry
from cfx_desktop.core.imaging.train.augment import gaussian_blur
from cfx_desktop.core.imaging.models.classifier import ImageModel
from cfx_desktop.core.imaging.models.preprocess import to_map_space



@dataclass
class SaliencyMap:
    values: np.ndarray  # (H, W) over the original image; zero outside the square crop the model saw
    model_values: np.ndarray  # (S, S) at the model's input resolution
    method: str
    target: str  # the class explained, in words
    probability: float  # p(the model's positive class)
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def positive(self) -> np.ndarray:
        """Evidence for the explained class only, scaled to [0, 1] (what overlays show)."""
        v = np.clip(self.values, 0, None)
        top = float(v.max())
        return v / top if top > 0 else v


class _Signed(nn.Module):
    """The classifier's logit, negated when explaining 'normal', so every method explains the chosen class. ``sign``
    is a number, or one per image of a batch (each image explained for its own class)."""

    def __init__(self, net: nn.Module, sign: float | torch.Tensor) -> None:
        super().__init__()
        self.net, self.sign = net, sign

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if isinstance(self.sign, torch.Tensor):
            # captum repeats the batch (IG steps, occlusion windows): the signs repeat with it
            sign = self.sign.repeat(out.shape[0] // self.sign.shape[0])
            return sign.view(-1, *[1] * (out.dim() - 1)).to(out.dtype) * out
        return self.sign * out


def baseline_for(model: ImageModel, x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "black":
        return torch.full_like(x, (0.0 - model.mean) / model.std)
    if kind == "blurred":
        return gaussian_blur(x, sigma=model.input_size / 16)
    raise ValueError(f"unknown baseline {kind!r}: black or blurred")


@dataclass(frozen=True)
class NoParams:
    """For methods without settings."""


class SaliencyMethod:
    """Base of every saliency method. Subclasses set ``key``, ``label`` and ``Params`` and implement `attribute`,
    which runs under the model's lock and returns (attribution shaped like ``x``, extra facts for the report)."""

    key: ClassVar[str]
    label: ClassVar[str]
    Params: ClassVar[type] = NoParams
    quick: ClassVar[dict[str, Any]] = {}  # overrides when the map only seeds a counterfactual mask
    signed: ClassVar[bool] = True
    """Whether the map's sign carries meaning (evidence for and against the class). Stated per method before any
    sanity check was measured, and how the checks compare maps (Adebayo et al. 2018 report both): a signed map is
    compared signed, since an attribution whose sign flips under randomization has lost what the model learned;
    a map that is non-negative by construction (Grad-CAM's ReLU) is compared as it is."""

    def attribute(self, forward: nn.Module, model: ImageModel, x: torch.Tensor, params: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError

    def is_signed(self, params: Any = None) -> bool:
        """`signed`, for these parameters (a method whose sign depends on a setting overrides this)."""
        return self.signed

    @classmethod
    def params(cls, given: Any = None, *, quick: bool = False) -> Any:
        """``given`` (a Params instance or a dict of names to values) checked against ``Params``."""
        if isinstance(given, cls.Params):
            base = given
        else:
            base = cls.Params()
            given = dict(given or {})
            names = {f.name: f for f in fields(cls.Params)}
            unknown = sorted(set(given) - set(names))
            if unknown:
                valid = ", ".join(names) or "none"
                raise ValueError(f"{cls.label} has no parameter {', '.join(unknown)}; its parameters: {valid}")
            try:
                base = replace(base, **{k: _coerce(getattr(base, k), v) for k, v in given.items()})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{cls.label}: bad parameter value ({exc})") from exc
        return replace(base, **cls.quick) if quick else base

    def words(self, facts: dict[str, Any]) -> str:
        """A map's parameters as a reader reads them (the report, the CLI): a yes/no setting in words, not "relu
        True"; a method with such a setting names it in ``WORDS``."""
        parts = []
        for key, value in facts.items():
            if isinstance(value, bool) and key in self.WORDS:
                parts.append(self.WORDS[key][0 if value else 1])
            else:
                parts.append(f"{key.replace('_', ' ')} {value}")
        return ", ".join(parts) or "defaults"

    WORDS: ClassVar[dict[str, tuple[str, str]]] = {}  # a yes/no parameter: (its words when true, when false)


TRUE_WORDS, FALSE_WORDS = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def _coerce(default: Any, value: Any) -> Any:
    """A parameter given as text (``--param relu=false``) in the type of its default. ``bool("false")`` is True, so
    a yes/no parameter reads its words instead, and anything else is refused."""
    if isinstance(default, bool) and isinstance(value, str):
        word = value.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError(f"{value!r} is not true or false")
        return word in TRUE_WORDS
    return type(default)(value)


SALIENCY_METHODS: Registry[SaliencyMethod] = Registry("saliency method", default="gradcam")


def register(cls: type[SaliencyMethod]) -> type[SaliencyMethod]:
    """Class decorator: make a method available to the app, the CLI and the sanity checks."""
    SALIENCY_METHODS.register(cls.key, cls())
    return cls


def default_method(card: dict[str, Any] | None) -> str:
    """The saliency method a model is explained with unless the reader picks another: the one its card's
    sanity benchmark chose (`saliency_sanity.default`, written by ``link-image-model --sanity-results``), when that
    choice is a registered method at its default parameters (so its key alone reproduces it); otherwise the
    registry's default. Why per model: which method passes its sanity checks depends on what the model learned,
    so one choice for every model would be right only by chance."""
    sanity = (card or {}).get("saliency_sanity") or {}
    chosen = (sanity.get("pass_rates") or {}).get(sanity.get("default") or "") or {}
    key = chosen.get("method")
    if key in SALIENCY_METHODS:
        try:
            if SALIENCY_METHODS.get(key).params(chosen.get("params") or {}) == SALIENCY_METHODS.get(key).Params():
                return key
        except ValueError:  # parameters this version no longer has: the registry's default, not a crash
            pass
    return SALIENCY_METHODS.default


def label(key: str) -> str:
    return SALIENCY_METHODS.get(key).label


@dataclass(frozen=True)
class GradCamParams:
    # a key of the architecture's ``cam_layers``: the "previous" conv block by default, chosen by its sanity-check pass
    # rate on validation films (benchmarks/saliency_sanity.py: all three checks on 35 % of films, the last block 15 %)
    layer: str = "previous"
    relu: bool = True  # False keeps the negative part: evidence against the class too (a signed map)


def cam_layer(model: ImageModel, name: str) -> tuple[nn.Module, str]:
    """(layer, its name in words). An architecture that names only its ``cam_layer`` (no ``cam_layers``, e.g. one
    added as a plugin) is explained at that layer whichever block is asked for, and the facts say so."""
    layers = getattr(model.net, "cam_layers", None) or {"last": model.cam_layer}
    if name in layers:
        return layers[name], f"the {name} convolutional block"
    if name in ("last", "previous"):
        return model.cam_layer, "the architecture's CAM layer (it names no other)"
    raise ValueError(f"Grad-CAM layer must be one of {', '.join(layers)}, not {name!r}")


@register
class GradCam(SaliencyMethod):
    key, label, Params = "gradcam", "Grad-CAM", GradCamParams
    signed = False  # ReLU'd by default: non-negative by construction

    WORDS = {"relu": ("positive evidence only", "signed: evidence against the class too")}

    def is_signed(self, params: Any = None) -> bool:
        return not self.params(params).relu

    def attribute(self, forward: nn.Module, model: ImageModel, x: torch.Tensor, params: GradCamParams) -> tuple[torch.Tensor, dict[str, Any]]:
        layer, where = cam_layer(model, params.layer)
        attribution = LayerGradCam(forward, layer).attribute(x, relu_attributions=params.relu)
        return LayerAttribution.interpolate(attribution, x.shape[-2:], interpolate_mode="bilinear"), {"layer": where}


@dataclass(frozen=True)
class IGParams:
    n_steps: int = 24
    internal_batch_size: int = 8  # three batches of 8 ran faster than one of 24 (131 vs 222 ms) on 2 cores
    baseline: str = "black"  # or "blurred"
    tolerance: float = 0.05  # convergence delta allowed, as a share of |F(x) - F(baseline)|
    max_steps: int = 96


@register
class IntegratedGradientsMethod(SaliencyMethod):
    """Gauss-Legendre quadrature, 24 steps by default, checked rather than trusted: when the completeness gap
    (captum's convergence delta) exceeds ``tolerance`` of the output difference, the steps double (up to
    ``max_steps``) and the map says how many it took."""

    key, label, Params = "ig", "Integrated Gradients", IGParams
    quick = {"n_steps": 16, "internal_batch_size": 16, "max_steps": 16}

    def attribute(self, forward: nn.Module, model: ImageModel, x: torch.Tensor, params: IGParams) -> tuple[torch.Tensor, dict[str, Any]]:
        base = baseline_for(model, x, params.baseline)
        with torch.inference_mode():
            gap = float((forward(x) - forward(base)).abs().max())
        steps = params.n_steps
        while True:
            attribution, delta = IntegratedGradients(forward).attribute(
                x, baselines=base, n_steps=steps, internal_batch_size=params.internal_batch_size,
                method="gausslegendre", return_convergence_delta=True)
            relative = float(delta.abs().max()) / max(gap, 1e-6)
            if relative <= params.tolerance or steps * 2 > params.max_steps:
                break
            steps *= 2
        return attribution, {"convergence_delta": float(delta.abs().max()), "relative_delta": relative, "steps_used": steps,
                             "converged": relative <= params.tolerance}


@dataclass(frozen=True)
class OcclusionParams:
    window: int = 26  # 26 px windows every 17 px tile 128 px exactly: 7 x 7 = 49 passes, ~0.25 s on 2 cores
    stride: int = 17  # (20 / 12 gives a finer 10 x 10 grid in ~0.55-0.7 s; pass it as a parameter)


@register
class OcclusionMethod(SaliencyMethod):
    key, label, Params = "occlusion", "Occlusion", OcclusionParams

    def attribute(self, forward: nn.Module, model: ImageModel, x: torch.Tensor, params: OcclusionParams) -> tuple[torch.Tensor, dict[str, Any]]:
        attribution = Occlusion(forward).attribute(
            x, sliding_window_shapes=(1, params.window, params.window), strides=(1, params.stride, params.stride),
            baselines=0.0, perturbations_per_eval=64)
        return attribution, {"occluder": "image mean (0 after normalisation)"}


def saliency_map(
    model: ImageModel, pixels: np.ndarray, method: str | None = None, target: str | None = None, params: Any = None, *,
    quick: bool = False, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED,  # noqa: ANN001
) -> SaliencyMap:
    """Saliency of ``method`` for ``target`` (a class word of the model's card; default: the predicted class)."""
    result = saliency_maps(model, [pixels], method, target, params, quick=quick, cancel=cancel)[0]
    progress(1.0, f"{label(result.method)} done")
    return result


def saliency_maps(
    model: ImageModel, images: list[np.ndarray], method: str | None = None, target: str | None = None, params: Any = None,
    *, quick: bool = False, cancel: CancelToken = NEVER_CANCELLED,
) -> list[SaliencyMap]:
    """Saliency for several images in one batch (one pass on a GPU); each explains ``target`` or, by default, its
    own predicted class. The images may differ in size: each map comes back over its own image."""
    method = method or default_method(model.card)
    spec = SALIENCY_METHODS.get(method)
    chosen = spec.params(params, quick=quick)
    if target is not None and target not in model.labels:
        raise ValueError(f"{target!r} is not a class of this model; its classes: {', '.join(model.labels)}")
    start = time.perf_counter()
    x = torch.cat([model.tensor(p) for p in images])
    with model.lock:
        with torch.inference_mode():
            probabilities = torch.sigmoid(model.logits(x)).reshape(len(images)).tolist()
        targets = [target or model.label(p) for p in probabilities]
        signs = torch.tensor([1.0 if t == model.labels[1] else -1.0 for t in targets], device=x.device)
        forward = _Signed(model.net, float(signs[0]) if len(images) == 1 else signs)
        cancel.raise_if_cancelled()
        attribution, facts = spec.attribute(forward, model, x, chosen)
    cancel.raise_if_cancelled()
    seconds = (time.perf_counter() - start) / len(images)
    results = []
    for i, pixels in enumerate(images):
        model_values = attribution.detach()[i, 0].cpu().numpy().astype(np.float32)
        values = to_map_space(model_values, *pixels.shape)
        results.append(SaliencyMap(values, model_values, method, targets[i], probabilities[i], seconds, {**asdict(chosen), **facts}))
    return results
