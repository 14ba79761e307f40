"""Input validation shared by every public function.

One message shape everywhere (after scikit-learn)::

    The 'y_true' parameter of roc_auc must be <constraint>. Got <value> instead.

Validators return normalised numpy arrays; public functions call them first and
then compute on clean data.  Never ``assert``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from radval.exceptions import InputError

__all__ = [
    "check_binary",
    "check_choice",
    "check_confidence_level",
    "check_consistent_length",
    "check_positive_int",
    "check_probabilities",
    "check_scores",
    "finite_list",
    "param_error",
]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def param_error(param: str, caller: str, constraint: str, got: Any) -> InputError:
    """Build the one-shape error for a bad parameter value."""
    msg = f"The {param!r} parameter of {caller} must be {constraint}. Got {_show(got)} instead."
    return InputError(msg)


def _as_1d_float(x: Any, param: str, caller: str) -> npt.NDArray[np.float64]:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise param_error(param, caller, "a 1-d array of numbers", x) from exc
    if arr.ndim == 0:
        raise param_error(param, caller, "a 1-d array of numbers", x)
    if arr.ndim > 1:
        if arr.ndim == 2 and 1 in arr.shape:
            arr = arr.ravel()
        else:
            raise param_error(param, caller, "a 1-d array", f"an array of shape {arr.shape}")
    return arr


def check_binary(y_true: Any, *, caller: str, param: str = "y_true",
                 require_both: bool = True) -> npt.NDArray[np.int64]:
    """Return ``y_true`` as an int array of 0/1.

    Accepts booleans or numbers equal to 0 and 1.  Raises :class:`InputError` on
    NaN, other values, empty input, or (``require_both``) a single class.
    """
    arr = _as_1d_float(y_true, param, caller)
    if arr.size == 0:
        raise param_error(param, caller, "non-empty", "an empty array")
    if np.isnan(arr).any():
        raise param_error(param, caller, "free of NaN",
                          f"{int(np.isnan(arr).sum())} NaN value(s)")
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        vals = np.unique(arr[bad])[:5].tolist()
        raise param_error(param, caller, "binary with values 0 and 1 (1 = event)",
                          f"other values {vals}")
    out = arr.astype(np.int64)
    if require_both and (out.min() == out.max()):
        cls = int(out[0])
        raise param_error(param, caller, "holding both classes (0 and 1)",
                          f"only class {cls} ({out.size} observations)")
    return out


def check_scores(y_score: Any, *, caller: str, param: str = "y_score",
                 allow_nan: bool = False) -> npt.NDArray[np.float64]:
    """Return scores as a finite float64 1-d array."""
    arr = _as_1d_float(y_score, param, caller)
    if arr.size == 0:
        raise param_error(param, caller, "non-empty", "an empty array")
    if not allow_nan and not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).sum())
        raise param_error(param, caller, "finite (no NaN or infinity)",
                          f"{n_bad} non-finite value(s)")
    return arr


def check_probabilities(y_prob: Any, *, caller: str, param: str = "y_prob",
                        open_interval: bool = False) -> npt.NDArray[np.float64]:
    """Return probabilities in [0, 1] (or (0, 1) with ``open_interval``)."""
    arr = check_scores(y_prob, caller=caller, param=param)
    if open_interval:
        bad = (arr <= 0.0) | (arr >= 1.0)
        constraint = "probabilities strictly between 0 and 1"
    else:
        bad = (arr < 0.0) | (arr > 1.0)
        constraint = "probabilities in [0, 1]"
    if bad.any():
        raise param_error(param, caller, constraint,
                          f"{int(bad.sum())} value(s) outside, e.g. {float(arr[bad][0])!r}")
    return arr


def check_consistent_length(caller: str, **arrays: Sequence[Any] | npt.NDArray[Any]) -> None:
    """Raise if the named arrays do not all have the same length."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}={v}" for k, v in lengths.items())
        msg = f"The arrays passed to {caller} must have the same length. Got {shown} instead."
        raise InputError(msg)


def check_confidence_level(value: Any, *, caller: str,
                           param: str = "confidence_level") -> float:
    """Return a confidence level strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise param_error(param, caller, "a float in (0, 1)", value)
    v = float(value)
    if not 0.0 < v < 1.0:
        raise param_error(param, caller, "a float in (0, 1)", value)
    return v


def check_choice(value: Any, choices: Iterable[str], *, caller: str, param: str) -> str:
    """Return ``value`` if it is one of ``choices``."""
    options = tuple(choices)
    if value not in options:
        shown = "{" + ", ".join(repr(c) for c in options) + "}"
        raise param_error(param, caller, f"one of {shown}", value)
    return str(value)


def check_positive_int(value: Any, *, caller: str, param: str, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise param_error(param, caller, f"an integer >= {minimum}", value)
    return int(value)


def finite_list(values: Any, name: str, owner: str, *, allow_nan: bool = False,
                error: type[Exception] = InputError) -> list[float]:
    """``values`` as finite floats (``None`` -> NaN where ``allow_nan``), else ``error``
    naming ``owner`` and the field: the check of every number list read from a bundle
    (signature scores and models, the frozen survival model)."""
    try:
        out = [math.nan if (v is None and allow_nan) else float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise error(f"{owner}: {name!r} must be a list of numbers.") from exc
    if not all(math.isfinite(v) or (allow_nan and math.isnan(v)) for v in out):
        raise error(f"{owner}: {name!r} must hold finite numbers.")
    return out
