"""Per-case result cache: what makes an interrupted extraction resumable.

Each finished case is stored as one small JSON file ``<out_dir>/.cache/<key>.json``, written
atomically (temporary file + rename), where

.. math::

   key = \\mathrm{SHA256}(h_{image} \\,|\\, h_{mask} \\,|\\, label \\,|\\, h_{params}
   \\,|\\, v_{pyradiomics} \\,|\\, extra)

with :math:`h` the SHA-256 of the file bytes (of every file, for a DICOM folder),
:math:`h_{params}` the SHA-256 of the parameter file text and ``extra`` the check thresholds
(:class:`radval.features.checks.CheckSettings` as JSON).  A rerun looks every case up first
and only computes the missing ones; changing an image, a mask, the label or the parameter file
changes the key, so stale results are never reused.  JSON keeps Python floats exactly
(shortest round-trip representation), so a cached value equals the freshly computed one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from radval._provenance import atomic_write_json

__all__ = ["CaseCache", "case_key"]


@functools.cache
def _pyradiomics_version() -> str:
    # One metadata lookup per process (a few ms each, once per case otherwise).
    try:
        from importlib.metadata import version

        return version("pyradiomics")
    except Exception:  # noqa: BLE001 - missing metadata only changes the key
        return "unknown"


def case_key(image_sha256: str, mask_sha256: str, label: int, params_sha256: str,
             *, extra: str = "") -> str:
    """Cache key of one case (hex SHA-256); see the module docstring."""
    rad = _pyradiomics_version()
    text = "|".join([image_sha256, mask_sha256, str(int(label)), params_sha256, rad, extra])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CaseCache:
    """A folder of per-case JSON records.

    Parameters
    ----------
    folder : path
        Cache folder (created on the first write), normally ``<out_dir>/.cache``.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        """File of ``key``."""
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The record of ``key``, or ``None`` when absent or unreadable (then recomputed)."""
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or rec.get("key") != key:
            return None
        feats = rec.get("features")
        if isinstance(feats, dict):
            rec["features"] = {k: (float("nan") if v is None else float(v))
                               for k, v in feats.items()}
        return rec

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Store ``record`` under ``key`` atomically.

        No fsync per case: a cache entry lost in a crash is simply recomputed, and the
        rename still guarantees that no half-written entry is ever read.  One compact JSON
        line (the fast encoder; floats written exactly as with an indented document).
        """
        atomic_write_json(self.path(key), {**record, "key": key}, indent=None, durable=False)

    def __len__(self) -> int:
        return len(list(self.folder.glob("*.json"))) if self.folder.is_dir() else 0
