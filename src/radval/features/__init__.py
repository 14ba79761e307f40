"""radval.features: checks, PyRadiomics extraction, executor (local / Dask), cache, IBSI.

Public names are imported lazily: ``import radval.features`` does not import PyRadiomics,
SimpleITK or Dask.
"""

from __future__ import annotations

from typing import Any

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
    "CaseOutcome": "radval.features.executor",
    "map_cases": "radval.features.executor",
    "CheckSettings": "radval.features.checks",
    "check_case": "radval.features.checks",
    "ExtractionResult": "radval.features.extract",
    "check_manifest": "radval.features.extract",
    "extract_radiomics": "radval.features.extract",
    "ibsi_compliance": "radval.features.ibsi",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'radval.features' has no attribute {name!r}")
