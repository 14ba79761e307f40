"""Pre-extraction checks: each problem is detected and reported with patient, file, reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radval.exceptions import InputError
from radval.features.checks import CheckSettings, check_case

sitk = pytest.importorskip("SimpleITK")


def _case(tmp_path: Path, *, img: np.ndarray | None = None, mask: np.ndarray | None = None,
          mask_spacing: tuple[float, ...] = (1.0, 1.0, 2.0),
          mask_origin: tuple[float, ...] = (0.0, 0.0, 0.0), label: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    if img is None:
        img = rng.normal(40, 20, (10, 16, 16)).astype(np.int16)
        img[0] = -1000
    if mask is None:
        mask = np.zeros(img.shape, dtype=np.uint8)
        mask[3:7, 4:10, 4:10] = 1
    im = sitk.GetImageFromArray(img)
    im.SetSpacing((1.0, 1.0, 2.0))
    m = sitk.GetImageFromArray(mask)
    m.SetSpacing(mask_spacing)
    m.SetOrigin(mask_origin)
    sitk.WriteImage(im, str(tmp_path / "ct.nii.gz"))
    sitk.WriteImage(m, str(tmp_path / "mask.nii.gz"))
    return {"patient_id": "p7", "reader": "1", "cohort": "external", "image": "ct.nii.gz",
            "mask": "mask.nii.gz", "label": label, "image_path": str(tmp_path / "ct.nii.gz"),
            "mask_path": str(tmp_path / "mask.nii.gz"), "duplicate": False}


def _reasons(problems: list[dict[str, Any]]) -> list[str]:
    return [p["reason"] for p in problems]


def test_good_case_has_no_problem(tmp_path: Path) -> None:
    assert check_case(_case(tmp_path)) == []


def test_problem_record_shape(tmp_path: Path) -> None:
    row = _case(tmp_path, mask_origin=(0.0, 0.0, 0.5))
    (p,) = check_case(row)
    assert {k: p[k] for k in ("patient_id", "reader", "cohort", "image", "mask", "stage")} == {
        "patient_id": "p7", "reader": "1", "cohort": "external", "image": "ct.nii.gz",
        "mask": "mask.nii.gz", "stage": "check"}
    assert "origin differs by 0.5 mm" in p["reason"]
    assert str(tmp_path) not in p["reason"]  # no absolute path


def test_geometry_mismatches(tmp_path: Path) -> None:
    r = _reasons(check_case(_case(tmp_path, mask_spacing=(1.0, 1.0, 2.01))))
    assert len(r) == 1 and "spacing differs by 0.01 mm" in r[0]
    # Inside the tolerance: accepted.
    assert check_case(_case(tmp_path, mask_origin=(0.0, 0.0002, 0.0))) == []
    assert check_case(_case(tmp_path, mask_origin=(0.0, 0.0, 0.5)),
                      settings=CheckSettings(tolerance_mm=1.0)) == []
    small = np.zeros((10, 16, 15), dtype=np.uint8)
    small[3:7, 4:10, 4:10] = 1
    r = _reasons(check_case(_case(tmp_path, mask=small)))
    assert len(r) == 1 and "size differs (image (16, 16, 10), mask (15, 16, 10))" in r[0]


def test_direction_mismatch(tmp_path: Path) -> None:
    row = _case(tmp_path)
    m = sitk.ReadImage(row["mask_path"])
    m.SetDirection((0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    sitk.WriteImage(m, row["mask_path"])
    assert "direction cosines differ by 1" in _reasons(check_case(row))[0]


def test_mask_problems(tmp_path: Path) -> None:
    empty = np.zeros((10, 16, 16), dtype=np.uint8)
    assert "empty mask" in _reasons(check_case(_case(tmp_path, mask=empty)))[0]
    two = np.zeros((10, 16, 16), dtype=np.uint8)
    two[3:7, 4:10, 4:10] = 2
    r = _reasons(check_case(_case(tmp_path, mask=two, label=1)))
    assert "label 1 absent (labels present: [2])" in r[0]
    assert check_case(_case(tmp_path, mask=two, label=2)) == []
    tiny = np.zeros((10, 16, 16), dtype=np.uint8)
    tiny[5, 4:9, 4:9] = 1  # 25 voxels in one slice
    r = _reasons(check_case(_case(tmp_path, mask=tiny)))
    assert "too small for texture features (25 voxels, extent [5, 5, 1]" in r[0]
    assert check_case(_case(tmp_path, mask=tiny),
                      settings=CheckSettings(min_voxels=20, min_dims=2)) == []


def test_non_ct_intensities(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    norm = rng.normal(0, 1, (10, 16, 16)).astype(np.float32)
    r = _reasons(check_case(_case(tmp_path, img=norm)))
    assert len(r) == 1 and "looks normalised" in r[0]
    assert check_case(_case(tmp_path, img=norm), settings=CheckSettings(modality=None)) == []
    assert check_case(_case(tmp_path, img=norm),
                      settings=CheckSettings(intensity_checks=False)) == []
    hot = rng.normal(40, 20, (10, 16, 16)).astype(np.int16)
    hot[5, 6, 6] = 5000
    r = _reasons(check_case(_case(tmp_path, img=hot)))
    assert "outside the CT range [-1100, 4000] HU" in r[0] and "5000" in r[0]


def test_missing_unreadable_duplicate(tmp_path: Path) -> None:
    row = _case(tmp_path)
    Path(row["mask_path"]).unlink()
    (p,) = check_case(row)
    assert p["stage"] == "read" and p["reason"] == "mask mask.nii.gz: mask not found: mask.nii.gz"
    Path(row["image_path"]).write_bytes(b"garbage")
    r = check_case(row)
    assert [q["stage"] for q in r] == ["read", "read"]
    assert "unreadable image" in r[0]["reason"]
    dup = check_case({**row, "duplicate": True})
    assert dup[0]["stage"] == "manifest" and "duplicate (patient_id, reader)" in dup[0]["reason"]


def test_settings_validation() -> None:
    with pytest.raises(InputError, match="'min_voxels' parameter of CheckSettings"):
        CheckSettings(min_voxels=0)
    with pytest.raises(InputError, match="'modality'"):
        CheckSettings(modality="US")
    with pytest.raises(InputError, match="'pet_range'"):
        CheckSettings(pet_range=(5.0, 1.0))
    assert CheckSettings(modality="MR").modality == "MR"


def test_several_series_reported_without_uids(tmp_path: Path) -> None:
    from tests.io.conftest import write_ct_series

    rng = np.random.default_rng(1)
    vol = rng.normal(40, 10, (3, 8, 8)).astype(np.int16)
    uids = ("1.2.826.0.1.3680043.8.498.11", "1.2.826.0.1.3680043.8.498.12")
    write_ct_series(tmp_path / "a", vol, spacing=(1, 1, 2), origin=(0, 0, 0), series_uid=uids[0])
    write_ct_series(tmp_path / "b", vol, spacing=(1, 1, 2), origin=(0, 0, 0), series_uid=uids[1])
    for f in (tmp_path / "b").iterdir():
        f.rename(tmp_path / "a" / f"b_{f.name}")
    row = _case(tmp_path)
    row.update(image="a", image_path=str(tmp_path / "a"))
    (p, *_) = check_case(row)
    assert p["stage"] == "read" and "2 DICOM series (<UID>, <UID>)" in p["reason"]
    assert not any(u in p["reason"] for u in uids)


# ---- damaged files, non-finite voxels, modalities ---------------------------------------


def test_truncated_gzip_image_is_refused_not_zero_filled(tmp_path: Path) -> None:
    row = _case(tmp_path)
    assert check_case(row) == []
    data = Path(row["image_path"]).read_bytes()
    Path(row["image_path"]).write_bytes(data[: len(data) // 2])
    # SimpleITK itself reads the cut file without an error (the rest is zeros)
    arr = sitk.GetArrayFromImage(sitk.ReadImage(row["image_path"]))
    assert (arr == 0).mean() > 0.3
    (p,) = check_case(row)
    assert p["stage"] == "read" and "damaged file" in p["reason"]
    assert "before the end of the stream" in p["reason"]
    assert str(tmp_path) not in p["reason"]


def test_truncated_mask_is_refused(tmp_path: Path) -> None:
    row = _case(tmp_path)
    data = Path(row["mask_path"]).read_bytes()
    Path(row["mask_path"]).write_bytes(data[:-9])  # only the gzip trailer and a byte cut
    (p,) = check_case(row)
    assert p["stage"] == "read" and p["reason"].startswith("mask mask.nii.gz:")
    assert "damaged file" in p["reason"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_voxels_in_or_near_the_mask(tmp_path: Path, bad: float) -> None:
    rng = np.random.default_rng(4)
    img = rng.normal(40, 20, (10, 16, 16)).astype(np.float32)
    img[0] = -1000
    inside = img.copy()
    inside[5, 6, 6] = bad  # in the mask (3:7, 4:10, 4:10)
    (p,) = check_case(_case(tmp_path, img=inside))
    assert p["stage"] == "check" and "1 voxel(s) NaN or infinite" in p["reason"]
    near = img.copy()
    near[5, 6, 12] = bad  # 3 voxels outside the mask's box: inside the 5-voxel margin
    assert "NaN or infinite" in check_case(_case(tmp_path, img=near))[0]["reason"]
    # far from the mask (background set to NaN by some pipelines) is not a problem
    far = img.copy()
    far[9, 15, 15] = bad
    assert check_case(_case(tmp_path, img=far),
                      settings=CheckSettings(finite_margin=2)) == []
    # and the non-finite check runs whatever the intensity-check setting
    assert check_case(_case(tmp_path, img=inside),
                      settings=CheckSettings(intensity_checks=False, modality=None))


def test_modality_checks(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    mr = np.abs(rng.normal(300, 80, (10, 16, 16))).astype(np.float32)  # arbitrary units
    # an MR in arbitrary units fails the CT checks, passes as MR
    assert "outside the CT range" in _reasons(check_case(_case(tmp_path, img=mr * 20)))[0]
    assert check_case(_case(tmp_path, img=mr * 20), settings=CheckSettings(modality="MR")) == []
    # per-row modality from the manifest wins over the default
    assert check_case({**_case(tmp_path, img=mr * 20), "modality": "MR"}) == []
    # a CT (air at -1000 HU) given as MR or PET is refused
    ct = rng.normal(40, 20, (10, 16, 16)).astype(np.int16)
    ct[:3] = -1000
    for modality in ("MR", "PET"):
        r = _reasons(check_case(_case(tmp_path, img=ct),
                                settings=CheckSettings(modality=modality)))
        assert any("like air in CT Hounsfield units" in x and f"modality {modality}" in x
                   for x in r)
    # PET: SUV inside the mask must be within [0, 100]
    suv = np.abs(rng.normal(2, 0.5, (10, 16, 16))).astype(np.float32)
    assert check_case(_case(tmp_path, img=suv), settings=CheckSettings(modality="PET")) == []
    bq = suv * 5000  # activity concentration, not SUV
    r = _reasons(check_case(_case(tmp_path, img=bq), settings=CheckSettings(modality="PET")))
    assert len(r) == 1 and "outside the PET range [0, 100] SUV" in r[0]
    neg = suv.copy()
    neg[5, 6, 6] = -3
    assert "outside the PET range" in _reasons(
        check_case(_case(tmp_path, img=neg), settings=CheckSettings(modality="PET")))[0]
    # --no-ct-check: no intensity check of any modality
    assert check_case(_case(tmp_path, img=bq), settings=CheckSettings(
        modality="PET", intensity_checks=False)) == []
    # the CT messages name the override
    assert "--no-ct-check" in _reasons(check_case(_case(tmp_path, img=mr * 20)))[0]


def test_min_dims_follows_setting(tmp_path: Path) -> None:
    flat = np.zeros((10, 16, 16), dtype=np.uint8)
    flat[5, 2:12, 2:12] = 1  # 100 voxels in one slice: a 2-D region
    assert check_case(_case(tmp_path, mask=flat)) == []  # PyRadiomics' default: 2 axes
    r = _reasons(check_case(_case(tmp_path, mask=flat), settings=CheckSettings(min_dims=3)))
    assert "extending over at least 3 axes" in r[0]


def test_absolute_paths_in_third_party_messages_are_rewritten(tmp_path: Path) -> None:
    from radval.features.checks import problem

    root = tmp_path / "study"
    row = {"patient_id": "p1", "reader": "1", "cohort": "c", "image": "img/p1.nii.gz",
           "mask": "img/p1_mask.nii.gz", "image_path": str(root / "img" / "p1.nii.gz"),
           "mask_path": str(root / "img" / "p1_mask.nii.gz"), "root": str(root)}
    rec = problem(row, "read", f"Could not open {root}/img/p1.nii.gz; also {root}/other/x.nrrd "
                               f"and [Errno 2] No such file: '/elsewhere/secret/DOE_J/ct.mha'")
    assert str(tmp_path) not in rec["reason"] and "/elsewhere" not in rec["reason"]
    assert "DOE_J" not in rec["reason"]
    assert "Could not open img/p1.nii.gz; also other/x.nrrd" in rec["reason"]
    assert "'ct.mha'" in rec["reason"]
