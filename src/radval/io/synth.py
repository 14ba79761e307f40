"""The built-in synthetic multicentre study (``radval synth``).

A realistic stand-in for the published two-centre pancreatic neuroendocrine
tumour (PanNET) study: CT-like arterial-phase volumes in Hounsfield units with
tumour masks (two readers for a subset), a clinical table and a manifest.

Generative model (one patient)
------------------------------
Latent variables, standard normal unless stated:

* ``s`` = standardised log tumour diameter; diameter ``D = exp(log(D0) + 0.45 s)`` mm
  clipped to ``[8, 45]`` (``[8, 18]`` for the small variant), ``D0 = 19`` mm.
* ``h`` = tumour heterogeneity, ``h = 0.2 s + sqrt(0.96) e``.  It sets the
  amplitude ``A = enh * (8 + 14 exp(0.5 h))`` HU and the correlation length
  ``L = clip(2.2 + 0.25 h, 1.2, 3.5)`` mm of a smooth Gaussian random field inside
  the tumour, a weak hypo-enhancement (``-10 h`` HU) and the probability of a
  necrotic core (``logistic(1.5 h - 2)`` for ``D >= 14`` mm).
* grade (1, 2, 3 as in ``data-dictionary/clinical.yaml``): ``g = 0.5 h + 0.3 s + e``,
  grade 1 if ``g < 0.3``, 2 if ``g < 1.6``, else 3.
* lymph-node metastasis ``Y ~ Bernoulli(logistic(b0 + 0.9 s + 2.2 h + 0.3 (grade - 1)))``
  with ``b0 = -1.7``: prevalence about 30%; the true linear predictor has an AUC near 0.9,
  size alone near 0.7.  The small variant uses ``logistic(-0.8 + 1.2 s + 3.0 h + 0.3
  (grade - 1))`` (about 40%, stronger signal) so that its few patients still hold events
  and signal in every cohort.  Centre 1 is split 70/30 within each outcome class.
* vascular / perineural invasion (post-operative):
  ``logistic(-2.0 + 1.3 Y + 0.4 s)`` and ``logistic(-2.3 + 1.1 Y + 0.4 h)``.
* disease-free survival: exponential with hazard
  ``0.0025 exp(0.9 Y + 0.5 h + 0.4 (grade - 1) + 0.3 s)`` per month, censored at a
  uniform follow-up of 12-130 months.

Image (one scanner profile per site, see :data:`PROFILES`): a cropped field of
view around the pancreas; fat (about -90 HU with soft texture), a pancreas-like
tube (45-60 HU), an enhancing artery, and the tumour (about ``40 + enh (115 - 10 h)``
HU plus the heterogeneity field).  The scene is built on a grid finer along z
than the slice thickness, blurred by the in-plane point-spread function,
averaged over each slice (partial volume), then correlated Gaussian scanner noise
is added and the result rounded to int16.  Reader 1's mask is the tumour at
>= 50% voxel occupancy; reader 2 perturbs its boundary (dilated in some places,
eroded in others, 2-D 4-neighbourhood per slice).

Measured on the default study (seed 20231024): PyRadiomics with the shipped
``gu2023_ct.yaml`` (1 mm resampling, LoG 1/2/3 mm, wavelet; 1130 features) takes
0.4-2 s CPU per case (mean 0.8 s; 0.35 s for the small variant).  On centre 1 training
data, a Mann-Whitney filter, a Spearman redundancy filter (|rho| <= 0.9) and an L1
logistic model with 3-6 features reach AUC 0.85-0.87 in ``centre1_test`` and 0.84 in
``centre2``; tumour size alone reaches 0.64-0.72; the best single feature
(``original_glcm_MCC``) 0.87 / 0.84.

Every random number is drawn from ``numpy.random.default_rng([seed, site_key, i])``
for patient ``i`` of a site, so a patient does not change when ``n_patients`` does,
and outputs are byte-identical for a seed (NIfTI written with a fixed gzip level).
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._provenance import atomic_write_text
from radval._results import Result
from radval._validation import check_positive_int, param_error
from radval.exceptions import InputError

__all__ = [
    "DEFAULT_N_PATIENTS",
    "DEFAULT_SEED",
    "PROFILES",
    "ScannerProfile",
    "SiteSpec",
    "StudyPaths",
    "generate_study",
    "simulate_patient",
]

DEFAULT_SEED = 20231024
DEFAULT_N_PATIENTS = 320
SMALL_N_PATIENTS = 48

_FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class ScannerProfile:
    """Acquisition profile of a (synthetic) scanner / protocol.

    Parameters
    ----------
    name : str
        Profile name.
    pixel_mm : float
        In-plane pixel spacing (mm).
    slice_mm : float
        Slice thickness = slice spacing (mm).
    noise_hu : float
        Standard deviation of the scanner noise (HU).
    enhancement : float
        Multiplier of arterial enhancement (contrast timing / dose); 1 = centre 1.
    psf_mm : float
        In-plane point-spread function, Gaussian sigma (mm).
    description : str
        One line for the README.
    """

    name: str
    pixel_mm: float
    slice_mm: float
    noise_hu: float
    enhancement: float
    psf_mm: float
    description: str = ""


#: Scanner profiles.  ``centre1`` and ``centre2`` are the two centres of the built-in
#: study; the others serve as extra external sites (``--site NAME:N:PROFILE``).
PROFILES: dict[str, ScannerProfile] = {
    p.name: p
    for p in (
        ScannerProfile(name="centre1", pixel_mm=0.74, slice_mm=1.25, noise_hu=12.0,
                       enhancement=1.0, psf_mm=0.55,
                       description="64-row scanner, 1.25 mm slices, standard kernel, "
                                   "arterial phase at 35 s"),
        ScannerProfile(name="centre2", pixel_mm=0.80, slice_mm=2.0, noise_hu=15.0,
                       enhancement=0.9, psf_mm=0.65,
                       description="other vendor, 2 mm slices, noisier, later arterial "
                                   "phase (lower enhancement)"),
        ScannerProfile(name="siemens_thin", pixel_mm=0.68, slice_mm=1.0, noise_hu=10.0,
                       enhancement=1.05, psf_mm=0.5,
                       description="dual-source, 1 mm slices, low noise, strong enhancement"),
        ScannerProfile(name="ge_thick", pixel_mm=0.82, slice_mm=3.0, noise_hu=15.0,
                       enhancement=0.9, psf_mm=0.75,
                       description="3 mm slices (strong partial volume along z)"),
        ScannerProfile(name="philips_lowdose", pixel_mm=0.78, slice_mm=2.0, noise_hu=26.0,
                       enhancement=0.95, psf_mm=0.65,
                       description="low-dose protocol, high noise"),
        ScannerProfile(name="late_arterial", pixel_mm=0.75, slice_mm=1.5, noise_hu=14.0,
                       enhancement=0.72, psf_mm=0.6,
                       description="late arterial / pancreatic phase, weak tumour enhancement"),
    )
}


@dataclass(frozen=True, kw_only=True)
class SiteSpec:
    """One extra synthetic site.

    Parameters
    ----------
    name : str
        Site (and cohort) name; letters, digits, ``_`` and ``-``.  Patient ids are
        ``<name>_<0001>``, so they never collide between sites.
    n : int
        Number of patients.
    profile : str
        A key of :data:`PROFILES`.
    """

    name: str
    n: int = 60
    profile: str = "siemens_thin"


@dataclass(frozen=True, kw_only=True)
class StudyPaths(Result):
    """Where :func:`generate_study` wrote the study.

    Attributes
    ----------
    root : pathlib.Path
        Study folder.
    manifest, clinical, readme : pathlib.Path
        ``manifest.csv``, ``clinical.csv`` and ``README.txt`` inside ``root``.
    n_patients : int
        Number of patients written.
    cohorts : dict
        Cohort name -> number of patients.
    """

    root: Path
    manifest: Path
    clinical: Path
    readme: Path
    n_patients: int
    cohorts: dict[str, int] = field(default_factory=dict)


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_CALLER = "generate_study"


def _site_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...],
                  sigma_vox: Sequence[float]) -> _FloatArray:
    """Gaussian random field with unit SD (white noise smoothed by a Gaussian)."""
    from scipy.ndimage import gaussian_filter

    white = rng.standard_normal(shape)
    f = gaussian_filter(white, sigma=list(sigma_vox), mode="wrap")
    sd = float(f.std())
    return np.asarray(f / (sd if sd > 0 else 1.0), dtype=np.float64)


def _latent(rng: np.random.Generator, *, small: bool) -> dict[str, Any]:
    """Draw the latent and clinical variables of one patient."""
    s = float(rng.standard_normal())
    h = 0.2 * s + math.sqrt(0.96) * float(rng.standard_normal())
    hi = 18.0 if small else 45.0
    diameter = float(np.clip(math.exp(math.log(19.0) + 0.45 * s), 8.0, hi))
    g = 0.5 * h + 0.3 * s + float(rng.standard_normal())
    grade = 1 if g < 0.3 else (2 if g < 1.6 else 3)
    if small:  # fewer patients: stronger signal and more events
        lp = -0.8 + 1.2 * s + 3.0 * h + 0.3 * (grade - 1)
    else:
        lp = -1.7 + 0.9 * s + 2.2 * h + 0.3 * (grade - 1)
    y = int(rng.random() < _logistic(lp))
    vi = int(rng.random() < _logistic(-2.0 + 1.3 * y + 0.4 * s))
    pni = int(rng.random() < _logistic(-2.3 + 1.1 * y + 0.4 * h))
    rate = 0.0025 * math.exp(0.9 * y + 0.5 * h + 0.4 * (grade - 1) + 0.3 * s)
    t_event = float(rng.exponential(1.0 / rate))
    t_cens = float(rng.uniform(12.0, 130.0))
    age = int(np.clip(round(rng.normal(54.0, 12.0)), 18, 85))
    sex = "F" if rng.random() < 0.48 else "M"
    return {"s": s, "h": h, "diameter": diameter, "grade": grade, "lp": lp, "y": y,
            "vi": vi, "pni": pni, "dfs_months": min(t_event, t_cens),
            "dfs_event": int(t_event <= t_cens), "age": age, "sex": sex}


def _rotation(rng: np.random.Generator) -> _FloatArray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return np.asarray(q, dtype=np.float64)


def simulate_patient(rng: np.random.Generator, profile: ScannerProfile, *,
                     small: bool = False) -> dict[str, Any]:
    """Simulate one patient: latent variables, image (int16, z-y-x) and two masks.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random number of this patient.
    profile : ScannerProfile
        Acquisition profile.
    small : bool, optional
        Small variant (tumours 8-18 mm, field of view about 32 voxels).

    Returns
    -------
    dict
        Keys ``latent`` (dict), ``image`` (int16 array, z-y-x), ``mask1`` and ``mask2``
        (uint8 arrays), ``spacing`` (x, y, z in mm), ``origin`` and ``diameter_mm``.
    """
    from scipy.ndimage import binary_dilation, binary_erosion, gaussian_filter

    lat = _latent(rng, small=small)
    h, diameter = lat["h"], lat["diameter"]
    enh = profile.enhancement
    dx = profile.pixel_mm * (1.15 if small else 1.0)
    dz_slice = profile.slice_mm
    k = max(1, round(dz_slice / dx))
    dz = dz_slice / k
    if small:
        extent = float(np.clip(diameter + 11.0, 22.0, 30.0))
    else:
        extent = float(np.clip(diameter + 20.0, 40.0, 70.0))
    nx = int(math.ceil(extent / dx))
    nz = max(int(math.ceil(extent / dz_slice)), 8)
    nzf = nz * k
    zc = (np.arange(nzf) - (nzf - 1) / 2.0) * dz
    yc = (np.arange(nx) - (nx - 1) / 2.0) * dx
    xc = (np.arange(nx) - (nx - 1) / 2.0) * dx
    z, y, x = np.meshgrid(zc, yc, xc, indexing="ij")
    shape = z.shape
    iso = (1.0 / dz, 1.0 / dx, 1.0 / dx)  # voxels per mm along z, y, x

    # Tumour: rotated ellipsoid with a lobulated margin.
    radius = diameter / 2.0
    axes = np.array([1.0, rng.uniform(0.75, 1.0), rng.uniform(0.7, 1.0)])
    rot = _rotation(rng)
    centre = rng.uniform(-1.5, 1.5, size=3)
    pts = np.stack([x - centre[0], y - centre[1], z - centre[2]], axis=-1) @ rot
    d = np.sqrt(((pts / (radius * axes)) ** 2).sum(axis=-1))
    lob_sigma = max(radius / 2.5, 1.5)
    lob = _smooth_field(rng, shape, [lob_sigma * v for v in iso])
    lob_amp = 0.05 + 0.05 * _logistic(h)
    tumour = d < 1.0 + lob_amp * lob

    # Pancreas: oblique tube through the tumour; artery: tube outside the tumour.
    theta = rng.uniform(0, math.pi)
    u = np.array([math.cos(theta), math.sin(theta)])
    off = rng.uniform(-0.3, 0.3) * radius
    dist_p = np.abs(-(x - centre[0]) * u[1] + (y - centre[1]) * u[0] - off)
    p_radius = rng.uniform(7.0, 10.0) if not small else rng.uniform(5.0, 7.0)
    pancreas = dist_p < p_radius + 1.0 * _smooth_field(rng, shape, [4.0 * v for v in iso])
    phi = rng.uniform(0, 2 * math.pi)
    a_r = rng.uniform(2.0, 3.5) if not small else 1.8
    a_dist = radius * float(axes.max()) + a_r + rng.uniform(2.0, 5.0)
    ax_, ay_ = centre[0] + a_dist * math.cos(phi), centre[1] + a_dist * math.sin(phi)
    artery = (x - ax_) ** 2 + (y - ay_) ** 2 < a_r**2

    # Intensities (HU) on the fine grid.
    img = -90.0 + 15.0 * _smooth_field(rng, shape, [1.5 * v for v in iso])
    parenchyma = rng.uniform(45.0, 60.0)
    img[pancreas] = parenchyma + 7.0 * _smooth_field(rng, shape, [1.0 * v for v in iso])[pancreas]
    img[artery] = 40.0 + 260.0 * enh
    corr_len = float(np.clip(2.2 + 0.25 * h, 1.2, 3.5))
    amp = enh * (8.0 + 14.0 * math.exp(0.5 * h))
    t_mean = 40.0 + enh * (115.0 - 10.0 * h + rng.normal(0.0, 12.0))
    het = _smooth_field(rng, shape, [corr_len * v for v in iso])
    t_val = t_mean + amp * het
    if diameter >= 14.0 and rng.random() < _logistic(1.5 * h - 2.0):
        core = d < rng.uniform(0.3, 0.5)
        t_val = np.where(core, 30.0 + 10.0 * het, t_val)
    img[tumour] = t_val[tumour]

    # Point-spread function in-plane, then slice averaging (partial volume).
    img = gaussian_filter(img, sigma=[0.0, profile.psf_mm / dx, profile.psf_mm / dx],
                          mode="nearest")
    img_s = img.reshape(nz, k, nx, nx).mean(axis=1)
    occ = tumour.reshape(nz, k, nx, nx).mean(axis=1)
    noise = gaussian_filter(rng.standard_normal(img_s.shape), sigma=[0.0, 0.6, 0.6])
    noise *= profile.noise_hu / float(noise.std())
    image = np.clip(np.rint(img_s + noise), -1024, 3071).astype(np.int16)

    mask1 = occ >= 0.5
    if not mask1.any():  # a very flat tumour on thick slices: keep the densest slice
        mask1 = occ >= occ.max() * 0.5
    st = np.zeros((1, 3, 3), dtype=bool)
    st[0, 1, :] = True
    st[0, :, 1] = True
    sel = _smooth_field(rng, mask1.shape, [0.0, 3.0, 3.0])
    dil = binary_dilation(mask1, structure=st)
    ero = binary_erosion(mask1, structure=st)
    mask2 = np.where(sel > 0.6, dil, np.where(sel < -0.6, ero, mask1))
    if mask2.sum() < 0.5 * mask1.sum():
        mask2 = mask1
    origin = (float(rng.uniform(-40, 40)), float(rng.uniform(-220, -150)),
              float(rng.uniform(-400, -300)))
    return {"latent": lat, "image": image, "mask1": mask1.astype(np.uint8),
            "mask2": mask2.astype(np.uint8), "spacing": (dx, dx, dz_slice),
            "origin": origin, "diameter_mm": diameter}


def _write_nifti(arr: npt.NDArray[Any], spacing: tuple[float, float, float],
                 origin: tuple[float, float, float], path: Path) -> None:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.nii.gz")
    sitk.WriteImage(img, str(tmp), True, 6)
    tmp.replace(path)


@dataclass(frozen=True)
class _Task:
    root: str
    seed: int
    site: str
    key: int
    index: int
    profile: str
    small: bool
    cohort: str
    reader2: bool


def _write_patient(task: _Task) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Simulate and write one patient; return its manifest rows and clinical row."""
    root = Path(task.root)
    i = task.index
    pid = f"{task.site}_{i + 1:04d}"
    rng = np.random.default_rng([task.seed, task.key, i])
    case = simulate_patient(rng, PROFILES[task.profile], small=task.small)
    lat = case["latent"]
    img_rel = f"images/{pid}.nii.gz"
    _write_nifti(case["image"], case["spacing"], case["origin"], root / img_rel)
    readers = [("1", case["mask1"])]
    if task.reader2:
        readers.append(("2", case["mask2"]))
    man_rows = []
    for reader, m in readers:
        m_rel = f"masks/{pid}_reader{reader}.nii.gz"
        _write_nifti(m, case["spacing"], case["origin"], root / m_rel)
        man_rows.append({"patient_id": pid, "cohort": task.cohort, "image": img_rel,
                         "mask": m_rel, "reader": reader, "label": 1, "phase": "arterial"})
    size_meas = lat["diameter"] + float(rng.normal(0.0, 0.8))
    clin_row = {
        "patient_id": pid, "cohort": task.cohort, "age_years": lat["age"],
        "sex": lat["sex"], "tumour_size_mm": round(max(size_meas, 5.0), 1),
        "grade": lat["grade"], "vascular_invasion": lat["vi"],
        "perineural_invasion": lat["pni"], "ln_metastasis": lat["y"],
        "dfs_months": round(max(lat["dfs_months"], 0.1), 1),
        "dfs_event": lat["dfs_event"],
    }
    return man_rows, clin_row


