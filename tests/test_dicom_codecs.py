"""Every compressed transfer syntax opens with the bundled, permissively licensed codecs (issue 15).

Files are made here with pydicom's own encoders (RLE, JPEG-LS, JPEG 2000, each lossless, so the decoded image
must equal the uncompressed one) and taken from the test files pydicom ships (JPEG lossless, JPEG-LS
near-lossless, multi-frame RLE). 12-bit JPEG Extended needs the GPL-3 pylibjpeg-libjpeg, which is not bundled:
it must be refused with a message that says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cfx_desktop.core.imaging.io.load import ImageLoadError, load_image
from tests.imaging_fixtures import gradient_image, write_dicom

pydicom = pytest.importorskip("pydicom")
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _compressed_copy(source: Path, target: Path, syntax: str) -> Path:
    ds = pydicom.dcmread(source)
    ds.compress(syntax, encoding_plugin="" if syntax != pydicom.uid.JPEG2000Lossless else "pylibjpeg")
    ds.save_as(target, enforce_file_format=True)
    return target


@pytest.mark.parametrize("syntax", ["RLELossless", "JPEGLSLossless", "JPEG2000Lossless"])
def test_lossless_encodings_decode_to_the_same_image(tmp_path: Path, syntax: str) -> None:
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    plain = write_dicom(tmp_path / "plain.dcm", raw)
    try:
        packed = _compressed_copy(plain, tmp_path / f"{syntax}.dcm", getattr(pydicom.uid, syntax))
    except RuntimeError as exc:  # an encoder missing here is a set-up problem, not the decoder under test
        pytest.skip(f"no {syntax} encoder: {exc}")
    assert pydicom.dcmread(packed).file_meta.TransferSyntaxUID.is_compressed
    np.testing.assert_array_equal(load_image(packed).pixels, load_image(plain).pixels)


def test_jpeg_lossless_process_14_decodes_to_the_same_image(tmp_path: Path) -> None:
    """No pure-Python encoder writes JPEG lossless; GDCM (bundled to decode it) writes it here."""
    gdcm = pytest.importorskip("gdcm")
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    plain = write_dicom(tmp_path / "plain.dcm", raw)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(plain))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGLosslessProcess14_1))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(tmp_path / "jll.dcm"))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    assert "Process 14" in pydicom.dcmread(tmp_path / "jll.dcm").file_meta.TransferSyntaxUID.name
    np.testing.assert_array_equal(load_image(tmp_path / "jll.dcm").pixels, load_image(plain).pixels)


SHIPPED = {  # file -> transfer syntax it exercises
    "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS lossless",
    "JPEGLSNearLossless_16.dcm": "JPEG-LS near-lossless, 16-bit",
    "MR_small_jp2klossless.dcm": "JPEG 2000 lossless",
    "JPEG2000.dcm": "JPEG 2000",
    "examples_jpeg2k.dcm": "JPEG 2000 colour",
    "SC_rgb_jpeg_gdcm.dcm": "JPEG baseline colour",
    "MR_small_RLE.dcm": "RLE",
    "SC_rgb_rle_2frame.dcm": "RLE, two frames",
    "rtdose_rle.dcm": "RLE, 15 frames",
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_pydicoms_shipped_compressed_files_open(name: str) -> None:
    path = TEST_FILES / name
    if not path.exists():
        pytest.skip(f"{name} is not in this pydicom's bundled test files")
    image = load_image(path)
    assert image.pixels.ndim == 2 and image.pixels.size > 0 and float(image.pixels.std()) > 0


def test_12_bit_jpeg_extended_names_the_gpl_decoder_it_would_need() -> None:
    path = TEST_FILES / "JPGExtended.dcm"
    if not path.exists():
        pytest.skip("JPGExtended.dcm is not bundled with this pydicom")
    try:
        import libjpeg  # noqa: F401 - pylibjpeg-libjpeg installed by the user: then it must open
    except ImportError:
        with pytest.raises(ImageLoadError, match="GPL-3 licensed and not bundled"):
            load_image(path)
    else:
        assert load_image(path).pixels.size > 0
