"""Checks run on every manifest row before feature extraction.

Each problem is reported as a record ``{patient_id, reader, cohort, image, mask, stage,
reason}`` (the failures table, ``data-dictionary/failures.yaml``), with the file and the measured
value in ``reason``.  Rows without problems still run when others fail.

Checks, in order
----------------
1. ``manifest``: the (patient_id, reader) pair repeats an earlier row.
2. ``read``: the image or mask file is missing or unreadable.
3. ``check``: image and mask grids differ: size, spacing (mm), origin (mm, Euclidean distance)
   or direction cosines beyond the tolerance; the mask is empty; the label is absent; the
   region is too small for texture features (fewer than ``min_voxels`` voxels, or extending over
   more than one voxel in fewer than ``min_dims`` axes); the intensities inside the mask are
   outside ``ct_range`` (default [-1100, 4000] HU) or the whole image spans less than
   ``normalised_span`` (50) units, i.e. it looks normalised rather than in HU, when
   ``modality="CT"``.

Reasons never carry absolute paths (files are named as in the manifest) nor DICOM UIDs (a
folder with several series is reported with ``<UID>`` placeholders; :func:`radval.io.images.
read_image` on the folder shows the UIDs to the local user).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from radval._validation import param_error
from radval.exceptions import InputError

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["CheckSettings", "check_case", "check_loaded", "load_case", "problem", "redact_uids"]


@dataclass(frozen=True, kw_only=True)
class CheckSettings:
    """Thresholds of the pre-extraction checks.

    Attributes
    ----------
    modality : {"CT", None}
        ``"CT"`` enables the Hounsfield-unit checks; ``None`` disables them.
    min_voxels : int
        Smallest region (voxels, on the original grid) accepted for texture features.
    min_dims : int
        The region must extend over more than one voxel in at least this many axes
        (PyRadiomics' ``minimumROIDimensions`` is 2; 3 for 3-D texture).
    tolerance_mm : float
        Largest accepted spacing difference and origin distance between image and mask (mm).
    direction_tolerance : float
        Largest accepted absolute difference of direction cosines.
    ct_range : tuple of float
        Accepted intensity range inside the mask for CT (HU).
    normalised_span : float
        A CT whose whole-image max - min is below this looks normalised, not in HU.
    """

    modality: str | None = "CT"
    min_voxels: int = 27
    min_dims: int = 3
    tolerance_mm: float = 1e-3
    direction_tolerance: float = 1e-4
    ct_range: tuple[float, float] = (-1100.0, 4000.0)
    normalised_span: float = 50.0

    def __post_init__(self) -> None:
        if self.modality not in ("CT", None):
            raise param_error("modality", "CheckSettings", "'CT' or None", self.modality)
        if isinstance(self.min_voxels, bool) or not isinstance(self.min_voxels, int) \
                or self.min_voxels < 1:
            raise param_error("min_voxels", "CheckSettings", "an integer >= 1", self.min_voxels)
        if self.min_dims not in (0, 1, 2, 3):
            raise param_error("min_dims", "CheckSettings", "0, 1, 2 or 3", self.min_dims)
        for name in ("tolerance_mm", "direction_tolerance", "normalised_span"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise param_error(name, "CheckSettings", "a finite number >= 0", v)


#: DICOM UIDs (digits and dots, five components or more) are withheld from the failures table.
_UID = re.compile(r"\b\d+(?:\.\d+){4,}\b")


def redact_uids(text: str) -> str:
    """Replace DICOM UIDs in ``text`` by ``<UID>`` (they can identify a study or patient)."""
    return _UID.sub("<UID>", text)


def problem(row: Mapping[str, Any], stage: str, reason: str) -> dict[str, Any]:
    """One failures-table record for manifest ``row`` (DICOM UIDs redacted from ``reason``)."""
    return {"patient_id": str(row.get("patient_id", "")), "reader": str(row.get("reader", "1")),
            "cohort": str(row.get("cohort", "")), "image": str(row.get("image", "")),
            "mask": str(row.get("mask", "")), "stage": stage, "reason": redact_uids(reason)}


def load_case(row: Mapping[str, Any]) -> tuple[sitk.Image | None, sitk.Image | None,
                                                 list[dict[str, Any]]]:
    """Read the image and mask of ``row``; problems instead of exceptions.

    Returns
    -------
    image, mask : SimpleITK.Image or None
    problems : list of dict
        ``stage="read"`` records (missing / unreadable file).
    """
    from radval.io.images import read_image, read_mask

    problems: list[dict[str, Any]] = []
    image = mask = None
    img_path = str(row.get("image_path") or row["image"])
    mask_path = str(row.get("mask_path") or row["mask"])
    try:
        image = read_image(img_path)
    except (InputError, FileNotFoundError) as exc:
        problems.append(problem(row, "read", f"image {row.get('image')}: {exc}"))
    except RuntimeError as exc:
        problems.append(problem(row, "read", f"image {row.get('image')}: unreadable ({exc})"))
    if image is not None and image.GetDimension() != 3:
        problems.append(problem(row, "read", f"image {row.get('image')}: "
                                f"{image.GetDimension()}-D image, expected 3-D"))
        image = None
    try:
        mask = read_mask(mask_path, reference=image, label=int(row.get("label", 1)))
    except (InputError, FileNotFoundError) as exc:
        problems.append(problem(row, "read", f"mask {row.get('mask')}: {exc}"))
    except RuntimeError as exc:
        problems.append(problem(row, "read", f"mask {row.get('mask')}: unreadable ({exc})"))
    return image, mask, problems


def check_loaded(row: Mapping[str, Any], image: sitk.Image, mask: sitk.Image,
                 settings: CheckSettings | None = None) -> list[dict[str, Any]]:
    """Geometry, mask and intensity checks on an already loaded case.

    See the module docstring for the rules.  Returns ``stage="check"`` records.
    """
    import SimpleITK as sitk

    s = settings or CheckSettings()
    out: list[dict[str, Any]] = []
    tag = f"image {row.get('image')} / mask {row.get('mask')}"
    label = int(row.get("label", 1))
    if image.GetSize() != mask.GetSize():
        out.append(problem(row, "check", f"{tag}: size differs (image {image.GetSize()}, "
                                         f"mask {mask.GetSize()})"))
        return out
    d_sp = float(np.max(np.abs(np.subtract(image.GetSpacing(), mask.GetSpacing()))))
    if d_sp > s.tolerance_mm:
        out.append(problem(row, "check", f"{tag}: spacing differs by {d_sp:.4g} mm "
                                         f"(tolerance {s.tolerance_mm:g} mm)"))
    d_or = float(np.linalg.norm(np.subtract(image.GetOrigin(), mask.GetOrigin())))
    if d_or > s.tolerance_mm:
        out.append(problem(row, "check", f"{tag}: origin differs by {d_or:.4g} mm "
                                         f"(tolerance {s.tolerance_mm:g} mm)"))
    d_dir = float(np.max(np.abs(np.subtract(image.GetDirection(), mask.GetDirection()))))
    if d_dir > s.direction_tolerance:
        out.append(problem(row, "check", f"{tag}: direction cosines differ by {d_dir:.4g} "
                                         f"(tolerance {s.direction_tolerance:g})"))
    if out:
        return out
    m = sitk.GetArrayViewFromImage(mask)
    nonzero = m != 0
    if not nonzero.any():
        out.append(problem(row, "check", f"mask {row.get('mask')}: empty mask (all voxels 0)"))
        return out
    roi = m == label
    n = int(roi.sum())
    if n == 0:
        present = np.unique(m[nonzero])[:10].tolist()
        out.append(problem(row, "check", f"mask {row.get('mask')}: label {label} absent "
                                         f"(labels present: {present})"))
        return out
    idx = np.nonzero(roi)
    extent = [int(a.max() - a.min() + 1) for a in idx]
    n_dims = sum(e > 1 for e in extent)
    if n < s.min_voxels or n_dims < s.min_dims:
        out.append(problem(row, "check", f"mask {row.get('mask')}: region too small for "
                                         f"texture features ({n} voxels, extent {extent[::-1]} "
                                         f"(x, y, z); minimum {s.min_voxels} voxels over "
                                         f"{s.min_dims} axes)"))
    if s.modality == "CT":
        a = sitk.GetArrayViewFromImage(image)
        vals = a[roi]
        lo, hi = float(vals.min()), float(vals.max())
        if lo < s.ct_range[0] or hi > s.ct_range[1]:
            out.append(problem(row, "check", f"image {row.get('image')}: intensities in the mask "
                                             f"span [{lo:g}, {hi:g}], outside the CT range "
                                             f"[{s.ct_range[0]:g}, {s.ct_range[1]:g}] HU"))
        span = float(a.max()) - float(a.min())
        if span < s.normalised_span:
            out.append(problem(row, "check", f"image {row.get('image')}: intensities span only "
                                             f"{span:g} units; the image looks normalised, not "
                                             "in HU (CT expected)"))
    return out


def check_case(row: Mapping[str, Any], *, settings: CheckSettings | None = None,
               duplicate: bool | None = None) -> list[dict[str, Any]]:
    """Check one manifest row (read, geometry, mask, intensities).

    Parameters
    ----------
    row : mapping
        A manifest row (from :func:`radval.io.manifest.read_manifest`): ``patient_id, reader,
        cohort, image, mask, label`` and ``image_path, mask_path``.
    settings : CheckSettings, optional
        Thresholds (defaults: CT, 27 voxels over 3 axes, 0.001 mm).
    duplicate : bool, optional
        Whether the row repeats an earlier (patient_id, reader); default ``row["duplicate"]``.

    Returns
    -------
    list of dict
        Failures-table records (empty when the row is fine).
    """
    dup = bool(row.get("duplicate", False)) if duplicate is None else duplicate
    if dup:
        return [problem(row, "manifest", f"duplicate (patient_id, reader) = "
                                         f"({row.get('patient_id')}, {row.get('reader')}); "
                                         "only the first row is used")]
    image, mask, problems = load_case(row)
    if problems or image is None or mask is None:
        return problems
    return check_loaded(row, image, mask, settings)