def _check_sites(sites: Sequence[SiteSpec] | None, *, sites_only: bool) -> list[SiteSpec]:
    if sites is None:
        if sites_only:
            raise param_error("sites", _CALLER, "a non-empty list of SiteSpec when "
                              "sites_only=True", sites)
        return []
    out: list[SiteSpec] = []
    seen: set[str] = set() if sites_only else {"centre1", "centre2"}
    for s in sites:
        if not isinstance(s, SiteSpec):
            raise param_error("sites", _CALLER, "a list of SiteSpec", s)
        if not _NAME_RE.match(s.name):
            raise param_error("sites", _CALLER, "site names of letters, digits, '_' or '-' "
                              "(at most 40 characters)", s.name)
        if s.name in seen:
            raise param_error("sites", _CALLER, "unique site names, different from "
                              "'centre1' and 'centre2'", s.name)
        seen.add(s.name)
        check_positive_int(s.n, caller=_CALLER, param=f"sites[{s.name!r}].n")
        if s.profile not in PROFILES:
            shown = ", ".join(sorted(PROFILES))
            raise param_error(f"sites[{s.name!r}].profile", _CALLER, f"one of {{{shown}}}",
                              s.profile)
        out.append(s)
    if sites_only and not out:
        raise param_error("sites", _CALLER, "a non-empty list when sites_only=True", sites)
    return out


