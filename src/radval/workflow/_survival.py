r"""The time-to-event endpoint: validated the way the binary endpoint is.

The study file's ``survival:`` block names the follow-up columns, the horizons and what is
validated (:class:`radval.workflow._study.SurvivalConfig`):

* ``model: signature``: the binary signature's linear predictor is the prognostic
  *marker* whose discrimination is assessed; its absolute risks at the horizons come from
  a one-covariate Cox model of the score fitted on development (the documented
  calibration of the score, :class:`radval.models.survival.SurvivalModel` kind
  ``"score"``);
* ``model: cox``: a Cox model of the signature's linear predictor and the clinical
  ``predictors``, fitted on development; its linear predictor is the marker and it gives
  the absolute risks.

The Cox model is fitted by :func:`fit_study_survival_model` after the binary models and
frozen in ``models.json`` and in the bundle (baseline survival at the horizons).  In every
cohort :func:`cohort_survival` computes, with :mod:`radval.stats`:

* Kaplan-Meier curves by risk group (signature probability ``>=`` the cut-off frozen on
  development: high risk) with numbers at risk, the log-rank test, the hazard ratio of the
  high-risk group (Cox) and the median event-free time per group;
* Harrell's C (``concordance_index``) and Uno's C (``uno_c``, truncated at the last
  horizon) of the marker, the hazard ratio per unit of the marker;
* at each horizon: AUC(t) (``time_dependent_auc``), and from the absolute risks the
  Brier score and IPA (``survival_brier``), calibration (``survival_calibration``) and the
  decision curve (``survival_decision_curve``);
* the median follow-up (reverse Kaplan-Meier).

Patients without follow-up time or event are left out of the endpoint (counted); a
negative time or an event that is not 0/1 is an error naming the patients.  A horizon
beyond a cohort's follow-up gives NaN there with a flag (``HORIZON_BEYOND_FOLLOW_UP``:
times in days when the study says months?).  The optimism of C and AUC(t) comes from
the resamples of the binary endpoint's bootstrap (:mod:`radval.workflow._survival_optimism`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval.exceptions import DataError, HorizonWarning, RadvalWarning
from radval.models.guards import flag

__all__ = ["CohortSurvival", "SurvivalValidation", "cohort_survival", "evaluate_survival",
           "fit_study_survival_model", "follow_up"]

logger = logging.getLogger("radval.pipeline")

FloatArray = npt.NDArray[np.float64]
_NAN = float("nan")
_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)

#: One sentence per method (results.json ``survival.methods``).
METHODS = {
    "risk_groups": "high risk = signature probability >= the cut-off frozen on the "
                   "development cohort; Kaplan-Meier curves (log-transformed Greenwood "
                   "intervals), log-rank test, Cox hazard ratio against the low-risk group",
    "discrimination": "Harrell's C (survival::concordance) and Uno's C (timewt = 'n/G2', "
                      "truncated at the last horizon) of the marker; cumulative/dynamic "
                      "AUC(t) with IPCW and influence-function SE (riskRegression::Score)",
    "absolute_risk": "risk(t) = 1 - S0(t)^exp(lp) of the Cox model frozen on development "
                     "(model: cox), or of a one-covariate Cox model of the signature's "
                     "linear predictor (model: signature: the score's calibration)",
    "accuracy": "IPCW Brier score and IPA = 1 - Brier / Brier(Kaplan-Meier) at each horizon",
    "calibration": "observed Kaplan-Meier risk vs mean predicted (O/E), calibration slope "
                   "(Cox on cloglog(risk), follow-up censored at the horizon), flexible "
                   "curve (Austin et al. 2020)",
    "decision_curve": "net benefit at each horizon with Kaplan-Meier event rates (dcurves)",
    "optimism": "Harrell bootstrap: C and AUC(t) of each resample's refitted signature (and "
                "Cox model) on the resample minus on the development cohort",
    "follow_up": "median follow-up by the reverse Kaplan-Meier method",
}


# ------------------------------------------------------------------------- input checks
def follow_up(frame: pd.DataFrame, time: str, event: str, *, source: str
              ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Follow-up time and event of each row, and which rows have both.

    Missing values leave the row out (``ok`` False); anything else that is not a valid
    time-to-event record is an error.

    Raises
    ------
    InputError
        A column is absent, a time is negative or not a number, or an event is not 0/1
        (or boolean); the message names the column and up to ten patients.
    """
    from radval.exceptions import InputError

    for col in (time, event):
        if col not in frame.columns:
            raise InputError(f"{source} has no column {col!r} (survival time/event).")
    ids = [str(v) for v in frame.index]
    raw_t = frame[time]
    t = pd.to_numeric(raw_t, errors="coerce").to_numpy(dtype=np.float64)
    bad_text = np.isnan(t) & raw_t.notna().to_numpy()
    if bad_text.any():
        who = [ids[i] for i in np.flatnonzero(bad_text)[:10]]
        raise InputError(f"{source}: column {time!r} must hold follow-up times (numbers); "
                         f"patients {who} have {raw_t[bad_text].astype(str).tolist()[:10]}.")
    neg = t < 0
    if neg.any():
        who = [ids[i] for i in np.flatnonzero(neg)[:10]]
        raise InputError(f"{source}: column {time!r} has {int(neg.sum())} negative "
                         f"follow-up time(s) (patients {who}).")
    if np.isinf(t).any():
        raise InputError(f"{source}: column {time!r} has infinite follow-up times.")
    raw_e = frame[event]
    known = raw_e.notna().to_numpy()
    ev = raw_e.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else v)
    e = pd.to_numeric(ev, errors="coerce").to_numpy(dtype=np.float64)
    bad = known & ~np.isin(e, (0.0, 1.0))
    if bad.any():
        who = [ids[i] for i in np.flatnonzero(bad)[:10]]
        vals = sorted({str(v) for v in raw_e[bad]})[:5]
        raise InputError(f"{source}: column {event!r} must be 0/1 (1 = event) or boolean; "
                         f"got {vals} (patients {who}).")
    ok = np.isfinite(t) & known
    return t, np.where(ok, e, 0.0), np.asarray(ok)


