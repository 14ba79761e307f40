"""Checks run on every manifest row before feature extraction.

Each problem is reported as a record ``{patient_id, reader, cohort, image, mask, stage,
reason}`` (the failures table, ``data-dictionary/failures.yaml``), with the file and the measured
value in ``reason``.  Rows without problems still run when others fail.

Checks, in order
----------------
1. ``manifest``: the (patient_id, reader) pair repeats an earlier row.
2. ``read``: the image or mask file is missing, unreadable or damaged (a compressed file that
   does not decompress to the size its header declares: :func:`radval.io.images.read_image`).
3. ``check``: image and mask grids differ: size, spacing (mm), origin (mm, Euclidean distance)
   or direction cosines beyond the tolerance; the mask is empty; the label is absent; the
   region is too small for texture features (fewer than ``min_voxels`` voxels, or extending over
   more than one voxel in fewer than ``min_dims`` axes: the parameter file's
   ``minimumROIDimensions``); a voxel inside the mask or within ``finite_margin`` voxels of it
   is NaN or infinite; then the intensity checks of the row's modality (the manifest's
   ``modality`` column, else :attr:`CheckSettings.modality`), unless ``intensity_checks`` is
   off:

   - ``CT``: intensities inside the mask within ``ct_range`` (default [-1100, 4000] HU), and the
     whole image spanning at least ``normalised_span`` (50) units (a smaller span looks
     normalised rather than in HU);
   - ``MR`` (arbitrary units, no range): the image must not look like a CT, i.e. fewer than
     ``ct_like_fraction`` (5%) of its voxels at or below -900 (air in Hounsfield units);
   - ``PET`` (standardised uptake values): intensities inside the mask within ``pet_range``
     (default [0, 100]; negative values or values in the thousands mean activity
     concentration, not SUV), and not CT-like as for MR.

Reasons never carry absolute paths (files are named as in the manifest, and paths inside
third-party messages are rewritten by :func:`radval._paths.scrub_paths`) nor DICOM UIDs (a
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

__all__ = ["MODALITIES", "CheckSettings", "check_case", "check_loaded", "load_case", "problem",
           "redact_uids", "row_modality"]


#: Imaging modalities with their own intensity checks.
MODALITIES = ("CT", "MR", "PET")


@dataclass(frozen=True, kw_only=True)
class CheckSettings:
    """Thresholds of the pre-extraction checks.

    Attributes
    ----------
    modality : {"CT", "MR", "PET", None}
        Modality of the rows whose manifest has no ``modality`` value (default CT).  ``None``:
        unknown, no modality-specific intensity check for those rows.
    intensity_checks : bool
        ``False`` skips the modality intensity checks of every row (``--no-ct-check``).
    min_voxels : int
        Smallest region (voxels, on the original grid) accepted for texture features.
    min_dims : int or None
        The region must extend over more than one voxel in at least this many axes.
        ``None`` (default): the parameter file's ``minimumROIDimensions`` when the checks run
        with a parameter file (:func:`radval.features.extract.extract_radiomics`,
        :func:`~radval.features.extract.check_manifest`), else PyRadiomics' default, 2.
    tolerance_mm : float
        Largest accepted spacing difference and origin distance between image and mask (mm).
    direction_tolerance : float
        Largest accepted absolute difference of direction cosines.
    finite_margin : int
        Voxels around the mask's bounding box that must be finite too (filters such as LoG
        and wavelets read them; PyRadiomics' ``padDistance`` is 5 by default).
    ct_range : tuple of float
        Accepted intensity range inside the mask for CT (HU).
    normalised_span : float
        A CT whose whole-image max - min is below this looks normalised, not in HU.
    pet_range : tuple of float
        Accepted intensity range inside the mask for PET (SUV).
    ct_like_fraction : float
        An MR or PET image with at least this share of voxels at or below -900 looks like a
        CT in Hounsfield units.
    """

    modality: str | None = "CT"
    intensity_checks: bool = True
    min_voxels: int = 27
    min_dims: int | None = None
    tolerance_mm: float = 1e-3
    direction_tolerance: float = 1e-4
    finite_margin: int = 5
    ct_range: tuple[float, float] = (-1100.0, 4000.0)
    normalised_span: float = 50.0
    pet_range: tuple[float, float] = (0.0, 100.0)
    ct_like_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.modality is not None and self.modality not in MODALITIES:
            raise param_error("modality", "CheckSettings", "'CT', 'MR', 'PET' or None",
                              self.modality)
        if not isinstance(self.intensity_checks, bool):
            raise param_error("intensity_checks", "CheckSettings", "a bool",
                              self.intensity_checks)
        for name in ("min_voxels", "finite_margin"):
            v = getattr(self, name)
            low = 1 if name == "min_voxels" else 0
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise param_error(name, "CheckSettings", f"an integer >= {low}", v)
        if self.min_dims not in (None, 0, 1, 2, 3):
            raise param_error("min_dims", "CheckSettings", "0, 1, 2, 3 or None", self.min_dims)
        for name in ("tolerance_mm", "direction_tolerance", "normalised_span"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise param_error(name, "CheckSettings", "a finite number >= 0", v)
        for name in ("ct_range", "pet_range"):
            v = tuple(getattr(self, name))
            if len(v) != 2 or not all(isinstance(x, int | float) and math.isfinite(x)
                                      for x in v) or v[0] >= v[1]:
                raise param_error(name, "CheckSettings", "a pair (low, high) of finite "
                                  "numbers with low < high", v)
            object.__setattr__(self, name, (float(v[0]), float(v[1])))
        if not isinstance(self.ct_like_fraction, int | float) \
                or not 0 < self.ct_like_fraction <= 1:
            raise param_error("ct_like_fraction", "CheckSettings", "a number in (0, 1]",
                              self.ct_like_fraction)


def row_modality(row: Mapping[str, Any], settings: CheckSettings) -> str | None:
    """The modality of a manifest row: its ``modality`` value, else ``settings.modality``."""
    value = row.get("modality")
    if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
        return settings.modality
    return str(value).strip().upper()


#: DICOM UIDs (digits and dots, five components or more) are withheld from the failures table.
_UID = re.compile(r"\b\d+(?:\.\d+){4,}\b")


def redact_uids(text: str) -> str:
    """Replace DICOM UIDs in ``text`` by ``<UID>`` (they can identify a study or patient)."""
    return _UID.sub("<UID>", text)


def problem(row: Mapping[str, Any], stage: str, reason: str) -> dict[str, Any]:
    """One failures-table record for manifest ``row``.

    ``reason`` is cleaned of DICOM UIDs and of absolute paths: the row's resolved
    ``image_path``/``mask_path`` are written as in the manifest, other paths under the
    manifest folder (``row["root"]``) relative to it, any other absolute path by its name
    (:func:`radval._paths.scrub_paths`: SimpleITK and OS messages carry absolute paths).
    """
    from radval._paths import display_path, scrub_paths

    root = row.get("root")
    roots = [str(root)] if root else []
    replace = {str(row[f"{k}_path"]): str(row.get(k, "")) for k in ("image", "mask")
               if row.get(f"{k}_path") and row.get(k)}
    text = scrub_paths(redact_uids(str(reason)), roots=roots, replace=replace)
    return {"patient_id": str(row.get("patient_id", "")), "reader": str(row.get("reader", "1")),
            "cohort": str(row.get("cohort", "")),
            "image": display_path(str(row.get("image", "")), roots=roots),
            "mask": display_path(str(row.get("mask", "")), roots=roots), "stage": stage,
            "reason": text}


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
    if m.dtype.kind in "fc" and not np.isfinite(m).all():
        bad = int(np.count_nonzero(~np.isfinite(m)))
        out.append(problem(row, "check", f"mask {row.get('mask')}: {bad} voxel(s) NaN or "
                                         "infinite"))
        return out
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
    min_dims = 2 if s.min_dims is None else s.min_dims
    if n < s.min_voxels or n_dims < min_dims:
        out.append(problem(row, "check", f"mask {row.get('mask')}: region too small for "
                                         f"texture features ({n} voxels, extent {extent[::-1]} "
                                         f"(x, y, z); minimum {s.min_voxels} voxels extending "
                                         f"over at least {min_dims} axes)"))
    a = sitk.GetArrayViewFromImage(image)
    if a.dtype.kind in "fc":
        bad = _non_finite_near(a, idx, s.finite_margin)
        if bad:
            out.append(problem(row, "check", f"image {row.get('image')}: {bad} voxel(s) NaN or "
                                             f"infinite inside the mask or within "
                                             f"{s.finite_margin} voxels of it"))
            return out
    if s.intensity_checks:
        out.extend(_intensity_problems(row, a, roi, row_modality(row, s), s))
    return out


def _non_finite_near(a: np.ndarray, idx: tuple[np.ndarray, ...], margin: int) -> int:
    """Non-finite voxels of ``a`` in the ROI's bounding box grown by ``margin`` voxels."""
    box = tuple(slice(max(int(i.min()) - margin, 0), int(i.max()) + margin + 1) for i in idx)
    return int(np.count_nonzero(~np.isfinite(a[box])))


