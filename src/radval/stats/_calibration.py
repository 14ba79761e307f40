"""Calibration of predicted probabilities: rms ``val.prob`` statistics and Hosmer-Lemeshow.

``calibration`` reproduces the calibration part of R's ``rms::val.prob(p, y)``
(logistic recalibration intercept and slope, Brier score, Emax/E90/Eavg from R's
``lowess``, Spiegelhalter's z) and adds calibration-in-the-large, the observed /
expected ratio, standard errors and Wald intervals, and curve data for plots.
``hosmer_lemeshow`` equals ``ResourceSelection::hoslem.test``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval._validation import (
    check_binary,
    check_choice,
    check_confidence_level,
    check_consistent_length,
    check_positive_int,
    check_probabilities,
    param_error,
)
from radval.exceptions import (
    ConvergenceWarning,
    DataError,
    SmallSampleWarning,
    UndefinedMetricWarning,
)
from radval.stats._kernels import logistic_newton, logit, wilson_interval
from radval.stats._lowess import lowess

__all__ = ["CalibrationResult", "HosmerLemeshowResult", "calibration", "hosmer_lemeshow",
           "quantile_type7"]

FloatArray = npt.NDArray[np.float64]
_NAN = float("nan")


def _sqrt_or_nan(v: float) -> float:
    """Square root of a variance; NaN when the information matrix was singular.

    Under (quasi-)separation the Newton iterations push the inverse information
    matrix to non-finite or negative diagonal values; the standard error is then
    undefined, not an error.
    """
    return math.sqrt(v) if math.isfinite(v) and v >= 0.0 else _NAN



# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def quantile_type7(x: Any, probs: Any) -> FloatArray:
    """R's ``quantile(x, probs, type=7)``, following R's arithmetic.

    ``index = (n-1) p``; ``q = x[lo]``, replaced by ``(1-h) x[lo] + h x[hi]``
    only where ``index > lo`` and ``x[hi] != x[lo]`` (so data values are hit
    exactly, which matters for the Hosmer-Lemeshow breaks).
    """
    xs = np.sort(np.asarray(x, dtype=np.float64))
    pr = np.atleast_1d(np.asarray(probs, dtype=np.float64))
    n = xs.size
    index = max(n - 1, 0) * pr
    lo = np.floor(index).astype(np.int64)
    hi = np.ceil(index).astype(np.int64)
    qs = xs[lo].copy()
    i = (index > lo) & (xs[hi] != qs)
    h = (index - lo)[i]
    qs[i] = (1.0 - h) * qs[i] + h * xs[hi[i]]
    return qs


def _r_seq_probs(g: int) -> FloatArray:
    """``seq(0, 1, 1/g)`` as R computes it (``from + (0:n) * by``, capped at ``to``)."""
    return np.minimum(np.arange(g + 1, dtype=np.float64) * (1.0 / g), 1.0)


def _risk_groups(p: FloatArray, g: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Breaks ``unique(quantile(p, seq(0, 1, 1/g)))`` and 0-based right-closed bins.

    As R's ``cut(p, breaks, include.lowest=TRUE)``: intervals (b_j, b_{j+1}], the
    first one closed on the left as well.
    """
    breaks = np.unique(quantile_type7(p, _r_seq_probs(g)))
    bins = np.searchsorted(breaks, p, side="left") - 1
    bins[p == breaks[0]] = 0
    return breaks, bins.astype(np.int64)


def grouped_calibration(y: FloatArray, p: FloatArray, *, n_groups: int = 10,
                        confidence_level: float = 0.95) -> pd.DataFrame:
    """The grouped calibration curve: quantile groups of predicted risk (R ``cut`` at
    ``quantile(p, seq(0, 1, 1/g))``, as ``hoslem.test``), mean predicted risk, observed
    proportion and its Wilson interval per non-empty group.

    Returns
    -------
    DataFrame
        ``group, mean_predicted, observed, ci_low, ci_high, n``.
    """
    breaks, bins = _risk_groups(p, n_groups)
    n_bins = breaks.size - 1 if breaks.size > 1 else 1
    if breaks.size == 1:
        bins = np.zeros(p.size, dtype=np.int64)
    cnt = np.bincount(bins, minlength=n_bins).astype(np.float64)
    obs = np.asarray(np.bincount(bins, weights=y, minlength=n_bins), dtype=np.float64)
    pred = np.bincount(bins, weights=p, minlength=n_bins)
    keep = cnt > 0
    lo, hi = wilson_interval(obs[keep], cnt[keep], confidence_level=confidence_level)
    return pd.DataFrame({
        "group": np.flatnonzero(keep) + 1,
        "mean_predicted": pred[keep] / cnt[keep],
        "observed": obs[keep] / cnt[keep],
        "ci_low": lo, "ci_high": hi,
        "n": cnt[keep].astype(np.int64),
    })


