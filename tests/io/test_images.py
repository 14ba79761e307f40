"""Image and mask reading: NIfTI / NRRD / MHA, DICOM series, DICOM-SEG, RTSTRUCT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radval.exceptions import InputError, MissingInputError
from radval.io.images import dicom_modality, read_image, read_mask
from radval.io.rtstruct import list_rois, polygon_mask, rasterize_rtstruct

from .conftest import write_ct_series

sitk = pytest.importorskip("SimpleITK")

SPACING = (0.7, 0.8, 2.5)
ORIGIN = (-10.0, 20.0, 30.0)


@pytest.mark.parametrize("ext", [".nii", ".nii.gz", ".nrrd", ".mha", ".mhd"])
def test_file_formats_round_trip(tmp_path: Path, ct_volume: np.ndarray, ext: str) -> None:
    im = sitk.GetImageFromArray(ct_volume)
    im.SetSpacing(SPACING)
    im.SetOrigin(ORIGIN)
    path = tmp_path / f"ct{ext}"
    sitk.WriteImage(im, str(path))
    got = read_image(path)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(got), ct_volume)
    np.testing.assert_allclose(got.GetSpacing(), SPACING, rtol=1e-6)
    np.testing.assert_allclose(got.GetOrigin(), ORIGIN, rtol=1e-6)


def test_dicom_series_folder(tmp_path: Path, ct_volume: np.ndarray) -> None:
    write_ct_series(tmp_path / "ct", ct_volume, spacing=SPACING, origin=ORIGIN)
    im = read_image(tmp_path / "ct")
    assert im.GetSize() == (10, 12, 6)
    np.testing.assert_allclose(im.GetSpacing(), SPACING)
    np.testing.assert_allclose(im.GetOrigin(), ORIGIN)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(im), ct_volume)
    assert dicom_modality(tmp_path / "ct" / "slice_000.dcm") == "CT"


def test_folder_with_two_series_is_refused(tmp_path: Path, ct_volume: np.ndarray) -> None:
    write_ct_series(tmp_path / "ct", ct_volume[:3], spacing=SPACING, origin=ORIGIN,
                    series_uid="1.2.826.0.1.3680043.8.498.1")
    write_ct_series(tmp_path / "ct2", ct_volume[:3], spacing=SPACING, origin=ORIGIN,
                    series_uid="1.2.826.0.1.3680043.8.498.2")
    for f in (tmp_path / "ct2").iterdir():
        f.rename(tmp_path / "ct" / f"b_{f.name}")
    with pytest.raises(InputError, match=r"2 DICOM series.*498\.1.*498\.2"):
        read_image(tmp_path / "ct")


def test_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="image not found: nope.nii.gz"):
        read_image(tmp_path / "nope.nii.gz")
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="bad.nii.gz: unreadable image"):
        read_image(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no DICOM image series"):
        read_image(tmp_path / "empty")


# ---------------------------------------------------------------------------- polygon fill
def _inside_convex(poly: np.ndarray, x: float, y: float) -> bool:
    """Oracle for a convex counter-clockwise polygon: left of every edge."""
    n = len(poly)
    for i in range(n):
        (ax, ay), (bx, by) = poly[i], poly[(i + 1) % n]
        if (bx - ax) * (y - ay) - (by - ay) * (x - ax) < 0:
            return False
    return True


@pytest.mark.parametrize("poly", [
    [(1.3, 1.2), (8.7, 2.1), (5.2, 9.4)],
    [(0.5, 0.5), (10.2, 0.5), (10.2, 7.7), (0.5, 7.7)],
    [(2.2, 1.1), (7.9, 0.4), (11.3, 5.5), (6.6, 10.8), (1.4, 6.3)],
])
def test_polygon_mask_matches_half_plane_oracle(poly: list[tuple[float, float]]) -> None:
    p = np.asarray(poly)
    got = polygon_mask(12, 14, p)
    want = np.array([[_inside_convex(p, x, y) for x in range(14)] for y in range(12)])
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------- RTSTRUCT
def _write_rtstruct(path: Path, image_ds: list, contours: dict[int, list[np.ndarray]],
                    names: dict[int, str]) -> None:
    """RTSTRUCT with CLOSED_PLANAR contours (patient mm) and no ContourImageSequence."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.StudyInstanceUID = image_ds[0].StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = image_ds[0].PatientID
    ds.StructureSetLabel = "test"
    roi_seq, contour_seq = [], []
    for number, polys in contours.items():
        r = Dataset()
        r.ROINumber = number
        r.ROIName = names[number]
        r.ReferencedFrameOfReferenceUID = image_ds[0].FrameOfReferenceUID
        roi_seq.append(r)
        rc = Dataset()
        rc.ReferencedROINumber = number
        items = []
        for pts in polys:
            c = Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = len(pts)
            c.ContourData = [f"{v:.4f}" for v in np.asarray(pts).ravel()]
            items.append(c)
        rc.ContourSequence = Sequence(items)
        contour_seq.append(rc)
    ds.StructureSetROISequence = Sequence(roi_seq)
    ds.ROIContourSequence = Sequence(contour_seq)
    ds.save_as(path, enforce_file_format=True)


