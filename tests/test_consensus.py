"""Consensus counterfactuals: every member of a model set crosses its own threshold by the margin, and every
suggestion reports its robustness (members crossed, smallest margin, invalidation under measurement noise)."""

from __future__ import annotations

import numpy as np
import pytest

from cfx_desktop.core.tabular import train
from cfx_desktop.core.tabular.counterfactuals import Constraints, Reference, find_counterfactuals
from cfx_desktop.core.tabular.counterfactuals.consensus import ConsensusModel, measurement_noise, partial_quorum, robustness
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME as SCHEMA
from cfx_desktop.core.tabular.model_set import ModelSet
from cfx_desktop.core.tabular.models import Hyper, TabularModel
from tests.tabular_fixtures import synthetic_cohort

FAST = Hyper(lr=3e-3, epochs=60, patience=15)
KEYS = {"members_crossed", "members_total", "min_margin", "invalidation_rate"}


@pytest.fixture(scope="module")
def setup():
    X, y = synthetic_cohort(260, seed=5)
    members = []
    for seed, arch in enumerate(["mlp", "mlp", "nam", "lasso"]):
        net, threshold, _ = train.fit(arch, SCHEMA, X, y, seed=seed, hyper=FAST, bootstrap=seed > 0)
        members.append(TabularModel(f"{arch}-{seed}", arch, SCHEMA, net, threshold))
    models = ModelSet(SCHEMA.name, members)
    at_risk = [x for x in X if models.votes(x)[0] == len(members)][:10]
    assert len(at_risk) >= 5, "the premise: patients every member predicts positive"
    return models, at_risk


def test_every_member_crosses_its_own_threshold_by_the_margin(setup) -> None:
    models, at_risk = setup
    selected, margin = models.members[0], 0.05
    found_any = False
    for x in at_risk:
        for cf in find_counterfactuals(selected, x, Constraints(margin=margin, allow_markers=True), k=2, model_set=models,
                                       partial=False):
            found_any = True
            assert cf.quorum is None
            P = models.probabilities(cf.values)[:, 0]
            assert (P <= models.thresholds - margin + 1e-6).all(), (P, models.thresholds)
            assert set(cf.robustness) == KEYS
            assert cf.robustness["members_crossed"] == cf.robustness["members_total"] == len(models)
            assert cf.robustness["min_margin"] >= margin - 1e-6
            assert cf.probability == pytest.approx(float(selected.predict_proba(cf.values)[0]))  # the selected model's
    assert found_any


def test_single_model_mode_reports_how_fragile_it_is(setup) -> None:
    models, at_risk = setup
    selected = models.members[0]
    crossed = []
    for x in at_risk:
        for cf in find_counterfactuals(selected, x, Constraints(allow_markers=True), model_set=models, consensus=False):
            assert set(cf.robustness) == KEYS and 0 <= cf.robustness["invalidation_rate"] <= 1
            assert selected.predict(cf.values)[0] == 0
            crossed.append(cf.robustness["members_crossed"])
    assert crossed and min(crossed) >= 1  # the selected model itself is a member


def test_the_consensus_logit_is_the_worst_members_distance(setup) -> None:
    models, at_risk = setup
    x = at_risk[0]
    consensus = ConsensusModel(models.members, models.members[0], desired=0, margin=0.1)
    p = consensus.predict_proba(x)[0]
    assert p > 0.5  # not yet valid: members predict positive
    goal = np.log((models.thresholds - 0.1) / (1 - models.thresholds + 0.1))
    member_logits = np.log(models.probabilities(x)[:, 0] / (1 - models.probabilities(x)[:, 0]))
    assert np.log(p / (1 - p)) == pytest.approx((member_logits - goal).max(), abs=1e-3)


@pytest.mark.parametrize("desired", [0, 1])
def test_the_consensus_gradient_runs_through_the_worst_member_and_equals_the_maxs(setup, desired: int) -> None:
    """With gradients on, each row goes through its worst member only; values and gradients are those of the
    plain max (min) over every member, row by row, for rows whose worst members differ."""
    import torch

    models, at_risk = setup
    consensus = ConsensusModel(models.members, models.members[0], desired=desired, margin=0.1)
    rng = np.random.default_rng(3)
    X = np.array([x + rng.normal(size=x.shape) * 0.3 * np.abs(x) for x in at_risk for _ in range(4)])
    X = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    Y = X.detach().clone().requires_grad_(True)
    fast = consensus.logits(X)
    distance = torch.stack([m.logits(Y) for m in models.members]) - consensus._goals
    plain = distance.amax(dim=0) if desired == 0 else distance.amin(dim=0)
    worst = (distance.argmax(dim=0) if desired == 0 else distance.argmin(dim=0)).unique()
    assert len(worst) >= 2, "the premise: rows whose worst members differ"
    assert torch.allclose(fast, plain, atol=1e-6)
    fast.sum().backward()
    plain.sum().backward()
    assert torch.allclose(X.grad, Y.grad, atol=1e-5)


