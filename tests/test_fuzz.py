"""Fuzzing (hypothesis, 1000 cases each): only the documented error type may escape from the loaders and the
form's value handling."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from cfx_desktop.core.imaging.io.load import ImageLoadError, load_image
from cfx_desktop.core.tabular.data import CsvError, load_csv
from cfx_desktop.core.tabular.datasets.heart_failure import HEART_FAILURE
from cfx_desktop.core.tabular.datasets.heart_disease import HEART_DISEASE
from cfx_desktop.core.tabular.schema import SchemaError
CASES = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

HEADER = ",".join(HEART_FAILURE.names + ["DEATH_EVENT"])
GOOD_ROW = "75,0,582,0,20,1,265000,1.9,130,1,0,4,1"
cells = st.one_of(st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True).map(str),
                  st.integers(-10**9, 10**9).map(str), st.sampled_from(["", "NaN", "1e400", "-0", "0x1F", " 1 ", "1,5", '"']))


@CASES
@given(st.text(max_size=400))
def test_csv_loader_random_text(text: str) -> None:
    try:
        load_csv("fuzz.csv", HEART_FAILURE, text=text)
    except CsvError:
        pass


@CASES
@given(st.lists(st.lists(cells, min_size=0, max_size=15), min_size=1, max_size=6), st.booleans())
def test_csv_loader_structured_rows(rows: list[list[str]], keep_header: bool) -> None:
    lines = ([HEADER] if keep_header else []) + [",".join(r) for r in rows] + [GOOD_ROW]
    try:
        cohort = load_csv("fuzz.csv", HEART_FAILURE, text="\n".join(lines))
    except CsvError as exc:
        assert exc.problems
        return
    assert np.isfinite(cohort.X).all()
    for j, feature in enumerate(HEART_FAILURE.features):
        assert (cohort.X[:, j] >= feature.min).all() and (cohort.X[:, j] <= feature.max).all()


@CASES
@given(st.binary(max_size=2048))
def test_image_loader_random_bytes(data: bytes) -> None:
    try:
        loaded = load_image("fuzz.bin", data=data)
    except ImageLoadError:
        return
    assert loaded.pixels.ndim == 2 and np.isfinite(loaded.pixels).all()


def _encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 48), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


PNG, JPEG = _encoded("PNG"), _encoded("JPEG")


@CASES
@given(st.sampled_from(["png", "jpeg"]), st.floats(0, 1), st.binary(max_size=16), st.integers(0, 4000))
def test_image_loader_truncated_and_damaged(kind: str, cut: float, noise: bytes, where: int) -> None:
    data = PNG if kind == "png" else JPEG
    damaged = data[: int(len(data) * cut)]
    if noise and len(damaged) > 20:
        at = 20 + where % (len(damaged) - 20)
        damaged = damaged[:at] + noise + damaged[at + len(noise):]
    try:
        loaded = load_image(f"fuzz.{kind}", data=damaged)
    except ImageLoadError:
        return
    assert loaded.pixels.ndim == 2


@pytest.fixture(scope="module")
def dicom_bytes(tmp_path_factory) -> bytes:
    from tests.imaging_fixtures import write_dicom

    path = tmp_path_factory.mktemp("dcm") / "a.dcm"
    write_dicom(path, np.arange(32 * 24, dtype=np.uint16).reshape(32, 24) * 4, window=(1500.0, 3000.0))
    return path.read_bytes()


@CASES
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12), st.floats(0.2, 1.0))
def test_image_loader_malformed_dicom(dicom_bytes: bytes, flips: list[tuple[int, int]], keep: float) -> None:
    data = bytearray(dicom_bytes[: max(132, int(len(dicom_bytes) * keep))])
    for position, value in flips:
        data[position % len(data)] = value
    data[128:132] = b"DICM"  # stays recognisable as DICOM, so the DICOM path is what is fuzzed
    try:
        loaded = load_image("fuzz.dcm", data=bytes(data))
    except ImageLoadError:
        return
    assert loaded.pixels.ndim == 2 and np.isfinite(loaded.pixels).all()


values = st.one_of(st.none(), st.text(max_size=10), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**12, 10**12),
                   st.booleans(), st.sampled_from(["ASY", "M", "male", "Y", "1.0", "nan"]))


@CASES
@given(st.dictionaries(st.sampled_from(HEART_DISEASE.names + ["bogus"]), values, max_size=13))
def test_schema_value_handling(patient: dict) -> None:
    full = dict(HEART_DISEASE.example)
    full.update(patient)
    try:
        vector = HEART_DISEASE.to_vector(full)
    except SchemaError:
        return
    assert np.isfinite(vector).all()


@pytest.fixture(scope="module")
def form(qapp):
    from cfx_desktop.ui.patient.form import PatientForm

    widget = PatientForm()
    widget.set_schema(HEART_FAILURE, HEART_FAILURE.example_vector(), frozenset())
    return widget


@CASES
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=12, max_size=12))
def test_form_accepts_any_numbers_and_keeps_them_valid(form, numbers: list[float]) -> None:
    finite = [n if np.isfinite(n) else (np.nan if np.isnan(n) else (1e12 if n > 0 else -1e12)) for n in numbers]
    form.show_values(np.array(finite))
    vector = form.vector()
    for feature, value in zip(HEART_FAILURE.features, vector):
        assert feature.min <= value <= feature.max
    HEART_FAILURE.to_vector(HEART_FAILURE.to_patient(vector))  # whatever the form holds is a valid patient
