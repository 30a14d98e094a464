"""Studies to put into a PACS: complete CR datasets (patient, study, series and image modules) around any pixels,
a chest film from the shared data when it is there, and pynetdicom's own in-process query/retrieve/storage SCP
(so the DIMSE code paths are tested where no Orthanc is installed)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ComputedRadiographyImageStorage, ExplicitVRLittleEndian, generate_uid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cr_dataset(pixels: np.ndarray, *, patient_id: str = "PAT-1", patient_name: str = "TEST^FILM", study_uid: str | None = None,
               series_uid: str | None = None, instance: int = 1, modality: str = "CR", date: str = "20261201") -> Dataset:
    """A complete single-frame radiograph (CR, or CT for a non-chest study) around 8- or 16-bit ``pixels``."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        pixels = np.clip(pixels, 0, 4095).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ComputedRadiographyImageStorage if modality == "CR" else CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = patient_id, patient_name, "19800101", "O"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = date, "101500", "1", "ACC1"
    ds.ReferringPhysicianName = ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, instance
    ds.BodyPartExamined = "CHEST" if modality == "CR" else "ABDOMEN"
    ds.ViewPosition = "PA" if modality == "CR" else ""
    ds.PatientOrientation = ["L", "F"] if modality == "CR" else ""
    if modality == "CT":
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 0], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.0
        ds.RescaleIntercept, ds.RescaleSlope, ds.FrameOfReferenceUID = -1024, 1, generate_uid()
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 8 if pixels.dtype == np.uint8 else 16
    ds.BitsStored = 8 if pixels.dtype == np.uint8 else 12
    ds.HighBit, ds.PixelRepresentation = ds.BitsStored - 1, 0
    ds.PixelData = pixels.tobytes()
    ds.ContentDate = dt.date.today().strftime("%Y%m%d")
    return ds


def chest_pixels(index: int = 0) -> np.ndarray | None:
    """A real chest film (8-bit) from the shared Kermany folder, or None where the data is absent."""
    from PIL import Image

    from cfx_desktop import paths

    folder = paths.data_file("kermany_cxr_224/train/NORMAL")
    if folder is None:
        return None
    files = sorted(folder.glob("*.*"))
    return np.asarray(Image.open(files[index]).convert("L"))


def ct_pixels() -> np.ndarray:
    from cfx_desktop.core.imaging.train.synthetic_images import ct_slice

    return np.round(ct_slice(np.random.default_rng(5)) * 2000).astype(np.uint16)


