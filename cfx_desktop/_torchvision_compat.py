"""Make ``import torchvision`` work with the CPU build of torch that this project pins.

Why: PyPI's torchvision 0.28.0 is a CUDA build. With the CPU torch 2.13.0 wheel its compiled extension does not
load, and ``import torchvision`` then dies in ``torchvision/_meta_registrations.py`` with
``RuntimeError: operator torchvision::nms does not exist`` (upstream pytorch/vision#9085, #9337). The pure-Python
parts we use (``torchvision.models.resnet18``, ``transforms.v2``) work fine once the import succeeds; compiled ops
(nms, roi_align, decode_jpeg) stay unavailable, and this project never calls them (images are decoded by Pillow
and pydicom).

What: `ensure_torchvision()` imports torchvision; only if that exact error occurs does it discard the
half-imported modules, stand in empty modules for the two op-registration modules (which only attach fake and
autograd kernels to the missing compiled ops) and import again. Any other failure propagates unchanged.
The package imports this module before anything imports torchvision.
"""

from __future__ import annotations

import sys
import types

_MISSING_OP_MESSAGE = "operator torchvision::"
_STUBBED = ("torchvision._meta_registrations", "torchvision._autograd_registrations")

patched = False
"""True when the workaround was needed (shown in Help > About and the self-test log)."""


def is_missing_op_error(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, RuntimeError) and _MISSING_OP_MESSAGE in text and "does not exist" in text


def _purge_torchvision() -> None:
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]


def ensure_torchvision() -> types.ModuleType:
    global patched
    try:
        import torchvision
    except RuntimeError as exc:
        if not is_missing_op_error(exc):
            raise
        _purge_torchvision()
        for name in _STUBBED:
            stub = types.ModuleType(name)
            stub.__doc__ = "cfx-desktop stand-in: torchvision's compiled ops are unavailable with this torch build"
            sys.modules[name] = stub
        import torchvision

        patched = True
    return torchvision


ensure_torchvision()