def _intensity_problems(row: Mapping[str, Any], a: np.ndarray, roi: np.ndarray,
                        modality: str | None, s: CheckSettings) -> list[dict[str, Any]]:
    """The intensity checks of ``modality`` (see the module docstring)."""
    out: list[dict[str, Any]] = []
    img = f"image {row.get('image')}"
    override = "(--no-ct-check skips the intensity checks)"
    if modality not in (None, "CT", "MR", "PET"):
        return [problem(row, "check", f"{img}: unknown modality {modality!r} in the manifest "
                                      "(CT, MR or PET)")]
    vals = a[roi]
    lo, hi = float(vals.min()), float(vals.max())
    if modality == "CT":
        if lo < s.ct_range[0] or hi > s.ct_range[1]:
            out.append(problem(row, "check", f"{img}: intensities in the mask span "
                                             f"[{lo:g}, {hi:g}], outside the CT range "
                                             f"[{s.ct_range[0]:g}, {s.ct_range[1]:g}] HU; "
                                             f"modality CT expected {override}"))
        span = float(a.max()) - float(a.min())
        if span < s.normalised_span:
            out.append(problem(row, "check", f"{img}: intensities span only {span:g} units; "
                                             "the image looks normalised, not in HU (modality "
                                             f"CT expected; set MR or PET otherwise) {override}"))
    elif modality in ("MR", "PET"):
        share = float(np.count_nonzero(a <= -900)) / a.size
        if share >= s.ct_like_fraction:
            out.append(problem(row, "check", f"{img}: {100 * share:.0f}% of the voxels are at "
                                             "or below -900, like air in CT Hounsfield units; "
                                             f"modality {modality} expected (is it a CT?) "
                                             f"{override}"))
        if modality == "PET" and (lo < s.pet_range[0] or hi > s.pet_range[1]):
            out.append(problem(row, "check", f"{img}: intensities in the mask span "
                                             f"[{lo:g}, {hi:g}], outside the PET range "
                                             f"[{s.pet_range[0]:g}, {s.pet_range[1]:g}] SUV "
                                             "(convert activity concentration to SUV) "
                                             f"{override}"))
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
