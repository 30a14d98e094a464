"""Counterfactual engine: hard constraints always hold, predictions flip, and empty results say why."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfx_desktop.core.cancel import CancelToken, Cancelled
from cfx_desktop.core.tabular import train
from cfx_desktop.core.tabular.models import Hyper
from cfx_desktop.core.tabular.counterfactuals import Constraints, Reference, find_counterfactuals
from cfx_desktop.core.tabular.counterfactuals.baseline_nn import hamming_nearest
from cfx_desktop.core.tabular.counterfactuals.constraints import changed_mask
from cfx_desktop.core.tabular.models import TabularModel, build_net
from cfx_desktop.core.tabular.models.lasso import set_linear
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME as SCHEMA
from cfx_desktop.core.tabular.schema import Actionability, Direction, Kind, Mutability
from tests.tabular_fixtures import draw_patient, synthetic_cohort

FAST = Hyper(lr=3e-3, epochs=60, patience=15)
MUTABLE = [f.name for f in SCHEMA.features if f.name not in ("age", "sex")]


@pytest.fixture(scope="module")
def setup():
    X, y = synthetic_cohort(300, seed=11)
    net, threshold, _ = train.fit("mlp", SCHEMA, X, y, seed=0, hyper=FAST)
    model = TabularModel("synthetic-mlp", "mlp", SCHEMA, net, threshold,
                         {"reference_stats": train.reference_stats(SCHEMA, X)})
    return model, Reference.build(model, X)


def _check(model: TabularModel, x: np.ndarray, constraints: Constraints, result) -> None:
    p0 = model.predict_proba(x)[0]
    desired = 0 if p0 >= model.threshold else 1
    if desired == 1:  # a risk what-if: the treatment directions run the other way
        constraints = constraints.for_risk(SCHEMA)
    for cf in result:
        assert constraints.violations(SCHEMA, x, cf.values) == []
        p = model.predict_proba(cf.values)[0]
        assert p == pytest.approx(cf.probability, abs=1e-6)
        if desired == 0:
            assert p <= model.threshold - constraints.margin + 1e-9
        else:
            assert p >= model.threshold + constraints.margin - 1e-9
        # immutable features and locks never move; directions hold
        for name in ("age", "sex", *constraints.locked):
            j = SCHEMA.index(name)
            assert cf.values[j] == x[j]
        for j, f in enumerate(SCHEMA.features):
            direction = constraints.directions.get(f.name, f.direction)
            if direction == Direction.DECREASE:
                assert cf.values[j] <= x[j]
            if direction == Direction.INCREASE:
                assert cf.values[j] >= x[j]
            if f.kind in (Kind.BINARY, Kind.INTEGER):
                assert float(cf.values[j]).is_integer()
        assert [c.feature for c in cf.changes] == [SCHEMA.names[j] for j in np.flatnonzero(changed_mask(x, cf.values))]
    if not result:
        assert result.reason


SEARCH_ALL = Constraints(allow_markers=True)  # tests of the search itself: every mutable feature may move


def test_observational_markers_change_only_when_allowed() -> None:
    """A model that only a marker (CPK) can flip: no suggestion by default, with the reason; one when allowed."""
    probe = _linear_model({"creatinine_phosphokinase": 2.0}, intercept=0.0)
    x, low = SCHEMA.example_vector(), SCHEMA.example_vector()
    x[SCHEMA.index("creatinine_phosphokinase")] = 3000
    low[SCHEMA.index("creatinine_phosphokinase")] = 100
    threshold = float(np.mean([probe.predict_proba(x)[0], probe.predict_proba(low)[0]]))
    model = TabularModel("cpk-only", "lasso", SCHEMA, probe.net, threshold)
    assert model.predict(x)[0] == 1 and model.predict(low)[0] == 0
    blocked = find_counterfactuals(model, x, Constraints())
    assert not blocked and "only a change that includes observational markers" in blocked.reason and "Creatinine phosphokinase" in blocked.reason
    allowed = find_counterfactuals(model, x, SEARCH_ALL)
    assert allowed and {c.feature for c in allowed[0].changes} == {"creatinine_phosphokinase"}


@st.composite
def requests(draw):
    x = draw_patient(draw)
    locked = frozenset(draw(st.lists(st.sampled_from(MUTABLE), max_size=4, unique=True)))
    unlocked = frozenset(draw(st.lists(st.sampled_from(["diabetes"]), max_size=1)))
    max_changes = draw(st.sampled_from([None, 1, 2, 3]))
    margin = draw(st.sampled_from([0.0, 0.03, 0.1]))
    flips = draw(st.dictionaries(st.sampled_from(MUTABLE), st.sampled_from(list(Direction)), max_size=3))
    method = draw(st.sampled_from(["sparse", "nearest", "diverse", "baseline"]))
    k = draw(st.integers(1, 4))
    return x, Constraints(locked, unlocked, max_changes, margin, flips, allow_markers=draw(st.booleans())), method, k


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=requests())
def test_every_counterfactual_satisfies_every_constraint_and_flips(setup, request) -> None:
    model, reference = setup
    x, constraints, method, k = request
    result = find_counterfactuals(model, x, constraints, k=k, method=method, reference=reference)
    assert len(result) <= k
    _check(model, x, constraints, result)


def test_sparse_finds_sparse_valid_counterfactuals_for_typical_patients(setup) -> None:
    model, reference = setup
    X, _ = synthetic_cohort(60, seed=5)
    at_risk = X[model.predict_proba(X) >= model.threshold][:15]
    assert len(at_risk) >= 5
    l0 = []
    for x in at_risk:
        result = find_counterfactuals(model, x, SEARCH_ALL, method="sparse", reference=reference)
        assert len(result) == 1, result.reason
        _check(model, x, SEARCH_ALL, result)
        l0.append(result[0].l0)
    assert np.mean(l0) <= 2.0


def test_diverse_set_is_diverse(setup) -> None:
    model, reference = setup
    x = SCHEMA.example_vector()
    result = find_counterfactuals(model, x, SEARCH_ALL, k=4, method="diverse", reference=reference)
    assert len(result) >= 2
    sets = {tuple(c.feature for c in cf.changes) for cf in result}
    assert len(sets) >= 2 and result[0].metrics["set_diversity"] > 0


def test_baseline_is_the_faithful_hamming_neighbour(setup) -> None:
    model, reference = setup
    candidates = reference.predicted(0)
    x = candidates[3].copy()
    x[SCHEMA.index("serum_creatinine")] += 0.05  # one mismatch: candidate 3 is the unique nearest
    np.testing.assert_array_equal(hamming_nearest(x, candidates), candidates[3])
    tie = np.array([[1, 2, 3], [1, 2, 9], [1, 9, 3]], dtype=float)
    np.testing.assert_array_equal(hamming_nearest(np.array([1.0, 2, 4]), tie), tie[0])  # first wins ties


def test_baseline_changing_age_is_never_shown(setup) -> None:
    model, reference = setup
    x = SCHEMA.example_vector()
    x[SCHEMA.index("age")] = 109  # nobody in the reference is this old
    result = find_counterfactuals(model, x, Constraints(), method="baseline", reference=reference)
    assert list(result) == []
    assert "age is immutable" in result.reason


def test_neighbour_methods_need_a_reference(setup) -> None:
    model, _ = setup
    result = find_counterfactuals(model, SCHEMA.example_vector(), Constraints(), method="nearest", reference=None)
    assert not result and "needs reference patients" in result.reason


def test_locking_everything_gives_a_reason(setup) -> None:
    model, reference = setup
    constraints = Constraints(locked=frozenset(MUTABLE))
    result = find_counterfactuals(model, SCHEMA.example_vector(), constraints, reference=reference)
    assert not result and result.reason.startswith("every feature is immutable, locked or kept as measured; locked: ")
    assert "(unlock one)" in result.reason


def test_markers_are_not_called_locked_when_nothing_may_change(setup) -> None:
    """Unlocking does nothing for a marker (kept as measured): the reason says what frees it instead."""
    model, reference = setup
    markers = [f for f in SCHEMA.features if f.actionability == Actionability.MARKER and f.mutability == Mutability.MUTABLE]
    assert markers, "the premise: the schema has markers"
    others = frozenset(f.name for f in SCHEMA.features if f not in markers and f.mutability != Mutability.IMMUTABLE)
    result = find_counterfactuals(model, SCHEMA.example_vector(), Constraints(locked=others), reference=reference)
    shown = f"kept as measured (markers): {', '.join(f.label for f in markers)} (allow markers"
    assert not result and shown in result.reason
    assert not any(f.label in result.reason.split("kept as measured (markers)")[0] for f in markers)


def _linear_model(weights: dict[str, float] | None = None, intercept: float = 4.0) -> TabularModel:
    """By default logit = 4 + z(creatinine) - z(ejection fraction): no single change can flip a high-risk patient."""
    X, _ = synthetic_cohort(200, seed=3)
    net = build_net("lasso", SCHEMA)
    net.pre.fit(X)
    coef = np.zeros(net.pre.width)
    for name, w in (weights or {"serum_creatinine": 1.0, "ejection_fraction": -1.0}).items():
        coef[SCHEMA.index(name)] = w
    set_linear(net.body, coef, intercept)
    return TabularModel("linear", "lasso", SCHEMA, net, 0.5)


def test_max_changes_reason_names_the_limit() -> None:
    model = _linear_model(intercept=1.0)  # reachable with both changes, each within its feasible change
    x = SCHEMA.example_vector()
    x[SCHEMA.index("serum_creatinine")] = 3.0
    x[SCHEMA.index("ejection_fraction")] = 25
    unrestricted = find_counterfactuals(model, x, Constraints(), method="sparse")
    assert unrestricted and unrestricted[0].l0 == 2  # the premise: two changes are needed
    result = find_counterfactuals(model, x, Constraints(max_changes=1), method="sparse")
    assert not result
    assert "limit of 1 changed feature" in result.reason and "changes 2" in result.reason


def test_lock_reason_names_the_lock() -> None:
    model = _linear_model(intercept=1.0)
    x = SCHEMA.example_vector()
    result = find_counterfactuals(model, x, Constraints(locked=frozenset({"ejection_fraction", "serum_creatinine"})))
    assert not result and "lock on Ejection fraction, Serum creatinine" in result.reason


def test_when_no_single_limit_blocks_alone_the_reason_names_the_ones_that_do_together() -> None:
    """A heart-failure validation patient (85 years, ejection fraction 50 %) whom the shipped NAM flips only with a
    change beyond the cap and without the margin: relaxing either alone finds nothing, so "no change flips the
    prediction" would be false; the reason names both limits and the change."""
    from cfx_desktop.core.tabular.counterfactuals.engine import diagnose
    from cfx_desktop.core.tabular.models import load_model

    model = load_model("heart-failure-no-time-nam")
    values = dict(age=85, anaemia=1, creatinine_phosphokinase=910, diabetes=0, ejection_fraction=50,
                  high_blood_pressure=0, platelets=235000, serum_creatinine=1.3, serum_sodium=134, sex=1, smoking=0)
    x = np.array([values[n] for n in model.schema.names], dtype=float)
    reason = diagnose(model, x, Constraints(margin=0.1), None)
    assert "together the margin and the cap do" in reason and "serum sodium 134 ->" in reason, reason
    assert "no change of the features" not in reason and "Choose a margin of 0" in reason


