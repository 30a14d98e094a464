"""The CSV loader: every kind of bad file gives a CsvError naming file, line and column; good files load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cfx_desktop.core.tabular.data import CsvError, load_csv, load_dataset
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE, HEART_FAILURE_NO_TIME
from cfx_desktop.core.tabular.datasets.heart_disease import HEART_DISEASE
from tests.conftest import real_data_file

HEADER = ",".join(HEART_FAILURE.names + ["DEATH_EVENT"])
GOOD = "75,0,582,0,20,1,265000,1.9,130,1,0,4,1"
GOOD2 = "55,0,7861,0,38,0,263358.03,1.1,136,1,0,6,0"


def _write(tmp_path: Path, text: str | bytes, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _error(tmp_path: Path, text: str | bytes, **kw) -> CsvError:
    path = _write(tmp_path, text)
    with pytest.raises(CsvError) as info:
        load_csv(path, HEART_FAILURE, **kw)
    assert str(path) in str(info.value)  # every message names the file
    return info.value


def test_good_file_loads(tmp_path: Path) -> None:
    cohort = load_csv(_write(tmp_path, f"{HEADER}\n{GOOD}\n{GOOD2}\n"), HEART_FAILURE)
    assert cohort.X.shape == (2, 12) and cohort.y.tolist() == [1, 0]
    assert cohort.patient(0)["serum_creatinine"] == 1.9
    assert cohort.lines.tolist() == [2, 3]


def test_target_is_optional_and_column_order_free(tmp_path: Path) -> None:
    names = list(reversed(HEART_FAILURE.names))
    values = list(reversed(GOOD.split(",")[:-1]))
    cohort = load_csv(_write(tmp_path, ",".join(names) + "\n" + ",".join(values) + "\n"), HEART_FAILURE)
    assert cohort.y is None and cohort.X[0, 0] == 75


def test_missing_columns(tmp_path: Path) -> None:
    header = HEADER.replace("serum_sodium,", "")
    row = GOOD.replace(",130,", ",")
    err = _error(tmp_path, f"{header}\n{row}\n")
    assert "line 1" in str(err) and "missing column: serum_sodium" in str(err)


def test_unknown_column_and_unknown_target(tmp_path: Path) -> None:
    err = _error(tmp_path, f"{HEADER},DEATH\n{GOOD},1\n")
    assert "unknown column 'DEATH'" in str(err)
    err = _error(tmp_path, f"{HEADER}\n{GOOD[:-1]}2\n")
    assert "line 2, column 'DEATH_EVENT': outcome must be 0 or 1, found '2'" in str(err)


def test_required_target_missing(tmp_path: Path) -> None:
    header = HEADER.replace(",DEATH_EVENT", "")
    err = _error(tmp_path, f"{header}\n{GOOD[:-2]}\n", require_target=True)
    assert "column 'DEATH_EVENT': the outcome column is missing" in str(err)


def test_non_numeric_text(tmp_path: Path) -> None:
    err = _error(tmp_path, f"{HEADER}\n{GOOD}\n{GOOD2.replace('136', 'high')}\n")
    assert "line 3, column 'serum_sodium': 'high' is not a number" in str(err)


def test_nan_and_empty_cells(tmp_path: Path) -> None:
    err = _error(tmp_path, f"{HEADER}\n{GOOD.replace('1.9', 'NaN')}\n{GOOD2.replace('7861', '')}\n")
    assert "line 2, column 'serum_creatinine': empty or missing value" in str(err)
    assert "line 3, column 'creatinine_phosphokinase': empty or missing value" in str(err)
    assert err.total == 2


def test_out_of_clinical_range(tmp_path: Path) -> None:
    err = _error(tmp_path, f"{HEADER}\n{GOOD.replace(',130,', ',13,')}\n")
    assert "line 2, column 'serum_sodium'" in str(err) and "outside the clinical range 100-160 mEq/L" in str(err)
    err = _error(tmp_path, f"{HEADER}\n{GOOD.replace('75,0,', '75,3,', 1)}\n")
    assert "column 'anaemia'" in str(err) and "must be 0 or 1" in str(err)


def test_duplicate_header(tmp_path: Path) -> None:
    err = _error(tmp_path, f"{HEADER},age\n{GOOD},75\n")
    assert "line 1, column 'age': duplicate column name" in str(err)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    assert "the file is empty" in str(_error(tmp_path, ""))
    assert "the file is empty" in str(_error(tmp_path, "\n\n  \n"))
    assert "no patient rows" in str(_error(tmp_path, HEADER + "\n"))


def test_wrong_delimiter(tmp_path: Path) -> None:
    err = _error(tmp_path, HEADER.replace(",", ";") + "\n" + GOOD.replace(",", ";") + "\n")
    assert "separated by semicolons; expected commas" in str(err)
    err = _error(tmp_path, HEADER.replace(",", "\t") + "\n")
    assert "separated by tabs" in str(err)


def test_wrong_encoding(tmp_path: Path) -> None:
    err = _error(tmp_path, (HEADER + "\n" + GOOD + "\n").encode("utf-16"))
    assert "not a text CSV" in str(err)
    err = _error(tmp_path, (HEADER + ",note\n" + GOOD + ",café\n").encode("latin-1"))
    assert "not UTF-8" in str(err) and "line 2" in str(err)


def test_ragged_row_and_many_problems(tmp_path: Path) -> None:
    rows = "\n".join([GOOD + ",9"] + [GOOD.replace("130", "x")] * 30)
    err = _error(tmp_path, f"{HEADER}\n{rows}\n")
    assert "line 2: has 14 cells but the header has 13" in str(err)
    assert err.total == 31 and len(err.problems) == 20 and "and 23 more" in str(err)


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(CsvError, match="cannot read the file"):
        load_csv(tmp_path / "absent.csv", HEART_FAILURE)


def test_categorical_and_declared_missing() -> None:
    header = ",".join(HEART_DISEASE.names + ["HeartDisease"])
    text = f"{header}\n40,M,ATA,140,0,0,Normal,172,N,0.0,Up,0\n"
    with pytest.raises(CsvError, match="Cholesterol.*not measured"):
        load_csv("x.csv", HEART_DISEASE, text=text)
    cohort = load_csv("x.csv", HEART_DISEASE, text=text, missing_ok=True)
    assert np.isnan(cohort.X[0, HEART_DISEASE.index("Cholesterol")])
    assert cohort.patient(0)["ChestPainType"] == "ATA"
    with pytest.raises(CsvError, match="'ChestPainType': 'XX' is not one of TA, ATA, NAP, ASY"):
        load_csv("x.csv", HEART_DISEASE, text=text.replace("ATA", "XX"), missing_ok=True)


@pytest.mark.realdata
def test_real_datasets_load() -> None:
    hf = load_dataset(HEART_FAILURE, real_data_file("heart_failure_clinical_records_dataset.csv"))
    assert hf.X.shape == (299, 12) and int(hf.y.sum()) == 96
    assert load_dataset(HEART_FAILURE_NO_TIME, real_data_file("heart_failure_clinical_records_dataset.csv")).X.shape == (299, 11)
    hd = load_dataset(HEART_DISEASE, real_data_file("heart.csv"))
    assert hd.X.shape == (918, 11) and int(hd.y.sum()) == 508
    assert np.isnan(hd.X[:, HEART_DISEASE.index("Cholesterol")]).sum() == 172
