"""Lazy exports for subpackages: names are imported from their module on first use.

This keeps ``import radval.<subpackage>`` cheap (no torch, SimpleITK, sklearn, ...
until a function that needs them is used) while the subpackage still exposes a
curated public API.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a module's ``__getattr__`` and ``__dir__`` from ``name -> submodule``.

    ``exports`` maps each public name to the submodule of ``package`` that defines it
    (e.g. ``{"roc_auc": "discrimination"}`` in ``radval.stats``).
    """
    names = sorted(exports)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
