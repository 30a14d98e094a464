"""The label the app gives a film, or "uncertain" (selective prediction).

Why: on films from a shifted acquisition one number at one threshold called many healthy children's films
pneumonia. A reading-room tool should rather say "uncertain" when its own evidence disagrees: the independent
referee model reads the film the other way, or a small change of exposure or framing (the test-time views of
`shift.TTA_VIEWS`) moves the answer across the threshold, or the guard finds the film unusual. The rule is
`shift.SelectiveRule`; its coverage and accuracy on the covered films are in the classifier's card
(``selective``), measured by ``cfx-desktop calibrate-selective``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from cfx_desktop.core.imaging.models import shift
from cfx_desktop.core.imaging.guard.model import Guard, GuardVerdict
from cfx_desktop.core.imaging.io.load import LoadedImage
from cfx_desktop.core.imaging.models.classifier import referee_or_none
from cfx_desktop.core.imaging.models.preprocess import resize_square

UNCERTAIN = "uncertain"


@dataclass
class Decision:
    probability: float
    threshold: float
    label: str  # a class word of the model, or UNCERTAIN
    reasons: list[str] = field(default_factory=list)  # why it is uncertain (empty when labelled)
    referee_probability: float | None = None
    view_probabilities: list[float] = field(default_factory=list)
    source: str = ""  # what ``probability`` is, when not the film as it is ("mean of 4 test-time views")

    @property
    def uncertain(self) -> bool:
        return self.label == UNCERTAIN

    def sentence(self, positive: str) -> str:
        """The decision in words, for the panel, the report and the CLI."""
        source = f", {self.source}" if self.source else ""
        # the threshold to three places, as the panel shows it: written "0.44", a threshold of 0.445 would make a
        # film labelled normal at p 0.444 read as sitting on its own threshold
        numbers = f"(p({positive}) {self.probability:.2f}{source}, threshold {self.threshold:.3f})"
        if not self.uncertain:
            return f"{self.label} {numbers}"
        return f"uncertain: {'; '.join(self.reasons)} {numbers}"


def view_probabilities(model: Any, pixels: np.ndarray) -> list[float]:
    """p(positive) of each test-time view, in one batch."""
    x = resize_square(pixels, model.input_size).to(model.device)  # [0, 1] pixels at the model's size, as it crops
    with model.lock, torch.inference_mode():
        views = (shift.tta_views(x) - model.mean) / model.std
        return torch.sigmoid(model.logits(views)).reshape(-1).tolist()


def decide(model: Any, pixels: np.ndarray, guard_level: str | None = None, referee: Any = None,
           rule: shift.SelectiveRule = shift.DEFAULT_RULE) -> Decision:
    """The model's probability at its threshold, and "uncertain" with its reasons where `rule` says so. For a model
    whose card reads its label from the test-time views (`ImageModel.decision_views`), the probability is their
    mean, at the threshold chosen for that mean."""
    tta = getattr(model, "decision_views", "single") == "tta"
    threshold = float(getattr(model, "decision_threshold", model.threshold))
    views = view_probabilities(model, pixels) if (rule.views or tta) else []
    p = float(np.mean(views)) if tta else model.probability(pixels)
    label_index = int(p >= threshold)
    view_labels = [int(v >= threshold) for v in views] if views else None
    referee_p = referee.probability(pixels) if (referee is not None and rule.referee) else None
    referee_label = None if referee_p is None else int(referee_p >= referee.threshold)
    reasons = rule.reasons(label_index, referee_label, view_labels, guard_level)
    label = UNCERTAIN if reasons else model.labels[label_index]
    return Decision(p, threshold, label, reasons, referee_p, views,
                    f"mean of {len(views)} test-time views" if tta else "")


def guarded_prediction(guard: Guard, model: Any, image: LoadedImage) -> tuple[GuardVerdict, float | None, str]:
    """(verdict, probability, label) by the one rule every caller shows: a withheld image gets no probability, an
    unusual one a probability but no verdict label, and only an in-distribution image gets its label, or
    "uncertain" where the selective rule abstains (`decide`)."""
    verdict, decision = guarded_decision(guard, model, image)
    if decision is None:
        return verdict, None, ""
    return verdict, decision.probability, decision.label if verdict.in_distribution else ""


def guarded_decision(guard: Guard, model: Any, image: LoadedImage) -> tuple[GuardVerdict, Decision | None]:
    """(verdict, `decision.Decision` or None when withheld): the guard first, then the selective rule with the
    model's referee."""
    verdict = guard.check(model, image)
    if verdict.withheld:
        return verdict, None
    return verdict, decide(model, image.pixels, verdict.level, referee_or_none(model))
