"""The cohort view's numbers: predictions with the set's spread, the confusion matrix, and global recourse (which
single changes and pairs flip how many patients predicted to have the event, at what cost; exportable as CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import numpy as np
import pytest

from cfx_desktop.core.cancel import CancelToken, Cancelled
from cfx_desktop.core.tabular.counterfactuals import Constraints, find_counterfactuals
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME as SCHEMA
from cfx_desktop.core.tabular.live import default_model_name
from cfx_desktop.core.tabular.model_set import CONSENSUS_MEMBERS, load_model_set
from cfx_desktop.core.tabular.models import load_model
from cfx_desktop.core.tabular.recourse import global_recourse, predict_cohort
from cfx_desktop.sessions.patient import PatientSession
from tests.tabular_fixtures import synthetic_cohort

NAME = default_model_name()


@pytest.fixture(scope="module")
def cohort():
    X, y = synthetic_cohort(60, seed=8)
    return X, y


def test_cohort_predictions_carry_the_set_spread_and_the_confusion_matrix(cohort) -> None:
    X, y = cohort
    result = predict_cohort(NAME, X, y)
    model = load_model(NAME)
    np.testing.assert_allclose(result.probability, model.predict_proba(X))
    assert (result.set_low <= result.probability + 1e-9).all() and (result.probability <= result.set_high + 1e-9).all()
    assert result.set_size == len(load_model_set(SCHEMA.name)) > 1
    c = result.confusion()
    assert sum(c.values()) == len(y) and c["tp"] + c["fp"] == int(result.predicted.sum())
    fpr, tpr = result.roc_point()
    assert 0 <= fpr <= 1 and 0 <= tpr <= 1
    assert predict_cohort(NAME, X).confusion() is None  # no outcome column: no matrix


def test_global_recourse_counts_flips_that_the_search_confirms(cohort) -> None:
    X, _ = cohort
    constraints = Constraints(margin=0.05)
    result = global_recourse(NAME, X, constraints, consensus=True)
    model = load_model(NAME)
    assert result.population == int((model.predict_proba(X) >= model.threshold).sum()) > 0
    assert result.actions and all(0 <= a.flipped <= result.population for a in result.actions)
    assert [a.flipped for a in result.actions] == sorted((a.flipped for a in result.actions), reverse=True)
    assert any(len(a.features) == 2 for a in result.actions), "pairs are evaluated"
    frozen = {f.label for f in SCHEMA.features if constraints.is_frozen(SCHEMA, f.name)}
    assert not {label for a in result.actions for label in a.features} & frozen
    # cross-check with the suggestion engine (another implementation): every patient the best single change flips
    # on the grid has a one-change consensus suggestion too
    singles = [a for a in result.actions if len(a.features) == 1]
    consensus_set = load_model_set(SCHEMA.name, per_architecture=CONSENSUS_MEMBERS)
    at_risk = X[model.predict_proba(X) >= model.threshold]
    one_change = sum(bool(find_counterfactuals(model, x, replace(constraints, max_changes=1), model_set=consensus_set,
                                               diagnose_empty=False)) for x in at_risk)
    assert max(a.flipped for a in singles) <= one_change
    rows = list(csv.reader(io.StringIO(result.to_csv())))
    assert rows[0][:3] == ["action", "patients_flipped", "population"] and len(rows) == len(result.actions) + 1


def test_global_recourse_stops_when_cancelled_while_it_runs(cohort) -> None:
    token = CancelToken()
    steps: list[float] = []

    def progress(fraction: float, message: str = "", payload=None) -> None:  # noqa: ANN001
        steps.append(fraction)
        token.cancel()  # after the first action is scored, as Cancel pressed mid-run

    with pytest.raises(Cancelled):
        global_recourse(NAME, cohort[0], Constraints(), progress=progress, cancel=token)
    assert len(steps) == 1 and 0 < steps[0] < 1  # it had started, and scored nothing after the cancel


def test_the_session_keeps_cohort_results_only_for_its_cohort_and_model(cohort) -> None:
    from cfx_desktop.core.tabular.data import Cohort

    X, y = cohort
    session = PatientSession()
    session.set_cohort(Cohort(SCHEMA, X, y, "synthetic.csv", np.arange(2, len(X) + 2)))
    name, cohort_X, cohort_y = session.cohort_request()
    result = predict_cohort(name, cohort_X, cohort_y)
    session.set_architecture("nam")
    assert not session.accept_cohort_prediction(result)  # made for the MLP
    assert session.accept_cohort_prediction(predict_cohort(*session.cohort_request()))
    session.set_cohort(Cohort(SCHEMA, X.copy(), y, "other.csv", np.arange(2, len(X) + 2)))
    assert session.cohort_prediction is None
