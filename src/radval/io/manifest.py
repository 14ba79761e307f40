"""The manifest: which image and which mask to extract for each (patient, reader).

A manifest is a CSV or parquet table described by ``data-dictionary/manifest.yaml``:
``patient_id, cohort, image, mask`` and optional ``reader`` (default ``"1"``), ``label``
(default 1) and ``phase``.  Relative paths are resolved against the manifest's folder; the
``image`` and ``mask`` columns keep the form written in the manifest (outputs must never carry
absolute paths, which can identify patients), and the resolved absolute paths are added as
``image_path`` and ``mask_path`` for reading.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from radval._validation import param_error
from radval.exceptions import MissingInputError, SchemaError
from radval.io.schema import load_schema, validate_table
from radval.io.tables import read_table

__all__ = ["duplicate_keys", "prepare_manifest", "read_manifest", "relative_to_root"]

logger = logging.getLogger(__name__)

_REQUIRED = ("patient_id", "cohort", "image", "mask")


def relative_to_root(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """``path`` written relative to ``root`` with forward slashes (never absolute)."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return Path(os.path.relpath(p, root)).as_posix()
    except ValueError:  # another drive on Windows
        return p.name


def duplicate_keys(manifest: pd.DataFrame) -> pd.Series:
    """Boolean Series: ``True`` for every row whose (patient_id, reader) repeats an earlier row."""
    return manifest[["patient_id", "reader"]].astype(str).duplicated(keep="first")


def prepare_manifest(df: pd.DataFrame, *, root: str | os.PathLike[str] | None = None,
                     caller: str = "prepare_manifest") -> pd.DataFrame:
    """Validate and normalise an in-memory manifest.

    Parameters
    ----------
    df : DataFrame
        Manifest rows (``patient_id, cohort, image, mask[, reader, label, phase]``).
    root : path, optional
        Folder against which relative paths resolve (default: the current directory, or
        ``df.attrs["root"]`` when the frame came from :func:`read_manifest`).
    caller : str, optional
        Name used in error messages.

    Returns
    -------
    DataFrame
        A copy with ``reader`` as str (``"1"`` when absent or empty), ``label`` as int (1 when
        absent), ``patient_id``/``cohort`` as str, added columns ``image_path`` and ``mask_path``
        (absolute) and ``duplicate`` (bool: the (patient_id, reader) pair repeats an earlier
        row), and ``attrs["root"]``.

    Raises
    ------
    SchemaError
        A required column or value is missing, or a value breaks the data dictionary
        (duplicates are flagged, not raised, so the other rows can still run).
    """
    if not isinstance(df, pd.DataFrame):
        raise param_error("manifest", caller, "a DataFrame or a CSV/parquet path", df)
    if root is None:
        root = df.attrs.get("root") or os.getcwd()
    root_p = Path(root).resolve()
    out = df.copy()
    out.columns = [str(c) for c in out.columns]
    if "reader" not in out.columns:
        out["reader"] = "1"
    if "label" not in out.columns:
        out["label"] = 1
    # Normalise to text for validation (parquet may carry ints for patient_id).
    text = out.copy()
    for c in text.columns:
        if c != "label":
            text[c] = text[c].map(lambda v: "" if v is None or (isinstance(v, float) and v != v)
                                  else str(v))
    # identifiers without surrounding whitespace, as every table (radval.io.coding.code_ids)
    for c in ("patient_id", "cohort", "reader"):
        text[c] = text[c].str.strip()
    text["reader"] = text["reader"].replace("", "1")
    if "modality" in text.columns:  # CT / MR / PET, case-insensitive; empty = the study's
        text["modality"] = text["modality"].str.strip().str.upper()
    text["label"] = text["label"].map(lambda v: 1 if v is None or v == "" or
                                      (isinstance(v, float) and v != v) else v)
    errors = [e for e in validate_table(text, load_schema("manifest"))
              if e["rule"] != "primaryKey"]
    if errors:
        shown = "\n  ".join(str(e["message"]) for e in errors[:10])
        raise SchemaError(f"{caller}: the manifest is invalid ({len(errors)} problem(s)):\n"
                          f"  {shown}", errors)
    out["patient_id"] = text["patient_id"]
    out["cohort"] = text["cohort"]
    out["reader"] = text["reader"]
    out["image"] = text["image"]
    out["mask"] = text["mask"]
    out["label"] = text["label"].astype(float).astype(int)
    if "phase" in out.columns:
        out["phase"] = text["phase"]
    if "modality" in out.columns:
        out["modality"] = text["modality"]
    out["image_path"] = [str((root_p / p).resolve()) if not Path(p).is_absolute() else p
                         for p in out["image"]]
    out["mask_path"] = [str((root_p / p).resolve()) if not Path(p).is_absolute() else p
                        for p in out["mask"]]
    # Outputs carry manifest-relative paths only.
    out["image"] = [relative_to_root(p, root_p) for p in out["image"]]
    out["mask"] = [relative_to_root(p, root_p) for p in out["mask"]]
    out["duplicate"] = duplicate_keys(out).to_numpy()
    n_dup = int(out["duplicate"].sum())
    if n_dup:
        pairs = out.loc[out["duplicate"], ["patient_id", "reader"]].astype(str)
        shown = ", ".join(f"{p}/{r}" for p, r in pairs.itertuples(index=False))
        logger.warning("manifest: %d duplicate (patient_id, reader) row(s): %s", n_dup, shown)
    out = out.reset_index(drop=True)
    out.attrs["root"] = str(root_p)
    return out


def read_manifest(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a manifest file.

    Parameters
    ----------
    path : path
        CSV (``.csv``, ``.tsv`` tab-separated) or parquet (``.parquet``, ``.pq``) file.

    Returns
    -------
    DataFrame
        See :func:`prepare_manifest`; ``attrs["root"]`` is the manifest's folder and
        ``attrs["source"]`` its file name.

    Raises
    ------
    MissingInputError
        ``path`` does not exist (CLI exit code 66).
    SchemaError
        The manifest breaks ``data-dictionary/manifest.yaml`` (exit code 65); the error lists
        row, column, value and rule for each problem.
    DataError
        The file is empty, has a header but no rows, is not UTF-8 text or is malformed
        (exit code 65; :func:`radval.io.tables.read_table`).
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise MissingInputError(f"manifest not found: {p}")
    # empty, header-only, non-UTF-8 or malformed files end in one line naming the file
    df = read_table(p, what="manifest", text=True)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        errors: list[dict[str, Any]] = [
            {"table": "manifest", "row": None, "column": c, "value": None,
             "rule": "missing_column", "message": f"required column {c!r} is absent"}
            for c in missing]
        raise SchemaError(f"manifest {p.name}: missing required column(s) "
                          f"{', '.join(missing)} (has: {', '.join(df.columns)})", errors)
    out = prepare_manifest(df, root=p.parent, caller=f"manifest {p.name}")
    out.attrs["source"] = p.name
    return out
