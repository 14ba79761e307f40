"""Tiny synthetic DICOM objects (CT series, RTSTRUCT, DICOM-SEG) built in temporary folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pydicom")
pytest.importorskip("SimpleITK")


def write_ct_series(folder: Path, volume: np.ndarray, *, spacing: tuple[float, float, float],
                    origin: tuple[float, float, float], series_uid: str | None = None,
                    study_uid: str | None = None, for_uid: str | None = None) -> list[Any]:
    """Write ``volume`` ([z, y, x], int16 HU) as axial CT slices; return the datasets."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    for_uid = for_uid or generate_uid()
    from pydicom.dataset import Dataset

    out = []
    for k in range(volume.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.Modality = "CT"
        ds.PatientID = "SYNTH001"
        ds.PatientName = "Synthetic^Case"
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyDate = "20240101"
        ds.StudyTime = "120000"
        ds.AccessionNumber = ""
        ds.ReferringPhysicianName = ""
        ds.StudyID = "1"
        ds.SeriesNumber = 1
        ds.InstanceNumber = k + 1
        ds.Manufacturer = "radval-tests"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + k * spacing[2]]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.SliceThickness = spacing[2]
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = 0
        ds.RescaleSlope = 1
        ds.PixelData = volume[k].astype(np.int16).tobytes()
        ds.save_as(folder / f"slice_{k:03d}.dcm", enforce_file_format=True)
        out.append(ds)
    return out


@pytest.fixture
def ct_volume() -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.normal(40, 10, (6, 12, 10))).astype(np.int16)
