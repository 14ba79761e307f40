r"""Calibration of predicted risks of a time-to-event outcome at a horizon.

:func:`survival_calibration` compares predicted risks :math:`\hat r_i(t)` (the
probability of the event by the horizon :math:`t`) with what happened:

* **grouped**: quantile groups of the predicted risk; per group the mean
  predicted risk and the observed Kaplan-Meier risk :math:`1 - \hat S(t)` with
  its log-transformed Greenwood interval;
* **flexible curve** (Austin, Harrell & van Klaveren 2020): a Cox model of the
  outcome on a restricted cubic spline of :math:`\mathrm{cloglog}(\hat r)`; its
  predicted risk at :math:`t` for each patient is the "observed" risk of patients
  with that predicted risk.  ICI, E50, E90 and Emax summarise
  :math:`|\text{observed} - \text{predicted}|`;
* **calibration slope**: the Cox coefficient of :math:`\mathrm{cloglog}(\hat r)`
  (ideal 1; < 1 means predictions too extreme);
* **O/E**: observed Kaplan-Meier risk over the mean predicted risk.

The follow-up is administratively censored at the horizon for the curve and the
slope (events after :math:`t` do not inform calibration at :math:`t`), as in
McLernon et al. (2023).  Under proportional hazards,
:math:`\mathrm{cloglog}\{1 - S(t \mid x)\} = \log \Lambda_0(t) + x^\top\beta`, so
the cloglog of a risk at :math:`t` plays the role of the linear predictor and
predictions from any model (not only Cox) can be assessed.

References
----------
Austin PC, Harrell FE Jr, van Klaveren D. Graphical calibration curves and the
integrated calibration index (ICI) for survival models. Stat Med
2020;39:2714-2742.
McLernon DJ, Giardiello D, Van Calster B, Wynants L, van Geloven N, van Smeden M,
Therneau T, Steyerberg EW. Assessing performance and clinical usefulness in
prediction models with survival outcomes: practical guidance for Cox proportional
hazards models. Ann Intern Med 2023;176:105-114.
Harrell FE Jr. Regression Modeling Strategies, 2nd ed. Springer 2015, section 2.4.6
(restricted cubic splines, default knot quantiles).
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
from radval._validation import (
    check_confidence_level,
    check_positive_int,
    check_probabilities,
    param_error,
)
from radval.exceptions import DataError, HorizonWarning, InputError, UndefinedMetricWarning
from radval.stats._calibration import _risk_groups, quantile_type7
from radval.stats._survival import _check_surv, cox_ph

__all__ = ["SurvivalCalibrationResult", "survival_calibration"]

FloatArray = npt.NDArray[np.float64]
_NAN = float("nan")
#: Harrell's default knot quantiles for 3-7 knots (RMS 2nd ed., Table 2.3).
_KNOT_QUANTILES = {3: (0.10, 0.50, 0.90), 4: (0.05, 0.35, 0.65, 0.95),
                   5: (0.05, 0.275, 0.50, 0.725, 0.95),
                   6: (0.05, 0.23, 0.41, 0.59, 0.77, 0.95),
                   7: (0.025, 0.1833, 0.3417, 0.50, 0.6583, 0.8167, 0.975)}


@dataclass(frozen=True, kw_only=True)
class SurvivalCalibrationResult(Result):
    r"""Calibration at a horizon (see :func:`survival_calibration`).

    Attributes
    ----------
    horizon : float
        The time horizon :math:`t`.
    observed_risk, mean_predicted : float
        Kaplan-Meier risk :math:`1 - \hat S(t)` and the mean predicted risk.
    o_e_ratio, o_e_ci_low, o_e_ci_high : float
        ``observed_risk / mean_predicted`` and its interval
        :math:`O/E \cdot \exp(\pm z\, \hat S\sigma/(1 - \hat S))`, :math:`\sigma`
        the Greenwood standard error of :math:`\log \hat S(t)` (delta method).
    slope, slope_se, slope_ci_low, slope_ci_high : float
        Cox coefficient of :math:`\mathrm{cloglog}(\hat r)` (follow-up censored at
        the horizon, Efron ties), its standard error and Wald interval.
    ici, e50, e90, emax : float
        Mean, median, 90th percentile (type 7) and maximum of
        :math:`|\text{observed}_i - \hat r_i|` over patients, from the flexible curve.
    knots : list of float
        Spline knots on the cloglog scale.
    n, events : int
        Patients, and events at or before the horizon.
    n_model : int
        Patients with :math:`0 < \hat r < 1` used for the slope and the curve.
    confidence_level : float
        Level of the intervals.
    grouped : pandas.DataFrame
        ``group, n, events, mean_predicted, observed, ci_low, ci_high`` (risk
        groups of the predicted risk, Kaplan-Meier risk at the horizon per group,
        NaN when a group's follow-up ends before the horizon).
    curve : pandas.DataFrame
        ``predicted, observed``: the flexible curve, one row per distinct
        predicted risk.
    """

    horizon: float
    observed_risk: float
    mean_predicted: float
    o_e_ratio: float
    o_e_ci_low: float
    o_e_ci_high: float
    slope: float
    slope_se: float
    slope_ci_low: float
    slope_ci_high: float
    ici: float
    e50: float
    e90: float
    emax: float
    knots: list[float]
    n: int
    events: int
    n_model: int
    confidence_level: float
    grouped: pd.DataFrame = field(repr=False, compare=False)
    curve: pd.DataFrame = field(repr=False, compare=False)


def _km_horizon(t: FloatArray, e: FloatArray, horizon: float) -> tuple[float, float]:
    """Kaplan-Meier :math:`\\hat S(t)` and the Greenwood SE of :math:`\\log \\hat S(t)`.

    NaN when the follow-up ends before the horizon (R ``survfit`` extends the
    curve only up to the last time).
    """
    if t.size == 0 or horizon > t.max():
        return _NAN, _NAN
    utime, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=utime.size)
    y = np.bincount(inv, minlength=utime.size)[::-1].cumsum()[::-1].astype(np.float64)
    keep = utime <= horizon
    d, y = d[keep], y[keep]
    surv = float(np.prod(1.0 - d / y))
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(d > 0, d / (y * (y - d)), 0.0)
    return surv, float(math.sqrt(inc.sum())) if surv > 0 else _NAN


def _rcs_basis(x: FloatArray, knots: FloatArray) -> FloatArray:
    """Restricted cubic spline basis ``[x, s_1, ..., s_{k-2}]`` (``rcspline.eval``, norm 2)."""
    k = knots.size
    cols = [x]
    scale = (knots[-1] - knots[0]) ** 2
    tk, tk1 = knots[-1], knots[-2]

    def cube(v: FloatArray) -> FloatArray:
        return np.maximum(v, 0.0) ** 3

    for j in range(k - 2):
        tj = knots[j]
        cols.append((cube(x - tj) - cube(x - tk1) * (tk - tj) / (tk - tk1)
                     + cube(x - tk) * (tk1 - tj) / (tk - tk1)) / scale)
    return np.column_stack(cols)


def _knots(cll: FloatArray, n_knots: int) -> FloatArray:
    knots = np.unique(quantile_type7(cll, np.array(_KNOT_QUANTILES[n_knots])))
    return knots if knots.size >= 3 else np.zeros(0)


def survival_calibration(time: Any, event: Any, risk: Any, horizon: float, *,
                         n_groups: int = 10, n_knots: int = 3,
                         confidence_level: float = 0.95) -> SurvivalCalibrationResult:
    r"""Calibration of predicted event risks at a time horizon.

    Parameters
    ----------
    time, event : array-like of shape (n,)
        Follow-up time (>= 0) and event indicator (1/True = event).
    risk : array-like of shape (n,)
        Predicted probability of the event by ``horizon`` (in [0, 1]).
    horizon : float
        Time horizon (> 0), in the unit of ``time``.
    n_groups : int, optional
        Number of quantile groups of the predicted risk (R
        ``cut(risk, unique(quantile(risk, seq(0, 1, 1/g))), include.lowest = TRUE)``,
        as :func:`radval.stats.calibration`).
    n_knots : int, optional
        Knots (3 to 7) of the restricted cubic spline of the flexible curve, placed
        at Harrell's default quantiles of :math:`\mathrm{cloglog}(\hat r)`; with
        fewer than 3 distinct knots the curve is linear in the cloglog.
    confidence_level : float, optional
        Level of the intervals.

    Returns
    -------
    SurvivalCalibrationResult

    Raises
    ------
    InputError
        Bad times, events, risks outside [0, 1], a non-positive horizon.
    DataError
        Every observation is censored, or no event at or before the horizon.

    Warns
    -----
    HorizonWarning
        The horizon is beyond the maximum follow-up (everything NaN) or beyond
        the last event.
    ConvergenceWarning
        A Cox fit did not converge.

    Notes
    -----
    With :math:`c_i = \log\{-\log(1 - \hat r_i)\}` and the follow-up censored at
    :math:`t` (:math:`T^*_i = \min(T_i, t)`, :math:`\delta^*_i = \delta_i
    I(T_i \le t)`):

    * slope: :math:`\hat\gamma` of ``coxph(Surv(T*, delta*) ~ c)``;
    * curve: ``coxph(Surv(T*, delta*) ~ rcs(c, knots))``, observed risk
      :math:`1 - \exp\{-\hat\Lambda_0(t) e^{f(c_i)}\}` with the Efron baseline
      hazard (``survfit``), Austin et al. (2020);
    * groups and O/E: Kaplan-Meier at :math:`t` (all follow-up).

    Patients with :math:`\hat r \in \{0, 1\}` (infinite cloglog) are left out of
    the slope and the curve (``n_model``).
    """
    caller = "survival_calibration"
    t, e = _check_surv(time, event, caller)
    r = check_probabilities(risk, caller=caller, param="risk")
    if r.size != t.size:
        msg = (f"The arrays passed to {caller} must have the same length. "
               f"Got time={t.size}, risk={r.size} instead.")
        raise InputError(msg)
    if isinstance(horizon, bool) or not isinstance(horizon, int | float | np.integer
                                                   | np.floating) \
            or not math.isfinite(float(horizon)) or horizon <= 0:
        raise param_error("horizon", caller, "a positive number", horizon)
    h = float(horizon)
    groups = check_positive_int(n_groups, caller=caller, param="n_groups", minimum=2)
    if isinstance(n_knots, bool) or n_knots not in _KNOT_QUANTILES:
        raise param_error("n_knots", caller, "an integer from 3 to 7", n_knots)
    level = check_confidence_level(confidence_level, caller=caller)
    if e.sum() == 0:
        raise DataError(f"{caller}: every observation is censored (no events); "
                        "calibration is undefined.")
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    t_max, t_ev = float(t.max()), float(t[e == 1].max())
    if h > t_max:
        warnings.warn(f"{caller}: horizon {h:g} exceeds the maximum follow-up ({t_max:g}); "
                      "nothing can be estimated there (NaN). Are the times in days when the "
                      "study says months?", HorizonWarning, stacklevel=2)
    elif h > t_ev:
        warnings.warn(f"{caller}: horizon {h:g} lies beyond the last event (time "
                      f"{t_ev:g}); the observed risk uses no event after it.",
                      HorizonWarning, stacklevel=2)
    e_h = np.where(t <= h, e, 0.0)
    if h <= t_max and e_h.sum() == 0:
        raise DataError(f"{caller}: no event at or before the horizon {h:g}; "
                        "calibration at this horizon is undefined.")

    # overall: observed Kaplan-Meier risk, O/E with a delta-method interval
    surv, sig = _km_horizon(t, e, h)
    observed = 1.0 - surv
    mean_pred = float(r.mean())
    oe = observed / mean_pred if mean_pred > 0 else _NAN
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log_oe = surv * sig / observed if observed > 0 else _NAN
    oe_lo, oe_hi = oe * math.exp(-z * se_log_oe), oe * math.exp(z * se_log_oe)

    grouped = _grouped(t, e, e_h, r, h, groups, z)
    if h > t_max:
        nan_curve = pd.DataFrame({"predicted": np.unique(r), "observed": _NAN})
        return SurvivalCalibrationResult(
            horizon=h, observed_risk=_NAN, mean_predicted=mean_pred, o_e_ratio=_NAN,
            o_e_ci_low=_NAN, o_e_ci_high=_NAN, slope=_NAN, slope_se=_NAN,
            slope_ci_low=_NAN, slope_ci_high=_NAN, ici=_NAN, e50=_NAN, e90=_NAN,
            emax=_NAN, knots=[], n=int(t.size), events=0, n_model=0,
            confidence_level=level, grouped=grouped, curve=nan_curve)

    # slope and flexible curve on the follow-up censored at the horizon
    inside = (r > 0.0) & (r < 1.0)
    t_h = np.minimum(t, h)[inside]
    d_h = e_h[inside]
    rr = r[inside]
    cll = np.log(-np.log1p(-rr))
    knots = _knots(cll, n_knots)
    basis = _rcs_basis(cll, knots) if knots.size else cll[:, None]
    try:
        slope_fit = cox_ph(t_h, d_h, cll)
        slope, slope_se = float(slope_fit.coef[0]), float(slope_fit.se[0])
        curve_fit = cox_ph(t_h, d_h, basis)
        obs_i = 1.0 - curve_fit.predict_survival(basis, [h])[:, 0]
    except DataError as exc:
        # e.g. a single event before the horizon: the Cox fits are singular
        warnings.warn(f"{caller}: calibration slope and curve undefined ({exc})",
                      UndefinedMetricWarning, stacklevel=2)
        slope = slope_se = _NAN
        obs_i = np.full(rr.size, _NAN)
    diff = np.abs(obs_i - rr)
    order = np.argsort(rr, kind="stable")
    first = np.concatenate(([True], rr[order][1:] != rr[order][:-1]))
    curve = pd.DataFrame({"predicted": rr[order][first], "observed": obs_i[order][first]})
    return SurvivalCalibrationResult(
        horizon=h, observed_risk=observed, mean_predicted=mean_pred, o_e_ratio=oe,
        o_e_ci_low=oe_lo, o_e_ci_high=oe_hi, slope=slope, slope_se=slope_se,
        slope_ci_low=slope - z * slope_se, slope_ci_high=slope + z * slope_se,
        ici=float(diff.mean()), e50=float(np.median(diff)),
        e90=float(quantile_type7(diff, [0.9])[0]), emax=float(diff.max()),
        knots=[float(k) for k in knots], n=int(t.size), events=int(e_h.sum()),
        n_model=int(inside.sum()), confidence_level=level, grouped=grouped, curve=curve)


def _grouped(t: FloatArray, e: FloatArray, e_h: FloatArray, r: FloatArray, h: float,
             n_groups: int, z: float) -> pd.DataFrame:
    _, bins = _risk_groups(r, n_groups)
    rows = []
    for g in np.unique(bins):
        m = bins == g
        surv, sig = _km_horizon(t[m], e[m], h)
        if math.isfinite(sig):
            lo_s, hi_s = surv * math.exp(-z * sig), min(surv * math.exp(z * sig), 1.0)
        else:
            lo_s = hi_s = _NAN
        rows.append({"group": int(g) + 1, "n": int(m.sum()), "events": int(e_h[m].sum()),
                     "mean_predicted": float(r[m].mean()), "observed": 1.0 - surv,
                     "ci_low": 1.0 - hi_s, "ci_high": 1.0 - lo_s})
    return pd.DataFrame(rows, columns=["group", "n", "events", "mean_predicted", "observed",
                                       "ci_low", "ci_high"])
