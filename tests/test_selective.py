"""Selective prediction: "uncertain" instead of a label when the model set or the test-time views disagree, the
rule's coverage report, and the held-out-family bookkeeping of the shift protocol."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from cfx_desktop.core.imaging.models import shift
from cfx_desktop.core.imaging.models.decision import UNCERTAIN, decide
from cfx_desktop.core.imaging.models.classifier import ImageModel


class _Brightness(nn.Module):
    """p(positive) rises with the mean brightness of the centre: exposure changes move it, as they move a real model."""

    def __init__(self, gain: float, offset: float) -> None:
        super().__init__()
        self.gain, self.offset = gain, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * (x[:, :, 8:24, 8:24].mean(dim=(1, 2, 3)) - self.offset)


def _model(gain: float = 8.0, offset: float = 0.0, threshold: float = 0.5) -> ImageModel:
    return ImageModel("toy", "slim-cnn", _Brightness(gain, offset), 32, 0.0, 1.0, threshold, {}, torch.device("cpu"),
                      ("normal", "pneumonia"), threading.RLock())


def _film(level: float) -> np.ndarray:
    return np.full((32, 32), level, dtype=np.float32)


def test_a_clear_film_gets_its_label_when_every_judge_agrees() -> None:
    model = _model(offset=0.5)
    d = decide(model, _film(0.9), "ok", referee=_model(offset=0.5))
    assert d.label == "pneumonia" and not d.uncertain and d.reasons == []
    assert len(d.view_probabilities) == len(shift.TTA_VIEWS)


def test_the_referee_disagreeing_makes_it_uncertain() -> None:
    model, referee = _model(offset=0.5), _model(offset=0.95)  # the referee reads 0.9 as normal
    d = decide(model, _film(0.9), "ok", referee=referee)
    assert d.label == UNCERTAIN and d.reasons == ["the independent referee model disagrees"]
    assert "uncertain" in d.sentence("pneumonia") and "referee" in d.sentence("pneumonia")


def test_views_that_cross_the_threshold_make_it_uncertain() -> None:
    model = _model(gain=40.0, offset=0.5)  # steep around 0.5: a gamma change of the view crosses the threshold
    d = decide(model, _film(0.52), "ok", referee=None)
    labels = {int(p >= model.threshold) for p in d.view_probabilities}
    assert labels == {0, 1}, "the premise: the views disagree"
    assert d.label == UNCERTAIN and d.reasons == ["small changes of exposure or framing change the answer"]


def test_a_card_that_reads_the_views_labels_by_their_mean_at_its_own_threshold() -> None:
    """The shift protocol may choose the mean over the test-time views: the label then reads that mean, the
    sentence says so, and the views are computed even with the view rule off (they are the probability)."""
    single, views = _model(gain=8.0, offset=0.5, threshold=0.6), _model(gain=8.0, offset=0.5, threshold=0.6)
    views.card = {"decision_views": "tta", "decision_threshold": 0.6}
    film = _film(0.56)
    plain = decide(single, film, "ok", referee=None)
    read = decide(views, film, "ok", referee=None, rule=shift.SelectiveRule(views=False))
    assert plain.source == "" and plain.probability == pytest.approx(single.probability(film))
    assert read.probability == pytest.approx(np.mean(read.view_probabilities)) and len(read.view_probabilities) == len(shift.TTA_VIEWS)
    assert read.probability != pytest.approx(plain.probability), "the premise: the views move the probability"
    assert read.label == ("pneumonia" if read.probability >= 0.6 else "normal")
    assert "mean of 4 test-time views" in read.sentence("pneumonia") and "mean" not in plain.sentence("pneumonia")


def test_the_sentence_prints_the_threshold_as_the_panel_does() -> None:
    """A threshold of 0.445 printed "0.44" next to a normal film at p 0.444 read as a film on its own threshold."""
    from cfx_desktop.core.imaging.models.decision import Decision

    normal = Decision(0.444, 0.445, "normal", source="mean of 4 test-time views")
    assert normal.sentence("pneumonia") == "normal (p(pneumonia) 0.44, mean of 4 test-time views, threshold 0.445)"
    unsure = Decision(0.5, 0.445, UNCERTAIN, ["the independent referee model disagrees"])
    assert unsure.sentence("pneumonia").endswith("(p(pneumonia) 0.50, threshold 0.445)")


def test_the_rule_can_be_switched_off_part_by_part() -> None:
    rule = shift.SelectiveRule(referee=False, views=False, guard_caution=False)
    assert rule.reasons(1, 0, [0, 1], "caution") == []
    assert shift.DEFAULT_RULE.reasons(1, 0, [0, 1], "caution") == [
        "the independent referee model disagrees", "small changes of exposure or framing change the answer",
        "the film is unusual for the training data"]


def test_coverage_report_counts_only_the_labelled_films() -> None:
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.2, 0.1, 0.8, 0.7])
    uncertain = np.array([False, False, False, True, False])
    r = shift.coverage_report(y, p, 0.5, uncertain)
    assert r["coverage"] == pytest.approx(0.8) and r["uncertain"] == 1
    assert r["covered_sensitivity"] == pytest.approx(0.5) and r["covered_specificity"] == pytest.approx(0.5)
    assert r["covered_accuracy"] == pytest.approx(0.5)


def test_families_and_folds_hold_out_one_family_of_each_class() -> None:
    assert shift.family("IM-0115-0001.jpeg", 0) == "normal-IM"
    assert shift.family("NORMAL2-IM-0839-0001.jpeg", 0) == "normal-NORMAL2"
    assert shift.family("person1003_virus_1685.jpeg", 1) == "pneumonia-viral"
    assert shift.family("person1004_bacteria_2935.jpeg", 1) == "pneumonia-bacterial"
    assert shift.family("scan.png", 1) == "other"
    for normal, pneumonia in shift.FOLDS.values():
        assert normal.startswith("normal-") and pneumonia.startswith("pneumonia-")
    held = {f for pair in shift.FOLDS.values() for f in pair}
    assert held == set(shift.FAMILY_NAMES)  # every family is held out once


def test_acquisition_statistics_measure_exposure_contrast_and_border() -> None:
    flat = shift.acquisition_statistics(np.full((64, 64), 0.5))
    assert flat[0] == pytest.approx(0.5) and flat[1] == pytest.approx(0.0) and flat[6] == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    film = np.clip(0.5 + 0.1 * rng.standard_normal((64, 64)), 0, 1)
    brighter = shift.acquisition_statistics(np.clip(film + 0.2, 0, 1))
    assert brighter[0] > shift.acquisition_statistics(film)[0] and brighter[3] > shift.acquisition_statistics(film)[3]
    framed = film.copy()
    framed[:5], framed[-5:], framed[:, :5], framed[:, -5:] = 0.0, 0.0, 0.0, 0.0  # a dark collimation border
    assert shift.acquisition_statistics(framed)[6] < -0.3 < shift.acquisition_statistics(film)[6]
    smooth = shift.acquisition_statistics(np.tile(np.linspace(0, 1, 64), (64, 1)))
    assert shift.acquisition_statistics(film)[5] > 10 * smooth[5]  # noise is high-frequency energy; a ramp is not


def test_statistics_clusters_keep_patients_whole_and_order_by_brightness() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[0.6] * 7, [0.3] * 7, [0.45] * 7])  # bright, dark, middle
    stats, patients, truth = [], [], []
    for group, centre in enumerate(centres):
        for patient in range(10):
            for _ in range(2):  # two films per patient
                stats.append(centre + 0.01 * rng.standard_normal(7))
                patients.append(f"g{group}p{patient}")
                truth.append(group)
    # one film of a bright patient is darker: the patient still goes to one cluster, the one of their mean (0.55)
    stats[0] = np.full(7, 0.5)
    clusters = shift.statistics_clusters(np.array(stats), patients, k=3, seed=0)
    for patient in set(patients):
        assert len({int(c) for c, p in zip(clusters, patients) if p == patient}) == 1
    truth = np.array(truth)
    assert {int(c) for c in clusters[truth == 1]} == {0}  # the dark group is cluster 0, the bright one cluster 2
    assert {int(c) for c in clusters[truth == 2]} == {1} and {int(c) for c in clusters[truth == 0]} == {2}
    assert shift.cluster_family(2, 0) == "normal-cluster2" and shift.cluster_family(0, 1) == "pneumonia-cluster0"


def test_worst_case_threshold_maximises_the_lowest_balanced_accuracy() -> None:
    y = np.array([0, 0, 1, 1])
    clean = np.array([0.1, 0.2, 0.8, 0.9])
    shifted = np.array([0.4, 0.5, 0.85, 0.95])  # the shift raises every score: only a threshold above 0.5 holds
    t, score = shift.worst_case_threshold(y, {"clean": clean, "shifted": shifted})
    assert 0.5 < t <= 0.8 and score == pytest.approx(1.0)
    assert shift.rates(y, clean, t) == {"n": 4, "positives": 2, "negatives": 2, "sensitivity": 1.0, "specificity": 1.0, "accuracy": 1.0}


def test_the_report_states_the_selective_rule_once() -> None:
    """The card's rule already begins "uncertain when"; the report's model section read "'uncertain' when uncertain
    when ..."."""
    from cfx_desktop.core.imaging.image_report import selective_text

    numbers = {"films": 10, "coverage": 0.9, "covered_sensitivity": 1.0, "covered_specificity": 1.0, "covered_accuracy": 1.0}
    said = selective_text({"selective": {"rule": "uncertain when the referee disagrees", **numbers}})
    assert said.startswith("uncertain when the referee disagrees; on 10 validation films") and said.count("uncertain") == 1
    assert selective_text({"selective": {"rule": "the referee disagrees", **numbers}}).startswith("uncertain when the referee")
