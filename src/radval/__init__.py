"""radval: from CT scans to an externally validated radiomics signature.

``import radval`` is light: statistics and I/O helpers load on demand, and the
heavy dependencies (torch, PyRadiomics, SimpleITK, matplotlib) are imported
only inside the functions that need them.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

logging.getLogger(__name__).addHandler(logging.NullHandler())

_SUBMODULES = ("exceptions", "features", "harmonize", "impute", "io", "models", "pool", "report",
               "selection", "stats")

__all__ = ["__version__", *_SUBMODULES]

__version__: str  # set on first access by __getattr__ below


def _version() -> str:
    # Looked up on first use: importlib.metadata costs every worker process ~40 ms.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("radval")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value = _version()
        globals()["__version__"] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"radval.{name}")
    msg = f"module 'radval' has no attribute {name!r}"
    raise AttributeError(msg)
