"""Damaged image files are refused before SimpleITK zero-fills them; NIfTI NaN survive."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from radval.exceptions import InputError
from radval.io._integrity import verify_image_file
from radval.io.images import read_image

sitk = pytest.importorskip("SimpleITK")


def _write(folder: Path, ext: str, *, compress: bool, dtype: type = np.int16) -> Path:
    arr = np.random.default_rng(0).normal(40, 20, (12, 20, 24)).astype(dtype)
    p = folder / f"img{ext}"
    sitk.WriteImage(sitk.GetImageFromArray(arr), str(p), useCompression=compress)
    return p


def _data_file(p: Path) -> Path:
    """The file holding the voxels (the header itself, or a detached data file)."""
    if p.suffix in (".mhd", ".nhdr"):
        return next(f for f in p.parent.iterdir() if f != p and f.name.startswith("img."))
    return p


CASES = [(".nii.gz", True), (".nii", False), (".nrrd", True), (".nrrd", False),
         (".mha", True), (".mha", False), (".mhd", True), (".mhd", False), (".nhdr", True),
         (".nhdr", False)]


@pytest.mark.parametrize(("ext", "compress"), CASES)
def test_intact_files_pass(tmp_path: Path, ext: str, compress: bool) -> None:
    p = _write(tmp_path, ext, compress=compress)
    assert verify_image_file(p).size == 0
    assert read_image(p).GetSize() == (24, 20, 12)


@pytest.mark.parametrize(("ext", "compress"), CASES)
def test_truncated_files_are_refused(tmp_path: Path, ext: str, compress: bool) -> None:
    p = _write(tmp_path, ext, compress=compress)
    data = _data_file(p)
    raw = data.read_bytes()
    data.write_bytes(raw[: int(len(raw) * 0.6)])
    with pytest.raises(InputError, match=rf"^{p.name}: damaged file: "):
        verify_image_file(p)
    with pytest.raises(InputError, match="damaged file"):
        read_image(p)


def test_truncated_nifti_gz_is_silently_zero_filled_by_simpleitk(tmp_path: Path) -> None:
    # the reason for the check: SimpleITK reads the cut file without any error
    p = _write(tmp_path, ".nii.gz", compress=True)
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    arr = sitk.GetArrayFromImage(sitk.ReadImage(str(p)))
    assert (arr == 0).mean() > 0.3
    with pytest.raises(InputError, match="before the end of the stream"):
        read_image(p)


def test_corrupt_compressed_data_and_multi_member_gzip(tmp_path: Path) -> None:
    p = _write(tmp_path, ".nii.gz", compress=True)
    raw = bytearray(p.read_bytes())
    good = bytes(raw)
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte: invalid data or a CRC mismatch
    p.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="damaged file"):
        verify_image_file(p)
    # the same bytes as two gzip members (a valid gzip file) are accepted
    plain = gzip.decompress(good)
    p.write_bytes(gzip.compress(plain[:1000]) + gzip.compress(plain[1000:]))
    assert verify_image_file(p).size == 0
    # and a header declaring more voxels than the complete stream holds is refused
    p.write_bytes(gzip.compress(plain[:-10]))
    with pytest.raises(InputError, match=r"its NIfTI header declares"):
        verify_image_file(p)


def test_nifti_non_finite_voxels_are_kept(tmp_path: Path) -> None:
    arr = np.random.default_rng(1).normal(0, 1, (6, 7, 8)).astype(np.float32)
    arr[2, 3, 4] = np.nan
    arr[5, 6, 7] = np.inf
    arr[0, 0, 1] = -np.inf
    for ext in (".nii.gz", ".nii"):
        p = tmp_path / f"f{ext}"
        sitk.WriteImage(sitk.GetImageFromArray(arr), str(p))
        # ITK's reader returns them as 0 ...
        assert sitk.GetArrayFromImage(sitk.ReadImage(str(p)))[2, 3, 4] == 0
        # ... radval puts them back (as NaN), at the same voxels
        got = sitk.GetArrayFromImage(read_image(p))
        assert sorted(map(tuple, np.argwhere(~np.isfinite(got)).tolist())) == [
            (0, 0, 1), (2, 3, 4), (5, 6, 7)]
        np.testing.assert_array_equal(got[np.isfinite(arr)], arr[np.isfinite(arr)])
    p64 = tmp_path / "d.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(arr.astype(np.float64)), str(p64))
    assert np.isnan(sitk.GetArrayFromImage(read_image(p64))[2, 3, 4])


def test_not_an_image_is_left_to_the_reader(tmp_path: Path) -> None:
    p = tmp_path / "x.nii.gz"
    p.write_bytes(b"garbage")
    assert verify_image_file(p).size == 0  # no opinion: SimpleITK says "unreadable"
    with pytest.raises(InputError, match="unreadable image"):
        read_image(p)
