"""What the worker pool does right after the window paints: check every weight file, then import the model
libraries (torch, captum, scikit-learn, ...) and fill the registries.

Why in the pool: those imports take seconds (torch alone ~1.5 s, captum pulls in matplotlib), and the user
should see the example patient's form at once, with a "loading models..." state, instead of a blank screen.
The integrity check comes first and is reported on its own (as a progress payload), so a tampered bundle is
named within a fraction of a second, before anything could load it.
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass, field

from cfx_desktop.core import bundles
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress

# "Loading models", in stages: the modules every job of the tabs starts from, then the registries they read
# ("module:NAME"; read once here so their built-in modules import on this thread, not the GUI's). The Patient
# tab (shown first) starts its prediction when "tabular" is in; its work (torch ops, which release the GIL)
# then overlaps the imaging imports on the other core.
STAGES = (
    ("tabular", ("cfx_desktop.core.tabular.live", "cfx_desktop.core.tabular.recourse", "sklearn.neighbors"),
     ("cfx_desktop.core.tabular.models:ARCHITECTURES", "cfx_desktop.core.tabular.counterfactuals:METHODS",
      "cfx_desktop.core.tabular.datasets:DATASETS")),
    ("imaging", ("cfx_desktop.core.imaging.live",),
     ("cfx_desktop.core.imaging.explain.saliency:SALIENCY_METHODS", "cfx_desktop.core.imaging.models.classifier:IMAGE_ARCHITECTURES")),
)


@dataclass(frozen=True)
class StageLoaded:
    """Progress payload: the modules of one of `STAGES` are imported (and its registries filled)."""

    name: str


@dataclass(frozen=True)
class IntegrityReport:
    """Refused bundles, {name: reason}; everything else in the manifest matched its sha256."""

    refused: dict[str, str] = field(default_factory=dict)
    checked: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [f"refused: {name} ({bundles.short_reason(reason)})" for name, reason in sorted(self.refused.items())]


@dataclass(frozen=True)
class LoadReport:
    integrity: IntegrityReport
    device: str
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)


def check_integrity() -> IntegrityReport:
    start = time.perf_counter()
    refused = bundles.check_integrity()
    return IntegrityReport(refused, len(bundles.list_bundles()), time.perf_counter() - start)


def load_model_libraries(progress=no_progress, cancel: CancelToken = NEVER_CANCELLED) -> LoadReport:  # noqa: ANN001
    """Integrity check (reported as progress payload), then the imports; returns what the status bar shows."""
    start = time.perf_counter()
    integrity = check_integrity()
    progress(0.05, "model files checked", integrity)
    from cfx_desktop.core import device

    device.configure_cpu_threads()  # imports torch
    for i, (stage, modules, registries) in enumerate(STAGES):
        cancel.raise_if_cancelled()
        for module in modules:
            importlib.import_module(module)
        for reference in registries:
            module, name = reference.split(":")
            getattr(importlib.import_module(module), name).keys()
        progress(0.1 + 0.9 * (i + 1) / len(STAGES), f"{stage} models loaded", StageLoaded(stage))
    versions = {name: getattr(sys.modules[name], "__version__", "?")  # only what loading imported: nothing extra
                for name in ("torch", "captum", "numpy", "sklearn") if name in sys.modules}
    return LoadReport(integrity, device.describe(), time.perf_counter() - start, versions)

