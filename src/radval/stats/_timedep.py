r"""Time-dependent validation of risk predictions under right censoring (IPCW).

Three statistics weight the patients by the inverse probability of remaining
uncensored, estimated by the marginal Kaplan-Meier of the censoring
distribution :math:`\hat G` (one private helper, :class:`_Censoring`):

* :func:`time_dependent_auc`: cumulative/dynamic AUC(t) with the
  influence-function standard error of R ``riskRegression::Score(...,
  metrics = "auc")``;
* :func:`uno_c`: Uno's concordance, ``survival::concordance(...,
  timewt = "n/G2")``;
* :func:`survival_brier`: Brier score, null (Kaplan-Meier) Brier score, IPA and
  the integrated Brier score, as ``Score(..., metrics = "brier")``.

Conventions (R ``riskRegression`` 2022.11.28 and ``survival`` 3.5-3):

* ``time`` >= 0, ``event`` 1 = event, 0 = censored; a patient whose event is
  exactly at the horizon :math:`t` is a case (:math:`T \le t`).
* :math:`\hat G` is the Kaplan-Meier of the censoring times in which, at a tied
  time, the events come first (the censoring risk set at :math:`u` is
  :math:`Y(u) - d(u)`), as ``prodlim(..., reverse = TRUE)`` and
  ``survival``'s ``fastkm1``.
* A case is weighted by :math:`1/\hat G(T_i-)` (censoring survival *just before*
  its event time), a control (:math:`T_j > t`) by :math:`1/\hat G(t)`, a patient
  censored before :math:`t` by 0.  scikit-survival weights cases by
  :math:`1/\hat G(T_i)`; the two agree unless a censoring time equals an event
  time.

References
----------
Uno H, Cai T, Tian L, Wei LJ. Evaluating prediction rules for t-year survivors
with censored regression models. JASA 2007;102:527-537.
Uno H, Cai T, Pencina MJ, D'Agostino RB, Wei LJ. On the C-statistics for
evaluating overall adequacy of risk prediction procedures with censored survival
data. Stat Med 2011;30:1105-1117.
Blanche P, Dartigues JF, Jacqmin-Gadda H. Estimating and comparing time-dependent
areas under receiver operating characteristic curves for censored event times
with competing risks. Stat Med 2013;32:5381-5397.
Gerds TA, Schumacher M. Consistent estimation of the expected Brier score in
general survival models with right-censored event times. Biom J 2006;48:1029-1040.
Kattan MW, Gerds TA. The index of prediction accuracy (IPA). Diagn Progn Res
2018;2:7.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from radval._results import Result
from radval._validation import check_confidence_level, check_scores, param_error
from radval.exceptions import DataError, HorizonWarning, InputError, UndefinedMetricWarning
from radval.stats._survival import _check_surv

__all__ = ["SurvivalBrierResult", "UnoCResult", "survival_brier", "time_dependent_auc",
           "uno_c"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
_NAN = float("nan")


# ---------------------------------------------------------------------------------------
# the one IPCW helper
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Censoring:
    """Survival data sorted by time (events first at ties) and the censoring KM.

    Attributes are per sorted row (``time``, ``event``, ``order``, ``grp``) or per
    distinct time ``utime`` (``n_risk`` = :math:`Y(u) = \\#\\{T \\ge u\\}`,
    ``n_event``, ``n_cens``, ``g`` = :math:`\\hat G(u)`).  ``mc`` is the
    cumulative :math:`n \\sum_{v \\le u} c(v) / Y(v)^2` that enters the
    influence function of the censoring cumulative hazard.
    """

    time: FloatArray
    event: FloatArray
    order: IntArray
    grp: IntArray
    utime: FloatArray
    n_risk: FloatArray
    n_event: FloatArray
    n_cens: FloatArray
    g: FloatArray
    mc: FloatArray

    @property
    def n(self) -> int:
        return int(self.time.size)

    def g_at(self, t: FloatArray) -> FloatArray:
        """Right-continuous :math:`\\hat G(t)` (1 before the first time)."""
        idx = np.searchsorted(self.utime, t, side="right") - 1
        return np.where(idx >= 0, self.g[np.maximum(idx, 0)], 1.0)

    def mc_at(self, t: float) -> float:
        idx = int(np.searchsorted(self.utime, t, side="right")) - 1
        return float(self.mc[idx]) if idx >= 0 else 0.0

    def g_left_rows(self) -> FloatArray:
        """:math:`\\hat G(T_i-)` for every sorted row."""
        g_prev = np.concatenate(([1.0], self.g[:-1]))
        return g_prev[self.grp]

    def mc_left_rows(self) -> FloatArray:
        mc_prev = np.concatenate(([0.0], self.mc[:-1]))
        return mc_prev[self.grp]

    def if_hazard_rows(self) -> FloatArray:
        """:math:`f_i`: influence of patient i on :math:`\\Lambda_C(s)` for :math:`s \\ge T_i`.

        :math:`f_i = n (1 - \\delta_i) / Y(T_i) - n \\sum_{v \\le T_i} c(v)/Y(v)^2`
        (Nelson-Aalen form, as riskRegression's ``getInfluenceFunctionKM``).
        """
        n = float(self.n)
        g = self.grp
        return (1.0 - self.event) * n / self.n_risk[g] - self.mc[g]

    def group_end(self) -> IntArray:
        """Index of the last sorted row sharing each row's time."""
        ends = np.cumsum(np.bincount(self.grp, minlength=self.utime.size)) - 1
        return ends[self.grp]


def _censoring(t: FloatArray, e: FloatArray) -> _Censoring:
    """Sort the data and estimate the censoring distribution (the IPCW helper)."""
    order = np.lexsort((-e, t)).astype(np.intp)  # by time, events before censorings
    ts, es = t[order], e[order]
    utime, grp = np.unique(ts, return_inverse=True)
    grp = grp.astype(np.intp)
    m = utime.size
    n_tot = np.bincount(grp, minlength=m).astype(np.float64)
    n_event = np.bincount(grp, weights=es, minlength=m).astype(np.float64)
    n_cens = n_tot - n_event
    n_risk = n_tot[::-1].cumsum()[::-1]
    cens_risk = n_risk - n_event  # censorings come after the events at a tied time
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_cens > 0, 1.0 - n_cens / cens_risk, 1.0)
    g = np.cumprod(factor).astype(np.float64)
    mc = float(ts.size) * np.cumsum(n_cens / n_risk**2)
    return _Censoring(time=ts, event=es, order=order, grp=grp, utime=utime,
                      n_risk=n_risk, n_event=n_event, n_cens=n_cens, g=g, mc=mc)


