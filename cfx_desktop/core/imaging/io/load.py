"""Any supported image file -> one float grayscale array in [0, 1] plus metadata. One error type: ImageLoadError.

Why normalise to [0, 1] here: PNG/JPEG are 8-bit, TIFF/PNG may be 16-bit and DICOM radiographs are 12-16 bit with
their own rescale and display window. Applying each format's display rules here (DICOM: Rescale Slope/Intercept,
then the VOI LUT or Window Center/Width, then MONOCHROME1 inversion) means every model, view and export sees the
image the way a reader would, and nothing downstream needs to know the format.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_SIDE = 20_000
MAX_PIXELS = 120_000_000  # a 10k x 12k image; larger is refused before decoding
MAX_FRAME_PIXELS = 80_000_000  # all frames of a multi-frame file together (two float32 copies: ~640 MB)
MAX_BYTES = 600_000_000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom", ""}

Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL's own decompression-bomb guard, as an error, not a warning


class ImageLoadError(ValueError):
    """The file cannot be shown or analysed; the message says why in words a user can act on."""


@dataclass
class LoadedImage:
    """One image as displayed (``pixels``), and for a multi-frame file all its frames.

    ``values`` are the stored values after the modality LUT (Hounsfield units for CT, detector values for a
    radiograph), before any window: what the viewer's window/level presets act on. ``pixels`` is what the
    models see: the stored window applied, scaled to [0, 1].
    """

    pixels: np.ndarray  # float32, (H, W), 0 = black, 1 = white as displayed
    source: str
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)
    frames: np.ndarray | None = None  # float32 (F, H, W) like ``pixels``, only for multi-frame files
    values: np.ndarray | None = None  # float32 (H, W) or (F, H, W): modality values, no window applied
    frame: int = 0  # which frame ``pixels`` shows (0-based)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape  # type: ignore[return-value]

    @property
    def frame_count(self) -> int:
        return 1 if self.frames is None else len(self.frames)

    @property
    def frame_values(self) -> np.ndarray:
        """The shown frame's modality values (the display array itself when the file has none)."""
        if self.values is None:
            return self.pixels
        return self.values[self.frame] if self.values.ndim == 3 else self.values

    def with_frame(self, index: int) -> "LoadedImage":
        """The same file showing frame ``index`` (clamped); frames and values are shared, not copied."""
        if self.frames is None:
            return self
        index = int(min(max(index, 0), len(self.frames) - 1))
        meta = dict(self.metadata, frame=index + 1)
        return LoadedImage(self.frames[index], self.source, self.format, meta, self.frames, self.values, index)

    def frame_note(self) -> str:
        """"frame 3 of 30" for a multi-frame file, else "" (said wherever a result answers one frame)."""
        return f"frame {self.frame + 1} of {self.frame_count}" if self.frames is not None else ""


def _check_size(width: int, height: int, source: str) -> None:
    if width <= 0 or height <= 0:
        raise ImageLoadError(f"{source}: the image has no pixels ({width} x {height})")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageLoadError(f"{source}: the image is too large ({width} x {height} pixels); the limit is "
                             f"{MAX_SIDE} pixels a side and {MAX_PIXELS // 1_000_000} megapixels")


def _to_unit(array: np.ndarray) -> np.ndarray:
    array = array.astype(np.float32)
    lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
    if hi <= lo:
        return np.zeros_like(array, dtype=np.float32)
    return ((array - lo) / (hi - lo)).astype(np.float32)


