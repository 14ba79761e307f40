"""Data dictionary: Frictionless Table Schema files and table validation.

Every table radval reads or writes is described in ``data-dictionary/<name>.yaml`` with the
`Frictionless Table Schema <https://specs.frictionlessdata.io/table-schema/>`_ vocabulary:

- ``fields``: list of ``{name, type, description, constraints}`` where ``type`` is one of
  ``string, integer, number, boolean, date, datetime, any`` and ``constraints`` may hold
  ``required, unique, enum, minimum, maximum, minLength, maxLength, pattern``;
- ``missingValues``: strings read as missing (default ``[""]``);
- ``primaryKey``: a column or list of columns whose combined values must be unique;
- ``fieldPatterns`` (radval extension): ``{pattern, type, ...}`` for families of columns
  (e.g. ``radiomics_*``) that are validated by type only.

radval adds descriptive keys on fields: ``unit``, ``timing`` (``pre-operative``,
``post-operative`` or ``outcome``), ``phi`` (the column identifies a person) and ``shareable``.

The shipped schemas live in the package (``radval/data/dictionary``), identical to the
repository's ``data-dictionary`` folder, so an installed radval finds them without the
repository.

Validation returns one record per problem with keys ``table, row, column, value, rule,
message``; ``row`` is the 1-based data row (header excluded) or ``None`` for a problem with a
whole column or the table.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from radval._validation import param_error
from radval.exceptions import ConfigError, MissingInputError, SchemaError

__all__ = [
    "SCHEMA_NAMES",
    "TableSchema",
    "check_table",
    "load_schema",
    "post_operative_fields",
    "validate_table",
]

#: Schemas shipped with radval (``load_schema(name)``).
SCHEMA_NAMES = ("manifest", "clinical", "features", "failures", "predictions")

_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "any")
_TRUE = {"true", "True", "TRUE", "1", "yes"}
_FALSE = {"false", "False", "FALSE", "0", "no"}
_MAX_ERRORS_SHOWN = 10


@dataclass(frozen=True, kw_only=True)
class TableSchema:
    """A parsed Table Schema.

    Attributes
    ----------
    name : str
        Table name (``name`` key, else the file stem).
    fields : list of dict
        Field descriptors, in order.
    missing_values : tuple of str
        Cell strings read as missing.
    primary_key : tuple of str
        Columns whose combination must be unique (may be empty).
    field_patterns : list of dict
        radval extension: regex ``pattern`` + ``type`` for column families.
    raw : dict
        The whole YAML document.
    """

    name: str
    fields: list[dict[str, Any]]
    missing_values: tuple[str, ...] = ("",)
    primary_key: tuple[str, ...] = ()
    field_patterns: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def field_names(self) -> list[str]:
        """Names of the declared fields, in order."""
        return [str(f["name"]) for f in self.fields]

    def field(self, name: str) -> dict[str, Any]:
        """The descriptor of field ``name`` (``KeyError`` if absent)."""
        for f in self.fields:
            if f["name"] == name:
                return f
        raise KeyError(name)

    def required_fields(self) -> list[str]:
        """Fields with ``constraints.required: true``."""
        return [str(f["name"]) for f in self.fields
                if (f.get("constraints") or {}).get("required", False)]


def _dictionary_dir() -> Path:
    return Path(str(resources.files("radval") / "data" / "dictionary"))


def _parse(doc: Any, source: str) -> TableSchema:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("fields"), list):
        raise ConfigError(f"schema {source}: expected a mapping with a 'fields' list")
    fields: list[dict[str, Any]] = []
    for i, f in enumerate(doc["fields"]):
        if not isinstance(f, Mapping) or "name" not in f:
            raise ConfigError(f"schema {source}: fields[{i}] must be a mapping with a 'name'")
        ftype = f.get("type", "string")
        if ftype not in _TYPES:
            raise ConfigError(f"schema {source}: field {f['name']!r} has unknown type {ftype!r}; "
                              f"expected one of {', '.join(_TYPES)}")
        timing = f.get("timing")
        if timing is not None and timing not in ("pre-operative", "post-operative", "outcome"):
            raise ConfigError(f"schema {source}: field {f['name']!r} has timing {timing!r}; "
                              "expected pre-operative, post-operative or outcome")
        fields.append(dict(f))
    pk = doc.get("primaryKey") or ()
    if isinstance(pk, str):
        pk = (pk,)
    names = {f["name"] for f in fields}
    for k in pk:
        if k not in names:
            raise ConfigError(f"schema {source}: primaryKey column {k!r} is not a field")
    mv = doc.get("missingValues", [""])
    return TableSchema(
        name=str(doc.get("name") or Path(source).stem),
        fields=fields,
        missing_values=tuple(str(v) for v in mv),
        primary_key=tuple(str(k) for k in pk),
        field_patterns=[dict(p) for p in doc.get("fieldPatterns") or []],
        raw=dict(doc),
    )


def load_schema(name_or_path: str | os.PathLike[str] | TableSchema) -> TableSchema:
    """Load a Table Schema by shipped name or from a YAML file.

    Parameters
    ----------
    name_or_path : str, path or TableSchema
        A schema shipped in ``radval/data/dictionary`` by name (:data:`SCHEMA_NAMES`:
        ``"manifest"``, ``"clinical"``, ``"features"``, ``"failures"``, and any other
        ``<name>.yaml`` there), or the path of a YAML/JSON schema file.  A :class:`TableSchema` is
        returned unchanged.

    Returns
    -------
    TableSchema

    Raises
    ------
    MissingInputError
        The file does not exist.
    ConfigError
        The file is not a valid schema.
    """
    import yaml

    if isinstance(name_or_path, TableSchema):
        return name_or_path
    text = os.fspath(name_or_path)
    shipped = _dictionary_dir() / f"{text}.yaml"
    if text in SCHEMA_NAMES or (os.sep not in text and "." not in text and shipped.is_file()):
        path = shipped
    else:
        path = Path(text)
        if not path.exists():
            raise MissingInputError(f"schema file not found: {text} (shipped schemas: "
                                    f"{', '.join(SCHEMA_NAMES)})")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"schema {path.name}: not valid YAML ({exc})") from exc
    return _parse(doc, path.name)


def post_operative_fields(schema: str | os.PathLike[str] | TableSchema = "clinical") -> list[str]:
    """Names of the fields marked ``timing: post-operative`` in ``schema``."""
    s = load_schema(schema)
    return [str(f["name"]) for f in s.fields if f.get("timing") == "post-operative"]


def _is_missing(value: Any, missing: tuple[str, ...]) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value in missing


def _convert(value: Any, ftype: str) -> tuple[bool, Any]:
    """Return (ok, converted) for a non-missing cell."""
    if ftype in ("any", "string"):
        return True, value if ftype == "any" else str(value)
    if ftype == "boolean":
        if isinstance(value, bool):
            return True, value
        s = str(value)
        if s in _TRUE:
            return True, True
        if s in _FALSE:
            return True, False
        return False, None
    if ftype in ("integer", "number"):
        if isinstance(value, bool):
            return False, None
        try:
            x = float(value)
        except (TypeError, ValueError):
            return False, None
        if ftype == "integer":
            if not math.isfinite(x) or x != int(x):
                return False, None
            return True, int(x)
        return True, x
    # date / datetime
    try:
        return True, pd.Timestamp(value)
    except (TypeError, ValueError):
        return False, None


def _err(table: str, row: int | None, column: str | None, value: Any, rule: str,
         message: str) -> dict[str, Any]:
    if isinstance(value, float) and math.isnan(value):
        value = None
    return {"table": table, "row": row, "column": column,
            "value": value if value is None or isinstance(value, int | float | str | bool)
            else str(value), "rule": rule, "message": message}


def _read_csv_text(path: Path, missing: tuple[str, ...]) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    # Read everything as text: the schema decides the types.
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])


def validate_table(table: pd.DataFrame | str | os.PathLike[str],
                   schema: str | os.PathLike[str] | TableSchema) -> list[dict[str, Any]]:
    """Validate a table against a Table Schema and list every problem.

    Parameters
    ----------
    table : DataFrame or path
        The table, or a CSV / parquet file (CSV cells are read as text and typed by the schema).
    schema : str, path or TableSchema
        Shipped schema name, schema file or parsed schema.

    Returns
    -------
    list of dict
        One record per problem with keys ``table`` (schema name), ``row`` (1-based data row,
        ``None`` for a column-level problem), ``column``, ``value``, ``rule`` (``required``,
        ``type``, ``enum``, ``minimum``, ``maximum``, ``minLength``, ``maxLength``,
        ``pattern``, ``unique``, ``primaryKey``, ``missing_column``) and ``message``.  Empty
        when the table is valid.  Columns not in the schema are allowed.
    """
    s = load_schema(schema)
    if isinstance(table, pd.DataFrame):
        df = table
    else:
        path = Path(os.fspath(table))
        if not path.exists():
            raise MissingInputError(f"table not found: {path}")
        df = _read_csv_text(path, s.missing_values)
    errors: list[dict[str, Any]] = []
    name = s.name
    for f in s.fields:
        col = str(f["name"])
        cons = f.get("constraints") or {}
        if col not in df.columns:
            if cons.get("required", False):
                errors.append(_err(name, None, col, None, "missing_column",
                                   f"required column {col!r} is absent"))
            continue
        errors.extend(_validate_column(name, col, df[col], str(f.get("type", "string")), cons,
                                       s.missing_values))
    for pat in s.field_patterns:
        rx = re.compile(str(pat["pattern"]))
        for col in df.columns:
            if any(col == fn for fn in s.field_names) or not rx.search(str(col)):
                continue
            errors.extend(_validate_column(name, str(col), df[col], str(pat.get("type", "any")),
                                           pat.get("constraints") or {}, s.missing_values))
    if s.primary_key and all(k in df.columns for k in s.primary_key):
        key = df[list(s.primary_key)].astype(str)
        dup = key.duplicated(keep="first").to_numpy()
        for i in dup.nonzero()[0]:
            vals = ", ".join(f"{k}={key.iloc[i][k]!r}" for k in s.primary_key)
            errors.append(_err(name, int(i) + 1, ",".join(s.primary_key), vals, "primaryKey",
                               f"row {int(i) + 1}: duplicate primary key ({vals})"))
    return errors


def _validate_column(table: str, col: str, series: pd.Series, ftype: str,
                     cons: Mapping[str, Any], missing: tuple[str, ...]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    values: list[tuple[int, Any]] = []
    enum = cons.get("enum")
    enum_conv = None
    if enum is not None:
        enum_conv = {(_convert(e, ftype)[1] if ftype != "any" else e) for e in enum}
    pattern = re.compile(str(cons["pattern"])) if "pattern" in cons else None
    for i, raw in enumerate(series.tolist(), start=1):
        if _is_missing(raw, missing):
            if cons.get("required", False):
                errors.append(_err(table, i, col, None, "required",
                                   f"row {i}, column {col!r}: value is required but missing"))
            continue
        ok, v = _convert(raw, ftype)
        if not ok:
            errors.append(_err(table, i, col, raw, "type",
                               f"row {i}, column {col!r}: {raw!r} is not a valid {ftype}"))
            continue
        values.append((i, v))
        if enum_conv is not None and v not in enum_conv:
            shown = list(enum or [])
            errors.append(_err(table, i, col, raw, "enum",
                               f"row {i}, column {col!r}: {raw!r} is not one of {shown}"))
        if "minimum" in cons and v < cons["minimum"]:
            errors.append(_err(table, i, col, raw, "minimum",
                               f"row {i}, column {col!r}: {raw!r} is below the minimum "
                               f"{cons['minimum']}"))
        if "maximum" in cons and v > cons["maximum"]:
            errors.append(_err(table, i, col, raw, "maximum",
                               f"row {i}, column {col!r}: {raw!r} is above the maximum "
                               f"{cons['maximum']}"))
        if "minLength" in cons and len(str(v)) < int(cons["minLength"]):
            errors.append(_err(table, i, col, raw, "minLength",
                               f"row {i}, column {col!r}: {raw!r} is shorter than "
                               f"{cons['minLength']} characters"))
        if "maxLength" in cons and len(str(v)) > int(cons["maxLength"]):
            errors.append(_err(table, i, col, raw, "maxLength",
                               f"row {i}, column {col!r}: {raw!r} is longer than "
                               f"{cons['maxLength']} characters"))
        if pattern is not None and not pattern.fullmatch(str(raw)):
            errors.append(_err(table, i, col, raw, "pattern",
                               f"row {i}, column {col!r}: {raw!r} does not match "
                               f"{pattern.pattern!r}"))
    if cons.get("unique", False):
        seen: dict[Any, int] = {}
        for i, v in values:
            if v in seen:
                errors.append(_err(table, i, col, v, "unique",
                                   f"row {i}, column {col!r}: {v!r} repeats row {seen[v]}"))
            else:
                seen[v] = i
    return errors


def check_table(table: pd.DataFrame | str | os.PathLike[str],
                schema: str | os.PathLike[str] | TableSchema, *,
                caller: str = "check_table") -> None:
    """Validate ``table`` and raise :class:`SchemaError` listing the problems.

    The exception's ``errors`` attribute holds the records of :func:`validate_table`; its
    message shows the first ten.
    """
    if not isinstance(caller, str):
        raise param_error("caller", "check_table", "a string", caller)
    errors = validate_table(table, schema)
    if errors:
        s = load_schema(schema)
        shown = "\n  ".join(str(e["message"]) for e in errors[:_MAX_ERRORS_SHOWN])
        more = (f"\n  ... and {len(errors) - _MAX_ERRORS_SHOWN} more"
                if len(errors) > _MAX_ERRORS_SHOWN else "")
        raise SchemaError(f"{caller}: the {s.name} table breaks its data dictionary "
                          f"({len(errors)} problem(s)):\n  {shown}{more}",
                          [dict(e) for e in errors])