# ---------------------------------------------------------------------------------------
# calibration
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CalibrationResult(Result):
    """Calibration statistics of predicted probabilities (see :func:`calibration`).

    Attributes
    ----------
    intercept, slope : float
        Logistic recalibration ``logit P(y=1) = a + b logit(p)`` (rms ``val.prob``
        "Intercept" and "Slope"; ideal 0 and 1).
    citl : float
        Calibration-in-the-large: ``a`` in ``logit P(y=1) = a + logit(p)`` (slope
        fixed at 1; ideal 0; > 0 means risks are underestimated).
    intercept_se, slope_se, citl_se : float
        Standard errors from the inverse Fisher information.
    intercept_ci_low, intercept_ci_high, slope_ci_low, slope_ci_high, citl_ci_low, \
citl_ci_high : float
        Wald confidence intervals (estimate +- z se, as R ``confint.default``).
    brier : float
        Mean squared error ``mean((p - y)^2)``.
    emax, e90, eavg : float
        Max, 90th percentile (type 7) and mean of ``|p - smoothed|`` with R's
        ``lowess(p, y, iter=0)`` (as ``val.prob``).
    ici : float
        Integrated calibration index, **lowess-based**: mean ``|p - smoothed|``
        with the same lowess smoother (so equal to ``eavg``); Austin & Steyerberg
        (2019) used ``loess`` (span 0.75, degree 2), which gives slightly
        different values.
    spiegelhalter_z, spiegelhalter_p : float
        Spiegelhalter's z test (``val.prob`` "S:z", "S:p").
    o_e_ratio : float
        Observed / expected events, ``sum(y) / sum(p)``.
    n, events : int
        Observations and events.
    n_logistic : int
        Observations used in the logistic fits (those with 0 < p < 1).
    converged : bool
        The logistic recalibration fits converged.  ``False`` under separation (the
        predictions order the outcomes perfectly): the maximum-likelihood intercept and
        slope do not exist and the values returned are where the iteration stopped.
    confidence_level : float
        Level of the Wald and Wilson intervals.
    grouped : pandas.DataFrame
        Risk groups (quantile groups of ``p``): ``group, mean_predicted, observed,
        ci_low, ci_high, n`` with Wilson intervals for the observed proportion.
    smooth : pandas.DataFrame
        The lowess curve, ``predicted, observed``, one row per distinct ``p``.
    """

    intercept: float
    slope: float
    citl: float
    intercept_se: float
    slope_se: float
    citl_se: float
    intercept_ci_low: float
    intercept_ci_high: float
    slope_ci_low: float
    slope_ci_high: float
    citl_ci_low: float
    citl_ci_high: float
    brier: float
    emax: float
    e90: float
    eavg: float
    ici: float
    spiegelhalter_z: float
    spiegelhalter_p: float
    o_e_ratio: float
    n: int
    events: int
    n_logistic: int
    confidence_level: float
    converged: bool = True
    grouped: pd.DataFrame = field(repr=False, compare=False)
    smooth: pd.DataFrame = field(repr=False, compare=False)


def _spiegelhalter(y: FloatArray, p: FloatArray) -> tuple[float, float]:
    from scipy.special import ndtr

    num = float(np.sum((y - p) * (1.0 - 2.0 * p)))
    den = float(np.sum((1.0 - 2.0 * p) * (1.0 - 2.0 * p) * p * (1.0 - p)))
    if den <= 0.0:
        return _NAN, _NAN
    z = num / math.sqrt(den)
    return z, float(2.0 * ndtr(-abs(z)))


