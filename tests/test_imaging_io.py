"""Image IO: every format to one float grayscale array in [0, 1]; every bad input to one clear error type."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cfx_desktop.core.imaging.io.load import ImageLoadError, list_images, load_image
from cfx_desktop.core.imaging.models.preprocess import crop_box, preprocess, resize_square, to_map_space
from tests.imaging_fixtures import gradient_image, write_dicom


def _png8(path: Path, image: np.ndarray) -> Path:
    Image.fromarray(np.round(image * 255).astype(np.uint8), "L").save(path)
    return path


def test_png_8_bit(tmp_path: Path) -> None:
    loaded = load_image(_png8(tmp_path / "a.png", gradient_image()))
    assert loaded.pixels.dtype == np.float32 and loaded.shape == (60, 80)
    assert loaded.pixels[:, 0].max() < 0.01 and loaded.pixels[30, -1] > 0.99
    assert loaded.metadata["bits"] == 8 and loaded.format == "PNG"


def test_png_16_bit_keeps_precision(tmp_path: Path) -> None:
    image = gradient_image()
    raw = np.round(image * 65535).astype(np.uint16)
    path = tmp_path / "b.png"
    Image.fromarray(raw).save(path)
    loaded = load_image(path)
    assert loaded.metadata["bits"] == 16
    np.testing.assert_allclose(loaded.pixels, raw / 65535.0, atol=1e-6)


def test_tiff_8_and_16_bit(tmp_path: Path) -> None:
    image = gradient_image()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / "c.tif")
    Image.fromarray(np.round(image * 65535).astype(np.uint16)).save(tmp_path / "d.tiff")
    a, b = load_image(tmp_path / "c.tif"), load_image(tmp_path / "d.tiff")
    np.testing.assert_allclose(a.pixels, b.pixels, atol=2 / 255)


def test_jpeg_rgb_becomes_gray(tmp_path: Path) -> None:
    image = gradient_image()
    rgb = np.stack([np.round(image * 255).astype(np.uint8)] * 3, axis=-1)
    Image.fromarray(rgb, "RGB").save(tmp_path / "e.jpg", quality=95)
    loaded = load_image(tmp_path / "e.jpg")
    assert loaded.shape == (60, 80) and loaded.metadata["colour"]
    assert abs(float(loaded.pixels.mean()) - float(image.mean())) < 0.02


def test_dicom_monochrome2_16_bit_with_rescale_and_window(tmp_path: Path) -> None:
    image = gradient_image()
    raw = np.round(image * 4095).astype(np.uint16)
    path = write_dicom(tmp_path / "f.dcm", raw, slope=2.0, intercept=-1000.0, window=(3095.0, 8190.0))
    loaded = load_image(path)
    assert loaded.format == "DICOM" and loaded.shape == (60, 80)
    assert loaded.pixels[:, 0].max() < 0.05 and loaded.pixels[30, -1] > 0.95
    assert "center" in loaded.metadata["window"]
    assert loaded.metadata["dicom"]["Modality"] == "CR" and loaded.metadata["bits"] == 12


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    normal = load_image(write_dicom(tmp_path / "m2.dcm", raw))
    inverted = load_image(write_dicom(tmp_path / "m1.dcm", raw, photometric="MONOCHROME1"))
    np.testing.assert_allclose(inverted.pixels, 1.0 - normal.pixels, atol=1e-6)
    assert inverted.metadata["photometric"] == "MONOCHROME1"


def test_dicom_voi_lut(tmp_path: Path) -> None:
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    lut = np.round(np.sqrt(np.linspace(0, 1, 4096)) * 65535).astype(np.uint16)  # a gamma-like display curve
    loaded = load_image(write_dicom(tmp_path / "voi.dcm", raw, voi_lut=lut))
    assert loaded.metadata["window"] == "VOI LUT"
    assert loaded.pixels[30, 40] > 0.6  # the square-root curve brightens mid-grey (linear would be ~0.5)


def test_dicom_named_without_suffix_is_detected_by_content(tmp_path: Path) -> None:
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    path = write_dicom(tmp_path / "IM0001", raw)
    assert load_image(path).format == "DICOM"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not an image"),
        (lambda p: p.write_text("age,sex\n60,1\n"), "not an image"),
    ],
)
def test_garbage_files(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "x.png"
    make(path)
    with pytest.raises(ImageLoadError, match=message):
        load_image(path)


def test_truncated_png_and_jpeg(tmp_path: Path) -> None:
    big = np.random.default_rng(1).random((200, 200)).astype(np.float32)
    png = _png8(tmp_path / "t.png", big)
    png.write_bytes(png.read_bytes()[: len(png.read_bytes()) // 2])
    Image.fromarray(np.round(big * 255).astype(np.uint8)).save(tmp_path / "t.jpg", quality=90)
    jpg = tmp_path / "t.jpg"
    jpg.write_bytes(jpg.read_bytes()[:600])
    for path in (png, jpg):
        with pytest.raises(ImageLoadError, match="truncated|damaged|decoded"):
            load_image(path)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_gigantic_dimensions_are_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(60_000, 60_000))
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(path)


def test_zero_size_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zero.dcm"
    write_dicom(path, np.zeros((0, 0), dtype=np.uint16), with_pixels=False)
    with pytest.raises(ImageLoadError, match="no image|no pixels"):
        load_image(path)


def test_tiff_stacks_are_refused(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((20, 20), i * 40, dtype=np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "stack.tif", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageLoadError, match="3 images"):
        load_image(tmp_path / "stack.tif")


def test_multi_frame_dicom_opens_every_frame_on_one_scale(tmp_path: Path) -> None:
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    image = load_image(write_dicom(tmp_path / "cine.dcm", raw, frames=4))
    assert image.frame_count == 4 and image.frame == 0 and image.frames.shape == (4, *raw.shape)
    third = image.with_frame(2)
    assert third.frame_note() == "frame 3 of 4" and third.metadata["frame"] == 3
    assert np.shares_memory(third.pixels, image.frames) and third.frames is image.frames  # shared, not copied
    assert image.with_frame(99).frame == 3  # clamped
    assert float(image.frames.max()) <= 1.0 and float(image.frames.min()) >= 0.0
    assert image.frames[0].mean() < image.frames[3].mean()  # one display scale over all frames: the brighter stays brighter


def test_too_many_frames_are_refused_with_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cfx_desktop.core.imaging.io import load as io_mod

    monkeypatch.setattr(io_mod, "MAX_FRAME_PIXELS", 100)
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    with pytest.raises(ImageLoadError, match="4 frames .* megapixels over all frames"):
        load_image(write_dicom(tmp_path / "cine.dcm", raw, frames=4))


def test_dicom_without_pixels_and_unsupported_compression(tmp_path: Path) -> None:
    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    with pytest.raises(ImageLoadError, match="no image"):
        load_image(write_dicom(tmp_path / "nopix.dcm", raw, with_pixels=False))
    from pydicom.uid import JPEG2000Lossless

    path = write_dicom(tmp_path / "j2k.dcm", raw, transfer_syntax=JPEG2000Lossless)
    with pytest.raises(ImageLoadError, match="JPEG 2000"):
        load_image(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="cannot read"):
        load_image(tmp_path / "absent.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_preprocess_crops_centre_square_for_any_aspect() -> None:
    wide = np.zeros((100, 300), dtype=np.float32)
    wide[:, 100:200] = 1.0  # the centre square is all white
    assert crop_box(100, 300).left == 100
    out = resize_square(wide, 32)
    assert out.shape == (1, 1, 32, 32) and float(out.min()) > 0.99
    tall = np.random.default_rng(0).random((2500, 2048)).astype(np.float32)
    x = preprocess(tall, 128, 0.5, 0.25)
    assert x.shape == (1, 1, 128, 128) and abs(float(x.mean())) < 0.1
    small = preprocess(np.ones((28, 28), dtype=np.float32), 64, 0.0, 1.0)
    assert small.shape == (1, 1, 64, 64)


def test_map_goes_back_to_image_coordinates() -> None:
    values = np.ones((16, 16), dtype=np.float32)
    full = to_map_space(values, 100, 300)
    assert full.shape == (100, 300)
    assert full[:, :100].max() == 0 and full[:, 100:200].min() > 0.99


def test_list_images(tmp_path: Path) -> None:
    _png8(tmp_path / "b.png", gradient_image())
    _png8(tmp_path / "a.png", gradient_image())
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.png"]


def test_a_folder_of_dicoms_becomes_a_patient_study_series_tree(tmp_path: Path) -> None:
    import pydicom

    from cfx_desktop.core.imaging.io.dicom_tree import tree_for

    raw = np.round(gradient_image() * 4095).astype(np.uint16)
    for i, (patient, series, number) in enumerate([("P1", "1.2.3.1", 2), ("P1", "1.2.3.1", 1), ("P1", "1.2.3.2", 1), ("P2", "1.2.3.3", 1)]):
        path = write_dicom(tmp_path / f"f{i}.dcm", raw)
        ds = pydicom.dcmread(path)
        ds.PatientID, ds.PatientName = patient, f"Doe^{patient}"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.InstanceNumber = f"9.{patient}", series, number
        ds.SeriesNumber = series[-1]
        ds.save_as(path)
    (tmp_path / "notes.txt").write_text("not an image")
    tree = tree_for(tmp_path)
    assert sorted(tree.patients) == ["P1", "P2"]
    series = tree.patients["P1"].studies["9.P1"].series
    assert sorted(series) == ["1.2.3.1", "1.2.3.2"]
    assert [i.number for i in series["1.2.3.1"].instances] == [1, 2]  # in instance order, not file order
    assert len(tree.image_paths()) == 4 and "CR CHEST PA" in series["1.2.3.1"].label()
    (tmp_path / "extra.png").write_bytes(b"")  # pictures beside the DICOMs: one flat list instead
    assert tree_for(tmp_path) is None
