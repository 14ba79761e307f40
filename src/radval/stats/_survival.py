"""Time-to-event statistics matching R ``survival`` (survfit, survdiff, coxph, concordance).

Used for the secondary endpoint (disease-free survival) of a signature: Kaplan-Meier
curves by risk group, the log-rank test, Cox hazard ratios and Harrell's C-index.
``time`` is the follow-up time, ``event`` is 1 for the event (recurrence or death)
and 0 for censoring.  Censoring at an event time counts the censored patient as at
risk at that time (the usual convention, and R's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from radval._results import Result
from radval._validation import (
    check_binary,
    check_choice,
    check_confidence_level,
    check_consistent_length,
    check_scores,
    param_error,
)
from radval.exceptions import ConvergenceWarning, DataError, InputError

__all__ = [
    "CIndexResult",
    "CoxResult",
    "LogrankResult",
    "concordance_index",
    "cox_ph",
    "kaplan_meier",
    "logrank_test",
    "median_survival",
]

FloatArray = npt.NDArray[np.float64]


def _check_surv(time: Any, event: Any, caller: str) -> tuple[FloatArray, FloatArray]:
    t = check_scores(time, caller=caller, param="time")
    if (t < 0).any():
        raise param_error("time", caller, "non-negative times",
                          f"{int((t < 0).sum())} negative value(s)")
    e = check_binary(event, caller=caller, param="event", require_both=False)
    check_consistent_length(caller, time=t, event=e)
    return t, e.astype(np.float64)


def _groups(group: Any, n: int, caller: str, param: str = "group"
            ) -> tuple[npt.NDArray[np.intp], list[Any]]:
    g = pd.Series(np.asarray(group).ravel() if not isinstance(group, pd.Series)
                  else group.to_numpy())
    if g.size != n:
        msg = (f"The arrays passed to {caller} must have the same length. "
               f"Got time={n}, {param}={g.size} instead.")
        raise InputError(msg)
    if g.isna().any():
        raise param_error(param, caller, "free of missing values",
                          f"{int(g.isna().sum())} missing value(s)")
    codes, levels = pd.factorize(g, sort=True)
    return np.asarray(codes, dtype=np.intp), list(levels)


# --------------------------------------------------------------------------- Kaplan-Meier
def _km_one(t: FloatArray, e: FloatArray, z: float) -> pd.DataFrame:
    times, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=e, minlength=times.size)
    n_total = np.bincount(inv, minlength=times.size).astype(np.float64)
    at_risk = n_total[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - n_event / at_risk)
        inc = np.where(n_event > 0, n_event / (at_risk * (at_risk - n_event)), 0.0)
    var_log = np.cumsum(inc)  # Greenwood, on the log scale
    se = np.sqrt(var_log)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lo = surv * np.exp(-z * se)
        hi = np.minimum(surv * np.exp(z * se), 1.0)
    undefined = (surv <= 0) | ~np.isfinite(se)
    lo = np.where(undefined, np.nan, lo)
    hi = np.where(undefined, np.nan, hi)
    return pd.DataFrame({"time": times, "survival": surv, "at_risk": at_risk.astype(np.int64),
                         "n_event": n_event.astype(np.int64),
                         "n_censor": (n_total - n_event).astype(np.int64),
                         "std_err": se, "ci_low": lo, "ci_high": hi})


_MEDIAN_TOL = float(np.finfo(np.float64).eps) ** 0.5


def _minmin(y: FloatArray, x: FloatArray) -> float:
    """First time a curve reaches 0.5, as ``survival:::survmean``'s ``minmin``.

    When the curve sits at 0.5 (within sqrt(eps)) over an interval, the result is
    the midpoint between the first time at 0.5 and the first time below it.
    """
    keep = ~np.isnan(y) & (y < 0.5 + _MEDIAN_TOL)
    if not keep.any():
        return float("nan")
    xk, yk = x[keep], y[keep]
    below = np.flatnonzero(yk < yk[0])
    if abs(yk[0] - 0.5) < _MEDIAN_TOL and below.size:
        return float((xk[0] + xk[below[0]]) / 2.0)
    return float(xk[0])


def _median_rows(km: pd.DataFrame, t: FloatArray, e: FloatArray,
                 codes: npt.NDArray[np.intp] | None, levels: list[Any]) -> pd.DataFrame:
    rows = []
    for k, lev in enumerate(levels):
        part = km[km["group"] == lev] if codes is not None else km
        m = codes == k if codes is not None else np.ones(t.size, dtype=bool)
        x = part["time"].to_numpy(np.float64)
        rows.append({"group": lev, "n": int(m.sum()), "events": int(e[m].sum()),
                     "median": _minmin(part["survival"].to_numpy(np.float64), x),
                     "ci_low": _minmin(part["ci_low"].to_numpy(np.float64), x),
                     "ci_high": _minmin(part["ci_high"].to_numpy(np.float64), x)})
    return pd.DataFrame(rows, columns=["group", "n", "events", "median", "ci_low", "ci_high"])


def median_survival(time: Any, event: Any, *, group: Any = None,
                    confidence_level: float = 0.95) -> pd.DataFrame:
    r"""Median survival time and its confidence interval, as ``print(survfit(...))``.

    Parameters
    ----------
    time, event : array-like
        Follow-up times (>= 0) and event indicator (1 = event).
    group : array-like, optional
        Group label per patient; one row per group.
    confidence_level : float, optional
        Level of the pointwise Kaplan-Meier intervals the median CI is read from.

    Returns
    -------
    pandas.DataFrame
        ``group, n, events, median, ci_low, ci_high`` (group ``"all"`` without
        ``group``).  NaN where the curve (or the interval bound) never reaches 0.5.

    Notes
    -----
    R's rule (``survival:::survmean``): the median is the first time
    :math:`\hat S(t) \le 0.5`; when :math:`\hat S` equals 0.5 (within
    :math:`\sqrt{\epsilon}`) over an interval it is the midpoint of the interval
    (e.g. ``veteran``, ``trt == 2``: 52.5).  The limits apply the same rule to the
    lower and the upper log-transformed Greenwood bands (``conf.type = "log"``):
    the lower limit is where the lower band reaches 0.5.
    """
    return _kaplan_meier(time, event, group, confidence_level, "median_survival")[1]


def kaplan_meier(time: Any, event: Any, *, group: Any = None,
                 confidence_level: float = 0.95) -> pd.DataFrame:
    r"""Kaplan-Meier survival curves with Greenwood log-scale confidence intervals.

    Parameters
    ----------
    time : array-like
        Follow-up times (>= 0).
    event : array-like
        1 = event, 0 = censored.
    group : array-like, optional
        Group label per patient (e.g. signature risk group); one curve per group.
    confidence_level : float, optional
        Level of the pointwise intervals.

    Returns
    -------
    pandas.DataFrame
        One row per group and distinct time (events and censorings, as ``survfit``):
        ``group, time, survival, at_risk, n_event, n_censor, std_err, ci_low, ci_high``.
        ``std_err`` is the standard error of :math:`-\log S(t)` (R ``summary(fit)$std.err``
        divided by ``surv``).  ``attrs["median"]`` maps each group to its median
        survival and CI (``{"median", "ci_low", "ci_high"}``, R's
        ``print(survfit(...))``, see :func:`median_survival`).

    Notes
    -----
    :math:`\hat S(t) = \prod_{t_i \le t} (1 - d_i / n_i)`; Greenwood
    :math:`\widehat{\mathrm{var}}\{\log \hat S(t)\} = \sum_{t_i \le t} d_i / \{n_i (n_i - d_i)\}`;
    interval :math:`\hat S(t) \exp(\pm z\,\mathrm{se})`, upper end capped at 1, as
    ``survfit(..., conf.type = "log")`` (R's default).  Undefined (NaN) once
    :math:`\hat S = 0`.
    """
    return _kaplan_meier(time, event, group, confidence_level, "kaplan_meier")[0]


def _kaplan_meier(time: Any, event: Any, group: Any, confidence_level: float,
                  caller: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    t, e = _check_surv(time, event, caller)
    level = check_confidence_level(confidence_level, caller=caller)
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    if group is None:
        out = _km_one(t, e, z)
        out.insert(0, "group", "all")
        med = _median_rows(out, t, e, None, ["all"])
    else:
        codes, levels = _groups(group, t.size, caller)
        parts = []
        for k, lev in enumerate(levels):
            m = codes == k
            part = _km_one(t[m], e[m], z)
            part.insert(0, "group", lev)
            parts.append(part)
        out = pd.concat(parts, ignore_index=True)
        med = _median_rows(out, t, e, codes, levels)
    # attrs hold plain values only (pandas compares attrs when concatenating frames)
    out.attrs["median"] = {str(r["group"]): {"median": r["median"], "ci_low": r["ci_low"],
                                             "ci_high": r["ci_high"]}
                           for r in med.to_dict(orient="records")}
    return out, med


# --------------------------------------------------------------------------- log-rank
@dataclass(frozen=True, kw_only=True)
class LogrankResult(Result):
    r"""Log-rank test (``survdiff``), optionally stratified and weighted.

    Attributes
    ----------
    statistic : float
        Chi-square statistic.
    df : int
        Degrees of freedom (groups with a positive expected count - 1).
    p_value : float
        Upper-tail chi-square probability.
    table : pandas.DataFrame
        Per group: ``group, n, observed, expected`` (summed over strata; weighted
        by :math:`\hat S(t-)^\rho` when ``rho != 0``, as ``survdiff``).
    rho : float
        Harrington-Fleming weight exponent (0 = log-rank, 1 = Peto-Peto).
    n_strata : int
        Number of strata (1 when not stratified).
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame = field(repr=False, compare=False)
    rho: float = 0.0
    n_strata: int = 1


def _logrank_stratum(t: FloatArray, e: FloatArray, codes: npt.NDArray[np.intp], k: int,
                     rho: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weighted observed, expected and variance of one stratum (``survdiff2.c``)."""
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    if e.sum() == 0:
        return obs, exp, var
    utime, inv = np.unique(t, return_inverse=True)
    d_all = np.bincount(inv, weights=e, minlength=utime.size)
    y_all = np.bincount(inv, minlength=utime.size)[::-1].cumsum()[::-1].astype(np.float64)
    if rho != 0.0:
        # pooled Kaplan-Meier of the stratum, left-continuous: S(t-)
        km = np.concatenate(([1.0], np.cumprod(1.0 - d_all / y_all)[:-1]))
        wt_all = km**rho
    else:
        wt_all = np.ones(utime.size)
    is_ev = d_all > 0
    ev_times, d_j, n_j, wt = utime[is_ev], d_all[is_ev], y_all[is_ev], wt_all[is_ev]
    n_gj = np.empty((k, ev_times.size))
    d_gj = np.empty((k, ev_times.size))
    for g in range(k):
        tg = np.sort(t[codes == g])
        n_gj[g] = tg.size - np.searchsorted(tg, ev_times, side="left")
        te = t[(codes == g) & (e == 1)]
        d_gj[g] = np.bincount(np.searchsorted(ev_times, te), minlength=ev_times.size)
    obs = (wt * d_gj).sum(axis=1)
    exp = (wt * d_j * n_gj / n_j).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_j > 1, wt**2 * d_j * (n_j - d_j) / (n_j - 1), 0.0)
    frac = n_gj / n_j
    var = np.einsum("j,gj,hj->gh", w, frac, -frac)
    var[np.diag_indices(k)] += (w * frac).sum(axis=1)
    return obs, exp, var


def logrank_test(time: Any, event: Any, group: Any, *, strata: Any = None,
                 rho: float = 0.0) -> LogrankResult:
    r"""Log-rank test of equal survival between groups, as ``survival::survdiff``.

    Parameters
    ----------
    time, event : array-like
        Follow-up times (>= 0) and event indicator (1 = event).
    group : array-like
        Group label per patient.
    strata : array-like, optional
        Stratum label per patient: the stratified test of
        ``survdiff(Surv(time, event) ~ group + strata(strata))`` (observed,
        expected and variance summed over strata, risk sets within strata).
    rho : float, optional
        Harrington-Fleming :math:`G^
ho` weights :math:`\hat S(t-)^
ho` with the
        pooled Kaplan-Meier of the stratum (``survdiff(rho = )``): 0 is the
        log-rank test, 1 the Peto-Peto modification of the Gehan-Wilcoxon test.

    Returns
    -------
    LogrankResult

    Notes
    -----
    At each distinct event time :math:`j` with :math:`d_j` events among :math:`n_j`
    at risk (:math:`n_{gj}` in group :math:`g`) and weight :math:`w_j`:
    :math:`O_g = \sum_j w_j d_{gj}`, :math:`E_g = \sum_j w_j d_j n_{gj}/n_j`,
    :math:`V_{gh} = \sum_j w_j^2 d_j rac{n_j - d_j}{n_j - 1} rac{n_{gj}}{n_j}
    (\delta_{gh} - n_{hj}/n_j)`; the statistic is :math:`(O-E)^	op V^{-1}(O-E)`
    over the groups with :math:`E_g > 0` except the first, chi-square with (their
    number - 1) df.
    """
    caller = "logrank_test"
    t, e = _check_surv(time, event, caller)
    codes, levels = _groups(group, t.size, caller)
    k = len(levels)
    if k < 2:
        raise param_error("group", caller, "at least 2 groups", f"levels {levels}")
    if isinstance(rho, bool) or not isinstance(rho, int | float | np.integer | np.floating) \
            or not np.isfinite(rho):
        raise param_error("rho", caller, "a finite number", rho)
    if e.sum() == 0:
        raise DataError(f"{caller}: no events; the log-rank test is undefined")
    if strata is None:
        s_codes = np.zeros(t.size, dtype=np.intp)
        n_strata = 1
    else:
        s_codes, s_levels = _groups(strata, t.size, caller, param="strata")
        n_strata = len(s_levels)
    observed = np.zeros(k)
    expected = np.zeros(k)
    v = np.zeros((k, k))
    for st in range(n_strata):
        m = s_codes == st
        o_s, e_s, v_s = _logrank_stratum(t[m], e[m], codes[m], k, float(rho))
        observed += o_s
        expected += e_s
        v += v_s
    use = np.flatnonzero(expected > 0)
    df = int(use.size) - 1
    if use.size < 2:
        stat = 0.0
    else:
        diff = (observed - expected)[use][1:]
        stat = float(diff @ np.linalg.solve(v[np.ix_(use, use)][1:, 1:], diff))
    table = pd.DataFrame({"group": levels, "n": np.bincount(codes, minlength=k),
                          "observed": observed, "expected": expected})
    return LogrankResult(statistic=stat, df=df, p_value=float(sps.chi2.sf(stat, df)),
                         table=table, rho=float(rho), n_strata=n_strata)


# --------------------------------------------------------------------------- Cox
@dataclass(frozen=True, kw_only=True)
class CoxResult(Result):
    """Cox proportional-hazards fit (``coxph``).

    Attributes
    ----------
    terms : list of str
        Covariate names.
    coef, se, hr, hr_ci_low, hr_ci_high, z, p_value : numpy.ndarray
        Per covariate: log hazard ratio, its standard error (inverse information),
        hazard ratio, its Wald interval, Wald z and two-sided p-value.
    n, events : int
        Patients and events used.
    loglik, loglik_null : float
        Partial log-likelihood at the estimate and at zero.
    lr_statistic, lr_df, lr_p_value : float, int, float
        Likelihood-ratio test of all coefficients.
    ties : str
        ``"efron"`` or ``"breslow"``.
    n_iter : int
        Newton-Raphson iterations.
    n_strata : int
        Number of strata (1 when not stratified).
    means : numpy.ndarray
        Covariate means (over all patients) at which the baseline is given.
    baseline : pandas.DataFrame
        Baseline cumulative hazard at the covariate means, one row per stratum and
        event time: ``stratum, time, cumhaz, survival`` (``survfit(fit)`` of R:
        Breslow increments, with Efron's correction for tied events when
        ``ties = "efron"``).  ``stratum`` is ``"all"`` without strata.
    """

    terms: list[str]
    coef: FloatArray = field(repr=False, compare=False)
    se: FloatArray = field(repr=False, compare=False)
    hr: FloatArray = field(repr=False, compare=False)
    hr_ci_low: FloatArray = field(repr=False, compare=False)
    hr_ci_high: FloatArray = field(repr=False, compare=False)
    z: FloatArray = field(repr=False, compare=False)
    p_value: FloatArray = field(repr=False, compare=False)
    n: int
    events: int
    loglik: float
    loglik_null: float
    lr_statistic: float
    lr_df: int
    lr_p_value: float
    ties: str
    confidence_level: float
    n_iter: int
    n_strata: int = 1
    means: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False,
                              compare=False)
    baseline: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    def predict_survival(self, x: Any, times: Any, *, strata: Any = None) -> FloatArray:
        r"""Predicted survival :math:`S(t \mid x) = \exp\{-\Lambda_0(t)\,
        e^{(x - \bar x)^\top \beta}\}` at each time, shape (n, len(times)).

        ``strata`` gives each patient's stratum label for a stratified fit.  The
        baseline is a step function, constant after the last event time of the
        stratum (no extrapolation).
        """
        xm = np.asarray(x, dtype=np.float64)
        if xm.ndim == 1:
            xm = xm[:, None] if len(self.terms) == 1 else xm[None, :]
        if xm.ndim != 2 or xm.shape[1] != len(self.terms):
            raise param_error("x", "CoxResult.predict_survival",
                              f"an array with {len(self.terms)} column(s)", f"shape {xm.shape}")
        h = np.atleast_1d(np.asarray(times, dtype=np.float64))
        lin = np.exp((xm - self.means) @ self.coef)
        labels = (np.full(xm.shape[0], "all", dtype=object) if strata is None
                  else np.asarray(strata, dtype=object).ravel())
        out = np.empty((xm.shape[0], h.size))
        for lab in pd.unique(labels):
            base = self.baseline[self.baseline["stratum"].astype(str) == str(lab)]
            if base.empty:
                raise param_error("strata", "CoxResult.predict_survival",
                                  "strata seen in the fit", lab)
            bt = base["time"].to_numpy(np.float64)
            bh = base["cumhaz"].to_numpy(np.float64)
            idx = np.searchsorted(bt, h, side="right") - 1
            cum = np.where(idx >= 0, bh[np.maximum(idx, 0)], 0.0)
            m = labels == lab
            out[m] = np.exp(-np.outer(lin[m], cum))
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per covariate: ``term, coef, hr, se, z, p_value, hr_ci_low, hr_ci_high``."""
        return pd.DataFrame({"term": self.terms, "coef": self.coef, "hr": self.hr,
                             "se": self.se, "z": self.z, "p_value": self.p_value,
                             "hr_ci_low": self.hr_ci_low, "hr_ci_high": self.hr_ci_high,
                             "n": self.n, "events": self.events})


def _cox_loglik(beta: FloatArray, x: FloatArray, t: FloatArray, e: FloatArray,
                efron: bool) -> tuple[float, FloatArray, FloatArray]:
    """Partial log-likelihood, gradient and information matrix (x sorted by time)."""
    p = x.shape[1]
    eta = x @ beta
    eta = eta - eta.max() if eta.size else eta
    r = np.exp(eta)
    # risk-set sums for t >= s: reverse cumulative sums over time-sorted rows
    s0 = r[::-1].cumsum()[::-1]
    s1 = (r[:, None] * x)[::-1].cumsum(axis=0)[::-1]
    s2 = (r[:, None, None] * x[:, :, None] * x[:, None, :])[::-1].cumsum(axis=0)[::-1]
    ll = 0.0
    grad = np.zeros(p)
    info = np.zeros((p, p))
    ev_times = np.unique(t[e == 1])
    starts = np.searchsorted(t, ev_times, side="left")
    for s, start in zip(ev_times, starts):
        idx = np.flatnonzero((t == s) & (e == 1))
        d = idx.size
        r0, r1, r2 = s0[start], s1[start], s2[start]
        ll += float(eta[idx].sum())
        grad += x[idx].sum(axis=0)
        if efron and d > 1:
            rd = r[idx]
            d0 = rd.sum()
            d1 = (rd[:, None] * x[idx]).sum(axis=0)
            d2 = (rd[:, None, None] * x[idx][:, :, None] * x[idx][:, None, :]).sum(axis=0)
            for ell in range(d):
                f = ell / d
                a0 = r0 - f * d0
                a1 = r1 - f * d1
                a2 = r2 - f * d2
                ll -= float(np.log(a0))
                mu = a1 / a0
                grad -= mu
                info += a2 / a0 - np.outer(mu, mu)
        else:
            ll -= d * float(np.log(r0))
            mu = r1 / r0
            grad -= d * mu
            info += d * (r2 / r0 - np.outer(mu, mu))
    return ll, grad, info


def _baseline_cumhaz(t: FloatArray, e: FloatArray, eta: FloatArray,
                     efron: bool) -> tuple[FloatArray, FloatArray]:
    r"""Cumulative baseline hazard at ``eta = 0`` (rows sorted by time), as ``survfit``.

    Breslow increment :math:`d / S_0`; with Efron's correction
    :math:`\sum_{l=0}^{d-1} 1 / (S_0 - \tfrac{l}{d} D_0)`, :math:`D_0` the risk sum
    of the :math:`d` tied events.
    """
    r = np.exp(eta)
    utime, inv = np.unique(t, return_inverse=True)
    s0 = np.bincount(inv, weights=r, minlength=utime.size)[::-1].cumsum()[::-1]
    d = np.bincount(inv, weights=e, minlength=utime.size)
    d0 = np.bincount(inv, weights=r * e, minlength=utime.size)
    ev = np.flatnonzero(d > 0)
    if efron:
        rows = np.flatnonzero(e == 1)
        g = inv[rows]
        # position l = 0..d-1 of each event within its tied group
        first = np.searchsorted(g, g, side="left")
        ell = np.arange(rows.size) - first
        inc_rows = 1.0 / (s0[g] - ell / d[g] * d0[g])
        inc = np.bincount(g, weights=inc_rows, minlength=utime.size)[ev]
    else:
        inc = d[ev] / s0[ev]
    return utime[ev], np.cumsum(inc)


def _cox_loglik_strata(beta: FloatArray, x: FloatArray, t: FloatArray, e: FloatArray,
                       efron: bool, bounds: list[tuple[int, int]]
                       ) -> tuple[float, FloatArray, FloatArray]:
    """Stratified partial likelihood: the sum over strata (rows sorted by stratum, time)."""
    if len(bounds) == 1:
        return _cox_loglik(beta, x, t, e, efron)
    ll = 0.0
    grad = np.zeros(x.shape[1])
    info = np.zeros((x.shape[1], x.shape[1]))
    for a, b in bounds:
        if e[a:b].sum() == 0:
            continue
        ll_s, g_s, i_s = _cox_loglik(beta, x[a:b], t[a:b], e[a:b], efron)
        ll += ll_s
        grad += g_s
        info += i_s
    return ll, grad, info


def cox_ph(time: Any, event: Any, x: Any, *, strata: Any = None, ties: str = "efron",
           confidence_level: float = 0.95, max_iter: int = 50,
           tol: float = 1e-12) -> CoxResult:
    r"""Cox proportional-hazards regression, as ``survival::coxph``.

    Parameters
    ----------
    time, event : array-like
        Follow-up time and event indicator (1 = event).
    x : array-like or DataFrame
        One covariate (1-d) or several (2-d, columns = covariates).
    strata : array-like, optional
        Stratum label per patient: a separate baseline hazard per stratum, as
        ``coxph(Surv(time, event) ~ x + strata(s))`` (risk sets within strata,
        the partial likelihood summed over strata).
    ties : {"efron", "breslow"}, optional
        Handling of tied event times (R's default is Efron).
    confidence_level : float, optional
        Level of the Wald hazard-ratio intervals.
    max_iter : int, optional
        Newton-Raphson iterations.
    tol : float, optional
        Convergence tolerance on the Newton step (max absolute change in beta).

    Returns
    -------
    CoxResult

    Notes
    -----
    Newton-Raphson from :math:`\beta = 0` on the partial log-likelihood; Efron's
    approximation replaces, for :math:`d` tied events with risk score sum
    :math:`D_0`, the denominator :math:`S_0^d` by
    :math:`\prod_{\ell=0}^{d-1} (S_0 - \tfrac{\ell}{d} D_0)`.  SE from the inverse
    information; Wald :math:`z = \hat\beta/\mathrm{se}`; HR interval
    :math:`\exp(\hat\beta \pm z_{1-\alpha/2}\,\mathrm{se})`.  R's coxph stops at a
    relative log-likelihood change below 1e-9, so its coefficients agree with this
    fully converged fit to about 1e-8 relative.
    """
    caller = "cox_ph"
    t, e = _check_surv(time, event, caller)
    ties = check_choice(ties, ("efron", "breslow"), caller=caller, param="ties")
    level = check_confidence_level(confidence_level, caller=caller)
    if isinstance(x, pd.DataFrame):
        terms = [str(c) for c in x.columns]
        xm = x.to_numpy(dtype=np.float64)
    elif isinstance(x, pd.Series):
        terms = [str(x.name) if x.name is not None else "x"]
        xm = x.to_numpy(dtype=np.float64)[:, None]
    else:
        try:
            xm = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise param_error("x", caller, "numeric covariates", x) from exc
        if xm.ndim == 1:
            xm = xm[:, None]
        if xm.ndim != 2:
            raise param_error("x", caller, "a 1-d or 2-d array", f"shape {xm.shape}")
        terms = [f"x{j + 1}" for j in range(xm.shape[1])] if xm.shape[1] > 1 else ["x"]
    if xm.shape[0] != t.size:
        msg = (f"The arrays passed to {caller} must have the same length. "
               f"Got time={t.size}, x={xm.shape[0]} instead.")
        raise InputError(msg)
    if not np.isfinite(xm).all():
        raise param_error("x", caller, "finite (no NaN or infinity)",
                          f"{int((~np.isfinite(xm)).sum())} non-finite value(s)")
    if e.sum() == 0:
        raise DataError(f"{caller}: no events; the Cox model is undefined")
    if strata is None:
        s_codes = np.zeros(t.size, dtype=np.intp)
        s_labels = ["all"]
    else:
        s_codes, s_levels = _groups(strata, t.size, caller, param="strata")
        s_labels = [str(v) for v in s_levels]
    order = np.lexsort((t, s_codes))
    ts, es, xs = t[order], e[order], xm[order]
    n_per = np.bincount(s_codes, minlength=int(s_codes.max()) + 1)
    edges = np.concatenate(([0], np.cumsum(n_per)))
    bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    # centre the covariates (as coxph) for numerical stability; coefficients unchanged
    xs = xs - xs.mean(axis=0)
    efron = ties == "efron"
    beta = np.zeros(xs.shape[1])

    def loglik(b: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        return _cox_loglik_strata(b, xs, ts, es, efron, bounds)

    ll0, grad, info = loglik(beta)
    ll = ll0
    it = 0
    converged = False
    for it in range(1, max_iter + 1):  # noqa: B007 - it is reported
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as exc:
            raise DataError(f"{caller}: singular information matrix (collinear covariates "
                            "or a covariate constant among patients at risk)") from exc
        new = beta + step
        ll_new, g_new, i_new = loglik(new)
        halvings = 0
        while ll_new < ll - 1e-12 * abs(ll) and halvings < 30:
            step *= 0.5
            new = beta + step
            ll_new, g_new, i_new = loglik(new)
            halvings += 1
        beta, ll, grad, info = new, ll_new, g_new, i_new
        if float(np.max(np.abs(step))) < tol * max(1.0, float(np.max(np.abs(beta)))):
            converged = True
            break
    if not converged or not np.isfinite(beta).all():
        import warnings

        warnings.warn(f"{caller}: Newton-Raphson did not converge in {max_iter} iterations "
                      "(monotone likelihood? an infinite hazard ratio?)", ConvergenceWarning,
                      stacklevel=2)
    means = xm.mean(axis=0)
    eta = xs @ beta  # xs is centred at the means
    parts = []
    for (a, b), lab in zip(bounds, s_labels):
        bt, bh = _baseline_cumhaz(ts[a:b], es[a:b], eta[a:b], efron)
        parts.append(pd.DataFrame({"stratum": lab, "time": bt, "cumhaz": bh,
                                   "survival": np.exp(-bh)}))
    baseline = pd.concat(parts, ignore_index=True)
    cov = np.linalg.inv(info)
    se = np.sqrt(np.diag(cov))
    zq = float(sps.norm.ppf(0.5 + level / 2.0))
    z = beta / se
    lr = 2.0 * (ll - ll0)
    return CoxResult(terms=terms, coef=beta, se=se, hr=np.exp(beta),
                     hr_ci_low=np.exp(beta - zq * se), hr_ci_high=np.exp(beta + zq * se),
                     z=z, p_value=2.0 * sps.norm.sf(np.abs(z)), n=int(t.size),
                     events=int(e.sum()), loglik=ll, loglik_null=ll0, lr_statistic=float(lr),
                     lr_df=int(beta.size), lr_p_value=float(sps.chi2.sf(lr, beta.size)),
                     ties=ties, confidence_level=level, n_iter=it, n_strata=len(bounds),
                     means=means, baseline=baseline)


# --------------------------------------------------------------------------- C-index
@dataclass(frozen=True, kw_only=True)
class CIndexResult(Result):
    r"""Harrell's concordance index.

    Attributes
    ----------
    estimate : float
        :math:`C = (n_c + n_{tx}/2) / (n_c + n_d + n_{tx})`.
    concordant, discordant, tied_score, tied_time, tied_both : int
        Pair counts as ``survival::concordance``'s ``count`` (``tied.x``,
        ``tied.y``, ``tied.xy``).
    comparable : int
        ``concordant + discordant + tied_score``.
    variance, se : float
        Infinitesimal-jackknife variance of C and its square root, as
        ``concordance(...)$var``: :math:`\sum_i (\partial C / \partial w_i)^2` with
        :math:`\partial C/\partial w_i = (a_i - C b_i)/N_{pairs}`, where :math:`a_i`
        counts the concordant (+ 1/2 tied-score) pairs and :math:`b_i` the comparable
        pairs patient :math:`i` belongs to.
    """

    estimate: float
    variance: float
    se: float
    concordant: int
    discordant: int
    tied_score: int
    tied_time: int
    tied_both: int
    comparable: int


def concordance_index(time: Any, event: Any, score: Any) -> CIndexResult:
    r"""Harrell's C-index of a risk score (higher score = higher risk = earlier event).

    Parameters
    ----------
    time, event : array-like
        Follow-up time and event indicator.
    score : array-like
        Risk score (e.g. the rad-score or the linear predictor of a Cox model).

    Returns
    -------
    CIndexResult

    Notes
    -----
    Equal to ``survival::concordance(Surv(time, event) ~ score, reverse = TRUE)``.
    A pair is comparable when the patient with the shorter time had an event; a
    patient censored at the same time as an event is counted as still at risk,
    so that pair is comparable too.  Pairs whose score is tied count 1/2
    (``tied.x``); pairs with tied event times (both events) are not comparable
    (``tied.y``; ``tied.xy`` when the scores are tied as well).  The pairs are
    counted exactly by a vectorised merge sort, in :math:`O(n \log^2 n)` time.
    """
    caller = "concordance_index"
    t, e = _check_surv(time, event, caller)
    s = check_scores(score, caller=caller, param="score")
    check_consistent_length(caller, time=t, score=s)
    # pairs counted in O(n log^2 n) by the merge-sort routine shared with uno_c
    from radval.stats._timedep import _weighted_concordance

    c_w, d_w, tx_w, var = _weighted_concordance(t, e, s, np.ones(t.size))
    nc, nd, ntx = round(c_w), round(d_w), round(tx_w)
    # tied event times (tied.y), and among them tied scores as well (tied.xy)
    ev = e == 1
    _, per_time = np.unique(t[ev], return_counts=True)
    _, per_both = np.unique(np.stack([t[ev], s[ev]], axis=1), axis=0, return_counts=True)
    ntxy = int((per_both * (per_both - 1) // 2).sum())
    nty = int((per_time * (per_time - 1) // 2).sum()) - ntxy
    comparable = nc + nd + ntx
    est = (nc + 0.5 * ntx) / comparable if comparable else float("nan")
    if not comparable:
        var = float("nan")
        import warnings

        from radval.exceptions import UndefinedMetricWarning

        warnings.warn(f"{caller}: no comparable pairs (no events before other follow-up "
                      "times); C is undefined", UndefinedMetricWarning, stacklevel=2)
    return CIndexResult(estimate=float(est), variance=var, se=float(np.sqrt(var)),
                        concordant=nc, discordant=nd, tied_score=ntx,
                        tied_time=nty, tied_both=ntxy, comparable=comparable)
