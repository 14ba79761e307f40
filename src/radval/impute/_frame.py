"""Column typing, validation and design-matrix encoding shared by the imputers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._validation import param_error
from radval.exceptions import InputError

FloatArray = npt.NDArray[np.float64]

#: Most categories a non-numeric column may have (mice's augment() uses maxcat = 50).
MAX_CATEGORIES = 50


@dataclass
class ColumnSpec:
    """How one variable is typed and encoded.

    ``kind`` is ``"numeric"`` (float/int columns), ``"binary"`` (a non-numeric column
    with two levels) or ``"categorical"`` (three or more levels).  ``levels`` are the
    sorted observed levels of a non-numeric column; ``integer`` marks numeric columns
    whose observed values are all whole numbers; ``dtype`` restores the output type.
    """

    name: str
    kind: str
    levels: list[Any] = field(default_factory=list)
    integer: bool = False
    dtype: str = "float64"

    @property
    def n_design(self) -> int:
        """Number of design columns this variable contributes as a predictor."""
        return 1 if self.kind == "numeric" else len(self.levels) - 1


def _sort_key(v: Any) -> tuple[str, Any]:
    return (type(v).__name__, v)


def column_specs(frame: pd.DataFrame, caller: str) -> list[ColumnSpec]:
    """Validate ``frame`` and type each column.

    Raises
    ------
    InputError
        Not a DataFrame, zero rows or columns, duplicated names, a column missing for
        every row, a column that is neither numeric nor categorical (dates, mixed
        objects, identifiers), too many categories.
    """
    if not isinstance(frame, pd.DataFrame):
        raise param_error("frame", caller, "a pandas DataFrame", type(frame).__name__)
    if frame.shape[0] == 0:
        raise param_error("frame", caller, "a table with at least one row", "0 rows")
    if frame.shape[1] == 0:
        raise param_error("frame", caller, "a table with at least one column", "0 columns")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({c for c in names if names.count(c) > 1})
        raise param_error("frame", caller, "a table with unique column names", dup)
    specs: list[ColumnSpec] = []
    for name, col in zip(names, frame.columns):
        s = frame[col]
        obs = s.dropna()
        if obs.empty:
            msg = (f"The 'frame' parameter of {caller} must have at least one observed value "
                   f"in every column. Got column {name!r} missing for all {len(s)} rows "
                   "instead; drop it (it cannot be imputed from nothing).")
            raise InputError(msg)
        if pd.api.types.is_bool_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype) or \
                pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            values = obs.tolist()
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = [v for v in s.cat.categories if v in set(values)]
            else:
                kinds = {type(v) for v in values}
                if not all(issubclass(k, str | bool | np.bool_) for k in kinds) and \
                        not all(issubclass(k, int | np.integer) for k in kinds):
                    raise param_error("frame", caller,
                                      "numeric or categorical (str, bool, category) columns",
                                      f"column {name!r} of mixed/unsupported values "
                                      f"{sorted(k.__name__ for k in kinds)}")
                levels = sorted(set(values), key=_sort_key)
            if len(levels) > MAX_CATEGORIES or (len(levels) == len(values) and len(values) > 10):
                raise param_error("frame", caller,
                                  f"categorical columns with at most {MAX_CATEGORIES} levels "
                                  "(not identifiers)",
                                  f"column {name!r} with {len(levels)} distinct values")
            # one observed level: "binary" with no design column, imputed as that level
            kind = "categorical" if len(levels) > 2 else "binary"
            specs.append(ColumnSpec(name=name, kind=kind, levels=levels, dtype=str(s.dtype)))
            continue
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s):
            vals = obs.to_numpy(dtype=np.float64)
            if not np.isfinite(vals).all():
                raise param_error("frame", caller, "free of infinite values",
                                  f"column {name!r} with infinities")
            specs.append(ColumnSpec(name=name, kind="numeric",
                                    integer=bool(np.all(vals == np.round(vals))),
                                    dtype=str(s.dtype)))
            continue
        raise param_error("frame", caller, "numeric or categorical (str, bool, category) columns",
                          f"column {name!r} of dtype {s.dtype}")
    return specs


def encode_values(frame: pd.DataFrame, specs: list[ColumnSpec], caller: str
                  ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Numeric codes of every column (category index for non-numeric) and the missing mask.

    Non-numeric levels not seen in fit raise :class:`InputError`.
    """
    n = frame.shape[0]
    values = np.empty((n, len(specs)))
    cols = {str(c): c for c in frame.columns}
    for j, spec in enumerate(specs):
        if spec.name not in cols:
            raise param_error("frame", caller, f"a table with the fitted column {spec.name!r}",
                              list(cols)[:10])
        s = frame[cols[spec.name]]
        miss = s.isna().to_numpy()
        if spec.kind == "numeric":
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                raise param_error("frame", caller, f"numeric values in column {spec.name!r}",
                                  str(s.dtype))
            values[:, j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        lookup = {v: i for i, v in enumerate(spec.levels)}
        codes = np.full(n, np.nan)
        unknown = set()
        for i, v in enumerate(s.tolist()):
            if miss[i]:
                continue
            code = lookup.get(v)
            if code is None:
                unknown.add(v)
            else:
                codes[i] = code
        if unknown:
            raise param_error("frame", caller, f"levels of {spec.name!r} seen in fit "
                              f"{spec.levels}", sorted(map(str, unknown)))
        values[:, j] = codes
    return values, np.isnan(values)


def decode_frame(values: FloatArray, specs: list[ColumnSpec], index: pd.Index
                 ) -> pd.DataFrame:
    """Turn completed codes back into a DataFrame with the original labels and dtypes."""
    out: dict[str, Any] = {}
    for j, spec in enumerate(specs):
        v = values[:, j]
        if spec.kind == "numeric":
            if spec.dtype.startswith(("int", "uint", "Int", "UInt")) and np.isfinite(v).all():
                out[spec.name] = pd.Series(np.round(v).astype(np.int64), index=index
                                           ).astype(pd.api.types.pandas_dtype(spec.dtype))
            else:
                out[spec.name] = v
            continue
        labels = [spec.levels[int(c)] if np.isfinite(c) else None for c in v]
        if spec.dtype == "category":
            out[spec.name] = pd.Categorical(labels, categories=spec.levels)
        elif spec.dtype == "bool":
            out[spec.name] = np.asarray(labels, dtype=bool)
        else:
            out[spec.name] = pd.array(labels, dtype=object) if spec.dtype == "object" \
                else pd.Series(labels, dtype=spec.dtype).array
    return pd.DataFrame(out, index=index)


def design_block(values: FloatArray, spec: ColumnSpec) -> FloatArray:
    """The design columns of one variable used as a predictor (indicators, first level dropped)."""
    v = values
    if spec.kind == "numeric":
        return v[:, None]
    k = len(spec.levels)
    return (v[:, None] == np.arange(1, k)[None, :]).astype(np.float64)
