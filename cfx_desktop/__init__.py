"""cfx-desktop: ask a model "why?" and "what would have to change?", offline.

Importing the package is cheap on purpose (no torch, no torchvision): the window paints first and the heavy
libraries load in the worker pool (issue 15). `cfx_desktop._torchvision_compat` runs where torchvision is needed.
"""

__version__ = "0.1.0"