def _smooth_errors(p: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """lowess(p, y, iter=0) evaluated at every p (val.prob's ``approx(ties=mean)``)."""
    xs, fit = lowess(p, y, iter=0)
    # approx(Sm, xout = p, ties = mean): lowess gives tied x identical fits, so
    # the mean over a tie is its first value, and approx at a knot returns it.
    uniq, first = np.unique(xs, return_index=True)
    curve = fit[first]
    cal = curve[np.searchsorted(uniq, p)]
    return cal, uniq, curve


def calibration(y_true: Any, y_prob: Any, *, n_groups: int = 10, smoother: str = "lowess",
                confidence_level: float = 0.95) -> CalibrationResult:
    r"""Calibration of predicted probabilities against observed binary outcomes.

    Parameters
    ----------
    y_true : array-like
        0/1 outcomes (1 = event).
    y_prob : array-like
        Predicted probabilities in [0, 1].
    n_groups : int, optional
        Number of risk groups (quantiles of ``y_prob``) for the ``grouped`` curve.
    smoother : {"lowess"}, optional
        Smoother for Emax/E90/Eavg/ICI and the ``smooth`` curve: R's
        ``lowess(p, y, iter=0)`` (f = 2/3, delta = 1% of the range of p).
    confidence_level : float, optional
        Level of the Wald intervals of intercept/slope/CITL and of the Wilson
        intervals of the grouped curve.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    InputError
        ``y_true`` not binary or with one class, probabilities outside [0, 1],
        NaN, length mismatch.

    Warns
    -----
    UndefinedMetricWarning
        Probabilities exactly 0 or 1 (dropped from the logistic fits, as in
        ``val.prob``), or a single distinct probability (intercept/slope NaN).
    ConvergenceWarning
        The logistic fit did not converge (e.g. separation).

    Notes
    -----
    With :math:`L = \operatorname{logit}(p)` over the observations with
    :math:`0 < p < 1`:

    * recalibration: :math:`\operatorname{logit} P(y=1) = a + b L` by maximum
      likelihood (Newton-Raphson to a relative step of 1e-12); ``intercept = a``,
      ``slope = b`` (``val.prob`` fits the same model with ``lrm.fit``, whose
      default convergence criterion (change in -2 log L < 0.025) is looser, so
      rms agrees to about 1e-9 relative here);
    * CITL: :math:`\operatorname{logit} P(y=1) = a + L` (offset), as
      ``glm(y ~ offset(L), family=binomial)``;
    * Spiegelhalter: :math:`z = \sum (y-p)(1-2p) / \sqrt{\sum (1-2p)^2 p(1-p)}`,
      two-sided normal p;
    * Emax, E90, Eavg: :math:`e_i = |p_i - s(p_i)|` with :math:`s` the
      ``lowess(p, y, iter=0)`` fit (this port matches R's to ~1e-14); max,
      type-7 90% quantile and mean of :math:`e` over all observations.

    If every probability is the same, the recalibration model is not identified:
    ``intercept``/``slope`` are NaN with a warning (``val.prob`` then reports
    ``qlogis(mean(y))`` and 0, and Emax = 0, which is inconsistent with its own
    Eavg; here Emax = E90 = Eavg = \|p - mean(y)\|).

    References
    ----------
    Harrell FE. rms: ``val.prob``.  Van Calster B et al. A calibration hierarchy
    for risk models was defined. J Clin Epidemiol 2016;74:167-176.
    Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI). Stat Med
    2019;38:4051-4065.  Spiegelhalter DJ. Stat Med 1986;5:421-433.

    Examples
    --------
    >>> import numpy as np
    >>> from radval.stats._calibration import calibration
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 500)
    >>> y = (rng.uniform(size=500) < p).astype(int)
    >>> res = calibration(y, p)
    >>> bool(abs(res.slope - 1) < 0.5)
    True
    """
    caller = "calibration"
    y = check_binary(y_true, caller=caller).astype(np.float64)
    p = check_probabilities(y_prob, caller=caller)
    check_consistent_length(caller, y_true=y, y_prob=p)
    groups = check_positive_int(n_groups, caller=caller, param="n_groups", minimum=2)
    check_choice(smoother, ("lowess",), caller=caller, param="smoother")
    level = check_confidence_level(confidence_level, caller=caller)
    from scipy.special import ndtri

    zq = float(ndtri(1.0 - (1.0 - level) / 2.0))
    n = int(y.size)
    events = int(y.sum())

    inner = (p > 0.0) & (p < 1.0)
    n_drop = int((~inner).sum())
    if n_drop:
        warnings.warn(f"calibration: {n_drop} observation(s) with a probability of exactly 0 "
                      "or 1 were dropped from the logistic calibration (as rms val.prob).",
                      UndefinedMetricWarning, stacklevel=2)
    yl = y[inner]
    lp = np.asarray(logit(p[inner]), dtype=np.float64)
    nan6 = (_NAN,) * 6
    a = b = a_se = b_se = c = c_se = _NAN
    converged = True
    if yl.size == 0 or yl.min() == yl.max():
        warnings.warn("calibration: the observations with 0 < p < 1 hold a single outcome "
                      "class; intercept, slope and CITL are undefined (NaN).",
                      UndefinedMetricWarning, stacklevel=2)
    else:
        ones = np.ones((yl.size, 1))
        citl_fit = logistic_newton(ones, yl, offset=lp, start=np.zeros(1))
        c, c_se = float(citl_fit.coef[0]), _sqrt_or_nan(float(citl_fit.cov[0, 0]))
        fits = [citl_fit]
        if np.unique(lp).size < 2:
            warnings.warn("calibration: all probabilities are equal; the recalibration "
                          "intercept and slope are undefined (NaN).", UndefinedMetricWarning,
                          stacklevel=2)
        else:
            design = np.column_stack([np.ones(yl.size), lp])
            recal = logistic_newton(design, yl, start=np.array([0.0, 1.0]))
            fits.append(recal)
            a, b = (float(v) for v in recal.coef)
            a_se, b_se = (_sqrt_or_nan(float(v)) for v in np.diag(recal.cov))
        converged = all(f.converged for f in fits)
        if not converged:
            warnings.warn("calibration: the logistic recalibration did not converge "
                          "(separation?); intercept/slope/CITL are unreliable.",
                          ConvergenceWarning, stacklevel=2)
    cis = nan6 if math.isnan(c) else (a - zq * a_se, a + zq * a_se, b - zq * b_se,
                                      b + zq * b_se, c - zq * c_se, c + zq * c_se)

    cal, curve_x, curve_y = _smooth_errors(p, y)
    er = np.abs(p - cal)
    z, zp = _spiegelhalter(y, p)
    sum_p = float(p.sum())

    grouped = grouped_calibration(y, p, n_groups=groups, confidence_level=level)
    smooth = pd.DataFrame({"predicted": curve_x, "observed": curve_y})
    eavg = float(np.mean(er))
    return CalibrationResult(
        intercept=a, slope=b, citl=c, intercept_se=a_se, slope_se=b_se, citl_se=c_se,
        intercept_ci_low=cis[0], intercept_ci_high=cis[1], slope_ci_low=cis[2],
        slope_ci_high=cis[3], citl_ci_low=cis[4], citl_ci_high=cis[5],
        brier=float(np.mean((p - y) ** 2)), emax=float(np.max(er)),
        e90=float(quantile_type7(er, 0.9)[0]), eavg=eavg, ici=eavg,
        spiegelhalter_z=z, spiegelhalter_p=zp,
        o_e_ratio=events / sum_p if sum_p > 0 else _NAN,
        n=n, events=events, n_logistic=int(yl.size), confidence_level=level,
        converged=converged,
        grouped=grouped, smooth=smooth,
    )


# ---------------------------------------------------------------------------------------
# Hosmer-Lemeshow
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class HosmerLemeshowResult(Result):
    """Hosmer-Lemeshow goodness-of-fit test (see :func:`hosmer_lemeshow`).

    Attributes
    ----------
    statistic : float
        :math:`X^2` summed over groups and both outcome columns.
    df : int
        Degrees of freedom used for the p-value.
    p_value : float
        Upper tail of :math:`\\chi^2_{df}`.
    n_groups : int
        Non-empty risk groups actually formed (``G``).
    table : pandas.DataFrame
        Per group: ``group, lower, upper, n, observed_events, expected_events,
        observed_nonevents, expected_nonevents, mean_predicted``.
    """

    statistic: float
    df: int
    p_value: float
    n_groups: int
    table: pd.DataFrame = field(repr=False, compare=False)


def hosmer_lemeshow(y_true: Any, y_prob: Any, *, n_groups: int = 10,
                    df: int | None = None) -> HosmerLemeshowResult:
    r"""Hosmer-Lemeshow test by quantile groups of predicted risk.

    Parameters
    ----------
    y_true : array-like
        0/1 outcomes.
    y_prob : array-like
        Predicted probabilities in [0, 1].
    n_groups : int, optional
        Requested number of groups ``g`` (default 10, deciles of risk).
    df : int, optional
        Degrees of freedom.  Default ``G - 2`` with ``G`` the number of non-empty
        groups (development data, ResourceSelection).  For external validation,
        where no parameter was estimated on these data, many authors use
        ``df = g``.

    Returns
    -------
    HosmerLemeshowResult
        ``statistic``, ``df``, ``p_value``, ``n_groups``, ``table``.

    Raises
    ------
    InputError
        Invalid inputs; ``DataError`` if fewer than 2 groups can be formed.

    Warns
    -----
    SmallSampleWarning
        Fewer non-empty groups than requested (ties in ``y_prob``), as
        ResourceSelection warns.
    UndefinedMetricWarning
        ``df <= 0`` (p-value NaN) or a group with zero expected count.

    Notes
    -----
    Exactly ``ResourceSelection::hoslem.test(y, p, g)``: breaks
    ``unique(quantile(p, seq(0, 1, 1/g)))`` (type 7), ``cut(p, breaks,
    include.lowest=TRUE)`` (right-closed), observed and expected counts of events
    and non-events per group, :math:`X^2 = \sum_{groups} \sum_{y \in \{0,1\}}
    (O - E)^2 / E`.  The p-value uses the upper tail directly (R computes
    ``1 - pchisq``; the two agree except for p below about 1e-15).

    Van Calster et al. (2019) advise against relying on this test; prefer the
    calibration curve, intercept and slope (:func:`calibration`).

    References
    ----------
    Hosmer DW, Lemeshow S. Goodness of fit tests for the multiple logistic
    regression model. Commun Stat Theory Methods 1980;9:1043-1069.
    """
    from scipy.stats import chi2

    caller = "hosmer_lemeshow"
    y = check_binary(y_true, caller=caller, require_both=False).astype(np.float64)
    p = check_probabilities(y_prob, caller=caller)
    check_consistent_length(caller, y_true=y, y_prob=p)
    g = check_positive_int(n_groups, caller=caller, param="n_groups", minimum=2)
    if df is not None:
        df = check_positive_int(df, caller=caller, param="df", minimum=1)
    breaks, bins = _risk_groups(p, g)
    if breaks.size < 2:
        msg = ("The 'y_prob' parameter of hosmer_lemeshow must hold at least 2 distinct "
               "values to form risk groups. Got a single value "
               f"{float(breaks[0])!r} instead.")
        raise DataError(msg)
    nb = breaks.size - 1
    cnt = np.bincount(bins, minlength=nb).astype(np.float64)
    o1 = np.bincount(bins, weights=y, minlength=nb)
    e1 = np.bincount(bins, weights=p, minlength=nb)
    o0 = cnt - o1
    e0 = np.bincount(bins, weights=1.0 - p, minlength=nb)
    keep = cnt > 0
    n_nonempty = int(keep.sum())
    if n_nonempty < 2:
        raise param_error("y_prob", caller, "spread enough to form at least 2 risk groups",
                          f"{n_nonempty} group")
    if n_nonempty < g:
        warnings.warn(f"hosmer_lemeshow: the data allowed only {n_nonempty} of the {g} "
                      "requested risk groups (tied probabilities).", SmallSampleWarning,
                      stacklevel=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (o1[keep] - e1[keep]) ** 2 / e1[keep] + (o0[keep] - e0[keep]) ** 2 / e0[keep]
    stat = float(np.sum(terms))
    if not math.isfinite(stat):
        warnings.warn("hosmer_lemeshow: a risk group has an expected count of 0; the "
                      "statistic is undefined.", UndefinedMetricWarning, stacklevel=2)
    dof = n_nonempty - 2 if df is None else df
    if dof <= 0:
        warnings.warn(f"hosmer_lemeshow: {dof} degrees of freedom ({n_nonempty} groups - 2); "
                      "the p-value is undefined (NaN). Pass df= for external validation.",
                      UndefinedMetricWarning, stacklevel=2)
        pval = _NAN
    else:
        pval = float(chi2.sf(stat, dof)) if math.isfinite(stat) else _NAN
    idx = np.flatnonzero(keep)
    table = pd.DataFrame({
        "group": idx + 1,
        "lower": breaks[idx], "upper": breaks[idx + 1],
        "n": cnt[keep].astype(np.int64),
        "observed_events": o1[keep], "expected_events": e1[keep],
        "observed_nonevents": o0[keep], "expected_nonevents": e0[keep],
        "mean_predicted": e1[keep] / cnt[keep],
    })
    return HosmerLemeshowResult(statistic=stat, df=int(dof), p_value=pval,
                                n_groups=n_nonempty, table=table)
