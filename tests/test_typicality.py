"""An unusual patient is named as such: the plausibility verdict on a suggestion says whether the change or the
patient is unlike the training patients, and the panel, the CLI's JSON and the report warn about the patient.
Runs on the shipped model with a synthetic reference (no ../shared/data needed)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cfx_desktop.core.tabular.counterfactuals import Constraints, Reference
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.feasibility import Population
from cfx_desktop.core.tabular.counterfactuals.metrics import plausibility
from cfx_desktop.core.tabular.models import load_model
from cfx_desktop.core.tabular.typicality import assess, extreme_values
from cfx_desktop.core.tabular.wording import not_offered_reason, plausibility_text

MODEL = "heart-failure-no-time-mlp"


@pytest.fixture(scope="module")
def model():  # noqa: ANN201
    return load_model(MODEL)


@pytest.fixture(scope="module")
def reference(model) -> Reference:  # noqa: ANN001
    """300 patients drawn around the card's medians within its central quantiles: the example patient is one of
    the crowd, and a creatinine phosphokinase of 30,000 is nowhere near any of them."""
    rng = np.random.default_rng(0)
    population = Population.of_model(model)
    rows = np.repeat(model.schema.example_vector()[None], 300, axis=0)
    for j, ecdf in enumerate(population.ecdfs):
        if ecdf is not None:
            rows[:, j] = np.interp(rng.uniform(20, 80, len(rows)), np.linspace(0, 100, len(ecdf.raw)), ecdf.raw)
    return Reference.build(model, rows, "synthetic")


def _far_out(model) -> np.ndarray:  # noqa: ANN001
    x = model.schema.example_vector()
    x[model.schema.index("creatinine_phosphokinase")] = 30_000.0
    return x


def test_a_value_beyond_every_training_patient_is_named_without_a_reference(model) -> None:  # noqa: ANN001
    found = extreme_values(model, _far_out(model))
    assert any(beyond and "creatinine phosphokinase 30,000" in w and "above every training patient" in w for w, beyond in found)
    assert extreme_values(model, model.schema.example_vector()) == []
    typical = assess(model, model.schema.example_vector(), None)
    assert not typical.unusual and typical.words() == ""
    unusual = assess(model, _far_out(model), None)
    assert unusual.unusual and unusual.source == "outside the training range"
    assert "Unlike the training patients" in unusual.words() and "creatinine phosphokinase" in unusual.words()


def test_a_rare_value_inside_the_normal_range_is_not_called_abnormal(model) -> None:  # noqa: ANN001
    """Heart-failure patients rarely have a normal ejection fraction: 62 % is rare in the cohort, and the words say
    it is normal; a rare creatinine of 0.5 mg/dL (below the normal range) gets no such words."""
    schema = model.schema
    x = schema.example_vector().copy()
    population = Population.of_model(model)
    j = schema.index("ejection_fraction")
    rare_normal = next(v for v in range(55, 71) if population.ecdfs[j].percentile(v) >= 99.0)
    x[j] = rare_normal
    (words, beyond), = extreme_values(model, x)
    assert not beyond and "above 99 % of the training patients" in words
    assert "within the normal range 50-70 %" in words and "not abnormal" in words
    low = schema.example_vector().copy()
    k = schema.index("serum_creatinine")
    low[k] = float(population.ecdfs[k].raw[0])
    (words, _), = extreme_values(model, low)
    assert "serum creatinine" in words and "normal range" not in words


def test_with_reference_patients_the_local_outlier_factor_decides(model, reference) -> None:  # noqa: ANN001
    assert not assess(model, reference.X[0], reference).unusual
    found = assess(model, _far_out(model), reference)
    assert found.unusual and found.source == "local outlier factor"


def test_a_suggestion_for_an_unusual_patient_is_not_blamed_for_what_the_patient_brought(model, reference) -> None:  # noqa: ANN001
    """The same small change of ejection fraction: from a typical patient its end point is judged on its own;
    from a patient who is already an outlier, the verdict says the patient, not the change, is unusual."""
    schema = model.schema
    ef = schema.index("ejection_fraction")
    for x, patient_outlier in ((reference.X[0], False), (_far_out(model), True)):
        ctx = SearchContext.build(model, x, Constraints(), reference)
        v = x.copy()
        v[ef] += 5
        out = plausibility(replace(ctx), v, reference)
        assert bool(out["patient_outlier"]) is patient_outlier
        text = plausibility_text(out, schema)
        if patient_outlier:
            assert out["lof_outlier"], "the premise: the end point inherits the patient's outlier status"
            assert text.startswith("unusual patient") and "before any change" in text
            assert "already unlike" in not_offered_reason(out)
        else:
            assert not text.startswith(("unusual patient", "outlier"))
            assert not_offered_reason(out) is None
    lone = {"lof_outlier": 1.0, "patient_outlier": 0.0, "knn_distance": 9.0}
    assert plausibility_text(lone, schema).startswith("outlier") and "never seen" in not_offered_reason(lone)


def test_the_panel_warns_about_an_unusual_patient(qtbot, model) -> None:  # noqa: ANN001
    from cfx_desktop.core.tabular.counterfactuals import CounterfactualList
    from cfx_desktop.core.tabular.live import SuggestionResult
    from cfx_desktop.ui.patient.suggestions import SuggestionsPanel

    schema = model.schema
    panel = SuggestionsPanel()
    qtbot.addWidget(panel)
    x = _far_out(model)
    for typical, warned in ((assess(model, schema.example_vector(), None), False), (assess(model, x, None), True)):
        panel.show_result(SuggestionResult(model.name, x, Constraints(), "sparse", 1, CounterfactualList([], "none"),
                                           schema.outcome_words[0], None, True, 4, 1, typical), schema)
        assert ("Unusual patient" in panel.status.text()) is warned
    assert "creatinine phosphokinase 30,000" in panel.status.text()


def test_the_json_payload_says_whether_the_patient_is_typical(model, reference) -> None:  # noqa: ANN001
    from cfx_desktop.core.tabular.explanation import ExplainSettings, Explainer

    explainer = Explainer.load(model, ExplainSettings(), reference)
    payload, _ = explainer.explain(_far_out(model))
    shown = payload["patient_typicality"]
    assert shown["unusual"] and shown["source"] == "local outlier factor" and "Unlike the training patients" in shown["words"]
    payload, _ = explainer.explain(reference.X[0])
    assert not payload["patient_typicality"]["unusual"] and payload["patient_typicality"]["words"] == ""


def test_a_loaded_cohort_is_fitted_once_not_on_every_edit(model, reference) -> None:  # noqa: ANN001
    """The live path builds its reference from the loaded cohort on every request; the outlier model fitted on it
    (1.4 s for 16,000 patients) must be reused while the cohort is the same, and rebuilt when it changes."""
    from cfx_desktop.core.tabular.live import cohort_reference

    first = cohort_reference(model, reference.X.copy())
    assess(model, _far_out(model), first)
    again = cohort_reference(model, reference.X.copy())
    assert again is first and again._cache, "the same cohort keeps its reference and its fitted outlier model"
    changed = reference.X.copy()
    changed[0, 0] += 1
    assert cohort_reference(model, changed) is not first
