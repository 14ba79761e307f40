r"""Optimism of the time-to-event discrimination, from the binary endpoint's bootstrap.

Harrell's bootstrap (:func:`radval.workflow._internal.optimism_bootstrap`) already repeats
the whole development in every resample and evaluates each refitted model on the resample
(*train*) and on the original development cohort (*test*).  :func:`resample_survival`
adds, in the same resample and at little cost (no refit of the signature), the
discrimination of the time-to-event marker:

* ``model: signature``: the resample's signature linear predictor;
* ``model: cox``: a Cox model of the resample's signature linear predictor and the
  clinical predictors, refitted on the resample (the categorical levels frozen on the
  full development cohort), and its linear predictor;

as Harrell's C, Uno's C (truncated at the last horizon) and AUC(t) at each horizon, on
train and on test.  :func:`survival_optimism_table` averages ``train - test`` over the
resamples where both are defined: ``optimism``; the corrected value is the apparent one
minus the optimism (:func:`radval.workflow._survival.evaluate_survival`).  Everything is
deterministic given the resample, so the result does not depend on the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["resample_survival", "survival_optimism_table"]

FloatArray = npt.NDArray[np.float64]
_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def _signature_model(fm: Any) -> str:
    from radval.workflow._coding import FAMILIES

    if "combined" in fm.logistic:
        return "combined"
    return next(f for f in FAMILIES if f in fm.selection)


def _indexes(t: FloatArray, e: FloatArray, s: FloatArray, horizons: Sequence[float]
             ) -> dict[str, Any]:
    """Harrell's C, Uno's C and AUC(t) of one marker; NaN where undefined."""
    from radval.stats._survival import concordance_index
    from radval.stats._timedep import time_dependent_auc, uno_c

    out: dict[str, Any] = {"c_harrell": math.nan, "c_uno": math.nan,
                           "auc": [math.nan] * len(horizons)}
    if t.size < 2 or e.sum() == 0 or not np.isfinite(s).all():
        return out
    tau = float(horizons[-1]) if len(horizons) else None
    try:
        out["c_harrell"] = float(concordance_index(t, e, s).estimate)
        out["c_uno"] = float(uno_c(t, e, s, tau=tau).estimate)
        if len(horizons):
            out["auc"] = [float(v) for v in time_dependent_auc(t, e, s, horizons)["auc"]]
    except _ERRORS:
        pass
    return out


def resample_survival(study: Any, data: Any, fm: Any, boot: Any,
                      train: dict[str, tuple[FloatArray, FloatArray]],
                      test: dict[str, tuple[FloatArray, FloatArray]]) -> dict[str, Any]:
    """Time-to-event discrimination of one resample's marker on train and test.

    Parameters
    ----------
    study : StudyConfig
    data : AnalysisData
        The development cohort (test).
    fm : FittedModels
        The models refitted on the resample.
    boot : AnalysisData
        The resample (train).
    train, test : dict
        ``fm.predict`` on the resample and on the development cohort.

    Returns
    -------
    dict
        ``{"train": {...}, "test": {...}}`` of :func:`_indexes` (call inside the
        resample's warning filter: undefined indexes are NaN).
    """
    from radval.workflow._survival import follow_up

    cfg = study.survival
    sig = _signature_model(fm)
    tb, eb, okb = follow_up(boot.patients, cfg.time, cfg.event, source="bootstrap resample")
    t0, e0, ok0 = follow_up(data.patients, cfg.time, cfg.event, source="development cohort")
    m_tr, m_te = np.asarray(train[sig][0], float), np.asarray(test[sig][0], float)
    if cfg.model == "cox":
        m_tr, m_te, okb, ok0 = _refit_cox(study, data, boot, m_tr, m_te, tb, eb, okb, ok0)
    h = list(cfg.horizons)
    return {"train": _indexes(tb[okb], eb[okb], m_tr[okb], h),
            "test": _indexes(t0[ok0], e0[ok0], m_te[ok0], h)}


def _refit_cox(study: Any, data: Any, boot: Any, s_tr: FloatArray, s_te: FloatArray,
               tb: FloatArray, eb: FloatArray, okb: npt.NDArray[np.bool_],
               ok0: npt.NDArray[np.bool_]
               ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Refit the Cox model on the resample; its linear predictor on train and test."""
    from radval.models.logistic import DesignSpec
    from radval.stats._survival import cox_ph

    cfg = study.survival
    preds = [(p.name, p.kind) for p in study.clinical_predictors if p.name in cfg.predictors]
    preds.sort(key=lambda p: cfg.predictors.index(p[0]))
    spec = DesignSpec.from_frame(data.patients, preds)  # levels of the full cohort

    def design(pats: pd.DataFrame, s: FloatArray) -> FloatArray:
        cols = [s, *(spec.transform(pats)[c].to_numpy(float) for c in spec.columns)]
        return np.column_stack(cols)

    x_tr, x_te = design(boot.patients, s_tr), design(data.patients, s_te)
    okb = okb & np.isfinite(x_tr).all(axis=1)
    ok0 = ok0 & np.isfinite(x_te).all(axis=1)
    nan = np.full(okb.size, math.nan), np.full(ok0.size, math.nan)
    if eb[okb].sum() == 0:
        return nan[0], nan[1], okb, ok0
    keep = np.ptp(x_tr[okb], axis=0) > 0  # a level absent from the resample: left out
    try:
        fit = cox_ph(tb[okb], eb[okb], x_tr[okb][:, keep])
    except _ERRORS:
        return nan[0], nan[1], okb, ok0
    beta = np.zeros(x_tr.shape[1])
    beta[keep] = fit.coef
    return (np.where(np.isfinite(x_tr).all(axis=1), np.nan_to_num(x_tr) @ beta, math.nan),
            np.where(np.isfinite(x_te).all(axis=1), np.nan_to_num(x_te) @ beta, math.nan),
            okb, ok0)


def survival_optimism_table(records: Sequence[dict[str, Any]],
                            horizons: Sequence[float]) -> pd.DataFrame:
    """``metric, horizon, optimism, n_resamples`` over the resamples' ``survival`` records.

    ``optimism`` is the mean of ``train - test`` over the resamples where both are finite
    (NaN when none).
    """
    cols = ["metric", "horizon", "optimism", "n_resamples"]
    surv = [r["survival"] for r in records if r.get("survival") is not None]
    rows = []
    keys: list[tuple[str, int | None]] = [("c_harrell", None), ("c_uno", None)]
    keys += [("auc", k) for k in range(len(horizons))]
    for metric, k in keys:
        if k is None:
            diffs = np.array([s["train"][metric] - s["test"][metric] for s in surv], float)
        else:
            diffs = np.array([s["train"]["auc"][k] - s["test"]["auc"][k] for s in surv],
                             float)
        diffs = diffs[np.isfinite(diffs)]
        rows.append({"metric": metric, "horizon": None if k is None else float(horizons[k]),
                     "optimism": float(diffs.mean()) if diffs.size else math.nan,
                     "n_resamples": int(diffs.size)})
    return pd.DataFrame(rows, columns=cols)
