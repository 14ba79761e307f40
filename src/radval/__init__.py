"""radval: from CT scans to an externally validated radiomics signature.

``import radval`` is light: statistics and I/O helpers load on demand, and the
heavy dependencies (torch, PyRadiomics, SimpleITK, matplotlib) are imported
only inside the functions that need them.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("radval")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_SUBMODULES = ("exceptions", "features", "harmonize", "impute", "io", "models", "pool", "report",
               "selection", "stats")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"radval.{name}")
    msg = f"module 'radval' has no attribute {name!r}"
    raise AttributeError(msg)