def colour_spread(rgb: np.ndarray) -> float:
    """Mean over pixels of (max - min) across the colour channels, in [0, 1]: ~0 for a gray image stored as RGB."""
    step = max(1, max(rgb.shape[:2]) // 256)  # a 256-px sample is plenty and keeps this cheap on 20-megapixel files
    sample = rgb[::step, ::step, :3].astype(np.float32)
    scale = 255.0 if rgb.dtype == np.uint8 else max(float(sample.max()), 1.0)
    return float((sample.max(axis=2) - sample.min(axis=2)).mean() / scale)


def _is_dicom(head: bytes) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


def load_image(path: str | Path, data: bytes | None = None) -> LoadedImage:
    """Load a PNG / JPEG / TIFF / BMP or DICOM file (decided by content, not by name)."""
    source = str(path)
    if data is None:
        p = Path(path)
        try:
            size = p.stat().st_size
        except OSError as exc:
            raise ImageLoadError(f"{source}: cannot read the file ({exc.strerror or exc})") from None
        if p.is_dir():
            raise ImageLoadError(f"{source}: is a folder, not an image")
        if size == 0:
            raise ImageLoadError(f"{source}: the file is empty (0 bytes)")
        if size > MAX_BYTES:
            raise ImageLoadError(f"{source}: the file is larger than {MAX_BYTES // 1_000_000} MB")
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise ImageLoadError(f"{source}: cannot read the file ({exc.strerror or exc})") from None
    if not data:
        raise ImageLoadError(f"{source}: the file is empty (0 bytes)")
    dicom = _is_dicom(data[:132]) or source.lower().endswith((".dcm", ".dicom"))
    try:
        return _load_dicom(data, source) if dicom else _load_pil(data, source)
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError(f"{source}: not enough memory to decode this image") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise many types on damaged files; the caller sees one
        kind = "DICOM file" if dicom else "image"
        raise ImageLoadError(f"{source}: the {kind} is damaged or malformed ({type(exc).__name__}: {exc})") from None
    except BaseException as exc:
        # Rust decoders (pylibjpeg-rle) report damaged data as pyo3's PanicException, a BaseException: found by
        # tests/test_fuzz_dicom.py. It is a bad file, not a reason to stop the program.
        if type(exc).__name__ != "PanicException":
            raise
        raise ImageLoadError(f"{source}: the compressed pixel data is damaged (the decoder gave up: {exc})") from None


def _load_pil(data: bytes, source: str) -> LoadedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            _check_size(width, height, source)
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                raise ImageLoadError(f"{source}: the file holds {frames} images (a stack or volume); open a single 2-D image")
            image.load()
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(f"{source}: not an image this program can read (PNG, JPEG, TIFF, BMP or DICOM)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(f"{source}: the image is too large to open safely") from None
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc)
        if "truncated" in text.lower() or "broken" in text.lower() or "premature" in text.lower():
            raise ImageLoadError(f"{source}: the file is truncated or damaged ({text})") from None
        raise ImageLoadError(f"{source}: the image could not be decoded ({text})") from None
    mode = image.mode
    bits = {"1": 1, "L": 8, "P": 8, "RGB": 8, "RGBA": 8, "LA": 8, "I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}.get(mode, 8)
    chroma = 0.0
    if mode in ("RGB", "RGBA", "P", "LA", "CMYK", "YCbCr"):
        array = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        if mode != "LA":
            chroma = colour_spread(np.asarray(image.convert("RGB")))
    elif mode == "1":
        array = np.asarray(image, dtype=np.float32)
    elif mode in ("I;16", "I;16B", "I;16L", "I"):
        raw = np.asarray(image).astype(np.float32)
        array = raw / 65535.0 if mode.startswith("I;16") or raw.max() <= 65535 else _to_unit(raw)
    elif mode == "F":
        array = _to_unit(np.asarray(image))
    else:
        array = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if array.ndim != 2:
        raise ImageLoadError(f"{source}: expected a 2-D image, found shape {array.shape}")
    meta = {"width": int(array.shape[1]), "height": int(array.shape[0]), "mode": mode, "bits": bits,
            "colour": mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr"), "chroma": chroma}
    return LoadedImage(np.clip(array, 0, 1).astype(np.float32), source, image.format or "image", meta)


DICOM_SUMMARY = ("Modality", "BodyPartExamined", "ViewPosition", "PatientOrientation", "PhotometricInterpretation", "Rows",
                 "Columns", "NumberOfFrames", "BitsStored", "PixelSpacing", "ImagerPixelSpacing", "WindowCenter",
                 "WindowWidth", "RescaleSlope", "RescaleIntercept", "Manufacturer", "StudyDate", "StudyDescription",
                 "SeriesDescription")


_GDCM_ONLY_AS_LAST_RESORT = (
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",  # JPEG-LS: pyjpegls
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",  # JPEG 2000: pylibjpeg-openjpeg, pillow
    "1.2.840.10008.1.2.4.50",  # JPEG baseline: pillow
)
_decoders_ordered = False


def _order_decoders() -> None:
    """Take python-gdcm out of the transfer syntaxes another decoder handles. pydicom tries GDCM first, and GDCM
    aborts the whole process (SIGABRT, no exception) on some damaged JPEG-LS and JPEG 2000 codestreams, which the
    DICOM fuzz test found: one corrupt file would close the app with everything the user entered. GDCM stays for
    JPEG lossless (process 14) and 12-bit JPEG, which nothing else here decodes."""
    global _decoders_ordered
    if _decoders_ordered:
        return
    from pydicom.pixels import get_decoder

    for uid in _GDCM_ONLY_AS_LAST_RESORT:
        decoder = get_decoder(uid)
        if "gdcm" in decoder.available_plugins and len(decoder.available_plugins) > 1:
            decoder.remove_plugin("gdcm")
    _decoders_ordered = True


def _load_dicom(data: bytes, source: str) -> LoadedImage:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    _order_decoders()

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except (InvalidDicomError, EOFError, ValueError, OSError, KeyError, TypeError, AttributeError) as exc:
        raise ImageLoadError(f"{source}: not a readable DICOM file ({exc})") from None
    if "PixelData" not in ds:
        raise ImageLoadError(f"{source}: the DICOM file holds no image (no Pixel Data)")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    _check_size(columns, rows, source)
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise ImageLoadError(f"{source}: the DICOM's Number of Frames is not a number ({ds.get('NumberOfFrames')!r})") from None
    if frames < 1 or frames * rows * columns > MAX_FRAME_PIXELS:
        raise ImageLoadError(f"{source}: the DICOM holds {frames} frames of {columns} x {rows} pixels; at most "
                             f"{MAX_FRAME_PIXELS // 1_000_000} megapixels over all frames can be opened")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    name = getattr(syntax, "name", str(syntax))
    try:
        pixels = ds.pixel_array
    except NotImplementedError as exc:
        raise ImageLoadError(_codec_message(source, name, str(exc))) from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for damaged pixel data
        if "plugin" in str(exc) and ("missing dependencies" in str(exc) or "does not support" in str(exc)):
            raise ImageLoadError(_codec_message(source, name, str(exc))) from None
        raise ImageLoadError(f"{source}: the DICOM pixel data ({name}) could not be decoded ({type(exc).__name__}: {exc})") from None
    chroma = 0.0
    colour = int(ds.get("SamplesPerPixel", 1) or 1) > 1
    expected = (2 if frames == 1 else 3) + (1 if colour else 0)
    if pixels.ndim != expected:
        raise ImageLoadError(f"{source}: expected {frames} frame(s) of {columns} x {rows}, found pixel array shape {pixels.shape}")
    if colour:
        if pixels.shape[-1] not in (3, 4):
            raise ImageLoadError(f"{source}: expected 3 colour samples, found pixel array shape {pixels.shape}")
        chroma = colour_spread(pixels if frames == 1 else pixels[0])
        pixels = pixels[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    values = apply_modality_lut(pixels, ds)
    modality = np.asarray(values, dtype=np.float32)
    if np.issubdtype(values.dtype, np.floating) and np.array_equal(values, np.round(values)):
        values = values.astype(np.int64)  # VOI LUTs index stored values: keep them integers when they are
    window = "full range"
    if "VOILUTSequence" in ds or ("WindowCenter" in ds and "WindowWidth" in ds):
        try:
            values = apply_voi_lut(values, ds, index=0)
            window = "VOI LUT" if "VOILUTSequence" in ds else f"center {ds.WindowCenter}, width {ds.WindowWidth}"
        except Exception:  # noqa: BLE001 - a malformed window falls back to the full range, and says so
            window = "full range (the stored window could not be applied)"
    array = _to_unit(values)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "MONOCHROME1":
        array = 1.0 - array  # MONOCHROME1: high values are displayed dark
    summary = {}
    for key in DICOM_SUMMARY:
        if key in ds:
            value = ds.get(key)
            summary[key] = str(value) if not isinstance(value, (int, float)) else value
    meta = {"width": columns, "height": rows, "bits": int(ds.get("BitsStored", 16) or 16), "window": window,
            "photometric": photometric, "transfer_syntax": getattr(syntax, "name", str(syntax)), "dicom": summary,
            "frames": frames, "chroma": chroma, "windows": stored_windows(ds), "pixel_spacing": pixel_spacing(ds),
            "fps": frame_rate(ds), "invert_values": photometric == "MONOCHROME1"}
    array = array.astype(np.float32)
    if frames == 1:
        return LoadedImage(array, source, "DICOM", meta, values=modality)
    meta["frame"] = 1
    return LoadedImage(array[0], source, "DICOM", meta, frames=array, values=modality, frame=0)


def _codec_message(source: str, name: str, detail: str) -> str:
    """Why a compressed DICOM cannot be decoded, and what would decode it."""
    if "12-bit" in detail or "12 bit" in detail or "pylibjpeg-libjpeg" in detail:
        return (f"{source}: the DICOM is compressed as '{name}' with 12-bit samples. The only decoder for that, "
                "pylibjpeg-libjpeg, is GPL-3 licensed and not bundled; install it (pip install pylibjpeg-libjpeg) "
                "to open such files, or export the image uncompressed or as PNG")
    return (f"{source}: the DICOM is compressed as '{name}', which needs an image codec that is not installed "
            f"(pylibjpeg-openjpeg, pyjpegls, pylibjpeg-rle or python-gdcm); export it uncompressed or as PNG ({detail})")


def _numbers(value: Any) -> list[float]:
    """A DICOM number or multi-value as a list of floats ([] if absent or not numeric)."""
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
    try:
        return [float(v) for v in items]
    except (TypeError, ValueError):
        return []


def stored_windows(ds: Any) -> list[tuple[float, float, str]]:
    """(center, width, explanation) of every window the file stores, in modality units (viewer presets)."""
    centers, widths = _numbers(ds.get("WindowCenter")), _numbers(ds.get("WindowWidth"))
    explanations = ds.get("WindowCenterWidthExplanation", [])
    explanations = list(explanations) if not isinstance(explanations, str) else [explanations]
    windows = []
    for i, (center, width) in enumerate(zip(centers, widths)):
        if width > 0:
            label = str(explanations[i]) if i < len(explanations) and str(explanations[i]).strip() else f"stored window {i + 1}"
            windows.append((center, width, label))
    return windows


def pixel_spacing(ds: Any) -> dict[str, Any] | None:
    """Row and column spacing in mm and which attribute gave it (Pixel Spacing, else Imager Pixel Spacing)."""
    for key, note in (("PixelSpacing", "Pixel Spacing"), ("ImagerPixelSpacing", "Imager Pixel Spacing (at the detector)")):
        spacing = _numbers(ds.get(key))
        if len(spacing) == 2 and all(0 < v < 100 for v in spacing):
            return {"row_mm": spacing[0], "column_mm": spacing[1], "source": note}
    return None


def frame_rate(ds: Any) -> float:
    """Frames per second for cine play: Cine Rate, else 1000 / Frame Time, else 10."""
    for key in ("CineRate", "RecommendedDisplayFrameRate"):
        rate = _numbers(ds.get(key))
        if rate and 0 < rate[0] <= 120:
            return rate[0]
    frame_time = _numbers(ds.get("FrameTime"))
    if frame_time and frame_time[0] > 0:
        return float(min(120.0, 1000.0 / frame_time[0]))
    return 10.0


def _image_like(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES - {""}


def list_images(folder: str | Path) -> list[Path]:
    """Image-like files in a folder (sorted), for batch prediction and the thumbnail strip."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if _image_like(p))


def visible_images(folder: str | Path) -> list[Path]:
    """`list_images` without hidden files (``.DS_Store``, AppleDouble ``._x.png``): one class of a labelled folder."""
    return [p for p in list_images(folder) if not p.name.startswith(".")]


def walk_images(folder: str | Path) -> list[Path]:
    """Image-like files in a folder and its sub-folders (sorted; hidden files and folders left out)."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if _image_like(p)
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))
