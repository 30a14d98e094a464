"""Fuzzing the reader paths added in issue 15 (hypothesis): multi-frame and compressed DICOMs with damaged bytes
or headers, and DICOMDIRs with damaged bytes. Only the documented error types may escape, and whatever opens
is a consistent image."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfx_desktop.core.imaging.io.dicom_tree import DicomTreeError, tree_for
from cfx_desktop.core.imaging.io.load import ImageLoadError, load_image
from tests.imaging_fixtures import gradient_image, write_dicom

pydicom = pytest.importorskip("pydicom")
CASES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _check(image) -> None:  # noqa: ANN001
    assert image.pixels.ndim == 2 and np.isfinite(image.pixels).all()
    assert 0 <= image.frame < image.frame_count
    if image.frames is not None:
        assert image.frames.shape[1:] == image.pixels.shape


@pytest.fixture(scope="module")
def cine_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    raw = np.round(gradient_image(24, 20) * 4095).astype(np.uint16)
    return write_dicom(tmp_path_factory.mktemp("cine") / "cine.dcm", raw, frames=3).read_bytes()


@CASES
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=12), st.integers(0, 4000))
def test_damaged_multi_frame_dicom(cine_bytes: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(cine_bytes)
    for position, value in flips:
        data[position % len(data)] = value
    data = bytes(data[: max(133, len(data) - cut)])
    try:
        _check(load_image("fuzz.dcm", data=data))
    except ImageLoadError:
        pass


@CASES
@given(st.sampled_from(["0", "-3", "999999", "", "3", "1"]), st.integers(1, 6))  # non-numbers: badVR.dcm in test_imaging_io
def test_multi_frame_header_that_lies(cine_bytes: bytes, frames: str, keep: int) -> None:
    import io

    ds = pydicom.dcmread(io.BytesIO(cine_bytes))
    ds.NumberOfFrames = frames if frames else None
    ds.PixelData = ds.PixelData[: keep * len(ds.PixelData) // 6]
    buffer = io.BytesIO()
    ds.save_as(buffer)
    try:
        _check(load_image("lies.dcm", data=buffer.getvalue()))
    except ImageLoadError:
        pass


COMPRESSED = [n for n in ("MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_RLE.dcm", "SC_rgb_rle_2frame.dcm")
              if (TEST_FILES / n).exists()]


@pytest.mark.skipif(not COMPRESSED, reason="pydicom's compressed test files are not bundled")
@CASES
@given(st.sampled_from(COMPRESSED or ["none"]), st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_compressed_pixel_data(name: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray((TEST_FILES / name).read_bytes())
    header = 1000  # damage the codestream, mostly: a broken header is the other test's business
    for position, value in flips:
        data[header + position % (len(data) - header)] = value
    try:
        _check(load_image(name, data=bytes(data)))
    except ImageLoadError:
        pass


@pytest.fixture(scope="module")
def dicomdir_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = TEST_FILES / "dicomdirtests"
    if not (source / "DICOMDIR").exists():
        pytest.skip("pydicom's DICOMDIR test set is not bundled")
    target = tmp_path_factory.mktemp("dicomdir") / "set"
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize("record, field, target", [
    (3, "OffsetOfTheNextDirectoryRecord", 3),  # an image's next sibling is itself
    (4, "OffsetOfTheNextDirectoryRecord", 2),  # the second series' next sibling is the first series
    (2, "OffsetOfReferencedLowerLevelDirectoryEntity", 0),  # a series' children are the patient above it
])
def test_a_dicomdir_whose_records_point_back_is_refused_not_walked_for_ever(dicomdir_copy: Path, record: int,
                                                                           field: str, target: int) -> None:
    """pydicom's FileSet follows next / lower-level offsets without remembering where it has been: a damaged
    DICOMDIR whose offsets loop made it (and a fuzzing run of the test below) spin for ever."""
    import pydicom

    ds = pydicom.dcmread(TEST_FILES / "dicomdirtests" / "DICOMDIR", force=True)
    records = list(ds.DirectoryRecordSequence)
    setattr(records[record], field, records[target].seq_item_tell)
    ds.save_as(dicomdir_copy / "DICOMDIR")  # same lengths, so every record keeps its offset
    again = pydicom.dcmread(dicomdir_copy / "DICOMDIR", force=True)
    assert [r.seq_item_tell for r in again.DirectoryRecordSequence] == [r.seq_item_tell for r in records]
    with pytest.raises(DicomTreeError, match="point back to one another"):
        tree_for(dicomdir_copy / "DICOMDIR")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 255)), min_size=1, max_size=10), st.integers(0, 3000))
def test_damaged_dicomdir(dicomdir_copy: Path, flips: list[tuple[int, int]], cut: int) -> None:
    original = (TEST_FILES / "dicomdirtests" / "DICOMDIR").read_bytes()
    data = bytearray(original)
    for position, value in flips:
        data[position % len(data)] = value
    (dicomdir_copy / "DICOMDIR").write_bytes(bytes(data[: max(10, len(data) - cut)]))
    try:
        tree = tree_for(dicomdir_copy / "DICOMDIR")
    except DicomTreeError:
        return
    for path in tree.image_paths():
        assert Path(path).exists()
