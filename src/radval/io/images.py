"""Reading images (CT, MR, PET) and tumour masks through SimpleITK.

Images: NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``), MetaImage (``.mha``,
``.mhd``) and a folder holding exactly one DICOM series.  A folder with several series is
refused and the error names them (their SeriesInstanceUIDs appear only in this local error
message, never in an output file).

Masks: the same formats, plus a DICOM-SEG file (read with highdicom; the segment is chosen by
its number, i.e. the manifest ``label``) and a DICOM RTSTRUCT file (rasterised on the image grid
by :mod:`radval.io.rtstruct`; the ROI is chosen by its ROI Number).  DICOM-SEG and RTSTRUCT masks
are returned on the reference image's grid with the voxel value ``label`` inside the ROI, so the
rest of the pipeline treats every mask the same way.

SimpleITK is imported inside the functions (``import radval`` stays light).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radval.exceptions import InputError, MissingInputError
from radval.io._integrity import inflate_nifti, verify_image_file

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = [
    "IMAGE_SUFFIXES",
    "dicom_modality",
    "read_image",
    "read_mask",
]

#: File name endings read directly by SimpleITK.
IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def _is_dicom_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def dicom_modality(path: str | os.PathLike[str]) -> str | None:
    """Modality (``CT``, ``SEG``, ``RTSTRUCT``...) of a DICOM file, ``None`` if not DICOM."""
    p = Path(path)
    if not p.is_file() or not _is_dicom_file(p):
        return None
    import pydicom

    ds = pydicom.dcmread(p, stop_before_pixels=True, specific_tags=["Modality"])
    return str(getattr(ds, "Modality", "")) or None


def _read_dicom_series(folder: Path) -> sitk.Image:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    ids = list(reader.GetGDCMSeriesIDs(str(folder)))
    if not ids:
        raise InputError(f"{folder.name}: the folder holds no DICOM image series")
    if len(ids) > 1:
        raise InputError(f"{folder.name}: the folder holds {len(ids)} DICOM series "
                         f"({', '.join(sorted(ids))}); put one series per folder")
    files = reader.GetGDCMSeriesFileNames(str(folder), ids[0])
    reader.SetFileNames(files)
    return reader.Execute()


def _check_exists(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(os.fspath(path))
    if not p.exists():
        raise MissingInputError(f"{what} not found: {p.name}")
    return p


def read_image(path: str | os.PathLike[str]) -> sitk.Image:
    """Read an image (NIfTI, NRRD, MetaImage, or a folder with one DICOM series).

    Parameters
    ----------
    path : path
        File or DICOM folder.

    Returns
    -------
    SimpleITK.Image
        NaN where a floating-point NIfTI file holds NaN or an infinite value (ITK's reader
        alone would return 0 there).

    Notes
    -----
    A ``.nii.gz`` is decompressed once: the integrity check writes the decompressed bytes to
    an uncompressed ``.nii`` in a private temporary folder, which ITK reads and which is
    deleted at once (:func:`radval.io._integrity.inflate_nifti`); the image is the one ITK
    reads from the ``.nii.gz`` itself.  The temporary folder (``TMPDIR``) briefly holds the
    uncompressed image; when it cannot, the ``.nii.gz`` is read directly.

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        The file cannot be read, is damaged (holds less data than its header declares, or a
        corrupt compressed stream: :func:`radval.io._integrity.verify_image_file`), or the
        folder holds zero or several DICOM series.
    """

    p = _check_exists(path, "image")
    if p.is_dir():
        return _read_dicom_series(p)
    if not p.name.lower().endswith(".nii.gz"):
        # SimpleITK zero-fills a truncated file without an error: check the size first
        return _read_file(p, p, verify_image_file(p))
    # A .nii.gz is decompressed once, by the check, into a private folder deleted at once
    with tempfile.TemporaryDirectory(prefix="radval-read-") as tmp:
        non_finite, copy = inflate_nifti(p, tmp)
        return _read_file(p, copy or p, non_finite)


def _read_file(p: Path, source: Path, non_finite: Any) -> sitk.Image:
    """Read ``source`` (``p`` itself or its uncompressed copy); messages name ``p``."""
    import SimpleITK as sitk

    # ITK prints its warnings (with the file's absolute path) straight to the process's
    # stderr, past radval's path rewriting: they are not shown while reading
    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        img = sitk.ReadImage(str(source))
    except RuntimeError as exc:
        text = str(exc).strip().replace(str(source), str(p))
        first = text.splitlines()[-1] if text else "unknown error"
        raise InputError(f"{p.name}: unreadable image ({first})") from exc
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)
    if non_finite.size:
        img = _restore_non_finite(img, non_finite)
    return img


def _restore_non_finite(img: sitk.Image, flat: Any) -> sitk.Image:
    """``img`` with NaN at the flat voxel indices ``flat`` (ITK's NIfTI reader returns the
    file's NaN and infinite voxels as 0; the checks must see them)."""
    import numpy as np
    import SimpleITK as sitk

    arr = sitk.GetArrayFromImage(img)
    if arr.dtype.kind != "f" or img.GetNumberOfComponentsPerPixel() != 1 \
            or int(flat.max()) >= arr.size:
        return img
    arr.reshape(-1)[flat] = np.nan
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(img)
    return out


def read_mask(path: str | os.PathLike[str], *, reference: sitk.Image | None = None,
              label: int = 1) -> sitk.Image:
    """Read a mask; DICOM-SEG and RTSTRUCT are converted to a label image on ``reference``.

    Parameters
    ----------
    path : path
        Mask file (NIfTI / NRRD / MetaImage / DICOM folder / DICOM-SEG / RTSTRUCT).
    reference : SimpleITK.Image, optional
        The image the mask belongs to.  Required for RTSTRUCT (it only holds contours) and
        used for DICOM-SEG (the segment is resampled, nearest neighbour, onto its grid).
    label : int, optional
        Label value (DICOM-SEG: segment number; RTSTRUCT: ROI Number).  In the returned image
        of a DICOM-SEG or RTSTRUCT, voxels inside the ROI hold ``label``.

    Returns
    -------
    SimpleITK.Image
    """
    p = _check_exists(path, "mask")
    if p.is_file() and _is_dicom_file(p):
        modality = dicom_modality(p)
        if modality == "SEG":
            return _read_seg(p, reference=reference, label=label)
        if modality == "RTSTRUCT":
            if reference is None:
                raise InputError(f"{p.name}: an RTSTRUCT mask needs the reference image")
            from radval.io.rtstruct import rasterize_rtstruct

            return rasterize_rtstruct(p, reference, roi_number=label, value=label)
    return read_image(p)


def _read_seg(path: Path, *, reference: sitk.Image | None, label: int) -> sitk.Image:
    import highdicom as hd
    import numpy as np
    import SimpleITK as sitk

    try:
        seg = hd.seg.segread(str(path))
    except Exception as exc:  # noqa: BLE001 - highdicom raises many types on bad files
        raise InputError(f"{path.name}: unreadable DICOM-SEG ({exc})") from exc
    numbers = [int(n) for n in seg.segment_numbers]
    if label not in numbers:
        described = ", ".join(f"{n}: {seg.get_segment_description(n).segment_label}"
                              for n in numbers)
        raise InputError(f"{path.name}: DICOM-SEG has no segment {label} (segments: {described})")
    vol = seg.get_volume(segment_numbers=[label], combine_segments=True, relabel=False,
                         dtype=np.uint8)
    img: Any = vol.to_simpleitk()
    arr = sitk.GetArrayFromImage(img)
    arr = np.where(arr > 0, label, 0).astype(np.uint16 if label > 255 else np.uint8)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(img)
    if reference is not None:
        out = sitk.Resample(out, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                            out.GetPixelID())
    return out
