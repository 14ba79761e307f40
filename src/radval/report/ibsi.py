"""IBSI reporting items that follow from the PyRadiomics parameter file.

Zwanenburg A, Vallières M, Abdalah MA, et al. The Image Biomarker
Standardization Initiative. Radiology 2020;295:328-338; reporting guidelines
in the IBSI reference manual (reporting guidelines chapter); rows are named by
its topics.  The parameter file is the ``params_yaml`` text of the run's radiomics
extraction record (``results.extraction["radiomics"]``, written by
:mod:`radval.workflow._extraction` with ``params_sha256`` and
``pyradiomics_version``).  PyRadiomics defaults are used for keys the file does not
set, and the known PyRadiomics deviations from IBSI are stated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from radval.contracts._results import ResultsFile
from radval.report._data import ReportData

__all__ = ["extraction_params", "ibsi_items"]


def _radiomics_record(results: ResultsFile) -> Mapping[str, Any] | None:
    rec = results.extraction.get("radiomics", None)
    return rec if isinstance(rec, Mapping) else None


def extraction_params(results: ReportData | ResultsFile | Mapping[str, Any]
                      ) -> dict[str, Any] | None:
    """The PyRadiomics parameter file of the run, parsed (``None`` when not recorded)."""
    import yaml

    d = results if isinstance(results, ReportData) else ReportData.build(results)
    rec = _radiomics_record(d.results)
    text = rec["params_yaml"] if rec is not None and "params_yaml" in rec else None
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return dict(parsed) if isinstance(parsed, Mapping) else None


def _section(params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A mapping section of the PyRadiomics parameter file (empty when not set)."""
    value = params.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def _fmt(v: Any) -> str:
    if isinstance(v, list | tuple):
        return " × ".join(str(x) for x in v)
    return str(v)


def ibsi_items(results: ReportData | ResultsFile | Mapping[str, Any]) -> pd.DataFrame:
    """IBSI reporting items for this run.

    Returns
    -------
    pandas.DataFrame
        Columns ``item, topic, value, source``; ``source`` is ``"parameter file"``,
        ``"PyRadiomics default"``, ``"run"`` or ``"needs author input"``.
        Empty when the run has no radiomics extraction.
    """
    d = results if isinstance(results, ReportData) else ReportData.build(results)
    params = extraction_params(d)
    if params is None:
        return pd.DataFrame(columns=["item", "topic", "value", "source"])
    ext = _radiomics_record(d.results) or {}
    # a section absent from the parameter file means PyRadiomics' defaults
    setting = _section(params, "setting")
    image_types = params.get("imageType") or {"Original": {}}
    classes = _section(params, "featureClass")
    rows: list[dict[str, str]] = []

    def add(item: str, topic: str, key: str | None, default: Any, note: str = "") -> None:
        if key is not None and key in setting:
            val, src = setting[key], "parameter file"
        else:
            val, src = default, "PyRadiomics default" if key else "run"
        rows.append({"item": item, "topic": topic, "value": _fmt(val) + note, "source": src})

    add("image interpolation", "Voxel spacing (mm)", "resampledPixelSpacing",
        "none (native spacing)")
    add("image interpolation", "Interpolation method", "interpolator", "sitkBSpline")
    rows.append({"item": "image interpolation", "topic": "Grid alignment / intensity rounding",
                 "value": "grid aligned at the origin voxel corner; no rounding of resampled "
                          "intensities (PyRadiomics behaviour)", "source": "PyRadiomics default"})
    rows.append({"item": "ROI interpolation", "topic": "Mask interpolation",
                 "value": "nearest neighbour, no partial-volume threshold (PyRadiomics)",
                 "source": "PyRadiomics default"})
    add("re-segmentation", "Intensity range (HU)", "resegmentRange", "none")
    if "binCount" in setting:
        rows.append({"item": "discretisation", "topic": "Method", "value":
                     f"fixed bin number (FBN), {setting['binCount']} bins",
                     "source": "parameter file"})
    else:
        add("discretisation", "Fixed bin size (FBS)", "binWidth", 25,
            " (lowest bin edge anchored at 0, not at the re-segmentation minimum)")
    filters = ", ".join(f"{k}{'' if not v else ' ' + str(v)}" for k, v in image_types.items())
    rows.append({"item": "image filter", "topic": "Image types / filters", "value": filters,
                 "source": "parameter file" if params.get("imageType") else "PyRadiomics default"})
    fc = ", ".join(f"{k}" + (f" ({', '.join(map(str, v))})" if v else " (all)")
                   for k, v in classes.items()) or "all enabled classes"
    rows.append({"item": "biomarker set", "topic": "Feature classes", "value": fc,
                 "source": "parameter file" if classes else "PyRadiomics default"})
    rows.append({"item": "IBSI compliance", "topic": "Reference-value compliance",
                 "value": "PyRadiomics is IBSI-1 compliant with documented deviations: "
                          "kurtosis not excess (+3), FBS anchored at 0, grid alignment, "
                          "no intensity rounding, nearest-neighbour mask resampling",
                 "source": "PyRadiomics documentation"})
    rad = d.families.get("radiomics")
    icc = rad.icc if rad is not None else None
    rows.append({"item": "robustness", "topic": "Robustness assessment",
                 "value": "ICC between segmentations, features below the threshold removed"
                 if icc else "not part of this run",
                 "source": "run" if icc else "needs author input"})
    version = ext.get("pyradiomics_version", "")
    soft = f"PyRadiomics {version or ''}".strip()
    rows.append({"item": "software", "topic": "Software and version", "value": soft,
                 "source": "run"})
    if "params_sha256" in ext and ext["params_sha256"]:
        rows.append({"item": "software", "topic": "Parameter file SHA-256",
                     "value": str(ext["params_sha256"])[:16] + "…", "source": "run"})
    add("texture parameters", "Aggregation", "force2D", False,
        " (force2D; otherwise 3D, GLCM/GLRLM averaged over 13 directions)")
    add("texture parameters", "GLCM symmetry", "symmetricalGLCM", True)
    add("texture parameters", "Neighbour distance(s)", "distances", [1])
    add("image processing", "Intensity normalisation", "normalize", False)
    add("image processing", "Mask label", "label", 1)
    rows.append({"item": "acquisition",
                 "topic": "Scanner and protocol (vendor, kVp, mAs, kernel, slice thickness)",
                 "value": "not in the parameter file",
                 "source": "needs author input"})
    return pd.DataFrame(rows)