def _readme(seed: int, small: bool, plan: list[tuple[str, int, str]], cohorts: dict[str, int],
            clinical: pd.DataFrame) -> str:
    lines = [
        "radval built-in synthetic study",
        "================================",
        "",
        f"Generated by radval.io.synth.generate_study (seed={seed}, small={small}).",
        "Entirely synthetic: no real patient, no real image.  Designed after the",
        "two-centre PanNET lymph-node metastasis study (320 patients: 236 at centre 1,",
        "84 at centre 2).",
        "",
        "Files",
        "-----",
        "manifest.csv  patient_id, cohort, image, mask, reader, label, phase (paths relative",
        "              to this folder); reader 2 = second segmentation for ICC",
        "clinical.csv  patient_id, cohort, age_years, sex, tumour_size_mm, grade (1-3),",
        "              vascular_invasion (post-operative), perineural_invasion",
        "              (post-operative), ln_metastasis (outcome), dfs_months, dfs_event",
        "images/       arterial-phase CT crops, int16 HU, NIfTI",
        "masks/        tumour masks (label 1), one per reader",
        "",
        "Sites and scanners",
        "------------------",
    ]
    for name, n, prof in plan:
        p = PROFILES[prof]
        lines.append(f"{name}: {n} patients, profile {prof}: pixel {p.pixel_mm} mm, slice "
                     f"{p.slice_mm} mm, noise SD {p.noise_hu} HU, enhancement x{p.enhancement},"
                     f" PSF sigma {p.psf_mm} mm ({p.description})")
    lines += ["", "Cohorts", "-------"]
    for c, n in cohorts.items():
        sub = clinical[clinical["cohort"] == c]
        lines.append(f"{c}: n={n}, lymph-node metastasis {int(sub['ln_metastasis'].sum())} "
                     f"({100 * sub['ln_metastasis'].mean():.1f}%)")
    doc = (__doc__ or "").split("Generative model (one patient)")[-1]
    lines += ["", "Generative model (one patient)" + doc.rstrip(), ""]
    return "\n".join(lines)


