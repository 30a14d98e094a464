"""cfx-desktop: ask a model "why?" and "what would have to change?", offline."""

from cfx_desktop import _torchvision_compat  # noqa: F401  (must run before anything imports torchvision)

__version__ = "0.1.0"