def _sum_if_hazard(cz: _Censoring, a: FloatArray, f: FloatArray, mc_left: FloatArray,
                   end: IntArray) -> FloatArray:
    r""":math:`\sum_k a_k \, IF_i\{\Lambda_C(T_k-)\}` for every row i (sorted order).

    :math:`IF_i\{\Lambda_C(T_k-)\} = f_i` when :math:`T_i < T_k` and
    :math:`-MC(T_k-)` when :math:`T_i \ge T_k`.
    """
    cum_a = np.cumsum(a)
    cum_am = np.cumsum(a * mc_left)
    later = cum_a[-1] - cum_a[end]
    return f * later - cum_am[end]


def _check_times(times: Any, caller: str, param: str = "times") -> FloatArray:
    try:
        h = np.asarray(times, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error(param, caller, "positive numbers", times) from exc
    if h.size == 0 or not np.isfinite(h).all():
        raise param_error(param, caller, "a non-empty array of finite numbers", times)
    if (h <= 0).any():
        raise param_error(param, caller, "positive (time horizons > 0)",
                          f"{h[h <= 0][:5].tolist()}")
    return np.unique(h)


def _is_positive_number(v: Any) -> bool:
    return (not isinstance(v, bool) and isinstance(v, int | float | np.integer | np.floating)
            and math.isfinite(float(v)) and float(v) > 0)


def _check_events(e: FloatArray, caller: str) -> None:
    if e.sum() == 0:
        msg = (f"{caller}: every observation is censored (no events); the statistic is "
               "undefined.")
        raise DataError(msg)


def _horizon_checks(h: FloatArray, t: FloatArray, e: FloatArray, caller: str
                    ) -> npt.NDArray[np.bool_]:
    """Warn about horizons beyond the last event / the follow-up; mask the latter."""
    t_max = float(t.max())
    t_event = float(t[e == 1].max())
    beyond = h > t_max
    if beyond.any():
        warnings.warn(
            f"{caller}: horizon(s) {h[beyond].tolist()} exceed the maximum follow-up "
            f"({t_max:g}); nothing can be estimated there (NaN). Are the times in days "
            "when the study says months?", HorizonWarning, stacklevel=3)
    late = (h > t_event) & ~beyond
    if late.any():
        warnings.warn(
            f"{caller}: horizon(s) {h[late].tolist()} lie beyond the last event "
            f"(time {t_event:g}); the estimates there use no event after {t_event:g} "
            "(as riskRegression computes them).", HorizonWarning, stacklevel=3)
    return np.asarray(beyond)


# ---------------------------------------------------------------------------------------
# time-dependent AUC
# ---------------------------------------------------------------------------------------
def _auc_one(cz: _Censoring, rank: IntArray, n_rank: int, tau: float, inv_g_left: FloatArray,
             f: FloatArray, mc_left: FloatArray, end: IntArray
             ) -> tuple[float, float, int, int]:
    r"""AUC(tau) and its influence-function SE (riskRegression ``AUC.survival``).

    Rows are sorted by time, so the rows with :math:`T \le \tau` (cases and
    patients censored before tau) are the prefix ``[0, k)`` and the controls the
    suffix; everything on the suffix is a constant or a lookup by score rank.
    """
    n = float(cz.n)
    k = int(np.searchsorted(cz.time, tau, side="right"))
    n_case, n_ctrl = int(cz.event[:k].sum()), cz.n - k
    if n_case == 0 or n_ctrl == 0:
        return _NAN, _NAN, n_case, n_ctrl
    w_ctrl = 1.0 / float(cz.g_at(np.array([tau]))[0])
    wc = cz.event[:k] * inv_g_left[:k]  # case weights (0 if censored before tau)
    mu_case = float(wc.sum())
    mu_ctrl = n_ctrl * w_ctrl
    rk, rs = rank[:k], rank[k:]
    # weighted Mann-Whitney by score rank (ties count 1/2)
    by_case = np.bincount(rk, weights=wc, minlength=n_rank)
    by_ctrl = np.bincount(rs, minlength=n_rank) * w_ctrl
    ctrl_below = np.cumsum(by_ctrl) - by_ctrl
    case_above = by_case[::-1].cumsum()[::-1] - by_case
    ic0_case = wc * (ctrl_below[rk] + 0.5 * by_ctrl[rk])
    ic0_ctrl = w_ctrl * (case_above[rs] + 0.5 * by_case[rs])
    sum_ctrl = float(ic0_ctrl.sum())
    auc = float(ic0_case.sum()) / (mu_case * mu_ctrl)
    mu = mu_case * mu_ctrl / n**2
    nu = auc * mu
    # part without the censoring term: each patient's row (case) or column (control)
    infl = np.empty(cz.n)
    infl[:k] = (ic0_case - auc * wc * mu_ctrl) / n / mu
    infl[k:] = (ic0_ctrl - auc * w_ctrl * mu_case) / n / mu
    # censoring term, through 1/G(T_k-) of the cases and 1/G(tau) of the controls:
    # sum_k a_k IF_i{Lambda_C(T_k-)} is f_i * (a after T_i) - (a MC(T-) up to T_i)
    f_pre, end_pre, mcl_pre = f[:k], end[:k], mc_left[:k]
    cum_num, cum_den = np.cumsum(ic0_case), np.cumsum(wc)
    cum_num_m, cum_den_m = np.cumsum(ic0_case * mcl_pre), np.cumsum(wc * mcl_pre)
    s_num = f_pre * (cum_num[-1] - cum_num[end_pre]) - cum_num_m[end_pre]
    s_den = f_pre * (cum_den[-1] - cum_den[end_pre]) - cum_den_m[end_pre]
    n2 = n * n
    num_pre = (s_num + sum_ctrl * f_pre) / n2
    den_pre = (s_den * mu_ctrl + mu_ctrl * mu_case * f_pre) / n2
    infl[:k] += (num_pre * mu - den_pre * nu) / mu**2
    if_tau = -cz.mc_at(tau)  # IF of Lambda_C(tau) for everyone after tau
    num_post = (-cum_num_m[-1] + sum_ctrl * if_tau) / n2
    den_post = (-cum_den_m[-1] * mu_ctrl + mu_ctrl * mu_case * if_tau) / n2
    infl[k:] += (num_post * mu - den_post * nu) / mu**2
    se = float(np.std(infl, ddof=1) / math.sqrt(n))
    return auc, se, n_case, n_ctrl


def time_dependent_auc(time: Any, event: Any, score: Any, times: Any, *,
                       confidence_level: float = 0.95) -> pd.DataFrame:
    r"""Cumulative/dynamic time-dependent AUC with IPCW, its standard error and CI.

    Parameters
    ----------
    time : array-like of shape (n,)
        Follow-up times (>= 0, no missing values).
    event : array-like of shape (n,)
        1 (or True) = event, 0 (or False) = censored.
    score : array-like of shape (n,)
        Risk score or predicted risk; higher = earlier event.  The same score is
        used at every horizon.
    times : array-like
        Time horizons (> 0), in the unit of ``time``.  Sorted, duplicates removed.
    confidence_level : float, optional
        Level of the Wald intervals.

    Returns
    -------
    pandas.DataFrame
        One row per horizon: ``time, auc, se, ci_low, ci_high, n_cases,
        n_controls``.  ``attrs["mean_auc"]`` is scikit-survival's summary
        (AUC(t) weighted by the Kaplan-Meier decrements of the event
        distribution, :math:`\sum_k AUC(t_k)\{\hat S(t_{k-1}) - \hat S(t_k)\}
        / \{1 - \hat S(t_K)\}`, :math:`\hat S(t_0) = 1`); ``attrs["integrated_auc"]``
        is the trapezoid over the horizons divided by their range (NaN for one
        horizon), the rule of the integrated Brier score.

    Raises
    ------
    InputError
        Negative or missing times, an event column that is not 0/1, missing
        scores, a horizon that is not positive.
    DataError
        Every observation is censored.

    Warns
    -----
    HorizonWarning
        A horizon beyond the maximum follow-up (NaN there; the usual cause is
        days versus months) or beyond the last event (still estimated).
    UndefinedMetricWarning
        A horizon with no case (no event before it) or no control.

    Notes
    -----
    Cases at :math:`t` are :math:`\{T_i \le t, \delta_i = 1\}` with weight
    :math:`1/\hat G(T_i-)`, controls :math:`\{T_j > t\}` with weight
    :math:`1/\hat G(t)`; patients censored before :math:`t` have weight 0.

    .. math::

        \widehat{AUC}(t) = \frac{\sum_i \sum_j w_i w_j \{I(s_i > s_j) +
        \tfrac12 I(s_i = s_j)\}}{\sum_i w_i \sum_j w_j},

    the trapezoidal area of the IPCW ROC curve (``riskRegression::Score(list(s),
    Hist(time, event) ~ 1, metrics = "auc")``, censoring model Kaplan-Meier).
    The standard error is :math:`\mathrm{sd}(\phi)/\sqrt n` of the influence
    function :math:`\phi` that includes the term from estimating
    :math:`\hat G` (riskRegression's ``conservative = FALSE``; Blanche et al.
    2013), computed in :math:`O(n)` per horizon after one sort.  The interval
    is :math:`\widehat{AUC} \pm z\,\mathrm{se}`, clipped to [0, 1].  Equal to
    scikit-survival's ``cumulative_dynamic_auc`` when no censoring time equals
    an event time (it uses :math:`\hat G(T_i)`).  NaN where there is no case or
    no control (e.g. a horizon at or beyond the last follow-up).
    """
    caller = "time_dependent_auc"
    t, e = _check_surv(time, event, caller)
    s = check_scores(score, caller=caller, param="score")
    if s.size != t.size:
        msg = (f"The arrays passed to {caller} must have the same length. "
               f"Got time={t.size}, score={s.size} instead.")
        raise InputError(msg)
    h = _check_times(times, caller)
    level = check_confidence_level(confidence_level, caller=caller)
    _check_events(e, caller)
    beyond = _horizon_checks(h, t, e, caller)
    cz = _censoring(t, e)
    ss = s[cz.order]
    uniq, rank = np.unique(ss, return_inverse=True)
    rank = rank.astype(np.intp)
    inv_g_left, f = 1.0 / cz.g_left_rows(), cz.if_hazard_rows()
    mc_left, end = cz.mc_left_rows(), cz.group_end()
    rows = []
    for tau in h:
        if tau > t.max():
            rows.append((_NAN, _NAN, 0, 0))
            continue
        rows.append(_auc_one(cz, rank, uniq.size, float(tau), inv_g_left, f, mc_left, end))
    auc = np.array([r[0] for r in rows])
    se = np.array([r[1] for r in rows])
    undefined = np.isnan(auc) & ~beyond
    if undefined.any():
        warnings.warn(f"{caller}: no case or no control at horizon(s) "
                      f"{h[undefined].tolist()}; AUC is NaN there",
                      UndefinedMetricWarning, stacklevel=2)
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    out = pd.DataFrame({"time": h, "auc": auc, "se": se,
                        "ci_low": np.clip(auc - z * se, 0.0, 1.0),
                        "ci_high": np.clip(auc + z * se, 0.0, 1.0),
                        "n_cases": [r[2] for r in rows], "n_controls": [r[3] for r in rows]})
    out.attrs["mean_auc"] = _mean_auc(t, e, h, auc)
    out.attrs["integrated_auc"] = _integrate(h, auc)
    out.attrs["confidence_level"] = level
    return out


def _km_at(t: FloatArray, e: FloatArray, h: FloatArray) -> FloatArray:
    """Kaplan-Meier :math:`\\hat S(h)` of the event distribution (R ``survfit``)."""
    utime, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=utime.size)
    y = np.bincount(inv, minlength=utime.size)[::-1].cumsum()[::-1]
    surv = np.cumprod(1.0 - d / y)
    idx = np.searchsorted(utime, h, side="right") - 1
    return np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)


