"""A chest film the self-test can open on a fresh install, which ships no patient images.

Why: the self-test used to open a noise image, which proves only that the guard withholds it ("withheld:
p = nan"); the main path (the guard passes the film, the classifier labels it, the saliency map is drawn) went
unchecked. The film here is the autoencoder's decoding of one code of the latent bank: a blurred 128 px
reconstruction of a training film of the model's positive class, whose code already ships in the bank. It is
never shown as a patient's film and never read for a finding; where no bank or autoencoder is installed (an own
model without them) there is none, and the caller falls back to the noise image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from cfx_desktop.core import bundles


def decoded_film(model: Any, label: int = 1, index: int = 0) -> np.ndarray | None:  # noqa: ANN401 - an ImageModel
    """Pixels in [0, 1] at the autoencoder's size, or None when the model's card names no usable bank."""
    from cfx_desktop.core.imaging.counterfactual.autoencoder import autoencoder_for
    from cfx_desktop.core.imaging.counterfactual.latent_bank import bank_for

    try:
        bank = bank_for(model.card.get("autoencoder"), model.device)
        if bank is None or label not in bank.codes or len(bank.codes[label]) <= index:
            return None
        net = autoencoder_for(model)
    except (bundles.BundleError, OSError):
        return None
    with torch.inference_mode():
        film = net.decode_latent(bank.codes[label][index : index + 1].to(model.device)).clamp(0, 1)
    return film[0, 0].cpu().numpy().astype(np.float32)


def write_decoded_film(model_name: str, folder: Path) -> Path | None:
    """The decoded film of ``model_name`` as a PNG in ``folder`` (the self-test opens a file), or None without a bank."""
    from PIL import Image

    from cfx_desktop.core.imaging.models.classifier import load_image_model

    film = decoded_film(load_image_model(model_name))
    if film is None:
        return None
    path = Path(folder) / "decoded-chest-film.png"
    Image.fromarray(np.round(film * 255).astype(np.uint8)).save(path)
    return path
