"""radval.io: manifests, data dictionary (Table Schema), images and masks.

Public names are imported lazily so that ``import radval.io`` does not import SimpleITK.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

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
    "check_table": "schema",
    "load_schema": "schema",
    "validate_table": "schema",
    "read_manifest": "manifest",
    "prepare_manifest": "manifest",
    "read_image": "images",
    "read_mask": "images",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