class _CancelAfter(CancelToken):
    """Counts the search's cancellation checks and cancels itself at the ``after``-th: a cancel while it runs."""

    def __init__(self, after: int | None) -> None:
        super().__init__()
        self.after, self.checks = after, 0

    def raise_if_cancelled(self) -> None:
        self.checks += 1
        if self.checks == self.after:
            self.cancel()
        super().raise_if_cancelled()


def test_cancel_stops_a_running_search_at_its_next_check(setup) -> None:
    model, reference = setup
    x = SCHEMA.example_vector()
    uncancelled = _CancelAfter(None)
    find_counterfactuals(model, x, Constraints(), method="diverse", reference=reference, cancel=uncancelled)
    assert uncancelled.checks > 4, "the premise: the search checks its token as it runs"
    token = _CancelAfter(3)
    with pytest.raises(Cancelled):
        find_counterfactuals(model, x, Constraints(), method="diverse", reference=reference, cancel=token)
    assert token.checks == 3  # it stopped at the first check after the cancel, with most of its work undone


def test_a_gradient_search_that_creeps_stops_and_one_that_falls_goes_on() -> None:
    """The stop rule before any row crosses: a hinge falling as searches that succeed do (a trajectory logged
    from one) is never stopped; one creeping by 1 % a step (logged from a search that never crossed) is."""
    from cfx_desktop.core.tabular.counterfactuals.sparse import out_of_reach

    falling = [0.71, 0.626, 0.57, 0.534, 0.506, 0.435, 0.338, 0.229, 0.154, 0.04]
    assert not any(out_of_reach(falling[:t], t) for t in range(1, len(falling) + 1))
    creeping = [2.907, 2.311, 2.125, 1.874, 1.846, 1.761, 1.695, 1.481, 1.481, 1.477, 1.371, 1.195, 1.091, 1.04,
                1.032, 1.028, 1.012, 0.996, 0.986, 0.984, 0.984, 0.981, 0.961, 0.933, 0.88]
    stops = [t for t in range(1, len(creeping) + 1) if out_of_reach(creeping[:t], t)]
    assert stops and 8 <= stops[0] <= 20
    flat = [1.0] * 8  # nothing moved at all: out of reach once the first MIN_STEPS are done
    assert out_of_reach(flat, 8) and not out_of_reach(flat[:7], 7)


