"""Suggestions a clinician would accept: feasible changes under a cap, direction rules, differing options, honest
wording (risk what-ifs), and a plausibility check whose memory does not grow with n x n."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

from cfx_desktop.core.tabular.counterfactuals import Constraints, Reference, find_counterfactuals
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT, Ecdf, Population
from cfx_desktop.core.tabular.counterfactuals.metrics import plausibility
from cfx_desktop.core.tabular.counterfactuals.sparse import jaccard_distance
from cfx_desktop.core.tabular.model_set import load_model_set
from cfx_desktop.core.tabular.models import load_model
from cfx_desktop.core.tabular.schema import Direction
from cfx_desktop.core.tabular.wording import change_text, is_what_if, plausibility_text, suggestion_text

MODEL = "heart-failure-no-time-mlp"


@pytest.fixture(scope="module")
def model():  # noqa: ANN201
    return load_model(MODEL)


def test_percentiles_are_mid_ranks_and_the_window_respects_both_limits(model) -> None:  # noqa: ANN001
    ecdf = Ecdf.of(np.quantile(np.arange(101.0), np.linspace(0, 1, 101)))
    assert ecdf.percentile(50.0) == pytest.approx(50.0) and ecdf.percentile(-5.0) == 0 and ecdf.percentile(500.0) == 100
    population = Population.of_model(model)
    assert population.known, "the shipped cards carry the training patients' quantiles"
    j = model.schema.index("serum_creatinine")
    low, high = population.window(j, 9.0, DEFAULT_MAX_SHIFT)
    assert 9.0 - low <= population.feasible_change(j) + 1e-9  # 9.0 cannot become an ordinary value
    assert low > 3.0 and high == pytest.approx(9.0 + population.feasible_change(j))  # above the data the cap cannot bind
    x = model.schema.example_vector()
    lo, hi = population.window(model.schema.index("ejection_fraction"), x[model.schema.index("ejection_fraction")], 30.0)
    v = x.copy()
    v[model.schema.index("ejection_fraction")] = hi
    assert population.shifts(x, v).max() == pytest.approx(30.0, abs=1.0)


def test_no_suggestion_moves_a_feature_past_the_cap_and_an_infeasible_only_flip_is_said(model) -> None:  # noqa: ANN001
    schema = model.schema
    x = schema.example_vector()
    x[schema.index("serum_creatinine")] = 9.0
    population = Population.of_model(model)
    models = load_model_set(schema.name, per_architecture=1)
    for cap in (30.0, DEFAULT_MAX_SHIFT):
        found = find_counterfactuals(model, x, Constraints(margin=0.0, max_shift=cap), k=3, model_set=models)
        for cf in found:
            assert population.shifts(x, cf.values).max() <= cap + 0.5, change_text(schema, cf)
            assert abs(cf.values[schema.index("serum_creatinine")] - 9.0) <= population.feasible_change(schema.index("serum_creatinine"))
    # only creatinine may change: the flip needs an ordinary creatinine, which no treatment reaches from 9.0
    others = frozenset(n for n in schema.names if n != "serum_creatinine")
    blocked = find_counterfactuals(model, x, Constraints(locked=others, margin=0.0), model_set=None)
    free = find_counterfactuals(model, x, Constraints(locked=others, margin=0.0, max_shift=None), model_set=None)
    assert free, "without limits the model would need some creatinine"
    assert population.shifts(x, free[0].values).max() > DEFAULT_MAX_SHIFT or abs(free[0].values[schema.index("serum_creatinine")] - 9) > \
        population.feasible_change(schema.index("serum_creatinine"))
    assert not blocked and "larger than a treatment could bring about" in blocked.reason, blocked.reason
    assert "percentile points" in blocked.reason
    if abs(free[0].values[schema.index("serum_creatinine")] - 9) > population.feasible_change(schema.index("serum_creatinine"), 9.0):
        # the limit it breaks is named, so a shift of few percentile points (9.0 is above the 99th) is not read as small
        assert "beyond the feasible change of at most" in blocked.reason, blocked.reason
        # and only "any size" lifts a feasible change: a larger percentile cap would still hide the flip
        assert "Choose 'any size' under 'How big a change' (--max-shift any)" in blocked.reason, blocked.reason
    else:
        assert "Choose a bigger change under 'How big a change' (--max-shift)" in blocked.reason, blocked.reason


def test_creatinine_falls_by_at_most_half_of_its_value(model) -> None:  # noqa: ANN001
    """A concentration changes in proportion: from 1.9 mg/dL a treatment reaches at best about 0.95, not 0.6 (the
    data's 1.3 mg/dL span would allow that), while at 9.0 the span in the unit is the tighter limit."""
    schema = model.schema
    j = schema.index("serum_creatinine")
    population = Population.of_model(model)
    assert population.feasible_change(j, 1.9) == pytest.approx(0.95)
    assert population.feasible_change(j, 9.0) == pytest.approx(population.feasible_change(j))
    assert population.feasible_change(j) < 3.0
    assert population.window(j, 1.9, None)[0] == pytest.approx(0.95)
    x = schema.example_vector()
    assert x[j] == 1.9
    x[schema.index("ejection_fraction")] = 45  # creatinine is the lever left: the search leans on it
    found = find_counterfactuals(model, x, Constraints(), k=3, model_set=None)
    assert found
    for cf in found:
        assert cf.values[j] >= 0.95 - 1e-9, change_text(schema, cf)
    v = x.copy()
    v[j] = 0.8
    said = SearchContext.build(model, x, Constraints()).infeasible(v)
    assert said and "50% of the present value, set in the schema" in said[0], said


def test_direction_rules_hold(model) -> None:  # noqa: ANN001
    schema = model.schema
    x = schema.example_vector()
    rules = {"ejection_fraction": Direction.DECREASE, "serum_sodium": Direction.DECREASE}
    found = find_counterfactuals(model, x, Constraints(directions=rules, max_shift=None), k=3, model_set=None)
    for cf in found:
        assert cf.values[schema.index("ejection_fraction")] <= x[schema.index("ejection_fraction")]
        assert cf.values[schema.index("serum_sodium")] <= x[schema.index("serum_sodium")]
    ctx = SearchContext.build(model, x, Constraints(directions=rules))
    assert ctx.hi[schema.index("ejection_fraction")] == x[schema.index("ejection_fraction")]


def test_toward_normal_corrects_a_low_sodium_never_past_its_range_and_leaves_a_normal_one(model) -> None:  # noqa: ANN001
    """Serum sodium is treated toward 135-145 mEq/L: a low value may rise to at most 145 (never 147), a normal one is
    no treatment target, and a risk what-if may take it out of the range either way."""
    schema = model.schema
    sodium = schema.index("serum_sodium")
    feature = schema["serum_sodium"]
    assert feature.direction == Direction.TOWARD_NORMAL and feature.normal_range == (135, 145)
    assert feature.direction_bounds(128, feature.direction) == (128, 145)
    assert feature.direction_bounds(150, feature.direction) == (135, 150)
    assert feature.direction_bounds(138, feature.direction) == (138, 138)
    x = schema.example_vector()
    x[sodium] = 128
    free = Constraints(max_shift=None, locked=frozenset({"ejection_fraction", "serum_creatinine", "anaemia",
                                                         "high_blood_pressure", "smoking"}))
    ctx = SearchContext.build(model, x, free)
    assert (ctx.lo[sodium], ctx.hi[sodium]) == (128, 145)
    assert free.violations(schema, x, np.where(np.arange(len(x)) == sodium, 147, x)) == [
        "serum_sodium moves only toward its normal range 135-145 mEq/L"]
    for cf in find_counterfactuals(model, x, free, k=3, model_set=None):
        assert 128 <= cf.values[sodium] <= 145
    x[sodium] = 138
    assert SearchContext.build(model, x, free).hi[sodium] == 138 == SearchContext.build(model, x, free).lo[sodium]
    risk = free.for_risk(schema)
    assert risk.direction(schema, "serum_sodium") == Direction.ANY


def test_a_one_way_treatment_target_moves_only_from_outside_its_target_range_and_never_past_it(model) -> None:  # noqa: ANN001
    """Ejection fraction is raised by therapy only while reduced (below 50 %) and at most to 70 %; resting blood
    pressure is lowered only while above 130 mm Hg and never below 120. A value already in the range is no target
    ("raise ejection fraction 50 -> 60 %" is not advice), and a risk what-if, which runs the rule the other way, is
    not bounded by it."""
    from cfx_desktop.core.tabular.datasets.heart_disease import HEART_DISEASE

    schema = model.schema
    ef = schema["ejection_fraction"]
    assert ef.direction == Direction.INCREASE and ef.normal_range == (50, 70)
    assert ef.direction_bounds(30, Direction.INCREASE) == (30, 70)
    assert ef.direction_bounds(55, Direction.INCREASE) == (55, 55)
    assert ef.direction_bounds(55, Direction.DECREASE) == (-np.inf, 55)  # deterioration: the what-if's rule
    assert "while below its target range 50-70 %" in ef.describe_direction()
    bp = HEART_DISEASE["RestingBP"]
    assert bp.direction == Direction.DECREASE
    assert bp.direction_bounds(150, Direction.DECREASE) == (120, 150)
    assert bp.direction_bounds(125, Direction.DECREASE) == (125, 125)
    j = schema.index("ejection_fraction")
    free = Constraints(max_shift=None)
    x = schema.example_vector()
    x[j] = 30
    assert SearchContext.build(model, x, free).hi[j] == 70
    assert free.violations(schema, x, np.where(np.arange(len(x)) == j, 75, x)) == [
        "ejection_fraction may only increase, while below its target range 50-70 %, and at most to 70"]
    for cf in find_counterfactuals(model, x, free, k=3, model_set=None):
        assert 30 <= cf.values[j] <= 70
    x[j] = 55
    ctx = SearchContext.build(model, x, free)
    assert ctx.lo[j] == ctx.hi[j] == 55
    risk = SearchContext.build(model, x, free.for_risk(schema))
    assert risk.lo[j] < 55 == risk.hi[j]


def test_options_differ_in_the_features_they_change(model) -> None:  # noqa: ANN001
    schema = model.schema
    x = schema.example_vector()
    found = find_counterfactuals(model, x, Constraints(margin=0.0, max_shift=None), k=3, model_set=None)
    assert len(found) >= 2, found.reason
    ctx = SearchContext.build(model, x, Constraints(max_shift=None))
    pairs = [jaccard_distance(ctx, a.values, b.values) for i, a in enumerate(found) for b in found[i + 1:]]
    assert min(pairs) >= 0.5 or found.note, ([change_text(schema, c) for c in found], found.note)
    assert found.distinct_sets == len(found) or found.note


def test_findings_are_worded_and_a_favourable_patient_gets_risk_what_ifs(model) -> None:  # noqa: ANN001
    schema = model.schema
    x = schema.example_vector()
    x[schema.index("high_blood_pressure")] = 1
    x[schema.index("ejection_fraction")] = 60
    x[schema.index("serum_creatinine")] = 0.9
    x[schema.index("serum_sodium")] = 140
    p = float(model.predict_proba(x[None])[0])
    assert p < model.threshold, "premise: this patient is predicted to survive"
    found = find_counterfactuals(model, x, Constraints(max_shift=None), k=2, model_set=None)
    assert found, found.reason
    outcome = schema.outcome_words[1]
    assert is_what_if(schema, outcome)
    for cf in found:
        text = suggestion_text(schema, cf, outcome)
        assert text.startswith("the prediction would turn to death if "), text
        assert "lower " not in text and "raise " not in text and "bring " not in text, text  # nothing reads as advice
        numeric = [c for c in cf.changes if c.delta is not None and not c.finding]
        assert all(("fell to <=" if c.delta < 0 else "rose to >=") in text for c in numeric[:1]), text
    recourse_patient = schema.example_vector()
    recourse_patient[schema.index("anaemia")] = 1
    cf = find_counterfactuals(model, recourse_patient, Constraints(locked=frozenset(n for n in schema.names if n != "anaemia"),
                                                                   max_shift=None), model_set=None)
    if cf:  # when removing anaemia alone flips it, it is worded as a state, not "lower anaemia 1 -> 0"
        assert change_text(schema, cf[0]) == "without anaemia"
    from cfx_desktop.core.tabular.counterfactuals.types import Change

    assert Change("anaemia", "Anaemia", "", 1, 0, -1.0, True).describe() == "without anaemia"


def test_plausibility_judges_the_change_among_patients_like_this_one(model) -> None:  # noqa: ANN001
    schema = model.schema
    rng = np.random.default_rng(0)
    x = schema.example_vector()
    reference = np.repeat(x[None], 300, axis=0)
    j = schema.index("serum_creatinine")
    reference[:, j] = rng.lognormal(np.log(1.2), 0.3, 300)  # ordinary creatinine, everyone the patient's age and sex
    reference[:, schema.index("ejection_fraction")] = rng.integers(20, 60, 300)
    ref = Reference.build(model, reference)
    ctx = SearchContext.build(model, x, Constraints(max_shift=None), ref)
    big = x.copy()
    big[j] = 0.5
    small = x.copy()
    small[j] = 1.7
    assert plausibility(ctx, big, ref)["conditional_shift"] > DEFAULT_MAX_SHIFT
    assert plausibility_text(plausibility(ctx, big, ref), schema).startswith(("large change", "outlier"))
    assert plausibility(ctx, small, ref)["conditional_shift"] < plausibility(ctx, big, ref)["conditional_shift"]


def test_a_large_reference_needs_no_n_by_n_memory(model) -> None:  # noqa: ANN001
    """20,000 reference patients: the n x n x d array the first version built would need ~35 GB; the tree-based
    LOF and the O(n) change check stay far below 300 MB."""
    schema = model.schema
    rng = np.random.default_rng(1)
    lo = np.array([f.min for f in schema.features])
    hi = np.array([f.max for f in schema.features])
    X = np.round(rng.uniform(lo, hi, (20_000, len(lo))))
    ref = Reference(X, rng.uniform(0, 1, len(X)), model.threshold, "synthetic")
    x = schema.example_vector()
    ctx = SearchContext.build(model, x, Constraints(), None)
    v = x.copy()
    v[schema.index("ejection_fraction")] += 5
    tracemalloc.start()
    out = plausibility(replace(ctx), v, ref)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert {"lof_outlier", "knn_distance", "conditional_shift"} <= set(out)
    assert peak < 300e6, f"peak {peak / 1e6:.0f} MB"


def test_changes_stay_within_the_cap_among_patients_of_this_age_and_sex(model) -> None:  # noqa: ANN001
    """A change that is ordinary in the whole population can be extreme among patients like this one: the search
    limits both, so the plausibility column never has to call an offered row a large change."""
    schema = model.schema
    rng = np.random.default_rng(0)
    x = schema.example_vector()
    age, sex, ef = schema.index("age"), schema.index("sex"), schema.index("ejection_fraction")
    n = 400
    X = np.repeat(x[None], n, axis=0)
    X[:, age] = rng.uniform(40, 95, n)
    X[:, sex] = rng.integers(0, 2, n)
    for name, (low, high) in {"ejection_fraction": (15, 70), "serum_creatinine": (0.6, 3.0), "serum_sodium": (125, 146)}.items():
        X[:, schema.index(name)] = rng.uniform(low, high, n)
    X[:, ef] = np.round(X[:, ef])
    peers_of_x = (np.abs(X[:, age] - x[age]) < 6) & (X[:, sex] == x[sex])
    X[peers_of_x, ef] = np.round(rng.normal(x[ef] + 3, 2, peers_of_x.sum()))  # among peers, ejection fraction barely varies
    reference = Reference.build(model, X, "synthetic cohort")
    with_peers = SearchContext.build(model, x, Constraints(), reference)
    without = SearchContext.build(model, x, Constraints(), None)
    assert with_peers.peers is not None and with_peers.peers.size == 80  # the nearest 20 % in age, same sex
    assert with_peers.hi[ef] < without.hi[ef]  # the peers' spread narrows the window
    found = find_counterfactuals(model, x, Constraints(margin=0.0), k=3, reference=reference, model_set=None)
    assert len(found), found.reason
    for cf in found:
        assert cf.metrics.get("conditional_shift", 0.0) <= DEFAULT_MAX_SHIFT + 0.5, change_text(schema, cf)
        assert not plausibility_text(cf.metrics, schema, DEFAULT_MAX_SHIFT).startswith("large change")


def test_the_form_says_each_schema_feasible_change(qtbot) -> None:  # noqa: ANN001
    from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME
    from cfx_desktop.ui.patient.form import PatientForm

    form = PatientForm()
    qtbot.addWidget(form)
    form.set_schema(HEART_FAILURE_NO_TIME, HEART_FAILURE_NO_TIME.example_vector(), frozenset())
    tips = {row.feature.name: row.label.toolTip() for row in form.rows}
    assert "moves it at most 20 % (its feasible change" in tips["ejection_fraction"]
    assert "moves it at most 50% of its value" in tips["serum_creatinine"]
    assert "feasible change" not in tips["serum_sodium"]  # the data's default: no schema figure to state


def test_the_robustness_grade_reads_in_words_on_paper() -> None:
    """The report once wrote "18/20 models, noise 0% (partial)", which read as the partial-agreement tier."""
    from cfx_desktop.core.tabular.wording import robustness_grade_words

    def r(crossed: int, noise: float = 0.0) -> dict:
        return {"members_crossed": crossed, "members_total": 20, "invalidation_rate": noise, "min_margin": 0.1}

    assert robustness_grade_words(r(20)) == " (every model)"
    assert robustness_grade_words(r(20, 0.3)) == " (every model; re-measuring often undoes it)"
    assert robustness_grade_words(r(18)) == " (most models, not all)"
    assert robustness_grade_words(r(9)) == " (fragile: half of the models or fewer)"
    assert robustness_grade_words({}) == "" and "partial" not in robustness_grade_words(r(18))
