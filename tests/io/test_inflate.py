"""A .nii.gz is decompressed once: the integrity check's uncompressed copy reads as the file."""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import radval.io._integrity as integrity
from radval.exceptions import InputError
from radval.io._integrity import inflate_nifti, verify_image_file
from radval.io.images import read_image, read_mask

sitk = pytest.importorskip("SimpleITK")


def _same(a: Any, b: Any) -> None:
    """Everything downstream code can see of an image: pixels, geometry, type, metadata."""
    assert a.GetPixelIDTypeAsString() == b.GetPixelIDTypeAsString()
    assert a.GetNumberOfComponentsPerPixel() == b.GetNumberOfComponentsPerPixel()
    assert a.GetSize() == b.GetSize()
    assert a.GetSpacing() == b.GetSpacing()
    assert a.GetOrigin() == b.GetOrigin()
    assert a.GetDirection() == b.GetDirection()
    assert sorted(a.GetMetaDataKeys()) == sorted(b.GetMetaDataKeys())
    for k in a.GetMetaDataKeys():
        assert a.GetMetaData(k) == b.GetMetaData(k), k
    x, y = sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b)
    assert x.dtype == y.dtype
    assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f")


def _geometry(img: Any) -> Any:
    img.SetSpacing((0.71, 0.73, 2.5))
    img.SetOrigin((-120.5, 33.25, -7.0))
    c, s = np.cos(0.3), np.sin(0.3)
    img.SetDirection((c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0))
    return img


def _itk(folder: Path, kind: str) -> Path:
    rng = np.random.default_rng(7)
    if kind == "int16":
        arr: Any = rng.normal(40, 300, (9, 20, 24)).astype(np.int16)
    elif kind == "float32_nan":
        arr = rng.normal(0, 1, (9, 20, 24)).astype(np.float32)
        arr[2, 3, 4] = np.nan
        arr[8, 19, 23] = np.inf
        arr[0, 0, 0] = -np.inf
    elif kind == "uint8_mask":
        arr = (rng.random((9, 20, 24)) > 0.7).astype(np.uint8) * 3
    else:  # a vector image (2 components)
        arr = rng.normal(0, 1, (9, 20, 24, 2)).astype(np.float32)
    img = sitk.GetImageFromArray(arr, isVector=kind == "vector")
    p = folder / f"{kind}.nii.gz"
    sitk.WriteImage(_geometry(img), str(p), useCompression=True)
    return p


def _rewrite(p: Path, edit: Any, *, members: int = 1) -> Path:
    """Decompress ``p``, change its bytes with ``edit``, compress again (``members`` gzip
    members)."""
    raw = bytearray(gzip.decompress(p.read_bytes()))
    raw = bytearray(edit(raw))
    cut = np.linspace(0, len(raw), members + 1).astype(int)
    p.write_bytes(b"".join(gzip.compress(bytes(raw[a:b])) for a, b in zip(cut, cut[1:])))
    return p


def _scaled(folder: Path) -> Path:
    # scl_slope = 2, scl_inter = -1024: ITK returns a float image
    def edit(raw: bytearray) -> bytearray:
        raw[112:120] = struct.pack("<2f", 2.0, -1024.0)
        return raw
    return _rewrite(_itk(folder, "int16").rename(folder / "scaled.nii.gz"), edit)


def _extension(folder: Path) -> Path:
    # a 16-byte header extension (ecode 6, comment): the voxels start at 368, not 352
    def edit(raw: bytearray) -> bytearray:
        ext = struct.pack("<2i", 16, 6) + b"radval-test\0"[:8]
        raw[108:112] = struct.pack("<f", 368.0)
        return raw[:348] + bytearray(b"\x01\0\0\0") + ext + raw[352:]
    return _rewrite(_itk(folder, "int16").rename(folder / "ext.nii.gz"), edit, members=3)


def _nifti1(folder: Path, endian: str) -> Path:
    """A NIfTI-1 file written by hand: float32 with NaN, ``endian`` "<" or ">", sform only."""
    arr = np.random.default_rng(3).normal(0, 1, (5, 6, 7)).astype(endian + "f4")
    arr[1, 2, 3] = np.nan
    nz, ny, nx = arr.shape
    hdr = struct.pack(endian + "i10s18sihcc8h3f4h8f3fhcc2f2f2i80s24s2h6f12f16s4s",
                      348, b"", b"", 0, 0, b"r", b"\0", 3, nx, ny, nz, 1, 1, 1, 1,
                      0.0, 0.0, 0.0, 0, 16, 32, 0, 1.0, 0.8, 0.9, 1.7, 1.0, 1.0, 1.0, 1.0,
                      352.0, 1.0, 0.0, 0, b"\0", b"\x0a", 0.0, 0.0, 0.0, 0.0, 0, 0,
                      b"hand-written", b"", 0, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                      0.0, -0.9, 0.0, 10.0, 0.8, 0.0, 0.0, -20.0, 0.0, 0.0, 1.7, 30.0,
                      b"", b"n+1\0")
    assert len(hdr) == 348
    p = folder / f"nifti1_{'le' if endian == '<' else 'be'}.nii.gz"
    p.write_bytes(gzip.compress(hdr + b"\0" * 4 + arr.tobytes()))
    return p