def test_treatment_directions_hold_for_recourse_and_run_the_other_way_for_a_risk_what_if(setup) -> None:
    """Recourse may only raise ejection fraction and bring creatinine toward its normal range (what treatment does,
    so a normal creatinine is never "treated"); a risk what-if for a
    patient predicted to survive asks about deterioration, so the same rules run the other way, and a user's own
    direction override is kept as set."""
    model, reference = setup
    ef, creatinine = SCHEMA.index("ejection_fraction"), SCHEMA.index("serum_creatinine")
    assert SCHEMA["ejection_fraction"].direction == Direction.INCREASE
    assert SCHEMA["serum_creatinine"].direction == Direction.TOWARD_NORMAL
    low, high = SCHEMA["serum_creatinine"].normal_range
    risk = Constraints().for_risk(SCHEMA)
    assert risk.direction(SCHEMA, "ejection_fraction") == Direction.DECREASE
    assert risk.direction(SCHEMA, "anaemia") == Direction.INCREASE
    kept = Constraints(directions={"ejection_fraction": Direction.ANY}).for_risk(SCHEMA)
    assert kept.direction(SCHEMA, "ejection_fraction") == Direction.ANY
    seen, deteriorates = {0: 0, 1: 0}, 0
    for x in synthetic_cohort(40, seed=4)[0]:
        desired = 0 if model.predict_proba(x)[0] >= model.threshold else 1
        for cf in find_counterfactuals(model, x, Constraints(max_shift=None), k=2, reference=reference):
            seen[desired] += 1
            if desired == 0:  # recourse: a reduced EF up (at most to 70 %), creatinine toward its normal range
                assert cf.values[ef] == x[ef] if x[ef] >= 50 else x[ef] <= cf.values[ef] <= 70
                c, moved = x[creatinine], cf.values[creatinine]
                assert (low <= moved <= c) if c > high else (c <= moved <= high) if c < low else moved == c
            else:  # a what-if runs EF the other way
                assert cf.values[ef] <= x[ef]
            deteriorates += desired == 1 and (cf.values[ef] < x[ef] or cf.values[creatinine] > x[creatinine])
    assert seen[0] and seen[1], f"the premise: both recourse and what-ifs were found ({seen})"
    assert deteriorates, "no what-if used the mirrored rules (EF falling or creatinine rising)"
