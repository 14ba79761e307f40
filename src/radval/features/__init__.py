"""radval.features: checks, PyRadiomics extraction, executor (local / Dask), cache, IBSI.

Public names are imported lazily: ``import radval.features`` does not import PyRadiomics,
SimpleITK or Dask.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

__all__ = [
    "CaseOutcome",
    "CheckSettings",
    "ExtractionResult",
    "check_case",
    "check_manifest",
    "extract_radiomics",
    "ibsi_compliance",
    "map_cases",
]

_WHERE = {
    "CaseOutcome": "executor",
    "map_cases": "executor",
    "CheckSettings": "checks",
    "check_case": "checks",
    "ExtractionResult": "extract",
    "check_manifest": "extract",
    "extract_radiomics": "extract",
    "ibsi_compliance": "ibsi",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
