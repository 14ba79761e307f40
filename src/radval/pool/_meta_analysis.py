"""Random- and fixed-effect meta-analysis of site-level validation estimates.

The model (intercept only) is

.. math:: y_i = \\mu + u_i + \\varepsilon_i,\\qquad u_i\\sim N(0,\\tau^2),\\quad
          \\varepsilon_i\\sim N(0, v_i),

with known within-site variances :math:`v_i`.  Given :math:`\\hat\\tau^2`, the pooled
estimate is :math:`\\hat\\mu = \\sum w_i y_i / \\sum w_i` with
:math:`w_i = 1/(v_i + \\hat\\tau^2)` and :math:`\\operatorname{SE}(\\hat\\mu) = (\\sum w_i)^{-1/2}`.

Estimators of :math:`\\tau^2`:

* ``"REML"`` (default): restricted maximum likelihood, solved by Fisher scoring
  projected on :math:`[0, \\infty)` until the change in :math:`\\tau^2` is below
  ``1e-14`` (as ``metafor::rma(method="REML")`` with ``control=list(threshold=1e-12)``;
  metafor's default threshold 1e-5 stops early).  With :math:`P y = w (y - \\hat\\mu)`
  the update is

  .. math:: \\tau^2 \\leftarrow \\max\\Bigl(0,\\ \\tau^2 +
            \\frac{y'PPy - \\operatorname{tr}P}{\\operatorname{tr}(PP)}\\Bigr).

* ``"DL"``: DerSimonian & Laird (1986),
  :math:`\\hat\\tau^2 = \\max\\{0, (Q - (k-1)) / (\\sum w_i^0 - \\sum (w_i^0)^2/\\sum w_i^0)\\}`,
  :math:`w_i^0 = 1/v_i`.
* ``"FE"``: fixed effect (common effect), :math:`\\tau^2 = 0` by definition
  (``metafor::rma(method = "FE")``).  As metafor, :math:`I^2` and :math:`H^2` are then
  Higgins & Thompson's :math:`100\\max\\{0, (Q - (k-1))/Q\\}` and :math:`Q/(k-1)`.

Heterogeneity: Cochran's :math:`Q = \\sum w_i^0 (y_i - \\hat\\mu_{FE})^2` with
:math:`k-1` df; :math:`I^2 = 100\\,\\hat\\tau^2/(\\hat\\tau^2 + s^2)` and
:math:`H^2 = (\\hat\\tau^2 + s^2)/s^2` with the "typical" within-study variance
:math:`s^2 = (k-1)\\sum w^0 / ((\\sum w^0)^2 - \\sum (w^0)^2)` (Higgins & Thompson 2002;
metafor's definition, in percent).

Confidence intervals for :math:`\\tau^2`, :math:`I^2` and :math:`H^2` (random-effects
models) by the Q-profile method (Viechtbauer 2007), as ``metafor::confint()``: with the
generalised statistic :math:`Q(\\tau^2) = \\sum w_i(\\tau^2) (y_i - \\hat\\mu(\\tau^2))^2`,
:math:`w_i(\\tau^2) = 1/(v_i + \\tau^2)`, which decreases in :math:`\\tau^2`, the bounds
solve :math:`Q(\\tau^2_{lb}) = \\chi^2_{k-1,1-\\alpha/2}` and
:math:`Q(\\tau^2_{ub}) = \\chi^2_{k-1,\\alpha/2}` on :math:`[0, \\max(100, 10\\hat\\tau^2)]`;
a bound is 0 when :math:`Q(0)` is already below its quantile (both are 0 when
:math:`Q(0) < \\chi^2_{k-1,\\alpha/2}`).  :math:`I^2` and :math:`H^2` bounds follow from
those of :math:`\\tau^2` through the formulas above.  The roots are found to machine
precision; metafor's ``uniroot`` tolerance (``.Machine$double.eps^0.25``) leaves its
printed bounds off by up to ~1e-2 percentage points of :math:`I^2` (e.g. a lower bound
of 2.937% for 2.927%), so the reference values use ``control = list(tol = 1e-15)``.

Inference: Wald (normal) by default; with ``hksj=True`` the Hartung-Knapp-Sidik-Jonkman
variance :math:`\\operatorname{SE}^2 = \\sum w_i (y_i - \\hat\\mu)^2 / ((k-1)\\sum w_i)`
and Student :math:`t_{k-1}` quantiles (metafor ``test="knha"``, no truncation).  The
prediction interval is :math:`\\hat\\mu \\pm c\\sqrt{\\hat\\tau^2 + \\operatorname{SE}^2}`
with :math:`c` the normal quantile (or :math:`t_{k-1}` under HKSJ), as
``metafor::predict()``; Riley et al. (2011) use :math:`t_{k-2}` (``pi_low_riley``,
``pi_high_riley``, :math:`k \\ge 3`).

``transform`` analyses a bounded measure on an unbounded scale (Debray et al. 2017):
``"logit"`` for the AUC (c-statistic), ``"log"`` for the O/E ratio.  Inputs are then
on the natural scale and are transformed by the delta method
(:math:`\\operatorname{var}\\{\\operatorname{logit}\\hat c\\} = \\operatorname{var}(\\hat c) /
\\{\\hat c(1-\\hat c)\\}^2`, :math:`\\operatorname{var}\\{\\log \\widehat{OE}\\} =
\\operatorname{var}(\\widehat{OE})/\\widehat{OE}^2`); the ``*_natural`` fields
back-transform the pooled value and the interval limits.

References
----------
DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-88.
Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in the
random-effects model. J Educ Behav Stat 2005;30:261-93.
Viechtbauer W. Confidence intervals for the amount of heterogeneity in
meta-analysis. Stat Med 2007;26:37-52.
Hartung J, Knapp G. A refined method for the meta-analysis of controlled clinical
trials with binary outcome. Stat Med 2001;20:3875-89.
Riley RD, Higgins JPT, Deeks JJ. Interpretation of random effects meta-analyses.
BMJ 2011;342:d549.
Debray TPA et al. A guide to systematic review and meta-analysis of prediction
model performance. BMJ 2017;356:i6460.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from radval._results import Result
from radval._validation import check_choice, check_confidence_level, param_error
from radval.exceptions import ConvergenceWarning, InputError, SmallSampleWarning
from radval.stats._kernels import expit

__all__ = ["MetaAnalysisResult", "meta_analysis"]

_CALLER = "meta_analysis"
_TOL = 1e-14
_MAXITER = 10_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetaAnalysisResult(Result):
    """Result of :func:`meta_analysis`.

    Attributes
    ----------
    pooled, se, ci_low, ci_high : float
        Pooled estimate, its standard error and confidence interval (analysis scale).
    pi_low, pi_high : float
        Prediction interval for the value in a new site (``metafor::predict``);
        NaN for ``"FE"`` (metafor gives none).
    pi_low_riley, pi_high_riley : float
        Riley et al. (2011) prediction interval with :math:`t_{k-2}` (NaN when k < 3
        and for ``"FE"``).
    statistic, p_value : float
        Wald z (or HKSJ t) test of :math:`\\mu = 0`.
    tau2, i2, h2 : float
        Between-site variance, :math:`I^2` (percent) and :math:`H^2`.
    tau2_ci_low, tau2_ci_high, i2_ci_low, i2_ci_high, h2_ci_low, h2_ci_high : float
        Q-profile confidence intervals (``metafor::confint``); NaN for ``"FE"``,
        where metafor has none.
    q, q_df, q_p : float
        Cochran's Q, its df (k - 1) and p-value.
    k : int
        Number of sites.
    method : str
        ``"REML"``, ``"DL"`` or ``"FE"``.
    hksj : bool
        Whether the Hartung-Knapp-Sidik-Jonkman adjustment was used.
    transform : str or None
    pooled_natural, ci_low_natural, ci_high_natural, pi_low_natural, pi_high_natural : float
        Back-transformed values (equal to the analysis-scale values without ``transform``).
    confidence_level : float
    iterations : int
        Fisher-scoring iterations (0 for DL).
    estimates, variances, weights : ndarray
        Analysis-scale inputs and random-effects weights (percent).
    """

    pooled: float
    se: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    pi_low_riley: float
    pi_high_riley: float
    statistic: float
    p_value: float
    tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    k: int
    method: str
    hksj: bool
    transform: str | None
    pooled_natural: float
    ci_low_natural: float
    ci_high_natural: float
    pi_low_natural: float
    pi_high_natural: float
    confidence_level: float
    iterations: int
    tau2_ci_low: float = math.nan
    tau2_ci_high: float = math.nan
    i2_ci_low: float = math.nan
    i2_ci_high: float = math.nan
    h2_ci_low: float = math.nan
    h2_ci_high: float = math.nan
    estimates: npt.NDArray[np.float64] = dataclasses.field(repr=False, compare=False)
    variances: npt.NDArray[np.float64] = dataclasses.field(repr=False, compare=False)
    weights: npt.NDArray[np.float64] = dataclasses.field(repr=False, compare=False)


def _validate(estimates: Any, variances: Any, transform: str | None
              ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    try:
        y = np.asarray(estimates, dtype=np.float64).ravel()
        v = np.asarray(variances, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error("estimates", _CALLER, "a 1-d array of numbers", estimates) from exc
    if y.size != v.size:
        raise InputError(f"{_CALLER}: 'estimates' ({y.size}) and 'variances' ({v.size}) must "
                         "have the same length.")
    if y.size < 2:
        raise param_error("estimates", _CALLER, "at least 2 site estimates", estimates)
    if not np.all(np.isfinite(y)):
        raise param_error("estimates", _CALLER, "finite numbers", estimates)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise param_error("variances", _CALLER, "finite numbers > 0", variances)
    if transform == "logit":
        if np.any((y <= 0) | (y >= 1)):
            raise param_error("estimates", _CALLER, "in (0, 1) for transform='logit'", estimates)
        v = v / (y * (1 - y)) ** 2
        y = np.log(y / (1 - y))
    elif transform == "log":
        if np.any(y <= 0):
            raise param_error("estimates", _CALLER, "> 0 for transform='log'", estimates)
        v = v / y**2
        y = np.log(y)
    return y, v


def _back(x: float, transform: str | None) -> float:
    if not math.isfinite(x):
        return x
    if transform == "logit":
        return float(expit(x))
    if transform == "log":
        return math.exp(x) if x < 709 else math.inf
    return x


def _tau2_dl(y: npt.NDArray[np.float64], v: npt.NDArray[np.float64], q: float) -> float:
    w = 1.0 / v
    c = w.sum() - (w**2).sum() / w.sum()
    return max(0.0, (q - (y.size - 1)) / c)


def _tau2_reml(y: npt.NDArray[np.float64], v: npt.NDArray[np.float64],
               start: float) -> tuple[float, int, bool]:
    """Fisher scoring for the REML estimate of tau^2, projected on [0, inf)."""
    tau2 = max(0.0, start)
    for it in range(1, _MAXITER + 1):
        w = 1.0 / (v + tau2)
        sw = w.sum()
        mu = (w * y).sum() / sw
        r = y - mu
        ypp_y = (w**2 * r**2).sum()
        tr_p = sw - (w**2).sum() / sw
        tr_pp = (w**2).sum() - 2.0 * (w**3).sum() / sw + ((w**2).sum() / sw) ** 2
        new = max(0.0, tau2 + (ypp_y - tr_p) / tr_pp)
        if abs(new - tau2) <= _TOL * max(1.0, tau2):
            return new, it, True
        tau2 = new
    return tau2, _MAXITER, False


def _q_profile(y: npt.NDArray[np.float64], v: npt.NDArray[np.float64], tau2: float,
               level: float) -> tuple[float, float]:
    """Q-profile confidence interval of tau^2 (``metafor::confint.rma.uni``, type "QP")."""
    from scipy.optimize import brentq

    k = y.size
    alpha = 1.0 - level
    crit_u = float(sps.chi2.isf(alpha / 2.0, k - 1))
    crit_l = float(sps.chi2.ppf(alpha / 2.0, k - 1))
    t_max = max(100.0, 10.0 * tau2)

    def q_gen(t2: float) -> float:
        w = 1.0 / (v + t2)
        mu = float((w * y).sum() / w.sum())
        return float((w * (y - mu) ** 2).sum())

    q_min, q_max = q_gen(0.0), q_gen(t_max)
    if q_min < crit_l:
        return 0.0, 0.0
    if q_max > crit_u:
        warnings.warn(f"{_CALLER}: the Q-profile interval of tau^2 lies above {t_max:g}; "
                      "both bounds are set to it (metafor reports '>').", SmallSampleWarning,
                      stacklevel=3)
        return t_max, t_max
    if q_max > crit_l:
        warnings.warn(f"{_CALLER}: the upper Q-profile bound of tau^2 lies above {t_max:g} "
                      "and is set to it (metafor reports '>').", SmallSampleWarning,
                      stacklevel=3)
        upper = t_max
    else:
        upper = float(brentq(lambda t: q_gen(t) - crit_l, 0.0, t_max, xtol=1e-300,
                             rtol=4 * np.finfo(float).eps, maxiter=1000))
    lower = 0.0 if q_min < crit_u else float(
        brentq(lambda t: q_gen(t) - crit_u, 0.0, t_max, xtol=1e-300,
               rtol=4 * np.finfo(float).eps, maxiter=1000))
    return lower, upper


def meta_analysis(estimates: Any, variances: Any, *,
                  method: Literal["REML", "DL", "FE"] = "REML",
                  hksj: bool = False, transform: Literal["logit", "log"] | None = None,
                  confidence_level: float = 0.95) -> MetaAnalysisResult:
    """Random-effects meta-analysis (see the module docstring for formulas).

    Parameters
    ----------
    estimates : array-like of float, shape (k,)
        One estimate per site (natural scale when ``transform`` is given).
    variances : array-like of float, shape (k,)
        Their within-site variances (squared standard errors), same scale.
    method : {"REML", "DL", "FE"}, default "REML"
        Estimator of the between-site variance, or ``"FE"`` for the fixed-effect
        model (:math:`\\tau^2 = 0`, ``metafor::rma(method = "FE")``).
    hksj : bool, default False
        Hartung-Knapp-Sidik-Jonkman CI and test (t with k - 1 df).  Allowed with
        ``"FE"`` as metafor computes it (metafor warns that it is not meant for
        fixed-effect models).
    transform : {"logit", "log"} or None, default None
        Pool on the logit (AUC) or log (O/E) scale; see the module docstring.
    confidence_level : float, default 0.95
        For the confidence and prediction intervals.

    Returns
    -------
    MetaAnalysisResult

    Examples
    --------
    >>> r = meta_analysis([0.2, 0.9, 0.5], [0.04, 0.09, 0.05])
    >>> round(r.pooled, 4), r.k
    (0.4838, 3)
    """
    method = check_choice(method, ("REML", "DL", "FE"), caller=_CALLER,  # type: ignore[assignment]
                          param="method")
    if transform is not None:
        transform = check_choice(transform, ("logit", "log"), caller=_CALLER,  # type: ignore[assignment]
                                 param="transform")
    if not isinstance(hksj, bool | np.bool_):
        raise param_error("hksj", _CALLER, "a bool", hksj)
    level = check_confidence_level(confidence_level, caller=_CALLER)
    y, v = _validate(estimates, variances, transform)
    k = int(y.size)
    if k < 3:
        warnings.warn(f"{_CALLER}: only {k} sites; tau^2 and the prediction interval are "
                      "very imprecise.", SmallSampleWarning, stacklevel=2)

    w0 = 1.0 / v
    mu_fe = (w0 * y).sum() / w0.sum()
    q = float((w0 * (y - mu_fe) ** 2).sum())
    q_p = float(sps.chi2.sf(q, k - 1))
    tau2 = 0.0 if method == "FE" else _tau2_dl(y, v, q)
    iterations = 0
    if method == "REML":
        tau2, iterations, ok = _tau2_reml(y, v, tau2)
        if not ok:
            warnings.warn(f"{_CALLER}: REML did not converge in {_MAXITER} iterations "
                          f"(tau^2 = {tau2:.6g}).", ConvergenceWarning, stacklevel=2)

    w = 1.0 / (v + tau2)
    sw = w.sum()
    mu = float((w * y).sum() / sw)
    alpha = 1.0 - level
    if hksj:
        s2w = float((w * (y - mu) ** 2).sum() / (k - 1))
        se = math.sqrt(s2w / sw)
        crit = float(sps.t.ppf(1 - alpha / 2, k - 1))
    else:
        se = math.sqrt(1.0 / sw)
        crit = float(sps.norm.ppf(1 - alpha / 2))
    stat = mu / se if se > 0 else math.nan
    if hksj:
        p_value = float(2 * sps.t.sf(abs(stat), k - 1)) if se > 0 else math.nan
    else:
        p_value = float(2 * sps.norm.sf(abs(stat))) if se > 0 else math.nan
    ci_low, ci_high = mu - crit * se, mu + crit * se
    pse = math.sqrt(tau2 + se**2)
    pi_low, pi_high = mu - crit * pse, mu + crit * pse
    if method == "FE":
        # no between-site distribution to predict from: metafor's predict() has no PI
        pi_low = pi_high = pi_low_r = pi_high_r = math.nan
    elif k >= 3:
        crit_r = float(sps.t.ppf(1 - alpha / 2, k - 2))
        pi_low_r, pi_high_r = mu - crit_r * pse, mu + crit_r * pse
    else:
        pi_low_r = pi_high_r = math.nan
    s2 = (k - 1) * w0.sum() / (w0.sum() ** 2 - (w0**2).sum())
    nan = math.nan
    ci_t2 = ci_i2 = ci_h2 = (nan, nan)
    if method == "FE":
        # metafor's FE model: I^2 and H^2 from Q (Higgins & Thompson 2002)
        i2 = 100.0 * max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
        h2 = q / (k - 1)
    else:
        i2 = 100.0 * tau2 / (tau2 + s2)
        h2 = (tau2 + s2) / s2
        lo, hi = _q_profile(y, v, float(tau2), level)
        ci_t2 = (lo, hi)
        ci_i2 = (100.0 * lo / (s2 + lo), 100.0 * hi / (s2 + hi))
        ci_h2 = (lo / s2 + 1.0, hi / s2 + 1.0)
    return MetaAnalysisResult(
        pooled=mu, se=se, ci_low=ci_low, ci_high=ci_high, pi_low=pi_low, pi_high=pi_high,
        pi_low_riley=pi_low_r, pi_high_riley=pi_high_r, statistic=stat, p_value=p_value,
        tau2=float(tau2), i2=float(i2), h2=float(h2), q=q, q_df=k - 1, q_p=q_p, k=k,
        method=str(method), hksj=bool(hksj), transform=transform,
        pooled_natural=_back(mu, transform), ci_low_natural=_back(ci_low, transform),
        ci_high_natural=_back(ci_high, transform), pi_low_natural=_back(pi_low, transform),
        pi_high_natural=_back(pi_high, transform), confidence_level=level,
        iterations=iterations, estimates=y, variances=v, weights=100.0 * w / sw,
        tau2_ci_low=ci_t2[0], tau2_ci_high=ci_t2[1], i2_ci_low=ci_i2[0], i2_ci_high=ci_i2[1],
        h2_ci_low=ci_h2[0], h2_ci_high=ci_h2[1],
    )