VARIANTS = {
    "int16": lambda d: _itk(d, "int16"),
    "float32_nan": lambda d: _itk(d, "float32_nan"),
    "uint8_mask": lambda d: _itk(d, "uint8_mask"),
    "vector": lambda d: _itk(d, "vector"),
    "scaled": _scaled,
    "extension_3_members": _extension,
    "hand_le_sform": lambda d: _nifti1(d, "<"),
    "hand_be_sform": lambda d: _nifti1(d, ">"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_uncompressed_copy_reads_as_the_file(tmp_path: Path, variant: str) -> None:
    p = VARIANTS[variant](tmp_path)
    folder = tmp_path / "copy"
    folder.mkdir()
    non_finite, copy = inflate_nifti(p, folder)
    assert copy is not None and copy.name == p.name[:-3]
    # byte for byte what ITK's own decompression sees
    assert copy.read_bytes() == gzip.decompress(p.read_bytes())
    np.testing.assert_array_equal(non_finite, verify_image_file(p))
    _same(sitk.ReadImage(str(copy)), sitk.ReadImage(str(p)))
    # read_image: the copy, with the non-finite voxels put back, deleted at once
    direct = sitk.ReadImage(str(p))
    if non_finite.size:
        arr = sitk.GetArrayFromImage(direct)
        arr.reshape(-1)[non_finite] = np.nan
        restored = sitk.GetImageFromArray(arr, isVector=direct.GetNumberOfComponentsPerPixel() > 1)
        restored.CopyInformation(direct)
        for k in direct.GetMetaDataKeys():
            restored.SetMetaData(k, direct.GetMetaData(k))
        direct = restored
    got = read_image(p)
    if not non_finite.size:
        _same(got, direct)
    else:  # the image rebuilt around the NaN carries no file metadata (as before)
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(got),
                                      sitk.GetArrayViewFromImage(direct))
        assert (got.GetSpacing(), got.GetOrigin(), got.GetDirection()) == (
            direct.GetSpacing(), direct.GetOrigin(), direct.GetDirection())
    assert not copy.exists() or folder.exists()  # inflate_nifti's folder is the caller's
    if variant == "uint8_mask":
        _same(read_mask(p), sitk.ReadImage(str(p)))


def _no_leftovers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def test_no_temporary_file_is_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = _no_leftovers(monkeypatch, tmp_path)
    good = _itk(tmp_path, "int16")
    assert read_image(good).GetSize() == (24, 20, 9)
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(InputError, match="damaged file"):
        read_image(cut)
    bad = tmp_path / "bad.nii.gz"
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="damaged file"):
        read_image(bad)
    short = _rewrite(_itk(tmp_path, "int16").rename(tmp_path / "short.nii.gz"),
                     lambda r: r[:-10])
    with pytest.raises(InputError, match="its NIfTI header declares"):
        read_image(short)
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(gzip.compress(b"not an image at all" * 50))
    with pytest.raises(InputError, match=r"^junk.nii.gz: unreadable image") as err:
        read_image(junk)
    assert str(tmp) not in str(err.value)  # the message names the file, not the copy
    assert list(tmp.iterdir()) == []


def test_copy_given_up_reads_the_original(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    # a stream much longer than its header declares (a decompression bomb gets no further)
    monkeypatch.setattr(integrity, "_COPY_SLACK", 1000)
    long = _rewrite(_itk(tmp_path, "int16").rename(tmp_path / "long.nii.gz"),
                    lambda r: r + bytearray(5000))
    non_finite, copy = inflate_nifti(long, folder)
    assert copy is None and non_finite.size == 0 and list(folder.iterdir()) == []
    _same(read_image(long), sitk.ReadImage(str(long)))
    # a header that is not a single-file NIfTI ("ni1": header and voxels in two files)
    pair = _rewrite(_itk(tmp_path, "int16").rename(tmp_path / "pair.nii.gz"),
                    lambda r: r[:344] + bytearray(b"ni1\0") + r[348:])
    assert inflate_nifti(pair, folder)[1] is None and list(folder.iterdir()) == []
    # a folder that does not exist, or a disk that is full: the original is read
    assert inflate_nifti(long, tmp_path / "nowhere")[1] is None
    if os.path.exists("/dev/full"):
        good = _itk(tmp_path, "float32_nan")
        (folder / good.name[:-3]).symlink_to("/dev/full")
        non_finite, copy = inflate_nifti(good, folder)
        assert copy is None and non_finite.size == 3 and list(folder.iterdir()) == []


def test_other_files_get_no_copy(tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    arr = np.zeros((4, 5, 6), dtype=np.int16)
    for name, compress in (("a.nii", False), ("b.nrrd", True), ("c.mha", True)):
        sitk.WriteImage(sitk.GetImageFromArray(arr), str(tmp_path / name),
                        useCompression=compress)
        assert inflate_nifti(tmp_path / name, folder)[1] is None
    plain = tmp_path / "plain.nii.gz"  # named .gz, stored uncompressed
    plain.write_bytes((tmp_path / "a.nii").read_bytes())
    assert inflate_nifti(plain, folder)[1] is None
    assert list(folder.iterdir()) == []
