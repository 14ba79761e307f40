"""Secondary time-to-event endpoint of the signature."""

from __future__ import annotations

import logging
import warnings
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
                row.update(hr=float(cox.hr[0]), hr_ci_low=float(cox.hr_ci_low[0]),
                           hr_ci_high=float(cox.hr_ci_high[0]), cox_p=float(cox.p_value[0]))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                reasons.append(f"Cox: {exc}")
            try:
                ci = stats.concordance_index(t, e, lp)
                row["c_index"] = float(ci.estimate)
            except (ValueError, ArithmeticError) as exc:
                reasons.append(f"C-index: {exc}")
        row["undefined_reason"] = "; ".join(reasons) or None
        summ.append(row)
    return {"model": model, "cutoff": cutoff, "hr_per": "1 unit of the signature score",
            "km": pd.concat(km_rows, ignore_index=True) if km_rows else pd.DataFrame(),
            "summary": pd.DataFrame(summ)}
