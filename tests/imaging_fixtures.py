"""Generated images of every supported format, and a synthetic DICOM writer (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def gradient_image(height: int = 60, width: int = 80) -> np.ndarray:
    """A horizontal ramp in [0, 1] with a bright square: easy to check orientation and scaling."""
    image = np.tile(np.linspace(0, 1, width, dtype=np.float32), (height, 1))
    image[10:20, 10:20] = 1.0
    return image


def write_dicom(path: Path, pixels: np.ndarray, *, photometric: str = "MONOCHROME2", bits_stored: int = 12,
                slope: float = 1.0, intercept: float = 0.0, window: tuple[float, float] | None = None,
                frames: int = 1, voi_lut: np.ndarray | None = None, transfer_syntax: str | None = None,
                with_pixels: bool = True) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if voi_lut is not None:
        from pydicom.sequence import Sequence

        item = Dataset()
        item.LUTDescriptor = [len(voi_lut), 0, 16]
        item.LUTData = np.asarray(voi_lut, dtype="<u2").tobytes()
        ds.VOILUTSequence = Sequence([item])
    if frames > 1:
        ds.NumberOfFrames = frames
    if with_pixels and transfer_syntax is not None and meta.TransferSyntaxUID.is_compressed:
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(200)])  # a JPEG 2000 frame in name only
        ds["PixelData"].VR = "OB"
    elif with_pixels:
        data = np.asarray(pixels, dtype=np.uint16)
        if frames > 1:  # frame i is the image scaled by (i + 1) / frames: every frame differs
            data = np.stack([(data.astype(np.uint32) * (i + 1) // frames).astype(np.uint16) for i in range(frames)])
        ds.PixelData = data.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