# ------------------------------------------------------------------------- results
@dataclass(frozen=True, kw_only=True)
class CohortSurvival(Result):
    """The time-to-event validation of one cohort (see :func:`cohort_survival`).

    Attributes
    ----------
    cohort : str
    n, events, n_excluded : int
        Patients analysed, their events, patients left out (no follow-up, event or
        predictor values).
    summary : dict
        One ``survival.summary`` row (results.json).
    km, risk_groups, td_auc, brier, calibration, calibration_grouped,
    calibration_curve, decision : DataFrame
        The cohort's rows of the results.json tables (column ``cohort`` included).
    flags : list of dict
        Warnings raised while computing (``warnings`` table).
    """

    cohort: str
    n: int
    events: int
    n_excluded: int
    summary: dict[str, Any] = field(repr=False, compare=False)
    km: pd.DataFrame = field(repr=False, compare=False)
    risk_groups: pd.DataFrame = field(repr=False, compare=False)
    td_auc: pd.DataFrame = field(repr=False, compare=False)
    brier: pd.DataFrame = field(repr=False, compare=False)
    calibration: pd.DataFrame = field(repr=False, compare=False)
    calibration_grouped: pd.DataFrame = field(repr=False, compare=False)
    calibration_curve: pd.DataFrame = field(repr=False, compare=False)
    decision: pd.DataFrame = field(repr=False, compare=False)
    flags: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The summary row."""
        return pd.DataFrame([self.summary])


#: results.json tables of the survival block, in order
TABLES = ("km", "risk_groups", "td_auc", "brier", "calibration", "calibration_grouped",
          "calibration_curve", "decision")
_RECORD_KEY = {"td_auc": "time_dependent_auc"}


@dataclass(frozen=True, kw_only=True)
class SurvivalValidation(Result):
    """The time-to-event endpoint of a run: every cohort, the frozen model, the optimism.

    Attributes
    ----------
    model : str
        The binary model that is the signature (its score and cut-off).
    cutoff : float
        Signature probability cut-off of the risk groups (frozen on development).
    validated : {"signature", "cox"}
        What is validated (study file ``survival.model``).
    marker : str
        The score whose discrimination is assessed.
    time, event, time_unit : str
    horizons : list of float
    survival_model : dict or None
        The frozen Cox model (:class:`radval.models.survival.SurvivalModel`).
    cohorts : list of CohortSurvival
    optimism : DataFrame
        ``metric, horizon, apparent, optimism, corrected, n_resamples`` (development).
    flags : list of dict
    """

    model: str
    cutoff: float
    validated: str
    marker: str
    time: str
    event: str
    time_unit: str
    horizons: list[float]
    survival_model: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    cohorts: list[CohortSurvival] = field(default_factory=list, repr=False, compare=False)
    optimism: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    flags: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)

    def table(self, name: str) -> pd.DataFrame:
        """One results.json table over the cohorts (``km``, ``td_auc``, ``decision`` ...)."""
        parts = [getattr(c, name) for c in self.cohorts if len(getattr(c, name))]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def to_frame(self) -> pd.DataFrame:
        """One summary row per cohort."""
        return pd.DataFrame([c.summary for c in self.cohorts])

    def to_record(self) -> dict[str, Any]:
        """The ``survival`` block of results.json (tables still as DataFrames)."""
        rec: dict[str, Any] = {
            "model": self.model, "cutoff": self.cutoff, "validated": self.validated,
            "hr_per": f"1 unit of the {self.marker}", "marker": self.marker,
            "time": self.time, "event": self.event, "time_unit": self.time_unit,
            "horizons": list(self.horizons), "survival_model": self.survival_model,
            "summary": self.to_frame(), "optimism": self.optimism,
            "methods": dict(METHODS)}
        for name in TABLES:
            rec[_RECORD_KEY.get(name, name)] = self.table(name)
        return rec


# ------------------------------------------------------------------------- one cohort
class _Collect:
    """Runs the statistics of a cohort: an error becomes an undefined reason, a warning a
    flag (once per message)."""

    def __init__(self, cohort: str) -> None:
        self.cohort = cohort
        self.reasons: list[str] = []
        self.flags: list[dict[str, Any]] = []
        self._seen: set[str] = set()

    def run(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RadvalWarning)
            try:
                out = fn(*args, **kw)
            except _ERRORS as exc:
                self.reasons.append(f"{what}: {exc}")
                out = None
        for w in caught:
            if not issubclass(w.category, RadvalWarning):
                continue
            msg = f"{self.cohort}: {w.message}"
            if msg in self._seen:
                continue
            self._seen.add(msg)
            code = ("HORIZON_BEYOND_FOLLOW_UP" if issubclass(w.category, HorizonWarning)
                    and "exceed" in str(w.message) else
                    "SURVIVAL_HORIZON" if issubclass(w.category, HorizonWarning)
                    else "SURVIVAL_UNDEFINED")
            self.flags.append(flag(code, msg, cohort=self.cohort))
        return out


#: summary fields that stay null when undefined
_SUMMARY_KEYS = ("logrank_statistic", "logrank_p", "hr", "hr_ci_low", "hr_ci_high", "cox_p",
                 "c_index", "c_index_se", "c_uno", "c_uno_se", "c_uno_ci_low",
                 "c_uno_ci_high", "mean_auc", "integrated_auc", "integrated_brier",
                 "integrated_ipa", "median_follow_up", "max_follow_up", "undefined_reason")
#: calibration fields that stay null when undefined
_CAL_KEYS = ("observed_risk", "mean_predicted", "o_e_ratio", "o_e_ci_low", "o_e_ci_high",
             "slope", "slope_se", "slope_ci_low", "slope_ci_high", "ici", "e50", "e90", "emax")


def _num(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def cohort_survival(cohort: str, time: Any, event: Any, *, marker: Any, high_risk: Any,
                    risk: Any = None, horizons: Sequence[float] = (),
                    thresholds: Sequence[float] | None = None, confidence_level: float = 0.95,
                    model: str = "signature", n_excluded: int = 0) -> CohortSurvival:
    """Time-to-event validation of one cohort (module docstring).

    Parameters
    ----------
    cohort : str
        Cohort name (column ``cohort`` of every table).
    time, event : array-like of shape (n,)
        Follow-up and event indicator (checked by :func:`follow_up`).
    marker : array-like of shape (n,)
        The score whose discrimination is assessed (higher = higher risk).
    high_risk : array-like of bool
        Risk group (signature probability >= the frozen cut-off).
    risk : array-like of shape (n, len(horizons)), optional
        Absolute risks of the event by each horizon (NaN columns: no risk there).  Without
        it, no Brier score, calibration or decision curve.
    horizons : sequence of float
        Increasing horizons.
    thresholds : sequence of float, optional
        Threshold probabilities of the decision curves.
    confidence_level : float
    model : str
        Label of the ``model`` column of the summary.
    n_excluded : int
        Patients of the cohort left out (reported).

    Returns
    -------
    CohortSurvival
    """
    from radval import stats

    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.float64)
    s = np.asarray(marker, dtype=np.float64)
    hi = np.asarray(high_risk, dtype=bool)
    h = np.asarray([float(v) for v in horizons], dtype=np.float64)
    col = _Collect(cohort)
    n, n_ev = int(t.size), int(e.sum())
    summary: dict[str, Any] = {"cohort": cohort, "model": model, "n": n, "events": n_ev,
                               "n_excluded": int(n_excluded), **dict.fromkeys(_SUMMARY_KEYS)}
    empty = pd.DataFrame()
    if n == 0:
        summary["undefined_reason"] = "no patient with follow-up"
        return CohortSurvival(cohort=cohort, n=0, events=0, n_excluded=int(n_excluded),
                              summary=summary, km=empty, risk_groups=empty, td_auc=empty,
                              brier=empty, calibration=empty, calibration_grouped=empty,
                              calibration_curve=empty, decision=empty)
    grp = np.where(hi, "high risk", "low risk")
    if n_ev == 0:
        col.reasons.append("no events (every patient censored)")
    # ---- description: risk groups, follow-up
    km = col.run("Kaplan-Meier", stats.kaplan_meier, t, e, group=grp,
                 confidence_level=confidence_level)
    km_rows = km.assign(cohort=cohort) if km is not None else empty
    fu = col.run("follow-up", stats.median_survival, t, 1.0 - e)
    summary["median_follow_up"] = _num(fu["median"].iloc[0]) if fu is not None else None
    summary["max_follow_up"] = float(t.max())
    if n_ev and len(set(grp)) == 2:
        lr = col.run("log-rank", stats.logrank_test, t, e, grp)
        if lr is not None:
            summary.update(logrank_statistic=float(lr.statistic), logrank_p=float(lr.p_value))
    elif n_ev:
        col.reasons.append("log-rank: one risk group only")
    groups = _risk_groups(cohort, t, e, hi, km, col, confidence_level) if km is not None \
        else empty
    # ---- discrimination of the marker
    tau = float(h[-1]) if h.size else None
    if n_ev:
        cox = col.run("Cox", stats.cox_ph, t, e, s.reshape(-1, 1),
                      confidence_level=confidence_level)
        if cox is not None:
            summary.update(hr=float(cox.hr[0]), hr_ci_low=float(cox.hr_ci_low[0]),
                           hr_ci_high=float(cox.hr_ci_high[0]), cox_p=float(cox.p_value[0]))
        ci = col.run("Harrell's C", stats.concordance_index, t, e, s)
        if ci is not None:
            summary.update(c_index=_num(ci.estimate), c_index_se=_num(ci.se))
        uno = col.run("Uno's C", stats.uno_c, t, e, s, tau=tau,
                      confidence_level=confidence_level)
        if uno is not None:
            summary.update(c_uno=_num(uno.estimate), c_uno_se=_num(uno.se),
                           c_uno_ci_low=_num(uno.ci_low), c_uno_ci_high=_num(uno.ci_high))
    td = empty
    if h.size and n_ev:
        auc = col.run("AUC(t)", stats.time_dependent_auc, t, e, s, h,
                      confidence_level=confidence_level)
        if auc is not None:
            summary.update(mean_auc=_num(auc.attrs.get("mean_auc")),
                           integrated_auc=_num(auc.attrs.get("integrated_auc")))
            td = auc.rename(columns={"time": "horizon"}).assign(cohort=cohort)
            td["undefined_reason"] = [None if np.isfinite(a) else
                                      ("beyond the follow-up" if hz > t.max() else
                                       "no case or no control at the horizon")
                                      for a, hz in zip(td["auc"], td["horizon"])]
    # ---- absolute risks: accuracy, calibration, clinical utility
    brier = cal = cal_g = cal_c = dca = empty
    if risk is not None and h.size and n_ev:
        r = np.asarray(risk, dtype=np.float64).reshape(n, h.size)
        usable = np.asarray(np.isfinite(r).all(axis=0), dtype=bool)
        if usable.any():
            bs = col.run("Brier", stats.survival_brier, t, e, 1.0 - r[:, usable], h[usable],
                         confidence_level=confidence_level)
            if bs is not None:
                brier = bs.table.rename(columns={"time": "horizon"}).assign(cohort=cohort)
                summary.update(integrated_brier=_num(bs.integrated_brier),
                               integrated_ipa=_num(bs.integrated_ipa))
        cal, cal_g, cal_c, dca = _calibration_and_dca(cohort, t, e, r, h, usable, thresholds,
                                                      col, confidence_level)
    summary["undefined_reason"] = "; ".join(col.reasons) or None
    return CohortSurvival(cohort=cohort, n=n, events=n_ev, n_excluded=int(n_excluded),
                          summary=summary, km=km_rows, risk_groups=groups, td_auc=td,
                          brier=brier, calibration=cal, calibration_grouped=cal_g,
                          calibration_curve=cal_c, decision=dca, flags=col.flags)


def _risk_groups(cohort: str, t: FloatArray, e: FloatArray, hi: npt.NDArray[np.bool_],
                 km: pd.DataFrame, col: _Collect, level: float) -> pd.DataFrame:
    """Per risk group: n, events, median (CI) and the hazard ratio against low risk."""
    from radval import stats

    med = km.attrs.get("median", {})
    hr: dict[str, Any] = {}
    if e.sum() and hi.any() and (~hi).any():
        fit = col.run("hazard ratio of the risk groups", stats.cox_ph, t, e,
                      hi.astype(np.float64).reshape(-1, 1), confidence_level=level)
        if fit is not None:
            hr = {"hr": _num(fit.hr[0]), "hr_ci_low": _num(fit.hr_ci_low[0]),
                  "hr_ci_high": _num(fit.hr_ci_high[0]), "hr_p": _num(fit.p_value[0])}
    rows = []
    for name, m in (("low risk", ~hi), ("high risk", hi)):
        if not m.any():
            continue
        md = med.get(name, {})
        ref = name == "low risk"
        rows.append({"cohort": cohort, "group": name, "n": int(m.sum()),
                     "events": int(e[m].sum()),
                     "hr": (1.0 if hr else None) if ref else hr.get("hr"),
                     "hr_ci_low": None if ref else hr.get("hr_ci_low"),
                     "hr_ci_high": None if ref else hr.get("hr_ci_high"),
                     "hr_p": None if ref else hr.get("hr_p"),
                     "median": _num(md.get("median")), "median_ci_low": _num(md.get("ci_low")),
                     "median_ci_high": _num(md.get("ci_high"))})
    return pd.DataFrame(rows)


def _calibration_and_dca(cohort: str, t: FloatArray, e: FloatArray, r: FloatArray,
                         h: FloatArray, usable: npt.NDArray[np.bool_],
                         thresholds: Sequence[float] | None, col: _Collect, level: float
                         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from radval import stats

    cal_rows, groups, curves, dcas = [], [], [], []
    for k, hz in enumerate(h):
        row: dict[str, Any] = {"cohort": cohort, "horizon": float(hz), "n": int(t.size),
                               "events": int(((t <= hz) & (e == 1)).sum()),
                               **dict.fromkeys(_CAL_KEYS), "undefined_reason": None}
        if not usable[k]:
            row["undefined_reason"] = ("no absolute risk at this horizon (beyond the "
                                       "development follow-up)")
            cal_rows.append(row)
            continue
        before = len(col.reasons)
        c = col.run(f"calibration at {hz:g}", stats.survival_calibration, t, e, r[:, k],
                    float(hz), confidence_level=level)
        if c is not None:
            row.update({k2: _num(getattr(c, k2)) for k2 in _CAL_KEYS})
            groups.append(c.grouped.assign(cohort=cohort, horizon=float(hz)))
            curves.append(c.curve.assign(cohort=cohort, horizon=float(hz)))
        else:
            row["undefined_reason"] = col.reasons.pop(before) if len(col.reasons) > before \
                else "undefined"
        cal_rows.append(row)
        d = col.run(f"decision curve at {hz:g}", stats.survival_decision_curve, t, e,
                    r[:, k], float(hz), thresholds=thresholds)
        if d is not None:
            dcas.append(d.assign(cohort=cohort, horizon=float(hz)))

    def cat(parts: list[pd.DataFrame]) -> pd.DataFrame:
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    return pd.DataFrame(cal_rows), cat(groups), cat(curves), cat(dcas)


# ------------------------------------------------------------------------- the study
def _signature_scores(preds: pd.DataFrame, model: str, ids: Sequence[str]
                      ) -> tuple[FloatArray, FloatArray]:
    pm = preds[preds["model"] == model].set_index("patient_id")
    sub = pm.loc[list(ids)]
    return (sub["score"].to_numpy(dtype=np.float64),
            sub["probability"].to_numpy(dtype=np.float64))


def fit_study_survival_model(study: Any, data: Any, preds: pd.DataFrame, model: str,
                             cutoff: float) -> dict[str, Any]:
    """Fit the study's Cox model on the development cohort (module docstring).

    Returns
    -------
    dict
        :meth:`radval.models.survival.SurvivalModel.to_dict` (``models.json``, bundle).

    Raises
    ------
    InputError
        Invalid follow-up values in the development cohort (negative, not 0/1 ...).
    DataError
        No event in the development cohort, or no patient with follow-up.
    """
    from radval.models.survival import fit_survival_model

    cfg = study.survival
    pats = data.patients[data.cohort_mask(study.development)]
    t, e, ok = follow_up(pats, cfg.time, cfg.event,
                         source=f"development cohort {study.development}")
    preds_ = [(p.name, p.kind) for p in study.clinical_predictors if p.name in cfg.predictors]
    preds_.sort(key=lambda p: cfg.predictors.index(p[0]))
    if preds_:
        for name, _kind in preds_:
            ok &= pats[name].notna().to_numpy()
    if not ok.any():
        raise DataError(f"development cohort {study.development}: no patient has follow-up "
                        f"({cfg.time}, {cfg.event}) and the survival predictors.")
    if e[ok].sum() == 0:
        raise DataError(f"development cohort {study.development}: every patient is censored "
                        f"({cfg.event} = 0); the time-to-event model cannot be developed.")
    score, _prob = _signature_scores(preds, model, pats.index.astype(str)[ok])
    sm = fit_survival_model(
        t[ok], e[ok], score, pats.loc[ok] if preds_ else None,
        kind="cox" if cfg.model == "cox" else "score", predictors=preds_,
        horizons=cfg.horizons, cutoff=cutoff, time_column=cfg.time, event_column=cfg.event,
        time_unit=cfg.time_unit)
    return sm.to_dict()


def evaluate_survival(study: Any, data: Any, preds: pd.DataFrame, model: str, cutoff: float,
                      *, survival_model: Mapping[str, Any] | None = None,
                      optimism: pd.DataFrame | None = None) -> SurvivalValidation:
    """The time-to-event validation of every cohort of the study.

    Parameters
    ----------
    study : StudyConfig
    data : AnalysisData
    preds : DataFrame
        ``predictions.parquet`` (the signature's ``score`` and ``probability``).
    model : str
        The binary model that is the signature.
    cutoff : float
        Its frozen probability cut-off (risk groups).
    survival_model : dict, optional
        The frozen Cox model (:func:`fit_study_survival_model`); without it (a run of a
        radval without one) there are no absolute risks.
    optimism : DataFrame, optional
        ``metric, horizon, optimism, n_resamples`` from the bootstrap
        (:func:`radval.workflow._survival_optimism.survival_optimism_table`).

    Returns
    -------
    SurvivalValidation
    """
    from radval.models.survival import SurvivalModel

    cfg = study.survival
    sm = SurvivalModel.from_dict(survival_model) if survival_model is not None else None
    cox = sm is not None and sm.kind == "cox"
    flags: list[dict[str, Any]] = []
    cohorts: list[CohortSurvival] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        for c in study.cohorts:
            pats = data.patients[data.cohort_mask(c.name)]
            t, e, ok = follow_up(pats, cfg.time, cfg.event, source=f"cohort {c.name}")
            score, prob = _signature_scores(preds, model, pats.index.astype(str))
            marker, risk = score, None
            if sm is not None:
                x = sm.design(score, pats)
                ok &= np.isfinite(x.to_numpy()).all(axis=1)
                lp = sm.linear_predictor(x.fillna(0.0).to_numpy())
                risk = sm.risk(x.fillna(0.0).to_numpy())
                if cox:
                    marker = lp
            res = cohort_survival(
                c.name, t[ok], e[ok], marker=marker[ok], high_risk=prob[ok] >= cutoff,
                risk=risk[ok] if risk is not None else None, horizons=cfg.horizons,
                thresholds=study.evaluation.dca_thresholds,
                confidence_level=study.evaluation.confidence_level, model=model,
                n_excluded=int((~ok).sum()))
            cohorts.append(res)
            flags += res.flags
    flags += _horizon_flags(study, cohorts)
    opt = _optimism_rows(study, cohorts, optimism)
    return SurvivalValidation(
        model=model, cutoff=float(cutoff), validated=cfg.model,
        marker="Cox linear predictor" if cox else "signature score",
        time=cfg.time, event=cfg.event, time_unit=cfg.time_unit,
        horizons=[float(v) for v in cfg.horizons],
        survival_model=sm.to_dict() if sm is not None else None, cohorts=cohorts,
        optimism=opt, flags=flags)


def _horizon_flags(study: Any, cohorts: Sequence[CohortSurvival]) -> list[dict[str, Any]]:
    """Horizons beyond the development follow-up: warned once for the study."""
    cfg = study.survival
    dev = next((c for c in cohorts if c.cohort == study.development), None)
    if dev is None or not cfg.horizons or not dev.n:
        return []
    t_max = float(dev.summary.get("max_follow_up") or 0.0)
    beyond = [h for h in cfg.horizons if h > t_max]
    if not beyond:
        return []
    msg = (f"survival.horizons {beyond} exceed the longest follow-up of the development "
           f"cohort ({t_max:g} {cfg.time_unit}); nothing is estimated there. Are the times in "
           f"days when the study says {cfg.time_unit}?")
    warnings.warn(msg, HorizonWarning, stacklevel=3)
    return [flag("HORIZON_BEYOND_FOLLOW_UP", msg, horizons=beyond, max_follow_up=t_max)]


def _optimism_rows(study: Any, cohorts: Sequence[CohortSurvival],
                   optimism: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["metric", "horizon", "apparent", "optimism", "corrected", "n_resamples"]
    dev = next((c for c in cohorts if c.cohort == study.development), None)
    if optimism is None or optimism.empty or dev is None:
        return pd.DataFrame(columns=cols)
    rows = []
    auc = dev.td_auc.set_index("horizon")["auc"] if len(dev.td_auc) else pd.Series(dtype=float)
    for rec in optimism.to_dict(orient="records"):
        m, raw = rec["metric"], rec.get("horizon")
        hz = float(raw) if m == "auc" and raw is not None else None
        if m == "c_harrell":
            app = dev.summary.get("c_index")
        elif m == "c_uno":
            app = dev.summary.get("c_uno")
        else:
            app = auc.get(hz) if hz is not None else None
        app_v = _NAN if app is None else float(app)
        opt = float(rec["optimism"])
        rows.append({"metric": m, "horizon": hz,
                     "apparent": app_v, "optimism": opt, "corrected": app_v - opt,
                     "n_resamples": int(rec["n_resamples"])})
    return pd.DataFrame(rows, columns=cols)