def generate_study(out_dir: str | Path, *, n_patients: int = DEFAULT_N_PATIENTS,
                   seed: int = DEFAULT_SEED, small: bool = False,
                   sites: Sequence[SiteSpec] | None = None,
                   sites_only: bool = False, jobs: int = 1) -> StudyPaths:
    """Write the built-in synthetic multicentre study.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder to write into (created; existing files of the same names are replaced).
    n_patients : int, optional
        Patients at centres 1 and 2 together (default 320: 236 + 84, the published
        scale).  Centre 1 gets ``round(n * 236 / 320)`` and is split 70/30 into
        ``centre1_train`` and ``centre1_test`` (stratified by the outcome); the rest is
        ``centre2``.  With
        ``small=True`` and the default, 48 patients are written.
    seed : int, optional
        Seed; the same seed gives byte-identical files.
    small : bool, optional
        Tiny volumes (about 32^3 voxels, tumours 8-18 mm) for tests.
    sites : sequence of SiteSpec, optional
        Extra external sites with their own scanner profile (cohort = site name).
    sites_only : bool, optional
        Write only ``sites`` (not centres 1 and 2).
    jobs : int, optional
        Worker processes (the output does not depend on it).

    Returns
    -------
    StudyPaths
        Paths of the study folder, manifest, clinical table and README.

    Notes
    -----
    Reader-2 masks are written for 40 centre-1 training patients (10 with
    ``small=True``), and none at other sites.  See the module docstring for the
    generative model.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise param_error("seed", _CALLER, "a non-negative integer", seed)
    if not isinstance(small, bool):
        raise param_error("small", _CALLER, "a bool", small)
    extra = _check_sites(sites, sites_only=sites_only)
    jobs = check_positive_int(jobs, caller=_CALLER, param="jobs")
    if small and n_patients == DEFAULT_N_PATIENTS:
        n_patients = SMALL_N_PATIENTS
    n_patients = check_positive_int(n_patients, caller=_CALLER, param="n_patients",
                                    minimum=10)
    try:
        root = Path(out_dir)
        root.mkdir(parents=True, exist_ok=True)
    except (TypeError, OSError) as exc:
        raise InputError(f"The 'out_dir' parameter of {_CALLER} must be a writable folder. "
                         f"Got {out_dir!r} instead ({exc}).") from exc

    plan: list[tuple[str, int, str]] = []
    if not sites_only:
        n1 = round(n_patients * 236 / 320)
        plan += [("centre1", n1, "centre1"), ("centre2", n_patients - n1, "centre2")]
    plan += [(s.name, s.n, s.profile) for s in extra]

    man_rows: list[dict[str, Any]] = []
    clin_rows: list[dict[str, Any]] = []
    for site, n, prof_name in plan:
        key = _site_key(site)
        cohort_of = [site] * n
        reader2: set[int] = set()
        if site == "centre1" and not sites_only:
            # 70/30 split stratified by the outcome (drawn first from each patient's rng)
            split_rng = np.random.default_rng([seed, key, 10**9])
            ys = np.array([_latent(np.random.default_rng([seed, key, i]), small=small)["y"]
                           for i in range(n)])
            train = []
            for cls in (0, 1):
                members = np.flatnonzero(ys == cls)
                members = members[split_rng.permutation(len(members))]
                train += members[:round(0.7 * len(members))].tolist()
            train.sort()
            n_train = len(train)
            for i in range(n):
                cohort_of[i] = "centre1_test"
            for i in train:
                cohort_of[i] = "centre1_train"
            n_r2 = min(10 if small else 40, n_train)
            reader2 = set(split_rng.choice(train, size=n_r2, replace=False).tolist())
        tasks = [_Task(root=str(root), seed=int(seed), site=site, key=key, index=i,
                       profile=prof_name, small=small, cohort=cohort_of[i],
                       reader2=i in reader2) for i in range(n)]
        if jobs > 1 and n > 1:
            import os
            from concurrent.futures import ProcessPoolExecutor

            from radval.features.executor import die_with_parent

            with ProcessPoolExecutor(max_workers=jobs, initializer=die_with_parent,
                                     initargs=(os.getpid(),)) as pool:
                results = list(pool.map(_write_patient, tasks, chunksize=4))
        else:
            results = [_write_patient(t) for t in tasks]
        for m_rows, c_row in results:
            man_rows.extend(m_rows)
            clin_rows.append(c_row)

    manifest = pd.DataFrame(man_rows)
    clinical = pd.DataFrame(clin_rows)
    cohorts = {str(c): int(v) for c, v in clinical["cohort"].value_counts(sort=False).items()}
    manifest_path = root / "manifest.csv"
    clinical_path = root / "clinical.csv"
    readme_path = root / "README.txt"
    atomic_write_text(manifest_path, manifest.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(clinical_path, clinical.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(readme_path, _readme(seed, small, plan, cohorts, clinical))
    return StudyPaths(root=root, manifest=manifest_path, clinical=clinical_path,
                      readme=readme_path, n_patients=len(clinical), cohorts=cohorts)