def test_the_partial_tier_asks_three_quarters_of_the_set_and_never_all_of_it() -> None:
    assert [partial_quorum(n) for n in (1, 2, 3, 4, 8, 20)] == [None, None, None, 3, 6, 15]


@pytest.mark.parametrize("desired", [0, 1])
def test_a_quorum_logit_is_the_qth_best_members_distance_bounded_by_the_selected_models(setup, desired: int) -> None:
    """Valid (>= 0 after the sign of ``desired``) exactly when q members, the selected one among them, are past
    their goals; the gradient is that of the same order statistic."""
    import torch

    models, at_risk = setup
    rng = np.random.default_rng(4)
    X = np.array([x + rng.normal(size=x.shape) * 0.3 * np.abs(x) for x in at_risk for _ in range(4)])
    for selected in (0, 2):
        quorum = ConsensusModel(models.members, models.members[selected], desired=desired, margin=0.1, quorum=3)
        assert quorum.quorum == 3 and quorum.name == "3 of 4 models"
        V = torch.tensor(X, dtype=torch.float32, requires_grad=True)
        value = quorum.logits(V)
        distance = (torch.stack([m.logits(V) for m in models.members]) - quorum._goals).detach().numpy()
        ordered = np.sort(distance, axis=0) if desired == 0 else -np.sort(-distance, axis=0)
        bound = np.maximum if desired == 0 else np.minimum
        assert np.allclose(value.detach().numpy(), bound(ordered[2], distance[selected]), atol=1e-5)
        value.sum().backward()
        assert V.grad is not None and torch.isfinite(V.grad).all() and V.grad.abs().sum() > 0
    full = ConsensusModel(models.members, models.members[0], desired=desired, margin=0.1, quorum=4)
    assert full.quorum is None  # a quorum of every member is the full consensus
    with pytest.raises(ValueError, match="selected model"):
        ConsensusModel(models.members[1:], models.members[0], desired=desired, margin=0.1, quorum=2)


def test_when_no_change_moves_every_member_the_partial_tier_moves_three_with_the_selected_model_and_says_so(setup) -> None:
    """A member nothing can move (a threshold below every reachable probability) blocks the full consensus; the
    second tier then returns changes that move 3 of the 4, the selected model always among them, marked as such,
    and "full agreement only" reports why there is none instead."""
    models, at_risk = setup
    selected, margin = models.members[0], 0.05
    stubborn = TabularModel("stubborn", "mlp", SCHEMA, models.members[1].net, 0.02)
    blocked = ModelSet(SCHEMA.name, [*models.members[:3], stubborn])
    constraints = Constraints(margin=margin, allow_markers=True)
    found = 0
    for x in at_risk:
        strict = find_counterfactuals(selected, x, constraints, model_set=blocked, partial=False)
        assert not strict
        if not find_counterfactuals(selected, x, constraints, model_set=None):
            continue  # not even the selected model can be moved within the feasible changes: no tier helps
        assert "every model of the set" in strict.reason, strict.reason
        result = find_counterfactuals(selected, x, constraints, k=2, model_set=blocked)
        for cf in result:
            found += 1
            assert cf.quorum == (3, 4)
            P = blocked.probabilities(cf.values)[:, 0]
            moved = P <= blocked.thresholds - margin + 1e-6
            assert moved[0] and moved.sum() == 3, (P, blocked.thresholds)  # the selected model and two others
            assert cf.robustness["members_crossed"] >= 3 and cf.robustness["members_total"] == 4  # at its threshold
        if result:
            assert "partial-agreement tier" in result.note and "3 of the 4" in result.note
    assert found, "the premise: three of the members can be moved for some patient"


