"""The base of every artifact definition: strict records, reading, writing, describing.

An artifact that crosses a boundary (``results.json``, ``selection.json``,
``models.json``, ``signature.json``, ``share.json``) is defined once, as a
:class:`Document` (a pydantic model).  The same class

* validates what radval writes (:meth:`Document.write`: a producer that drifts from the
  definition fails before the file exists),
* validates what radval reads (:meth:`Document.read`: a file of another radval version or
  edited by hand fails with a message naming the field), and
* documents the file (:func:`describe`: ``data-dictionary/<file>.yaml`` is generated from
  it, and a test fails when the committed copy differs).

Records are strict: a number stays the number it was (an integer is not turned into a
float, a boolean is not a number), a text is text, and an unknown field is an error.
"""

from __future__ import annotations

import json
import os
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radval._provenance import atomic_write_json
from radval._results import jsonable
from radval.exceptions import ContractError

__all__ = ["Document", "Num", "OptNum", "OptStr", "Record", "describe", "described"]

#: A JSON number, kept as written (int or float).  NaN is written as ``null``.
Num = int | float
#: A number or ``null`` (undefined, or withheld).
OptNum = Num | None
OptStr = str | None


def described(description: str, default: Any = ...) -> Any:
    """A pydantic field with its description (the data dictionary prints it); no default
    (``...``) makes the field required."""
    return Field(default, description=description)

_MAX_DEPTH = 64


class Record(BaseModel):
    """A strict, frozen JSON object: unknown fields and type coercions are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Document(Record):
    """A whole artifact file.  Subclasses set :attr:`FILE` and :attr:`TITLE`."""

    FILE: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""

    @classmethod
    def from_data(cls, data: Any, *, source: str | None = None) -> Self:
        """Validate parsed JSON (or a producer's dict) against the definition.

        Raises
        ------
        ContractError
            Naming the file and every offending field path (up to ten).
        """
        where = source or cls.FILE
        if not isinstance(data, dict):
            raise ContractError(f"{where} must hold a JSON object; got "
                                f"{type(data).__name__}.")
        try:
            return cls.model_validate(jsonable(data))
        except ValidationError as exc:
            raise ContractError(_message(exc, where, cls.__name__)) from None

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Self:
        """Read and validate a file.

        Raises
        ------
        MissingInputError
            The file does not exist.
        ContractError
            Not JSON, nested too deeply, or not following the definition.
        """
        from radval._paths import require_file

        p = require_file(path, cls.FILE)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ContractError(f"{p.name} is not UTF-8 text.") from None
        except json.JSONDecodeError as exc:
            raise ContractError(f"{p.name} is not valid JSON (line {exc.lineno}, column "
                                f"{exc.colno}: {exc.msg}).") from None
        except RecursionError:
            raise ContractError(f"{p.name} is nested too deeply to be a {cls.FILE}.") from None
        if _depth(data) > _MAX_DEPTH:
            raise ContractError(f"{p.name} is nested too deeply to be a {cls.FILE}.")
        return cls.from_data(data, source=p.name)

    def to_data(self) -> dict[str, Any]:
        """The JSON object: the fields that were given (absent optional fields stay absent)."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically as strict JSON with sorted keys (byte-reproducible)."""
        out = Path(os.fspath(path))
        atomic_write_json(out, self.to_data())
        return out


def _depth(obj: Any, level: int = 0) -> int:
    # iterative: a hostile file must not exhaust the interpreter's stack
    deepest = level
    stack: list[tuple[Any, int]] = [(obj, level)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > _MAX_DEPTH:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("int", "float", "str", "bool", "none") or "[" in str(part) or \
                str(part).startswith(("function-", "literal", "union")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(exc: ValidationError, where: str, name: str) -> str:
    seen: list[str] = []
    for err in exc.errors():
        kind = err.get("type", "")
        raw = tuple(err["loc"])
        if kind in ("int_type", "float_type") and raw and raw[-1] in ("int", "float"):
            # a JSON number (int | float) given something else: one message, not two
            text = f"Input should be a number (got {err.get('input')!r:.60})"
        elif kind == "extra_forbidden":
            text = "unknown field"
        elif kind == "missing":
            text = "required field is missing"
        else:
            text = str(err.get("msg", "invalid"))
            got = err.get("input")
            if not isinstance(got, dict | list):
                text += f" (got {got!r:.60})"
        line = f"{_loc(raw)}: {text}"
        if line not in seen:
            seen.append(line)
    shown = "; ".join(seen[:10]) + (f"; and {len(seen) - 10} more" if len(seen) > 10 else "")
    return (f"{where} does not follow the {name} definition of this radval (written by "
            f"another version, or edited?): {shown}")


# ----------------------------------------------------------------------------- describe
def _type_name(tp: Any, defs: dict[str, type[Record]]) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None):
        return "null"
    if tp is Any:
        return "any"
    if origin in (Union, types.UnionType):
        if set(args) >= {int, float}:
            rest = [a for a in args if a not in (int, float)]
            return " or ".join(["number", *(_type_name(a, defs) for a in rest)])
        return " or ".join(_type_name(a, defs) for a in args)
    if origin is Literal:
        return "one of " + " | ".join(str(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0], defs)}" if args else "list"
    if origin is dict:
        return f"mapping of {_type_name(args[0], defs)} to {_type_name(args[1], defs)}"
    if isinstance(tp, type) and issubclass(tp, Record):
        defs.setdefault(tp.__name__, tp)
        return tp.__name__
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(tp, str(tp))


def _fields_yaml(model: type[Record], defs: dict[str, type[Record]], indent: str) -> list[str]:
    lines = []
    for name, info in model.model_fields.items():
        typ = _type_name(info.annotation, defs)
        req = "required" if info.is_required() else "optional"
        desc = (info.description or "").strip().replace('"', "'")
        key = info.alias or name
        lines.append(f'{indent}{key}: {{type: "{typ}", {req}, description: "{desc}"}}')
    return lines


def describe(document: type[Document]) -> str:
    """The data-dictionary YAML of a document, generated from its definition."""
    defs: dict[str, type[Record]] = {}
    doc = (document.__doc__ or "").strip().splitlines()
    lines = [f"# {document.FILE}: generated from radval.contracts.{document.__name__}; do not "
             "edit by hand.",
             "# Regenerate with: python -m radval.contracts data-dictionary",
             f"title: {document.TITLE}",
             f'file: "{document.FILE}"',
             f'description: "{" ".join(s.strip() for s in doc).replace(chr(34), chr(39))}"',
             "fields:"]
    lines += _fields_yaml(document, defs, "  ")
    done: set[str] = set()
    if defs:
        lines.append("definitions:")
    while set(defs) - done:
        for name in sorted(set(defs) - done):
            done.add(name)
            model = defs[name]
            first = (model.__doc__ or "").strip().splitlines()
            lines.append(f"  {name}:")
            if first:
                lines.append(f'    description: "{first[0].strip().replace(chr(34), chr(39))}"')
            lines.append("    fields:")
            lines += _fields_yaml(model, defs, "      ")
    return "\n".join(lines) + "\n"
