"""Autoencoders for counterfactual images, one class per architecture registered in `AUTOENCODERS` (with
`register_autoencoder`, as image classifiers are), all with the same latent interface:
``encode_latent(x) -> (z, context)``, ``decode_latent(z, context) -> x`` and ``training_loss(x, kl_weight)``.

* ``segnet-ae`` (the first version): as in "Local Counterfactuals for Chest X-Ray Images using Saliency Map
  Guidance", the encoder's max-pooling indices are reused by the decoder (the context). Those indices are a
  pixel-detail bypass around the latent: a search can then flip the classifier with edits the latent never
  represents, which is why its counterfactuals fooled only the model they were made for.
* ``bottleneck-vae``: no indices and no skips; everything the decoder draws passes through a 16 x 8 x 8 latent
  with a Gaussian prior (a VAE with a small KL weight), so a latent path is a path through plausible images, and
  Latent Shift (Cohen et al., MIDL 2021) has a smooth space to move in.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cfx_desktop.core import bundles, model_cache
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.device import prepare_for_inference
from cfx_desktop.core.registry import Registry

Indices = list[torch.Tensor]


@dataclass(frozen=True)
class AutoencoderSpec:
    key: str
    build: Callable[..., nn.Module]  # (widths, latent channels) -> module; no arguments: the architecture's defaults
    description: str  # what passes around the latent, for the card and the CLI's help
    variational: bool = False  # trained with a KL weight (stated in the card)


AUTOENCODERS: Registry[AutoencoderSpec] = Registry("autoencoder", default="segnet-ae")


def register_autoencoder(key: str, description: str, *, variational: bool = False) -> Callable[[type], type]:
    """Class decorator: the class becomes trainable (`train_autoencoder`) and loadable under ``key``."""
    def decorate(cls: type) -> type:
        AUTOENCODERS.register(key, AutoencoderSpec(key, cls, description, variational))
        return cls
    return decorate


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


@register_autoencoder("segnet-ae", "pooling indices kept from the encoder (a bypass around the latent)")
class SegNetAE(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 64), latent: int = 16) -> None:
        super().__init__()
        self.widths, self.latent_channels = widths, latent
        chans = (1,) + widths
        self.enc = nn.ModuleList(_conv(chans[i], chans[i + 1]) for i in range(len(widths)))
        self.to_latent = nn.Conv2d(widths[-1], latent, 1)
        self.from_latent = nn.Conv2d(latent, widths[-1], 1)
        self.dec = nn.ModuleList(_conv(chans[i + 1], chans[i] if i > 0 else widths[0]) for i in reversed(range(len(widths))))
        self.out = nn.Conv2d(widths[0], 1, 3, padding=1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, Indices, list[torch.Size]]:
        indices, sizes = [], []
        for block in self.enc:
            x = block(x)
            sizes.append(x.shape)
            x, idx = F.max_pool2d(x, 2, return_indices=True)
            indices.append(idx)
        return self.to_latent(x), indices, sizes

    def decode(self, z: torch.Tensor, indices: Indices, sizes: list[torch.Size]) -> torch.Tensor:
        x = self.from_latent(z)
        for block, idx, size in zip(self.dec, reversed(indices), reversed(sizes)):
            x = F.max_unpool2d(x, idx, 2, output_size=size[-2:])
            x = block(x)
        return torch.sigmoid(self.out(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, indices, sizes = self.encode(x)
        return self.decode(z, indices, sizes)

    def training_loss(self, x: torch.Tensor, kl_weight: float = 0.0) -> torch.Tensor:
        return F.mse_loss(self(x), x)

    def encode_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        z, indices, sizes = self.encode(x)
        return z, (indices, sizes)

    def decode_latent(self, z: torch.Tensor, context: Any) -> torch.Tensor:
        return self.decode(z, *context)


def _down(c_in: int, c_out: int, deep: bool) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers, _conv(c_out, c_out)) if deep else nn.Sequential(*layers)


def _up(c_in: int, c_out: int, deep: bool) -> nn.Sequential:
    layers = [nn.Upsample(scale_factor=2, mode="nearest"), _conv(c_in, c_out)]
    return nn.Sequential(*layers, _conv(c_out, c_out)) if deep else nn.Sequential(*layers)


@register_autoencoder("bottleneck-vae", "no pooling indices or skips; Gaussian prior on the latent (KL weight in the card)",
                      variational=True)
class BottleneckVAE(nn.Module):
    """Strided encoder -> (mu, log variance) of a spatial latent -> upsampling decoder; nothing bypasses the latent."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), latent: int = 16) -> None:
        super().__init__()
        self.widths, self.latent_channels = widths, latent
        chans = (1,) + widths
        n = len(widths)
        # the extra 3x3 convolutions sit at the coarse stages only, where they are cheap (the 2-core CPU budget)
        self.enc = nn.Sequential(*[_down(chans[i], chans[i + 1], deep=i >= n - 2) for i in range(n)])
        self.to_stats = nn.Conv2d(widths[-1], 2 * latent, 1)
        self.from_latent = nn.Conv2d(latent, widths[-1], 1)
        self.dec = nn.Sequential(*[_up(widths[i], widths[i - 1] if i > 0 else widths[0], deep=i >= n - 2) for i in reversed(range(n))])
        self.out = nn.Conv2d(widths[0], 1, 3, padding=1)

    def stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.enc(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def encode_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        return self.stats(x)[0], None

    def decode_latent(self, z: torch.Tensor, context: Any = None) -> torch.Tensor:
        return torch.sigmoid(self.out(self.dec(self.from_latent(z))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_latent(self.encode_latent(x)[0])

    def training_loss(self, x: torch.Tensor, kl_weight: float = 1e-4) -> torch.Tensor:
        """MSE per pixel + ``kl_weight`` x KL per latent unit, on a sample drawn with the reparameterisation trick."""
        mu, logvar = self.stats(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean()
        return F.mse_loss(self.decode_latent(z), x) + kl_weight * kl


def _ssim_batch(a: torch.Tensor, b: torch.Tensor) -> float:
    from cfx_desktop.core.imaging.explain.sanity import ssim

    return float(np.mean([ssim(x[0].numpy(), y[0].numpy()) for x, y in zip(a, b)]))


def train_autoencoder(source: Path, size: int = 128, epochs: int = 8, seed: int = 0, batch_size: int = 64, lr: float = 2e-3,
                      out: Path | None = None, command: str = "", device: torch.device | None = None,
                      progress=no_progress, cancel: CancelToken = NEVER_CANCELLED,  # noqa: ANN001
                      architecture: str = "segnet-ae", kl_weight: float = 1e-4, name: str | None = None,
                      licence: tuple[str, str] | None = None) -> dict[str, Any]:
    """Train on the classifier's training images (same patient split); report validation MSE and SSIM.

    For the VAE the loss is MSE per pixel + ``kl_weight`` x KL per latent unit: small enough to keep detail,
    large enough that the latent stays near its prior, where Latent Shift's straight lines stay plausible."""
    from cfx_desktop.core.imaging.train.classifier import KERMANY_LICENCE, augment, load_training_data

    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    X_tr, _, X_va, _, provenance, split = load_training_data(source, size, seed, progress, cancel)
    spec = AUTOENCODERS.get(architecture)
    net = spec.build().to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-5)
    steps = epochs * int(np.ceil(len(X_tr) / batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.15)
    generator = torch.Generator().manual_seed(seed)
    train = torch.as_tensor(X_tr)
    valid = torch.as_tensor(X_va[:512])[:, None].float() / 255.0
    started = time.perf_counter()
    history = []
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(order), batch_size):
            cancel.raise_if_cancelled()
            x = augment(train[order[start : start + batch_size]][:, None].float() / 255.0, generator, shift=4).to(device)
            loss = net.training_loss(x, kl_weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        net.eval()
        with torch.inference_mode():
            mse = float(F.mse_loss(net(valid.to(device)).cpu(), valid))
        history.append({"epoch": epoch + 1, "val_mse": mse})
        progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}: validation MSE {mse:.2e}")
    net.eval()
    with torch.inference_mode():
        recon = net(valid.to(device)).cpu()
    mse = float(F.mse_loss(recon, valid))
    ssim_value = _ssim_batch(recon, valid)
    minutes = (time.perf_counter() - started) / 60
    name = name or (f"autoencoder-{size}" if architecture == "segnet-ae" else f"{architecture}-{size}")
    card = {
        "name": name, "kind": "autoencoder", "task": "reconstruct chest X-rays for latent counterfactual search",
        "label": f"{architecture} autoencoder at {size} px", "architecture": architecture,
        "architecture_args": {"widths": list(net.widths), "latent_channels": net.latent_channels,
                              "latent_shape": [net.latent_channels, size // 16, size // 16], "bypass": spec.description,
                              **({"kl_weight": kl_weight} if spec.variational else {})},
        "input_size": size, "input_range": "[0, 1] pixels after the classifier's crop and resize (no normalisation)",
        "training": {"epochs": epochs, "batch_size": batch_size, "max_lr": lr, "loss": "MSE", "minutes": round(minutes, 2),
                     "minutes_per_epoch": round(minutes / epochs, 2), "history": history, "device": str(device)},
        "data": {**provenance, "split": split, "train_images": int(len(X_tr)), "validation_images_scored": int(len(valid))},
        "seed": seed, "command": command,
        "metrics": {"validation": {"mse": mse, "ssim": ssim_value}},
        "metrics_summary": f"validation reconstruction MSE {mse:.2e}, SSIM {ssim_value:.3f}",
        "licence": (licence or KERMANY_LICENCE)[0], "attribution": (licence or KERMANY_LICENCE)[1],
        "environment": {"torch": torch.__version__, "python": platform.python_version()},
        "created": dt.date.today().isoformat(),
    }
    bundles.save(name, net.state_dict(), card, out)
    return card


def _build(name: str, bundle: bundles.Bundle, device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    args = bundle.card.get("architecture_args", {})
    kind = bundle.card.get("architecture", "segnet-ae")
    if kind not in AUTOENCODERS:
        raise bundles.BundleError(f"{name}: unknown autoencoder architecture {kind!r}")
    net = AUTOENCODERS[kind].build(tuple(args.get("widths", (16, 32, 64, 64))), int(args.get("latent_channels", 16)))
    try:
        net.load_state_dict(bundle.state)
    except RuntimeError as exc:
        raise bundles.BundleError(f"{name}.pt does not match the architecture in its card: {exc}") from exc
    prepare_for_inference(net, device)
    return net, bundle.card


def load_autoencoder(name: str, device: torch.device | None = None, root=None) -> tuple[nn.Module, dict[str, Any]]:  # noqa: ANN001
    """Hash-checked and built once per (folder, name, device), like every model (`core.model_cache`)."""
    return model_cache.load(name, _build, device, root)


def autoencoder_for(model: Any) -> nn.Module:
    """The autoencoder named by an image model's card (its input size must match the classifier's)."""
    name = model.card.get("autoencoder")
    if not name:
        raise bundles.BundleError(f"{model.name}'s model card names no autoencoder, so it cannot make counterfactual images")
    net, card = load_autoencoder(name, model.device)
    if int(card.get("input_size", model.input_size)) != model.input_size:
        raise bundles.BundleError(f"{name} works at {card['input_size']} px but {model.name} at {model.input_size} px")
    return net