def test_when_no_change_clears_the_margin_the_last_tiers_reach_the_thresholds_and_call_it_fragile(setup) -> None:
    """A margin no member can clear (the goal below p = 0) leaves the margin tiers empty; the last tiers then return
    changes that reach the thresholds themselves, marked ``without_margin`` with a note that calls them fragile, and
    "full agreement only" keeps the old answer: none, with the reason."""
    models, at_risk = setup
    selected = models.members[0]
    unreachable = Constraints(margin=0.99, allow_markers=True)
    found = 0
    for x in at_risk:
        if not find_counterfactuals(selected, x, Constraints(margin=0.0, allow_markers=True), model_set=models):
            continue  # not even the thresholds can be reached: no tier helps
        assert not find_counterfactuals(selected, x, unreachable, model_set=models, partial=False)
        result = find_counterfactuals(selected, x, unreachable, k=2, model_set=models)
        assert result, "the thresholds are reachable, so the last tiers must find a change"
        for cf in result:
            found += 1
            assert cf.without_margin and result.without_margin
            P = models.probabilities(cf.values)[:, 0]
            crossed = P < models.thresholds
            needed = cf.quorum[0] if cf.quorum else len(models)
            assert crossed[0] and crossed.sum() >= needed, (P, models.thresholds)
        assert "without the margin" in result.note and "fragile" in result.note
    assert found, "the premise: some patient's thresholds can be reached"
    x = at_risk[0]
    ordinary = find_counterfactuals(selected, x, Constraints(margin=0.05, allow_markers=True), model_set=models)
    assert not ordinary or not ordinary.without_margin  # the margin tiers come first


def test_the_fallback_tiers_are_skipped_when_not_even_the_selected_model_can_be_moved(setup, monkeypatch) -> None:
    """Every tier without the margin asks the selected model to cross its threshold; when no search moves it alone
    (every feature locked), those tiers are not searched at all (the margin's are, first), and the reason comes."""
    from cfx_desktop.core.tabular.counterfactuals import engine

    models, at_risk = setup
    selected = models.members[0]
    searched = []
    original = engine._search

    def recording(ctx, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        searched.append(ctx.model)
        return original(ctx, *args, **kwargs)

    monkeypatch.setattr(engine, "_search", recording)
    reference = Reference.build(selected, synthetic_cohort(260, seed=5)[0])
    blocked = Constraints(locked=frozenset(f.name for f in SCHEMA.features), margin=0.05)
    result = find_counterfactuals(selected, at_risk[0], blocked, reference=reference, model_set=models)
    assert not result and result.reason
    consensus = [m.name for m in searched if isinstance(m, ConsensusModel)]
    assert consensus == ["consensus of 4 models", "3 of 4 models"], consensus  # the margin's tiers only
    assert [m for m in searched if m is selected], "the selected model alone was asked"
    searched.clear()  # without reference patients only one kind of search can ask, and the tiers are not skipped
    find_counterfactuals(selected, at_risk[0], blocked, model_set=models)
    assert [m.name for m in searched if isinstance(m, ConsensusModel)] == [
        "consensus of 4 models", "3 of 4 models", "consensus of 4 models", "3 of 4 models"]


def test_noise_follows_the_stated_precision() -> None:
    x = SCHEMA.example_vector()
    noisy = measurement_noise(SCHEMA, x, 4000, np.random.default_rng(0))
    for j, feature in enumerate(SCHEMA.features):
        spread = noisy[:, j].std()
        if feature.precision and feature.kind.value in ("integer", "continuous"):
            assert spread == pytest.approx(feature.precision, rel=0.1), feature.name
        else:
            assert spread == 0, feature.name


def test_invalidation_is_high_for_a_suggestion_on_the_threshold(setup) -> None:
    """A point exactly on the selected model's boundary falls back about half the time under noise."""
    models, at_risk = setup
    selected = models.members[0]
    x = at_risk[0].copy()
    j = SCHEMA.index("serum_creatinine")
    grid = np.linspace(SCHEMA.features[j].min, 4.0, 400)
    V = np.repeat(x[None], len(grid), axis=0)
    V[:, j] = grid
    p = selected.predict_proba(V)
    if not ((p < selected.threshold).any() and (p >= selected.threshold).any()):
        pytest.skip("creatinine alone does not cross this synthetic model's threshold")
    edge = V[int(np.argmin(np.abs(p - selected.threshold)))]
    r = robustness(edge, selected, models.members, desired=0)
    assert 0.2 <= r["invalidation_rate"] <= 0.8


def test_noise_leaves_categories_alone() -> None:
    """A category index has no clinical range: re-measurement must not clip "asymptomatic" (3) to 1."""
    from cfx_desktop.core.tabular.datasets.heart_disease import HEART_DISEASE

    x = HEART_DISEASE.example_vector()
    noisy = measurement_noise(HEART_DISEASE, x, 200, np.random.default_rng(1))
    for j, feature in enumerate(HEART_DISEASE.features):
        if feature.kind.value in ("categorical", "binary"):
            assert (noisy[:, j] == x[j]).all(), feature.name
