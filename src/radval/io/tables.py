"""Reading a user's table (CSV, TSV or parquet) with errors a person can act on.

Every table radval reads from a user (clinical table, features table, share-file
companions) goes through :func:`read_table`, so that a folder given as a file, an
empty file, a header without rows, a file that is not UTF-8 text, or a malformed line
ends in one line naming the file (and the line), with the documented exit code,
instead of a traceback.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radval.exceptions import DataError, InputError, MissingInputError

__all__ = ["check_numeric_columns", "read_table"]


def read_table(path: str | os.PathLike[str], *, what: str,
               dtype: Mapping[str, Any] | None = None,
               required: Sequence[str] = (), text: bool = False) -> pd.DataFrame:
    """Read a CSV (``.csv``; ``.tsv`` tab-separated) or parquet (``.parquet``, ``.pq``) table.

    Parameters
    ----------
    path : path
        The file.
    what : str
        What the table is, for messages (``"clinical table"``).
    dtype : mapping, optional
        Column types for CSV reading (e.g. ``{"patient_id": str}``).
    required : sequence of str
        Columns that must be present.
    text : bool, optional
        Read every CSV column as text and convert nothing to missing (``""`` stays ``""``);
        for tables validated against a data-dictionary schema (the manifest).

    Returns
    -------
    DataFrame
        Column names stripped of surrounding whitespace; ``attrs["source"]`` is the file
        name.

    Raises
    ------
    MissingInputError
        The file does not exist (exit code 66).
    InputError
        The path is a folder (exit code 65).
    DataError
        Empty file, header without rows, not UTF-8, malformed line, missing required
        column (exit code 65).
    """
    p = Path(os.fspath(path))
    label = f"{what} {p.name}"
    if not p.exists():
        raise MissingInputError(f"{what} {p} does not exist.")
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder; give the CSV or parquet file.")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            df = _read_text_table(p, label, sep="\t" if suffix == ".tsv" else ",", dtype=dtype,
                                  text=text)
    except OSError as exc:
        raise DataError(f"{label} cannot be read: {exc.strerror or exc}.") from None
    except (ValueError, TypeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{label} cannot be read as a table: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}."
                        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise DataError(f"{label} has a header but no rows.")
    dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup:
        raise DataError(f"{label}: column name(s) repeated: {', '.join(map(repr, dup))}.")
    absent = [c for c in required if c not in df.columns]
    if absent:
        raise DataError(f"{label}: required column(s) {', '.join(map(repr, absent))} "
                        f"absent (columns: {', '.join(map(str, list(df.columns)[:20]))}).")
    df.attrs["source"] = p.name
    return df


def _read_text_table(p: Path, label: str, *, sep: str,
                     dtype: Mapping[str, Any] | None, text: bool = False) -> pd.DataFrame:
    raw = p.read_bytes()
    if not raw.strip():
        raise DataError(f"{label} is empty.")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"{label} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line "
                        f"{line}); save it as UTF-8 (e.g. 'CSV UTF-8' in Excel).") from None
    try:
        if text:
            return pd.read_csv(io.StringIO(content), sep=sep, dtype=str, keep_default_na=False,
                               na_values=[])
        return pd.read_csv(io.StringIO(content), sep=sep, dtype=dict(dtype) if dtype else None)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty.") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{label} is malformed: {str(exc).strip().splitlines()[-1]}.") from None


def check_numeric_columns(df: pd.DataFrame, columns: Sequence[str], *, what: str) -> None:
    """Every value of ``columns`` is a number or missing.

    Raises
    ------
    DataError
        Naming the first offending column, its file line and the value.
    """
    for col in columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna().to_numpy() & s.notna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{what}: column {col!r} holds text where a number is expected "
                            f"({s.iloc[i]!r} on file line {i + 2}; {int(bad.sum())} value(s) "
                            "in all).")
