"""Guards of a validation study: each is a clear error or a flagged warning, never silent.

* :func:`check_duplicate_patients`: the same patient in two cohorts is an error
  (:class:`~radval.exceptions.DataError`) listing the IDs.
* :func:`check_predictor_timing`: a post-operative predictor in a model of a
  pre-operative study is flagged (code ``POSTOP_PREDICTOR``) and warned
  (:class:`~radval.exceptions.PredictorTimingWarning`).
* :func:`missing_by_variable`: missing values per variable and cohort.

Flags are plain dicts ``{"code", "message", "context"}`` collected into the
``warnings`` table of ``results.json``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from radval.exceptions import DataError, PredictorTimingWarning

__all__ = [
    "check_duplicate_patients",
    "check_predictor_timing",
    "flag",
    "missing_by_variable",
]


def flag(code: str, message: str, **context: Any) -> dict[str, Any]:
    """One entry of the ``warnings`` table."""
    return {"code": code, "message": message, "context": context}


def check_duplicate_patients(frame: pd.DataFrame, *, id_column: str = "patient_id",
                             cohort_column: str = "cohort", table: str = "table") -> None:
    """Raise if a patient appears in more than one cohort.

    Raises
    ------
    DataError
        Listing up to 20 patient IDs and their cohorts.
    """
    if frame.empty:
        return
    pairs = frame[[id_column, cohort_column]].astype(str).drop_duplicates()
    counts = pairs.groupby(id_column)[cohort_column].nunique()
    dup = sorted(counts[counts > 1].index.tolist())
    if dup:
        shown = []
        for pid in dup[:20]:
            cohorts = sorted(pairs.loc[pairs[id_column] == pid, cohort_column].tolist())
            shown.append(f"{pid} ({', '.join(cohorts)})")
        more = f" and {len(dup) - 20} more" if len(dup) > 20 else ""
        raise DataError(f"{table}: {len(dup)} patient(s) appear in more than one cohort, which "
                        f"would leak development data into validation: {'; '.join(shown)}{more}")


def check_predictor_timing(model: str, predictors: Iterable[tuple[str, str]], *,
                           prediction_moment: str) -> list[dict[str, Any]]:
    """Flag post-operative predictors in a model of a pre-operative study.

    Parameters
    ----------
    model : str
        Model name.
    predictors : iterable of (name, timing)
    prediction_moment : str
        The study's prediction moment.

    Returns
    -------
    list of dict
        One ``POSTOP_PREDICTOR`` flag per offending model (empty when fine).
    """
    if prediction_moment != "pre-operative":
        return []
    late = [name for name, timing in predictors if timing == "post-operative"]
    if not late:
        return []
    msg = (f"model {model!r} uses post-operative predictor(s) {late} although the study "
           "predicts pre-operatively: the model cannot be applied at the stated prediction "
           "moment and its performance is optimistic for that use")
    warnings.warn(msg, PredictorTimingWarning, stacklevel=2)
    return [flag("POSTOP_PREDICTOR", msg, model=model, predictors=late)]


def missing_by_variable(frame: pd.DataFrame, variables: Sequence[str], *,
                        cohort_column: str = "cohort") -> pd.DataFrame:
    """Missing values per variable and cohort: ``variable, cohort, n, missing, fraction``."""
    rows: list[dict[str, Any]] = []
    for var in variables:
        if var not in frame.columns:
            continue
        for cohort, sub in frame.groupby(cohort_column, sort=True):
            miss = int(sub[var].isna().sum())
            rows.append({"variable": var, "cohort": str(cohort), "n": int(len(sub)),
                         "missing": miss,
                         "fraction": miss / len(sub) if len(sub) else float("nan")})
    return pd.DataFrame(rows, columns=["variable", "cohort", "n", "missing", "fraction"])