@dataclass
class MemoryPacs:
    """pynetdicom's own SCP on a loopback port: C-ECHO, C-FIND and C-GET over what it holds, C-STORE into it."""

    ae_title: str = "MEMPACS"
    port: int = 0
    held: list[Dataset] = field(default_factory=list)
    server: object = None
    store_status: int = 0x0000  # what a C-STORE answers (0xA700: refused, out of resources)
    offer_get: bool = True  # False: a PACS that offers C-MOVE only
    move_destinations: dict[str, tuple[str, int]] = field(default_factory=dict)  # AE title -> (host, port)
    gets: list[str] = field(default_factory=list)  # the level of every C-GET asked for
    withheld: set[str] = field(default_factory=set)  # SOP instance UIDs listed by C-FIND but never sent (a failed sub-operation)

    def start(self) -> "MemoryPacs":
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
        from pynetdicom.sop_class import (
            StudyRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelGet,
            StudyRootQueryRetrieveInformationModelMove,
            Verification,
        )

        from cfx_desktop.pacs.dimse import STORAGE_CLASSES

        ae = AE(ae_title=self.ae_title)
        ae.require_called_aet = True  # an association addressed to another AE title is rejected
        ae.add_supported_context(Verification)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        if self.offer_get:
            ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelMove)
        for uid in STORAGE_CLASSES:
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES, scu_role=True, scp_role=True)
            ae.add_requested_context(uid)  # C-MOVE's sub-association stores to the destination
        self.port = self.port or free_port()
        handlers = [(evt.EVT_C_FIND, self._find), (evt.EVT_C_GET, self._get), (evt.EVT_C_STORE, self._store),
                    (evt.EVT_C_MOVE, self._move)]
        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=handlers)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()

    @property
    def address(self) -> str:
        return f"{self.ae_title}@127.0.0.1:{self.port}"

    def _matches(self, query: Dataset, ds: Dataset) -> bool:
        for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "PatientID"):
            value = query.get(key, "") or ""
            wanted = [str(v) for v in value] if not isinstance(value, str) and hasattr(value, "__iter__") else [str(value)]
            if any(wanted) and str(ds.get(key, "")) not in wanted:
                return False
        modality = str(query.get("ModalitiesInStudy", "") or "")
        return not modality or str(ds.get("Modality", "")) == modality

    def _find(self, event):  # noqa: ANN001, ANN202
        query = event.identifier
        level = query.QueryRetrieveLevel
        key = {"STUDY": "StudyInstanceUID", "SERIES": "SeriesInstanceUID", "IMAGE": "SOPInstanceUID"}[level]
        seen = set()
        for ds in self.held:
            if not self._matches(query, ds) or ds.get(key) in seen:
                continue
            seen.add(ds.get(key))
            answer = Dataset()
            answer.QueryRetrieveLevel = level
            for keyword in query.dir():
                if keyword in ds:
                    setattr(answer, keyword, ds.get(keyword))
            if level == "STUDY":
                members = [d for d in self.held if d.StudyInstanceUID == ds.StudyInstanceUID]
                answer.ModalitiesInStudy = sorted({d.Modality for d in members})
                answer.NumberOfStudyRelatedInstances = len(members)
            answer.StudyInstanceUID = ds.StudyInstanceUID
            yield 0xFF00, answer

    def _get(self, event):  # noqa: ANN001, ANN202
        wanted = [ds for ds in self.held if self._matches(event.identifier, ds) and ds.SOPInstanceUID not in self.withheld]
        self.gets.append(str(event.identifier.QueryRetrieveLevel))
        yield len(wanted)
        for ds in wanted:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, ds

    def _move(self, event):  # noqa: ANN001, ANN202
        destination = self.move_destinations.get(str(event.move_destination).strip())
        if destination is None:
            yield None, None  # unknown destination: pynetdicom answers 0xA801
            return
        wanted = [ds for ds in self.held if self._matches(event.identifier, ds)]
        yield destination[0], destination[1]
        yield len(wanted)
        for ds in wanted:
            yield 0xFF00, ds

    def _store(self, event):  # noqa: ANN001, ANN202
        if self.store_status:
            return self.store_status
        ds = event.dataset
        ds.file_meta = event.file_meta
        self.held.append(ds)
        return 0x0000


ORTHANC = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None)
NO_ORTHANC = "Orthanc is not installed (apt-get install orthanc; .ci/run installs it)"
DICOMWEB_PLUGIN = next((p for p in (Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
                                    Path("/usr/lib/orthanc/plugins/libOrthancDicomWeb.so")) if p.exists()), None)
NO_DICOMWEB = "Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb; .ci/run installs it)"


@dataclass
class OrthancServer:
    """A real Orthanc on free loopback ports with a throw-away storage folder and a generated configuration
    (C-GET allowed, this app known as a modality so C-MOVE and stores from it are accepted); stopped after."""

    folder: Path
    ae_title: str = "ORTHANC"
    dicom_port: int = 0
    http_port: int = 0
    process: subprocess.Popen | None = None

    def start(self, own_ae: str = "CFX_DESKTOP", own_port: int = 11112) -> "OrthancServer":
        self.dicom_port, self.http_port = free_port(), free_port()
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "cfx-test", "StorageDirectory": str(storage), "IndexDirectory": str(storage),
            "DicomAet": self.ae_title, "DicomPort": self.dicom_port, "HttpPort": self.http_port,
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "HttpServerEnabled": True,
            "DicomCheckCalledAet": False, "DicomModalities": {"cfx": [own_ae, "127.0.0.1", own_port]},
            "DicomAlwaysAllowEcho": True, "DicomAlwaysAllowStore": True, "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True, "DicomAlwaysAllowMove": True, "Plugins": [], "StableAge": 1,
            "DicomScpTimeout": 10, "UnknownSopClassAccepted": True,
        }
        if DICOMWEB_PLUGIN is not None:
            config["Plugins"] = [str(DICOMWEB_PLUGIN)]
            config["DicomWeb"] = {"Enable": True, "Root": "/dicom-web/"}
        (self.folder / "orthanc.json").write_text(json.dumps(config))
        log = open(self.folder / "orthanc.log", "wb")
        self.process = subprocess.Popen([ORTHANC, str(self.folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {(self.folder / 'orthanc.log').read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("Orthanc did not open its DICOM port within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    @property
    def address(self) -> str:
        return f"{self.ae_title}@127.0.0.1:{self.dicom_port}"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/dicom-web"
