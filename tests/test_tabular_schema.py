from __future__ import annotations

import numpy as np
import pytest

from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE, HEART_FAILURE_NO_TIME
from cfx_desktop.core.tabular.datasets.heart_disease import HEART_DISEASE
from cfx_desktop.core.registry import RegistryError
from cfx_desktop.core.tabular.datasets import schema_for
from cfx_desktop.core.tabular.schema import Direction, Kind, Mutability, SchemaError


def test_heart_failure_schema_matches_the_issue() -> None:
    assert HEART_FAILURE.names == [
        "age", "anaemia", "creatinine_phosphokinase", "diabetes", "ejection_fraction", "high_blood_pressure",
        "platelets", "serum_creatinine", "serum_sodium", "sex", "smoking", "time",
    ]
    assert HEART_FAILURE["age"].mutability == Mutability.IMMUTABLE
    assert HEART_FAILURE["sex"].mutability == Mutability.IMMUTABLE
    assert HEART_FAILURE["serum_creatinine"].unit == "mg/dL"
    assert HEART_FAILURE["smoking"].direction == Direction.DECREASE
    assert "time" not in HEART_FAILURE_NO_TIME.names and "time" in HEART_FAILURE_NO_TIME.ignored


def test_every_feature_is_fully_described() -> None:
    for schema in (HEART_FAILURE, HEART_DISEASE):
        for f in schema.features:
            assert f.label and f.kind in Kind
            if f.kind in (Kind.INTEGER, Kind.CONTINUOUS):
                assert f.min < f.max and f.step > 0


def test_example_patients_are_valid_and_labelled() -> None:
    for schema in (HEART_FAILURE, HEART_FAILURE_NO_TIME, HEART_DISEASE):
        vector = schema.example_vector()
        assert vector.shape == (len(schema.features),)
        assert "Example" in schema.example_label and "not a real person" in schema.example_label
        assert schema.to_vector(schema.to_patient(vector)).tolist() == vector.tolist()


def test_encoding_and_errors() -> None:
    assert HEART_DISEASE["ChestPainType"].encode("ASY") == 3.0
    assert HEART_DISEASE["Sex"].encode("M") == 1.0
    assert HEART_FAILURE["sex"].encode("1") == 1.0
    with pytest.raises(SchemaError, match="not one of"):
        HEART_DISEASE["ChestPainType"].encode("XYZ")
    with pytest.raises(SchemaError, match="not a number"):
        HEART_FAILURE["age"].encode("sixty")
    with pytest.raises(SchemaError, match="clinical range"):
        HEART_FAILURE["serum_sodium"].check_range(300)
    with pytest.raises(SchemaError, match="missing value for age"):
        HEART_FAILURE.to_vector({k: v for k, v in HEART_FAILURE.example.items() if k != "age"})
    with pytest.raises(RegistryError, match="unknown dataset variant 'nope'; choose from: heart-failure-no-time"):
        schema_for("nope")


def test_snap_respects_kind_and_range() -> None:
    assert HEART_FAILURE["ejection_fraction"].snap(200) == 85
    assert HEART_FAILURE["anaemia"].snap(0.7) == 1.0
    assert HEART_FAILURE["serum_creatinine"].snap(1.23456) == pytest.approx(1.23)
    assert np.isclose(HEART_FAILURE["age"].snap(64.6), 65)
