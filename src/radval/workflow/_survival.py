"""Secondary time-to-event endpoint of the signature."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from radval.exceptions import InputError, RadvalWarning
from radval.workflow._cohort import AnalysisData
from radval.workflow._study import StudyConfig

logger = logging.getLogger("radval.pipeline")


def evaluate_survival(study: StudyConfig, data: AnalysisData, preds: pd.DataFrame, model: str,
              cutoff: float) -> dict[str, Any]:
    from radval import stats

    assert study.survival is not None  # noqa: S101
    tcol, ecol = study.survival.time, study.survival.event
    km_rows: list[pd.DataFrame] = []
    summ: list[dict[str, Any]] = []
    pm = preds[preds["model"] == model].set_index("patient_id")
    for cohort in [c.name for c in study.cohorts]:
        pats = data.patients[data.patients["cohort"] == cohort]
        pats = pats[pats[tcol].notna() & pats[ecol].notna()]
        if pats.empty:
            continue
        t = pats[tcol].to_numpy(dtype=float)
        e = pats[ecol].to_numpy(dtype=float).astype(int)
        lp = pm.loc[pats.index.astype(str), "score"].to_numpy(dtype=float)
        prob = pm.loc[pats.index.astype(str), "probability"].to_numpy(dtype=float)
        grp = np.where(prob >= cutoff, "high risk", "low risk")
        row: dict[str, Any] = {"cohort": cohort, "model": model, "n": int(t.size),
                               "events": int(e.sum()), "undefined_reason": None}
        reasons: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            try:
                km = stats.kaplan_meier(t, e, group=grp)
                km_rows.append(km.assign(cohort=cohort))
            except (ValueError, ArithmeticError) as exc:
                reasons.append(f"Kaplan-Meier: {exc}")
            try:
                if len(set(grp)) < 2:
                    raise InputError("one risk group only")
                lr = stats.logrank_test(t, e, grp)
                row.update(logrank_statistic=float(lr.statistic), logrank_p=float(lr.p_value))
            except (ValueError, ArithmeticError) as exc:
                reasons.append(f"log-rank: {exc}")
            try:
                cox = stats.cox_ph(t, e, lp.reshape(-1, 1))
                row.update(hr=_first(cox, "hr"), hr_ci_low=_first(cox, "hr_ci_low"),
                           hr_ci_high=_first(cox, "hr_ci_high"), cox_p=_first(cox, "p_value"))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                reasons.append(f"Cox: {exc}")
            try:
                ci = stats.concordance_index(t, e, lp)
                row["c_index"] = _first(ci, "c_index", "estimate", "concordance")
            except (ValueError, ArithmeticError) as exc:
                reasons.append(f"C-index: {exc}")
        row["undefined_reason"] = "; ".join(reasons) or None
        summ.append(row)
    return {"model": model, "cutoff": cutoff, "hr_per": "1 unit of the signature score",
            "km": pd.concat(km_rows, ignore_index=True) if km_rows else pd.DataFrame(),
            "summary": pd.DataFrame(summ)}


def _first(obj: Any, *names: str) -> float:
    if isinstance(obj, int | float | np.floating):
        return float(obj)
    for n in names:
        v = getattr(obj, n, None)
        if v is None and isinstance(obj, Mapping):
            v = obj.get(n)
        if v is None and isinstance(obj, pd.DataFrame) and n in obj.columns:
            v = obj[n].iloc[0]
        if v is not None:
            arr = np.asarray(v, dtype=float).ravel()
            return float(arr[0]) if arr.size else math.nan
    return math.nan
