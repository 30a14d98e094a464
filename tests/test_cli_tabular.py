"""`cfx-desktop explain-patient`: text and JSON output, constraints, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfx_desktop.cli import main
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE_NO_TIME as SCHEMA
def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["explain-patient", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_shape(capsys) -> None:
    code, out, _ = _run(capsys, "--example", "--json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) >= {"patient", "prediction", "model", "counterfactuals"}
    assert set(payload["prediction"]) >= {"probability", "threshold", "label"}
    assert payload["patient"]["serum_creatinine"] == 1.9
    assert payload["counterfactuals"], payload.get("reason")  # the example patient has a suggestion
    cf = payload["counterfactuals"][0]
    assert set(cf) >= {"values", "changes", "probability", "metrics", "robustness"}
    assert set(cf["robustness"]) == {"members_crossed", "members_total", "min_margin", "invalidation_rate"}
    assert cf["robustness"]["members_total"] == len(payload["robustness_judged_by"]) == 20
    assert len(payload["consensus_set"]) == 4 and set(payload["consensus_set"]) <= set(payload["robustness_judged_by"])
    assert cf["robustness"]["members_crossed"] >= 4  # at least the consensus set, each past its threshold
    assert set(cf["changes"][0]) == {"feature", "from", "to", "percentile_shift"}
    assert all(0 < c["percentile_shift"] <= payload["max_shift"] + 0.5 for c in cf["changes"]
               if isinstance(c["from"], float)), cf["changes"]  # the default cap holds for every numeric change
    assert cf["what_if"] is False and cf["text"]  # the patient is predicted death: recourse, worded
    assert (cf["tier"], cf["quorum"]) == ("consensus", None)  # the example patient: every consensus model moves
    assert (cf["probability"] < payload["prediction"]["threshold"]) == (payload["prediction"]["label"] == 1)


def test_single_model_mode_is_labelled_fragile_and_still_scored(capsys) -> None:
    code, out, _ = _run(capsys, "--example", "--json", "--single-model", "--margin", "0")
    payload = json.loads(out)
    assert code == 0 and "fragile" in payload["requirement"]
    assert payload["counterfactuals"], payload.get("reason")
    for cf in payload["counterfactuals"]:
        assert 1 <= cf["robustness"]["members_crossed"] <= cf["robustness"]["members_total"]
        assert cf["tier"] == "single model"


# a shipped-model patient (heart-failure validation row) whom no feasible change moves all 4 consensus models for
PARTIAL_PATIENT = ["age=65", "anaemia=0", "creatinine_phosphokinase=146", "diabetes=0", "ejection_fraction=20",
                   "high_blood_pressure=0", "platelets=162000", "serum_creatinine=1.3", "serum_sodium=129", "sex=1",
                   "smoking=1"]


def test_a_suggestion_only_part_of_the_set_agrees_on_is_marked_partial_and_can_be_refused(capsys) -> None:
    code, out, _ = _run(capsys, "--values", *PARTIAL_PATIENT, "--json")
    payload = json.loads(out)
    assert code == 0 and payload["counterfactuals"], payload.get("reason")
    for cf in payload["counterfactuals"]:
        assert (cf["tier"], cf["quorum"]) == ("partial", [3, 4])
        assert 3 <= cf["robustness"]["members_crossed"] < cf["robustness"]["members_total"]
    assert "partial-agreement tier" in payload["note"]
    code, out, _ = _run(capsys, "--values", *PARTIAL_PATIENT)
    assert "partial agreement: 3 of the 4 consensus models" in out and "less certain" in out
    code, out, _ = _run(capsys, "--values", *PARTIAL_PATIENT, "--json", "--full-agreement-only")
    payload = json.loads(out)
    assert not payload["counterfactuals"] and "every model of the set" in payload["reason"]


# a heart-failure validation row for whom no feasible change clears the margin for 3 of the 4 consensus models
NO_MARGIN_PATIENT = ["age=60", "anaemia=1", "creatinine_phosphokinase=156", "diabetes=1", "ejection_fraction=25",
                     "high_blood_pressure=1", "platelets=318000", "serum_creatinine=1.2", "serum_sodium=137", "sex=0",
                     "smoking=0"]


def test_a_suggestion_that_only_reaches_the_thresholds_is_marked_fragile(capsys) -> None:
    code, out, _ = _run(capsys, "--values", *NO_MARGIN_PATIENT, "--json")
    payload = json.loads(out)
    assert code == 0 and payload["counterfactuals"], payload.get("reason")
    assert all(cf["without_margin"] for cf in payload["counterfactuals"])
    assert "without the margin" in payload["note"] and "fragile" in payload["note"]
    code, out, _ = _run(capsys, "--values", *NO_MARGIN_PATIENT)
    assert "without the margin: fragile" in out
    code, out, _ = _run(capsys, "--values", *PARTIAL_PATIENT, "--json")  # the partial tier keeps its margin
    assert not any(cf["without_margin"] for cf in json.loads(out)["counterfactuals"])


def test_markers_are_changed_only_when_allowed(capsys) -> None:
    markers = {"creatinine_phosphokinase", "platelets"}
    _, out, _ = _run(capsys, "--example", "--json", "--method", "diverse", "--k", "4", "--single-model", "--margin", "0")
    found = json.loads(out)["counterfactuals"]
    assert found  # else "no marker changed" would hold of nothing
    assert not {c["feature"] for cf in found for c in cf["changes"]} & markers
    _, out, _ = _run(capsys, "--example", "--json", "--method", "diverse", "--k", "4", "--single-model", "--margin", "0",
                     "--allow-markers")
    assert {c["feature"] for cf in json.loads(out)["counterfactuals"] for c in cf["changes"]} & markers


def test_values_and_locks(capsys) -> None:
    values = [f"{k}={v}" for k, v in SCHEMA.example.items()]
    code, out, _ = _run(capsys, "--values", *values, "--lock", "creatinine_phosphokinase", "serum_creatinine",
                        "--method", "diverse", "--max-shift", "any", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["counterfactuals"], payload.get("reason")
    for cf in payload["counterfactuals"]:
        changed = {c["feature"] for c in cf["changes"]}
        assert not changed & {"creatinine_phosphokinase", "serum_creatinine", "age", "sex"}


def test_text_output(capsys) -> None:
    code, out, _ = _run(capsys, "--example")
    assert code == 0 and "prediction: p(death during follow-up)" in out


def test_out_of_range_value_is_a_clear_error(capsys) -> None:
    values = [f"{k}={v}" for k, v in SCHEMA.example.items() if k != "serum_sodium"] + ["serum_sodium=300"]
    code, _, err = _run(capsys, "--values", *values)
    assert code == 2 and "outside the clinical range" in err and "Traceback" not in err


def test_missing_and_unknown_values(capsys) -> None:
    code, _, err = _run(capsys, "--values", "age=60")
    assert code == 2 and "missing" in err
    code, _, err = _run(capsys, "--values", "agee=60")
    assert code == 2 and "unknown feature" in err


def test_bad_csv_and_row(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("age;sex\n60;1\n")
    code, _, err = _run(capsys, "--csv", str(bad))
    assert code == 2 and "bad.csv" in err and "semicolons" in err
    good = tmp_path / "good.csv"
    good.write_text(",".join(SCHEMA.names) + "\n" + ",".join(str(SCHEMA[n].encode(v)) for n, v in SCHEMA.example.items()) + "\n")
    code, _, err = _run(capsys, "--csv", str(good), "--row", "5")
    assert code == 2 and "out of range" in err
    code, _, err = _run(capsys, "--csv", str(good), "--row", "0")
    assert code == 2 and "numbered 1-1" in err  # rows are numbered as in the app's cohort table
    code, out, _ = _run(capsys, "--csv", str(good), "--row", "1")
    assert code == 0 and "prediction" in out
    code, _, err = _run(capsys, "--example", "--row", "3")  # said, not silently ignored
    assert code == 2 and "--row picks a patient of --csv" in err


def test_unknown_model_and_lock(capsys) -> None:
    code, _, err = _run(capsys, "--example", "--model", "nope")
    assert code == 2 and "nope" in err
    code, _, err = _run(capsys, "--example", "--lock", "weight")
    assert code == 2 and "unknown feature 'weight'" in err


@pytest.mark.parametrize("method", ["baseline", "nearest", "sparse"])
def test_every_method_runs(capsys, method: str) -> None:
    code, out, _ = _run(capsys, "--example", "--method", method, "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["counterfactuals"] or payload["reason"]
