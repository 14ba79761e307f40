"""Result objects: frozen dataclasses with ``to_dict()`` and ``to_frame()``.

Every statistics function returns a ``@dataclass(frozen=True, kw_only=True)``
subclass of :class:`Result`.  Scalar fields keep full precision; rounding is the
report's job.  Array fields (curves, bootstrap distributions) are declared with
``field(repr=False, compare=False)`` and made read-only.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Result", "jsonable"]


def jsonable(value: Any) -> Any:
    """Convert numpy / pandas values to plain JSON-safe Python objects.

    NaN and infinities become ``None`` so that the output is strict JSON.
    """
    # Fast path for the plain scalars that make up most of a features record.
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if _is_frame(value):
        return [jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _is_frame(value: Any) -> bool:
    """Whether ``value`` is a pandas DataFrame, without importing pandas.

    A process that never imported pandas holds no DataFrame; worker processes convert their
    results with :func:`jsonable` and must not pay for importing pandas.
    """
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.DataFrame)


class Result:
    """Mixin for result dataclasses."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                v.flags.writeable = False

    def to_dict(self) -> dict[str, Any]:
        """Return all fields as a JSON-safe dict (NaN becomes ``None``)."""
        return {
            f.name: jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }

    def _scalar_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray | list | dict) or _is_frame(v):
                continue
            out[f.name] = v
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return the scalar fields as a one-row tidy DataFrame."""
        import pandas as pd

        return pd.DataFrame([self._scalar_fields()])

    def _repr_html_(self) -> str:
        return str(self.to_frame().to_html(index=False))