def _mean_auc(t: FloatArray, e: FloatArray, h: FloatArray, auc: FloatArray) -> float:
    if np.isnan(auc).any():
        return _NAN
    s_h = _km_at(t, e, h)
    d = -np.diff(np.concatenate(([1.0], s_h)))
    denom = 1.0 - float(s_h[-1])
    return float((auc * d).sum() / denom) if denom > 0 else _NAN


def _integrate(h: FloatArray, y: FloatArray) -> float:
    """Trapezoid over the horizons divided by their range (scikit-survival's IBS rule)."""
    if h.size < 2 or np.isnan(y).any():
        return _NAN
    return float(np.trapezoid(y, h) / (h[-1] - h[0]))


# ---------------------------------------------------------------------------------------
# Brier score
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SurvivalBrierResult(Result):
    r"""IPCW Brier scores at time horizons (see :func:`survival_brier`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per horizon: ``time, brier, se, ci_low, ci_high, brier_null, ipa``.
        ``brier_null`` is the Brier score of the null model (everyone gets the
        Kaplan-Meier survival :math:`\hat S(t)`), ``ipa = 1 - brier / brier_null``.
    integrated_brier, integrated_brier_null : float
        Trapezoid over the horizons divided by :math:`t_K - t_1` (NaN with one
        horizon or a NaN Brier score).
    integrated_ipa : float
        ``1 - integrated_brier / integrated_brier_null``.
    n, events : int
        Patients and events.
    confidence_level : float
        Level of the intervals.
    """

    table: pd.DataFrame = field(repr=False, compare=False)
    integrated_brier: float
    integrated_brier_null: float
    integrated_ipa: float
    n: int
    events: int
    confidence_level: float

    def to_frame(self) -> pd.DataFrame:
        """The per-horizon table."""
        return self.table.copy()


