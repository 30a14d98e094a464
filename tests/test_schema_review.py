"""Own data, reviewed: every inferred tag says where it came from, nothing is silently changeable, and the
direction rules and feasible changes survive the schema JSON and the editor's edits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cfx_desktop.core.tabular.column_names import tags
from cfx_desktop.core.tabular.infer import InferenceError, apply_edits, infer_schema
from cfx_desktop.core.tabular.schema import Actionability, Direction, Kind, Mutability
from cfx_desktop.core.tabular.schema_io import read_schema, write_schema


def _pima_like(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 200
    rows = ["npreg,glu,bp,skin,bmi,ped,age,stage,mystery,type_"]
    for i in range(n):
        rows.append(",".join(str(v) for v in (rng.integers(0, 10), rng.integers(60, 200), rng.integers(50, 100),
                                                rng.integers(10, 50), round(rng.uniform(18, 45), 1),
                                                round(rng.uniform(0.08, 2.4), 3), rng.integers(21, 80),
                                                rng.integers(1, 5), round(rng.normal(5, 2), 2), "Yes" if i % 3 else "No")))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_name_and_data_rules_and_their_sources(tmp_path: Path) -> None:
    inference = infer_schema(_pima_like(tmp_path / "pima.csv"), "type_")
    schema = inference.schema
    assert not schema.reviewed
    by = {f.name: f for f in schema.features}
    assert by["npreg"].mutability == Mutability.IMMUTABLE and by["npreg"].tag_source.startswith("name rule")
    assert by["ped"].mutability == Mutability.IMMUTABLE  # a family-history score
    assert by["age"].mutability == Mutability.IMMUTABLE
    assert by["glu"].actionability == Actionability.TREATMENT_TARGET and by["bmi"].actionability == Actionability.TREATMENT_TARGET
    assert by["stage"].mutability == Mutability.LOCKABLE  # a histologic stage is never "lowered"
    assert by["mystery"].actionability == Actionability.MARKER and by["mystery"].tag_source.startswith("none")
    # nothing is changeable by default unless a name rule said so
    for f in schema.features:
        changeable = f.mutability == Mutability.MUTABLE and f.actionability != Actionability.MARKER
        assert not changeable or f.tag_source.startswith("name rule"), f
    assert all(f.feasible_change > 0 for f in schema.features if f.kind in (Kind.INTEGER, Kind.CONTINUOUS))
    assert "central 80 %" in by["glu"].feasible_note
    assert tags("histologic_grade", Kind.INTEGER, 4)[0] == Mutability.LOCKABLE
    assert tags("score", Kind.INTEGER, 4)[2].startswith("data")


def test_name_rules_give_the_way_treatment_moves_a_value_and_never_advise_getting_worse() -> None:
    """Directions from the name (cut down smoking, raise ejection fraction, lower LDL), camel-case names read as
    words, creatine kinase is no creatinine, and a yes/no diagnosis or a finding named after exercise is locked."""
    def tag(name: str, kind: Kind = Kind.CONTINUOUS) -> tuple:
        mutability, actionability, source, direction = tags(name, kind, 50)
        return mutability, actionability, direction

    assert tag("smoking", Kind.BINARY) == (Mutability.MUTABLE, Actionability.ACTIONABLE, Direction.DECREASE)
    assert tag("exercise_hours")[2] == Direction.INCREASE
    assert tag("ejection_fraction") == (Mutability.MUTABLE, Actionability.TREATMENT_TARGET, Direction.INCREASE)
    assert tag("LDL")[2] == tag("serum_creatinine")[2] == tag("RestingBP")[2] == Direction.DECREASE
    assert tag("serum_sodium")[2] == Direction.ANY  # corrected either way: its normal range decides, once given
    assert tag("creatinine_phosphokinase")[1] == Actionability.MARKER and tag("platelets")[1] == Actionability.MARKER
    assert tag("high_blood_pressure", Kind.BINARY)[:2] == (Mutability.LOCKABLE, Actionability.MARKER)
    assert tag("ExerciseAngina", Kind.BINARY)[:2] == (Mutability.LOCKABLE, Actionability.MARKER)
    assert tag("smoking_status", Kind.CATEGORICAL)[1] == Actionability.ACTIONABLE  # a habit, not a follow-up status


def test_a_habit_whose_values_are_words_keeps_its_direction_only_for_yes_and_no(tmp_path: Path) -> None:
    rows = ["smoker,smoking_status,age,y"] + [f"{'yes' if i % 2 else 'no'},{('current', 'never', 'former')[i % 3]},{40 + i},{i % 2}"
                                              for i in range(60)]
    (tmp_path / "habits.csv").write_text("\n".join(rows) + "\n")
    by = {f.name: f for f in infer_schema(tmp_path / "habits.csv", "y").schema.features}
    assert by["smoker"].categories == ("no", "yes") and by["smoker"].direction == Direction.DECREASE
    status = by["smoking_status"]  # "current" < "former" < "never" alphabetically: no order to cut down along
    assert status.direction == Direction.ANY and status.mutability == Mutability.LOCKABLE
    assert "locked until you set which way" in status.tag_source


def _with_follow_up(path: Path) -> Path:
    rng = np.random.default_rng(1)
    rows = ["age,ejection_fraction,time,death"] + [f"{rng.integers(40, 90)},{rng.integers(15, 70)},{rng.integers(4, 280)},{i % 2}"
                                                   for i in range(80)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_follow_up_time_is_proposed_as_left_out_and_can_be_taken_back_in(tmp_path: Path) -> None:
    """A follow-up time is known only after the outcome: a model that reads it learns the outcome from how long a
    patient was followed (the shipped heart-failure default leaves it out for that reason). Inference proposes it
    as left out and says why; "use" takes it back in, at its place, with a typical value for the example."""
    inference = infer_schema(_with_follow_up(tmp_path / "follow.csv"), "death")
    assert [f.name for f in inference.schema.features] == ["age", "ejection_fraction"]
    assert "time" in inference.schema.ignored and "time" in inference.left_out
    report = next(c for c in inference.columns if c.name == "time")
    assert report.role == "excluded" and "known only after the outcome" in report.reason and "tick Use" in report.reason
    taken = apply_edits(inference, {"time": {"use": True}})
    assert [f.name for f in taken.features] == ["age", "ejection_fraction", "time"] and "time" not in taken.ignored
    assert 4 <= float(taken.example["time"]) <= 280
    assert "time" in apply_edits(inference, {}).ignored


def test_the_editor_offers_a_left_out_follow_up_unticked(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QCheckBox

    from cfx_desktop.ui.patient.schema_columns import Col
    from cfx_desktop.ui.patient.schema_table import SchemaTable

    inference = infer_schema(_with_follow_up(tmp_path / "follow.csv"), "death")
    table = SchemaTable()
    qtbot.addWidget(table)
    table.fill(inference, {})
    row = next(r for r in range(table.rowCount()) if table.item(r, Col.NAME).text() == "time")
    use = table.cellWidget(row, Col.USE)
    assert isinstance(use, QCheckBox) and use.isEnabled() and not use.isChecked()
    assert table.edits(inference).get("time", {}) == {}
    from cfx_desktop.ui.patient.schema_columns import review_summary

    assert "left out as known only after the outcome: time" in review_summary(inference)
    use.setChecked(True)
    assert table.edits(inference)["time"] == {"use": True}
    assert "time" in [f.name for f in apply_edits(inference, table.edits(inference)).features]


def test_review_edits_directions_and_feasible_changes_round_trip(tmp_path: Path) -> None:
    inference = infer_schema(_pima_like(tmp_path / "pima.csv"), "type_")
    schema = apply_edits(inference, {"glu": {"direction": "decrease-only", "feasible_change": "40"},
                                     "mystery": {"mutability": "mutable", "actionability": "treatment target"}})
    assert schema.reviewed
    assert schema["glu"].direction == Direction.DECREASE and schema["glu"].feasible_change == 40.0
    assert schema["glu"].tag_source == "review: set by the user" and schema["mystery"].tag_source.startswith("review")
    write_schema(schema, tmp_path / "schema.json")
    back = read_schema(tmp_path / "schema.json")
    assert back == schema
    toward = apply_edits(inference, {"glu": {"direction": "toward normal", "normal_range": "70 to 140"}})
    assert toward["glu"].normal_range == (70, 140) and toward["glu"].direction == Direction.TOWARD_NORMAL
    write_schema(toward, tmp_path / "toward.json")
    assert read_schema(tmp_path / "toward.json") == toward
    # a one-way rule with a target range: glucose is lowered only from above 140, and never below 70
    target = apply_edits(inference, {"glu": {"direction": "decrease-only", "normal_range": "70-140"}})
    glu = target["glu"]
    assert glu.direction == Direction.DECREASE and glu.normal_range == (70, 140)
    assert glu.direction_bounds(180, glu.direction) == (70, 180) and glu.direction_bounds(120, glu.direction) == (120, 120)
    assert "while above its target range 70-140" in glu.describe_direction()
    write_schema(target, tmp_path / "target.json")
    assert read_schema(tmp_path / "target.json") == target
    # a feasible change as a share of the value, alone or with one in the unit (the smaller holds)
    share = apply_edits(inference, {"glu": {"feasible_change": "30; 25%"}})["glu"]
    assert (share.feasible_change, share.feasible_share) == (30.0, 0.25) and share.feasible_text() == "30; 25%"
    assert share.feasible_reach(200.0, 30.0) == 30.0 and share.feasible_reach(80.0, 30.0) == pytest.approx(20.0)
    assert share.describe_feasible() == "at most 30 mg/dL and at most 25% of its value"  # the unit read from the values
    only_share = apply_edits(inference, {"glu": {"feasible_change": "25%"}})
    write_schema(only_share, tmp_path / "share.json")
    assert read_schema(tmp_path / "share.json") == only_share and only_share["glu"].feasible_change == 0.0
    for bad in ("150%", "1,3", "1; 2"):  # a comma is no separator: "1,3" is never read as 1 and 3
        with pytest.raises(InferenceError, match="not a number >= 0, a share"):
            apply_edits(inference, {"glu": {"feasible_change": bad}})
    for bad, says in (({"direction": "toward normal", "normal_range": ""}, "needs a normal range"),
                      ({"direction": "toward normal", "normal_range": "high"}, "not two numbers"),
                      ({"direction": "toward normal", "normal_range": "140-70"}, "is empty")):
        with pytest.raises(InferenceError, match=says):
            apply_edits(inference, {"glu": bad})


def _column_file(path: Path, columns: dict[str, np.ndarray]) -> Path:
    n = len(next(iter(columns.values())))
    rows = [",".join([*columns, "y"])] + [",".join([*(f"{v[i]:g}" for v in columns.values()), str(i % 2)]) for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_treatment_target_stops_at_its_target_range_in_the_unit_its_values_show(tmp_path: Path) -> None:
    """A one-way rule alone let a suggestion lower glucose 180 -> 56 mg/dL (hypoglycaemia) or raise a normal
    sodium: an inferred treatment target gets its guideline range where the column's median fits one unit, and the
    tag says which unit it read; where none or several fit, there is no range and the tag says so."""
    rng = np.random.default_rng(3)
    n = 80
    sodium_values = rng.normal(137, 4, n).round()
    by = {f.name: f for f in infer_schema(_column_file(tmp_path / "labs.csv", {
        "serum_sodium": sodium_values, "glu": rng.integers(60, 200, n),
        "glucose_mmol": rng.normal(7, 2, n).round(1), "bp": rng.integers(50, 100, n), "systolic": rng.integers(100, 180, n),
        "haemoglobin": rng.normal(10, 1, n).round(1), "potassium": rng.normal(0.4, 0.05, n).round(3),
        "hdl_cholesterol": rng.normal(45, 10, n).round()}), "y").schema.features}
    sodium = by["serum_sodium"]
    assert (sodium.direction, sodium.normal_range, sodium.unit) == (Direction.TOWARD_NORMAL, (135, 145), "mmol/L")
    assert sodium.direction_bounds(137, sodium.direction) == (137, 137)  # a normal sodium is no target
    assert sodium.direction_bounds(128, sodium.direction) == (128, 145)
    assert f"the unit read from its values (median {np.median(sodium_values):.3g})" in sodium.tag_source
    glu = by["glu"]
    assert (glu.direction, glu.normal_range, glu.unit) == (Direction.DECREASE, (80, 130), "mg/dL")
    assert glu.direction_bounds(180, glu.direction) == (80, 180)  # lowered, never into hypoglycaemia
    assert by["glucose_mmol"].normal_range == (4.4, 7.2) and by["glucose_mmol"].unit == "mmol/L"
    assert by["bp"].normal_range == (70, 80)  # a median below 95 mmHg is a diastolic pressure (Pima's)
    assert by["systolic"].normal_range == (120, 130)
    assert by["hdl_cholesterol"].direction == Direction.INCREASE and by["hdl_cholesterol"].normal_range == (40, 60)
    anaemic = by["haemoglobin"]  # 10 is anaemic in g/dL and normal in mmol/L: no unit can be told
    assert anaemic.normal_range is None and "more than one unit (g/dL, mmol/L)" in anaemic.tag_source
    potassium = by["potassium"]  # a median of 0.4 fits no unit of potassium: moves either way, and says so
    assert potassium.normal_range is None and potassium.direction == Direction.ANY
    assert "fit no unit this app knows of potassium; set its normal range in the editor" in potassium.tag_source


def test_zeros_no_measurement_can_have_are_read_as_not_measured(tmp_path: Path) -> None:
    """Pima's table writes 0 for an unmeasured glucose or blood pressure: inference reads such zeros as missing
    where the column's other values fit one unit of what its name says (no glucose is 0), says so in the column's
    notes, and leaves zeros alone elsewhere (an insulin of 0 is no analyte the app knows)."""
    from cfx_desktop.core.tabular.data import load_dataset

    rng = np.random.default_rng(4)
    n = 120
    glucose = np.where(np.arange(n) % 20 == 0, 0, rng.integers(60, 200, n))
    insulin = np.where(np.arange(n) % 2 == 0, 0, rng.integers(20, 300, n))
    path = _column_file(tmp_path / "zeros.csv", {"glucose": glucose, "insulin": insulin, "age": rng.integers(21, 80, n)})
    inference = infer_schema(path, "y")
    by = {f.name: f for f in inference.schema.features}
    assert by["glucose"].zero_is_missing and not by["insulin"].zero_is_missing
    assert by["glucose"].min > 0 and float(inference.schema.example["glucose"]) == pytest.approx(np.median(glucose[glucose > 0]), abs=1)
    report = next(c for c in inference.columns if c.name == "glucose")
    assert "0 in 6 row(s) read as not measured (no glucose is 0)" in report.reason and report.missing == pytest.approx(6 / n)
    cohort = load_dataset(inference.schema, path)
    column = cohort.X[:, [f.name for f in inference.schema.features].index("glucose")]
    assert np.isnan(column).sum() == 6 and np.nanmin(column) >= 60


def test_inferred_labels_read_as_words_and_keep_abbreviations_in_a_sentence() -> None:
    """A clinician reads "Diabetes pedigree function" and "BMI moves 23 percentile points", not
    "diabetespedigreefunction" or "bmi": camel case becomes words, abbreviations keep their capitals (also inside a
    sentence), and a term such as "HbA1c" or "eGFR" is left whole."""
    from cfx_desktop.core.tabular.infer import label_of
    from cfx_desktop.core.tabular.schema import Feature, in_sentence

    assert [label_of(n) for n in ("DiabetesPedigreeFunction", "RestingBP", "ST_Slope", "serum_sodium", "HbA1c", "eGFR")] == [
        "Diabetes pedigree function", "Resting BP", "ST slope", "Serum sodium", "HbA1c", "eGFR"]
    assert [in_sentence(x) for x in ("BMI", "Serum sodium", "LDL cholesterol", "eGFR")] == ["BMI", "serum sodium",
                                                                                            "LDL cholesterol", "eGFR"]
    assert Feature("bmi", "BMI", Kind.CONTINUOUS, 15, 60).in_sentence == "BMI"
