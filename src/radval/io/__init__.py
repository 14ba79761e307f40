"""radval.io: manifests, data dictionary (Table Schema), images and masks.

Public names are imported lazily so that ``import radval.io`` does not import SimpleITK.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "check_table",
    "load_schema",
    "prepare_manifest",
    "read_image",
    "read_manifest",
    "read_mask",
    "validate_table",
]

_WHERE = {
    "check_table": "radval.io.schema",
    "load_schema": "radval.io.schema",
    "validate_table": "radval.io.schema",
    "read_manifest": "radval.io.manifest",
    "prepare_manifest": "radval.io.manifest",
    "read_image": "radval.io.images",
    "read_mask": "radval.io.images",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'radval.io' has no attribute {name!r}")