def _brier_one(cz: _Censoring, surv: FloatArray, tau: float, g_left: FloatArray,
               f: FloatArray, mc_left: FloatArray, end: IntArray) -> tuple[float, float]:
    """Brier(tau) and its influence-function SE (riskRegression ``Brier.survival``)."""
    t, e = cz.time, cz.event
    n = float(cz.n)
    case = (t <= tau) & (e == 1)
    ctrl = t > tau
    g_tau = float(cz.g_at(np.array([tau]))[0]) if ctrl.any() else 1.0
    # risk = 1 - surv: a case contributes (1 - risk)^2 = surv^2, a control risk^2
    resid = np.where(case, surv**2 / g_left, np.where(ctrl, (1.0 - surv) ** 2 / g_tau, 0.0))
    brier = float(resid.sum() / n)
    ic0 = resid - resid.mean()
    if_tau = np.where(t <= tau, f, -cz.mc_at(tau))
    term_case = _sum_if_hazard(cz, np.where(case, resid, 0.0), f, mc_left, end) / n
    term_ctrl = float(resid[ctrl].sum()) / n * if_tau
    infl = ic0 + term_case + term_ctrl
    return brier, float(np.std(infl, ddof=1) / math.sqrt(n))


def _check_survival_prob(survival_prob: Any, n: int, k: int, caller: str) -> FloatArray:
    try:
        sp = np.asarray(survival_prob, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise param_error("survival_prob", caller, "an array of probabilities",
                          survival_prob) from exc
    if sp.ndim == 1 and k == 1:
        sp = sp[:, None]
    if sp.ndim != 2 or sp.shape != (n, k):
        raise param_error("survival_prob", caller,
                          f"of shape (n, len(times)) = ({n}, {k})", f"shape {sp.shape}")
    if not np.isfinite(sp).all():
        raise param_error("survival_prob", caller, "finite (no NaN or infinity)",
                          f"{int((~np.isfinite(sp)).sum())} non-finite value(s)")
    if ((sp < 0) | (sp > 1)).any():
        raise param_error("survival_prob", caller, "probabilities in [0, 1]",
                          f"{int(((sp < 0) | (sp > 1)).sum())} value(s) outside")
    return sp


def survival_brier(time: Any, event: Any, survival_prob: Any, times: Any, *,
                   confidence_level: float = 0.95) -> SurvivalBrierResult:
    r"""IPCW Brier score at time horizons, null-model Brier score, IPA, integrated Brier.

    Parameters
    ----------
    time, event : array-like of shape (n,)
        Follow-up time (>= 0) and event indicator (1/True = event).
    survival_prob : array-like of shape (n, len(times))
        Predicted probability of being event-free at each horizon (column k for
        ``times[k]``, in the order given); 1-d is accepted for one horizon.
    times : array-like
        Time horizons (> 0).  Must be distinct; the table is sorted by time.
    confidence_level : float, optional
        Level of the intervals of the model's Brier score.

    Returns
    -------
    SurvivalBrierResult

    Raises
    ------
    InputError
        Bad times, events, horizons or a ``survival_prob`` of the wrong shape or
        outside [0, 1].
    DataError
        Every observation is censored.

    Warns
    -----
    HorizonWarning
        Horizons beyond the maximum follow-up (NaN) or beyond the last event.

    Notes
    -----
    With predicted risk :math:`r_i(t) = 1 - \hat S_i(t)`,

    .. math::

        BS(t) = \frac1n \sum_i \left[\frac{I(T_i \le t, \delta_i = 1)\,
        (1 - r_i(t))^2}{\hat G(T_i-)} + \frac{I(T_i > t)\, r_i(t)^2}{\hat G(t)}\right],

    ``riskRegression::Score(list(risk_matrix), Hist(time, event) ~ 1,
    metrics = "brier", times = times)``.  The null model predicts the
    Kaplan-Meier :math:`\hat S(t)` for everyone (Score's "Null model" row);
    IPA :math:`= 1 - BS/BS_{null}` (Kattan & Gerds 2018).  The standard error is
    :math:`\mathrm{sd}(\phi)/\sqrt n` of the influence function including the
    censoring term (``conservative = FALSE``); the interval is clipped to
    [0, 1] as in Score.  The integrated Brier score is
    :math:`\int_{t_1}^{t_K} BS(t)\,dt / (t_K - t_1)` by the trapezoid rule over
    the given horizons (scikit-survival's ``integrated_brier_score``; use a
    fine grid of horizons for a faithful integral).
    """
    caller = "survival_brier"
    t, e = _check_surv(time, event, caller)
    try:
        h_in = np.asarray(times, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error("times", caller, "positive numbers", times) from exc
    h = _check_times(h_in, caller)
    if h.size != h_in.size:
        raise param_error("times", caller, "distinct horizons", times)
    sp = _check_survival_prob(survival_prob, t.size, h.size, caller)
    sp = sp[:, np.argsort(h_in, kind="stable")]
    level = check_confidence_level(confidence_level, caller=caller)
    _check_events(e, caller)
    _horizon_checks(h, t, e, caller)
    cz = _censoring(t, e)
    g_left, f = cz.g_left_rows(), cz.if_hazard_rows()
    mc_left, end = cz.mc_left_rows(), cz.group_end()
    km = _km_at(t, e, h)
    brier, se, null = (np.full(h.size, _NAN) for _ in range(3))
    for k, tau in enumerate(h):
        if tau > t.max():
            continue
        brier[k], se[k] = _brier_one(cz, sp[cz.order, k], float(tau), g_left, f,
                                     mc_left, end)
        null[k], _ = _brier_one(cz, np.full(cz.n, km[k]), float(tau), g_left, f,
                                mc_left, end)
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ipa = 1.0 - brier / null
    table = pd.DataFrame({"time": h, "brier": brier, "se": se,
                          "ci_low": np.maximum(0.0, brier - z * se),
                          "ci_high": np.minimum(1.0, brier + z * se),
                          "brier_null": null, "ipa": ipa})
    ib, ib0 = _integrate(h, brier), _integrate(h, null)
    return SurvivalBrierResult(table=table, integrated_brier=ib, integrated_brier_null=ib0,
                               integrated_ipa=1.0 - ib / ib0 if ib0 > 0 else _NAN,
                               n=int(t.size), events=int(e.sum()), confidence_level=level)


# ---------------------------------------------------------------------------------------
# Uno's C
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class UnoCResult(Result):
    r"""Uno's IPCW concordance (see :func:`uno_c`).

    Attributes
    ----------
    estimate : float
        :math:`C = (n_c + n_{tx}/2)/(n_c + n_d + n_{tx})` with each pair weighted by
        :math:`\hat G(T_i-)^{-2}` of its earlier event time.
    variance, se : float
        Infinitesimal-jackknife variance of C (``concordance(...)$var``) and its
        square root; the weights are treated as fixed, as in R.
    ci_low, ci_high : float
        ``estimate +- z se``, clipped to [0, 1].
    concordant, discordant, tied_score : float
        Weighted pair counts (``count`` of ``survival::concordance``).
    tau : float
        Truncation time (``ymax``); ``inf`` when not truncated.
    n, events : int
        Patients and events.
    confidence_level : float
        Level of the interval.
    """

    estimate: float
    variance: float
    se: float
    ci_low: float
    ci_high: float
    concordant: float
    discordant: float
    tied_score: float
    tau: float
    n: int
    events: int
    confidence_level: float


def _merge_counts(srank: IntArray, wt: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inversions of a sequence, counted from both ends, by a vectorised merge sort.

    For each position i: ``count[i] = #{j > i : s_j < s_i}`` and
    ``wsum[i] = sum(wt_j for j < i with s_j > s_i)``.  Each level of the bottom-up
    merge sort compares left and right halves of blocks with ``searchsorted``
    on (block, rank) keys, so the cost is O(n log^2 n) in numpy.
    """
    n = srank.size
    count = np.zeros(n)
    wsum = np.zeros(n)
    pos = np.arange(n, dtype=np.int64)
    big = int(srank.max()) + 2
    s64 = srank.astype(np.int64)
    h = 1
    while h < n:
        block = pos // (2 * h)
        left = (pos % (2 * h)) < h
        key = block * big + s64
        # right halves, sorted by key: count right elements below each left element
        rk = np.sort(key[~left])
        li = np.flatnonzero(left)
        count[li] += (np.searchsorted(rk, key[li], side="left")
                      - np.searchsorted(rk, block[li] * big, side="left"))
        # left halves, sorted by key, cumulative weights: weight above each right element
        lo = np.argsort(key[left], kind="stable")
        lk = key[left][lo]
        lw = np.concatenate(([0.0], np.cumsum(wt[left][lo])))
        ri = np.flatnonzero(~left)
        upto = np.searchsorted(lk, key[ri], side="right")
        block_end = np.searchsorted(lk, (block[ri] + 1) * big, side="left")
        wsum[ri] += lw[block_end] - lw[upto]
        h *= 2
    return count, wsum


def _weighted_concordance(t: FloatArray, e: FloatArray, s: FloatArray, w_event: FloatArray
                          ) -> tuple[float, float, float, float]:
    """Weighted concordance counts and IJ variance, as ``survival::concordancefit``.

    A pair (i, j) is comparable when i has an event and j is still at risk after
    it (``T_j > T_i``, or ``T_j = T_i`` with j censored); its weight is
    ``w_event[i]``.  Concordant when ``s_i > s_j`` (higher score, earlier event).
    Returns (concordant, discordant, tied_score, variance of C).
    """
    n = t.size
    # position key: (time, censored after events); comparable <=> key_j > key_i
    pkey = np.lexsort((1.0 - e, t))
    pos_rank = np.empty(n, dtype=np.int64)
    tk = np.stack([t[pkey], 1.0 - e[pkey]], axis=1)
    new = np.ones(n, dtype=bool)
    new[1:] = (tk[1:] != tk[:-1]).any(axis=1)
    pos_rank[pkey] = np.cumsum(new) - 1
    _, srank = np.unique(s, return_inverse=True)
    srank = srank.astype(np.intp)
    w = np.where(e == 1, w_event, 0.0)
    # concordant: order by (position, score asc) so tied positions never count
    o1 = np.lexsort((srank, pos_rank))
    c_e, c_l = _merge_counts(srank[o1], w[o1])
    # discordant: order by (position, score desc)
    o2 = np.lexsort((-srank, pos_rank))
    d_e, d_l = _merge_counts(-srank[o2] + int(srank.max()), w[o2])
    conc_e, conc_l = np.empty(n), np.empty(n)
    disc_e, disc_l = np.empty(n), np.empty(n)
    conc_e[o1], conc_l[o1] = c_e, c_l
    disc_e[o2], disc_l[o2] = d_e, d_l
    # comparable: everyone at a later position (as earlier member), weight of earlier events
    n_pos = int(pos_rank.max()) + 1
    per_pos = np.bincount(pos_rank, minlength=n_pos).astype(np.float64)
    w_pos = np.bincount(pos_rank, weights=w, minlength=n_pos)
    comp_e = per_pos[::-1].cumsum()[::-1][pos_rank] - per_pos[pos_rank]
    comp_l = np.cumsum(w_pos)[pos_rank] - w_pos[pos_rank]
    tie_e = comp_e - conc_e - disc_e
    tie_l = comp_l - conc_l - disc_l
    i_conc = w * conc_e + conc_l
    i_disc = w * disc_e + disc_l
    i_tie = w * tie_e + tie_l
    nc = float((w * conc_e).sum())
    nd = float((w * disc_e).sum())
    nt = float((w * tie_e).sum())
    npair = nc + nd + nt
    if npair <= 0:
        return nc, nd, nt, _NAN
    somer = (nc - nd) / npair
    dfbeta = (i_conc - i_disc) / npair - somer / npair * (i_conc + i_disc + i_tie)
    return nc, nd, nt, float(np.sum(dfbeta**2) / 4.0)


def uno_c(time: Any, event: Any, score: Any, *, tau: float | None = None,
          confidence_level: float = 0.95) -> UnoCResult:
    r"""Uno's concordance index (IPCW C-statistic) with its standard error.

    Parameters
    ----------
    time, event : array-like of shape (n,)
        Follow-up time (>= 0) and event indicator (1/True = event).
    score : array-like of shape (n,)
        Risk score (higher = earlier event), e.g. a Cox linear predictor or a
        predicted risk at a horizon.
    tau : float, optional
        Truncation time: only pairs whose earlier event is at or before ``tau``
        count (R ``ymax = tau``).  Default: no truncation.
    confidence_level : float, optional
        Level of the Wald interval.

    Returns
    -------
    UnoCResult

    Raises
    ------
    InputError
        Bad times, events or scores, or a non-positive ``tau``.
    DataError
        Every observation is censored.

    Notes
    -----
    .. math::

        \hat C_\tau = \frac{\sum_{i \ne j} \delta_i \hat G(T_i-)^{-2}
        I(T_i < T_j, T_i \le \tau) \{I(s_i > s_j) + \tfrac12 I(s_i = s_j)\}}
        {\sum_{i \ne j} \delta_i \hat G(T_i-)^{-2} I(T_i < T_j, T_i \le \tau)},

    where a patient censored at the time of an event counts as still at risk and
    pairs of tied event times are not comparable.  Equal to
    ``survival::concordance(Surv(time, event) ~ score, reverse = TRUE,
    timewt = "n/G2", ymax = tau)``, including its infinitesimal-jackknife
    variance (which does not include the variability of :math:`\hat G`).  With
    fewer than two events R falls back to unit weights, and so does this
    function.  R's ``timefix`` (merging times that differ by rounding error) is
    not applied.  Computed in :math:`O(n \log^2 n)`.
    """
    caller = "uno_c"
    t, e = _check_surv(time, event, caller)
    s = check_scores(score, caller=caller, param="score")
    if s.size != t.size:
        msg = (f"The arrays passed to {caller} must have the same length. "
               f"Got time={t.size}, score={s.size} instead.")
        raise InputError(msg)
    level = check_confidence_level(confidence_level, caller=caller)
    if tau is not None and not _is_positive_number(tau):
        raise param_error("tau", caller, "a positive number or None", tau)
    _check_events(e, caller)
    cz = _censoring(t, e)
    if e.sum() >= 2:
        w_event = 1.0 / cz.g_left_rows() ** 2
    else:
        w_event = np.ones(t.size)
    if tau is not None:
        w_event = np.where(cz.time > float(tau), 0.0, w_event)
    nc, nd, nt, var = _weighted_concordance(cz.time, cz.event, s[cz.order], w_event)
    npair = nc + nd + nt
    if npair <= 0:
        warnings.warn(f"{caller}: no comparable pairs; C is undefined",
                      UndefinedMetricWarning, stacklevel=2)
    est = (nc + 0.5 * nt) / npair if npair > 0 else _NAN
    se = math.sqrt(var) if math.isfinite(var) else _NAN
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    return UnoCResult(estimate=est, variance=var, se=se,
                      ci_low=max(0.0, est - z * se), ci_high=min(1.0, est + z * se),
                      concordant=nc, discordant=nd, tied_score=nt,
                      tau=float(tau) if tau is not None else math.inf,
                      n=int(t.size), events=int(e.sum()), confidence_level=level)
