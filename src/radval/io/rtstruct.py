"""Rasterise a DICOM RTSTRUCT ROI onto an image grid.

An RTSTRUCT stores each ROI as closed planar contours in patient coordinates (mm).  The
rasteriser needs only the contour points and the geometry of the image (origin, spacing,
direction): the optional ContourImageSequence, whose absence makes rt-utils 1.2.7 fail on the
IBSI CT phantom, is never used.

Algorithm
---------
For every contour point :math:`p` the continuous voxel index is
:math:`u = \\operatorname{diag}(s)^{-1} D^{\\top} (p - o)` with origin :math:`o`, spacing
:math:`s` and direction matrix :math:`D` (columns are the axis cosines).  The contour's slice is
the rounded third index.  Within a slice a voxel is inside when its centre is inside the polygon
by the crossing-number (even-odd) rule; all contours of the ROI on one slice are combined by
exclusive or, so a contour drawn inside another is a hole (the usual RTSTRUCT convention for
holes).  Voxels whose centres lie exactly on an edge follow the half-open rule of the crossing
test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from radval.exceptions import InputError

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["list_rois", "polygon_mask", "rasterize_rtstruct"]


def polygon_mask(rows: int, cols: int, poly_ij: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Voxel centres inside a polygon (even-odd rule).

    Parameters
    ----------
    rows, cols : int
        Slice size (numpy ``[row, col]`` = SimpleITK ``(y, x)``).
    poly_ij : array of shape (n, 2)
        Polygon vertices as continuous ``(col, row)`` = ``(x, y)`` voxel indices.

    Returns
    -------
    ndarray of bool, shape (rows, cols)
    """
    poly = np.asarray(poly_ij, dtype=np.float64)
    inside = np.zeros((rows, cols), dtype=bool)
    if poly.ndim != 2 or poly.shape[0] < 3:
        return inside
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    ys = np.arange(rows, dtype=np.float64)
    xs = np.arange(cols, dtype=np.float64)
    for ax, ay, bx, by in zip(x0, y0, x1, y1):
        if ay == by:
            continue
        # Rows whose centre y is in [min, max) of the edge cross it once.
        lo, hi = (ay, by) if ay < by else (by, ay)
        sel = (ys >= lo) & (ys < hi)
        if not sel.any():
            continue
        yy = ys[sel]
        xc = ax + (yy - ay) * (bx - ax) / (by - ay)
        # Toggle voxels whose centre lies to the left of the crossing.
        inside[sel, :] ^= xs[None, :] < xc[:, None]
    return inside


def _read(path: str | os.PathLike[str]) -> Any:
    import pydicom

    try:
        ds = pydicom.dcmread(os.fspath(path))
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on bad files
        raise InputError(f"{Path(path).name}: unreadable RTSTRUCT ({exc})") from exc
    if getattr(ds, "Modality", None) != "RTSTRUCT":
        raise InputError(f"{Path(path).name}: not an RTSTRUCT (Modality "
                         f"{getattr(ds, 'Modality', None)!r})")
    return ds


def list_rois(path: str | os.PathLike[str]) -> dict[int, str]:
    """ROI Number -> ROI Name of an RTSTRUCT file."""
    ds = _read(path)
    return {int(r.ROINumber): str(getattr(r, "ROIName", ""))
            for r in getattr(ds, "StructureSetROISequence", [])}


def rasterize_rtstruct(path: str | os.PathLike[str], reference: sitk.Image, *,
                       roi_number: int = 1, value: int = 1) -> sitk.Image:
    """Rasterise one ROI of an RTSTRUCT onto the grid of ``reference``.

    Parameters
    ----------
    path : path
        RTSTRUCT file.
    reference : SimpleITK.Image
        The 3-D image the structure set was drawn on.
    roi_number : int, optional
        ROI Number (0x3006,0x0022) of the ROI to rasterise.
    value : int, optional
        Voxel value inside the ROI (0 outside).

    Returns
    -------
    SimpleITK.Image
        uint8 (uint16 when ``value > 255``) label image with ``reference``'s geometry.

    Raises
    ------
    InputError
        The ROI is absent (the message lists the ROIs present), has no closed planar contour,
        or a contour is not in an axial plane of the image.
    """
    import SimpleITK as sitk

    ds = _read(path)
    name = Path(path).name
    rois = {int(r.ROINumber): str(getattr(r, "ROIName", ""))
            for r in getattr(ds, "StructureSetROISequence", [])}
    item = None
    for rc in getattr(ds, "ROIContourSequence", []):
        if int(rc.ReferencedROINumber) == int(roi_number):
            item = rc
            break
    if item is None:
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(rois.items())) or "none"
        raise InputError(f"{name}: no ROI number {roi_number} (ROIs: {shown})")
    size = reference.GetSize()
    if len(size) != 3:
        raise InputError(f"{name}: the reference image must be 3-D (size {size})")
    cols, rows, slices = (int(s) for s in size)
    origin = np.asarray(reference.GetOrigin(), dtype=np.float64)
    spacing = np.asarray(reference.GetSpacing(), dtype=np.float64)
    direction = np.asarray(reference.GetDirection(), dtype=np.float64).reshape(3, 3)
    to_index = np.linalg.inv(direction @ np.diag(spacing))
    arr = np.zeros((slices, rows, cols), dtype=bool)
    n_used = 0
    for contour in getattr(item, "ContourSequence", []):
        if str(getattr(contour, "ContourGeometricType", "CLOSED_PLANAR")) != "CLOSED_PLANAR":
            continue
        pts = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)
        idx = (to_index @ (pts - origin).T).T
        k_float = idx[:, 2]
        k = int(np.rint(k_float.mean()))
        if np.ptp(k_float) > 0.5:
            raise InputError(f"{name}: ROI {roi_number} has a contour that is not in an axial "
                             f"plane of the image (spans {np.ptp(k_float):.2f} slices)")
        if not 0 <= k < slices:
            continue
        arr[k] ^= polygon_mask(rows, cols, idx[:, :2])
        n_used += 1
    if n_used == 0:
        raise InputError(f"{name}: ROI {roi_number} ({rois.get(roi_number, '')}) has no closed "
                         "planar contour on the image grid")
    dtype = np.uint16 if value > 255 else np.uint8
    out = sitk.GetImageFromArray(np.where(arr, value, 0).astype(dtype))
    out.CopyInformation(reference)
    return out
