"""IBSI reporting items that follow from the PyRadiomics parameter file.

Zwanenburg A, Vallières M, Abdalah MA, et al. The Image Biomarker
Standardization Initiative. Radiology 2020;295:328-338; reporting guidelines
in the IBSI reference manual (reporting guidelines chapter); rows are named by
its topics.  The
parameter file text is read from ``results["extraction"]`` (or its
``radiomics`` entry): ``params_yaml`` / ``params_text``, or ``params`` as text
or mapping.  PyRadiomics defaults are used for keys the
file does not set, and the known PyRadiomics deviations from IBSI are stated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["extraction_params", "ibsi_items"]


def extraction_params(extraction: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Parse the PyRadiomics parameter file stored in ``results["extraction"]``."""
    import yaml

    if not isinstance(extraction, Mapping):
        return None
    if isinstance(extraction.get("radiomics"), Mapping):  # {radiomics: {...}, deep: {...}}
        extraction = extraction["radiomics"]
    for key in ("params_yaml", "params_text", "params", "parameters"):
        val = extraction.get(key)
        if isinstance(val, Mapping):
            return dict(val)
        if isinstance(val, str) and val.strip():
            try:
                parsed = yaml.safe_load(val)
            except yaml.YAMLError:
                return None
            return dict(parsed) if isinstance(parsed, Mapping) else None
    return None


def _fmt(v: Any) -> str:
    if isinstance(v, list | tuple):
        return " × ".join(str(x) for x in v)
    return str(v)


def ibsi_items(results: Mapping[str, Any]) -> pd.DataFrame:
    """IBSI reporting items for this run.

    Returns
    -------
    pandas.DataFrame
        Columns ``item, topic, value, source``; ``source`` is ``"parameter file"``,
        ``"PyRadiomics default"``, ``"run"`` or ``"needs author input"``.
        Empty when the run has no radiomics extraction.
    """
    extraction = results.get("extraction")
    params = extraction_params(extraction)
    if params is None:
        return pd.DataFrame(columns=["item", "topic", "value", "source"])
    ext: Mapping[str, Any] = extraction if isinstance(extraction, Mapping) else {}
    if isinstance(ext.get("radiomics"), Mapping):
        ext = ext["radiomics"]
    setting = dict(params.get("setting") or {})
    image_types = params.get("imageType") or {"Original": {}}
    classes = params.get("featureClass") or {}
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
    icc = ((results.get("selection") or {}).get("radiomics") or {}).get("icc") \
        if isinstance(results.get("selection"), Mapping) else None
    rows.append({"item": "robustness", "topic": "Robustness assessment",
                 "value": "ICC between segmentations, features below the threshold removed"
                 if icc else "not part of this run",
                 "source": "run" if icc else "needs author input"})
    version = ext.get("version") or ext.get("pyradiomics_version") or ""
    soft = f"{ext.get('software', 'PyRadiomics')} {version}".strip()
    rows.append({"item": "software", "topic": "Software and version", "value": soft,
                 "source": "run"})
    if ext.get("params_sha256"):
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