def _square(x0: float, x1: float, y0: float, y1: float, z: float) -> np.ndarray:
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])


def test_rtstruct_rasterised_with_hole(tmp_path: Path, ct_volume: np.ndarray) -> None:
    dss = write_ct_series(tmp_path / "ct", ct_volume, spacing=SPACING, origin=ORIGIN)
    image = read_image(tmp_path / "ct")
    z2 = ORIGIN[2] + 2 * SPACING[2]
    z3 = ORIGIN[2] + 3 * SPACING[2]
    # Outer square on slices 2 and 3; a hole on slice 3 (contour inside contour = hole).
    outer = (ORIGIN[0] + 1.1, ORIGIN[0] + 5.3, ORIGIN[1] + 1.5, ORIGIN[1] + 7.9)
    hole = (ORIGIN[0] + 2.5, ORIGIN[0] + 3.9, ORIGIN[1] + 3.1, ORIGIN[1] + 5.5)
    contours = {4: [_square(*outer, z2), _square(*outer, z3), _square(*hole, z3)],
                7: [_square(ORIGIN[0], ORIGIN[0] + 2.0, ORIGIN[1], ORIGIN[1] + 2.0, z2)]}
    rt = tmp_path / "rt.dcm"
    _write_rtstruct(rt, dss, contours, {4: "tumour", 7: "other"})
    assert list_rois(rt) == {4: "tumour", 7: "other"}
    assert dicom_modality(rt) == "RTSTRUCT"
    got = sitk.GetArrayFromImage(read_mask(rt, reference=image, label=4))
    # Oracle: voxel centres (patient mm) strictly inside the rectangles.
    xs = ORIGIN[0] + SPACING[0] * np.arange(10)
    ys = ORIGIN[1] + SPACING[1] * np.arange(12)
    in_outer = ((xs[None, :] > outer[0]) & (xs[None, :] < outer[1])
                & (ys[:, None] > outer[2]) & (ys[:, None] < outer[3]))
    in_hole = ((xs[None, :] > hole[0]) & (xs[None, :] < hole[1])
               & (ys[:, None] > hole[2]) & (ys[:, None] < hole[3]))
    want = np.zeros(ct_volume.shape, dtype=np.uint8)
    want[2] = in_outer * 4
    want[3] = (in_outer & ~in_hole) * 4
    np.testing.assert_array_equal(got, want)
    assert 0 < in_hole.sum() < in_outer.sum()
    m = rasterize_rtstruct(rt, image, roi_number=4)
    assert m.GetSpacing() == image.GetSpacing() and m.GetOrigin() == image.GetOrigin()
    with pytest.raises(InputError, match=r"no ROI number 5 \(ROIs: 4: tumour, 7: other\)"):
        read_mask(rt, reference=image, label=5)
    with pytest.raises(InputError, match="needs the reference image"):
        read_mask(rt, label=4)


# ---------------------------------------------------------------------------- DICOM-SEG
def test_dicom_seg_segment_by_number(tmp_path: Path, ct_volume: np.ndarray) -> None:
    hd = pytest.importorskip("highdicom")
    from pydicom import dcmread
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    write_ct_series(tmp_path / "ct", ct_volume, spacing=SPACING, origin=ORIGIN)
    image = read_image(tmp_path / "ct")
    source = [dcmread(p) for p in sorted((tmp_path / "ct").glob("*.dcm"))]
    labels = np.zeros(ct_volume.shape, dtype=np.uint8)
    labels[1:4, 3:8, 2:6] = 1
    labels[4, 5:7, 5:9] = 2
    algo = hd.AlgorithmIdentificationSequence(
        name="test", family=codes.cid7162.ArtificialIntelligence, version="1")
    descs = [hd.seg.SegmentDescription(
        segment_number=n, segment_label=lab,
        segmented_property_category=codes.cid7150.Tissue,
        segmented_property_type=codes.cid7166.ConnectiveTissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algo) for n, lab in ((1, "tumour"), (2, "vessel"))]
    seg = hd.seg.Segmentation(
        source_images=source, pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descs,
        series_instance_uid=generate_uid(), series_number=2, sop_instance_uid=generate_uid(),
        instance_number=1, manufacturer="radval-tests", manufacturer_model_name="t",
        software_versions="0", device_serial_number="0")
    path = tmp_path / "seg.dcm"
    seg.save_as(path)
    assert dicom_modality(path) == "SEG"
    for number in (1, 2):
        got = read_mask(path, reference=image, label=number)
        assert got.GetSize() == image.GetSize()
        np.testing.assert_array_equal(sitk.GetArrayFromImage(got),
                                      np.where(labels == number, number, 0))
    from radval.io.dicomseg import list_segments, read_seg

    assert list_segments(path) == {1: "tumour", 2: "vessel"}
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_seg(path, reference=image,
                                                                  segment=1)), labels == 1)
    with pytest.raises(InputError, match=r"no segment 3 \(segments: 1: tumour, 2: vessel\)"):
        read_mask(path, reference=image, label=3)
