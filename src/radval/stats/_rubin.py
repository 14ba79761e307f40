"""Rubin's rules: pooling estimates across multiply imputed data sets.

Equal to R ``mice::pool.scalar(Q, U, n = n_obs, k = 1)`` (mice 3.15) and, for
model coefficients, to ``mice::pool`` with the model's residual degrees of
freedom (``dfcom``).  A discrimination index (AUC) is pooled on the logit scale
(:func:`pool_auc`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval._validation import check_confidence_level, param_error
from radval.exceptions import InputError, UndefinedMetricWarning
from radval.stats._kernels import expit, logit

__all__ = ["PooledAUCResult", "RubinPoolTable", "RubinResult", "pool_auc", "rubin_pool",
           "rubin_pool_many"]

FloatArray = npt.NDArray[np.float64]

# mice's barnard.rubin() floors lambda at 1e-4 before computing the old df, so that a
# zero between-imputation variance gives a large finite df instead of infinity.
_LAMBDA_FLOOR = 1e-4


@dataclass(frozen=True, kw_only=True)
class RubinResult(Result):
    """One parameter pooled by Rubin's rules (the quantities of ``mice::pool``).

    Attributes
    ----------
    estimate : float
        Pooled estimate :math:`\\bar Q = m^{-1} \\sum_j Q_j`.
    variance, total : float
        Total variance :math:`T = \\bar U + (1 + 1/m) B` (the same number twice:
        ``variance`` for symmetry with the other results, ``total`` as mice names it).
    within : float
        Within-imputation variance :math:`\\bar U = m^{-1} \\sum_j U_j`.
    between : float
        Between-imputation variance :math:`B = (m-1)^{-1} \\sum_j (Q_j - \\bar Q)^2`.
    se : float
        :math:`\\sqrt{T}`.
    df : float
        Degrees of freedom of the t reference distribution: Barnard & Rubin (1999)
        when the complete-data df is known, otherwise Rubin's (1987) large-sample df.
    dfcom : float
        Complete-data degrees of freedom (``inf`` for the large-sample rule).
    riv : float
        Relative increase in variance :math:`r = (1 + 1/m) B / \\bar U`.
    lambda_ : float
        Proportion of the total variance due to missingness, :math:`(1 + 1/m) B / T`.
    fmi : float
        Fraction of missing information, :math:`(r + 2/(\\nu + 3)) / (r + 1)` (mice).
    statistic : float
        :math:`\\bar Q / \\sqrt{T}` (t statistic for :math:`H_0: Q = 0`).
    p_value : float
        Two-sided p-value from the t distribution with ``df``.
    ci_low, ci_high : float
        :math:`\\bar Q \\pm t_{\\nu, 1-\\alpha/2} \\sqrt{T}`.
    m : int
        Number of imputations.
    confidence_level : float
    """

    estimate: float
    variance: float
    within: float
    between: float
    total: float
    se: float
    df: float
    dfcom: float
    riv: float
    lambda_: float
    fmi: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    m: int
    confidence_level: float


@dataclass(frozen=True, kw_only=True)
class RubinPoolTable(Result):
    """Several parameters pooled at once (e.g. the coefficients of a model).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter: ``term`` and the fields of :class:`RubinResult`.
    m : int
    confidence_level : float
    """

    table: pd.DataFrame = field(repr=False, compare=False)
    m: int
    confidence_level: float

    def to_frame(self) -> pd.DataFrame:
        """Return the table (one row per parameter)."""
        return self.table.copy()

    def __getitem__(self, term: str) -> RubinResult:
        """Return the pooled result of one parameter by its name."""
        rows = self.table[self.table["term"] == term]
        if rows.empty:
            raise param_error("term", "RubinPoolTable", f"one of {list(self.table['term'])}",
                              term)
        row = rows.iloc[0]
        vals: dict[str, Any] = {str(k): float(v) for k, v in row.items() if k != "term"}
        return RubinResult(**vals, m=self.m, confidence_level=self.confidence_level)


@dataclass(frozen=True, kw_only=True)
class PooledAUCResult(Result):
    """An AUC pooled across imputations on the logit scale.

    Attributes
    ----------
    estimate, ci_low, ci_high : float
        Back-transformed pooled AUC and confidence limits,
        :math:`\\operatorname{expit}(\\bar Q)` and :math:`\\operatorname{expit}(\\bar Q
        \\pm t_{\\nu} \\sqrt{T})`.
    logit : RubinResult
        The pooling on the logit scale (``logit.estimate`` is :math:`\\bar Q`).
    m : int
    confidence_level : float
    """

    estimate: float
    ci_low: float
    ci_high: float
    logit: RubinResult = field(repr=False)
    m: int
    confidence_level: float

    def to_frame(self) -> pd.DataFrame:
        """One row: ``estimate, ci_low, ci_high`` and the logit-scale pooling quantities."""
        lg = self.logit
        return pd.DataFrame([{
            "estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "logit_estimate": lg.estimate, "logit_se": lg.se, "within": lg.within,
            "between": lg.between, "total": lg.total, "df": lg.df, "riv": lg.riv,
            "lambda_": lg.lambda_, "fmi": lg.fmi, "m": self.m,
            "confidence_level": self.confidence_level}])


def _as_matrix(x: Any, param: str, caller: str) -> FloatArray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise param_error(param, caller, "an array of numbers", x) from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise param_error(param, caller, "a 1-d array (m,) or a 2-d array (m, k)",
                          f"an array of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise param_error(param, caller, "finite (no NaN or infinity)",
                          f"{int((~np.isfinite(arr)).sum())} non-finite value(s)")
    return arr


def _dfcom(n_obs: Any, dfcom: Any, caller: str) -> float:
    if n_obs is not None and dfcom is not None:
        msg = (f"The 'n_obs' and 'dfcom' parameters of {caller} are alternatives. "
               f"Got n_obs={n_obs!r} and dfcom={dfcom!r} instead; pass one of them.")
        raise InputError(msg)
    if n_obs is not None:
        if isinstance(n_obs, bool) or not isinstance(n_obs, int | float | np.number) \
                or not n_obs > 1:
            raise param_error("n_obs", caller, "a number > 1 (the complete-data sample size)",
                              n_obs)
        # mice's pool.scalar(n = n_obs, k = 1): dfcom = n - k
        return float(n_obs) - 1.0
    if dfcom is not None:
        if isinstance(dfcom, bool) or not isinstance(dfcom, int | float | np.number) \
                or not dfcom > 0:
            raise param_error("dfcom", caller, "a positive number or None", dfcom)
        return float(dfcom)
    return math.inf


def _pool_columns(q: FloatArray, u: FloatArray, dfcom: float, level: float
                  ) -> dict[str, FloatArray]:
    """Rubin's rules column-wise on ``(m, k)`` arrays (mice ``pool.scalar``/``pool``)."""
    from scipy import stats

    m = q.shape[0]
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1.0 + 1.0 / m) * b / ubar
        lam = (1.0 + 1.0 / m) * b / t
        # Barnard & Rubin (1999) as mice's barnard.rubin(): floored lambda for the old df
        lam_f = np.maximum(lam, _LAMBDA_FLOOR)
        dfold = (m - 1) / lam_f**2
        if math.isinf(dfcom):
            df = dfold
        else:
            dfobs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam_f)
            df = dfold * dfobs / (dfold + dfobs)
        fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
        se = np.sqrt(t)
        stat = qbar / se
        tq = stats.t.ppf(0.5 + level / 2.0, df)
        p = 2.0 * stats.t.sf(np.abs(stat), df)
    return {"estimate": qbar, "variance": t, "within": ubar, "between": b, "total": t,
            "se": se, "df": df, "dfcom": np.full(qbar.shape, dfcom), "riv": riv,
            "lambda_": lam, "fmi": fmi, "statistic": stat, "p_value": p,
            "ci_low": qbar - tq * se, "ci_high": qbar + tq * se}


def _validate(estimates: Any, variances: Any, caller: str) -> tuple[FloatArray, FloatArray]:
    q = _as_matrix(estimates, "estimates", caller)
    u_raw = np.asarray(variances, dtype=np.float64) if not isinstance(variances, str) \
        else variances
    if isinstance(u_raw, np.ndarray) and u_raw.ndim == 3:
        # a stack of covariance matrices (m, k, k): mice pools their diagonals
        u_raw = np.diagonal(u_raw, axis1=1, axis2=2)
    u = _as_matrix(u_raw, "variances", caller)
    if q.shape != u.shape:
        msg = (f"The 'estimates' and 'variances' parameters of {caller} must have the same "
               f"shape. Got {q.shape} and {u.shape} instead.")
        raise InputError(msg)
    if q.shape[0] < 2:
        raise param_error("estimates", caller,
                          "one value per imputation for at least 2 imputations",
                          f"{q.shape[0]} imputation(s)")
    if (u < 0).any():
        raise param_error("variances", caller, "non-negative", f"{int((u < 0).sum())} "
                          "negative value(s)")
    return q, u


def _warn_undefined(cols: dict[str, FloatArray], caller: str) -> None:
    if np.any(cols["total"] == 0):
        warnings.warn(f"{caller}: the total variance is 0 (no within- and no "
                      "between-imputation variance); df, riv, fmi and the CI are undefined.",
                      UndefinedMetricWarning, stacklevel=3)


def rubin_pool(estimates: npt.ArrayLike, variances: npt.ArrayLike, *,
               n_obs: float | None = None, dfcom: float | None = None,
               confidence_level: float = 0.95) -> RubinResult:
    """Pool one parameter across ``m`` imputations by Rubin's rules.

    Parameters
    ----------
    estimates : array-like, shape (m,)
        The estimate :math:`Q_j` from each completed data set.
    variances : array-like, shape (m,)
        Its squared standard error :math:`U_j` in each completed data set.
    n_obs : float, optional
        Complete-data sample size; gives the complete-data df ``n_obs - 1`` and the
        Barnard-Rubin small-sample df (mice ``pool.scalar(n = n_obs, k = 1)``).
    dfcom : float, optional
        Complete-data degrees of freedom given directly (e.g. ``n - p`` of a regression,
        what ``mice::pool`` takes from ``df.residual``).  Alternative to ``n_obs``.
        Without both, the large-sample df of Rubin (1987).
    confidence_level : float, optional
        Level of the two-sided t interval (default 0.95).

    Returns
    -------
    RubinResult

    Raises
    ------
    InputError
        Fewer than two imputations, non-finite values, negative variances, mismatched
        shapes.

    Warns
    -----
    UndefinedMetricWarning
        The total variance is zero (constant estimates with zero variance).

    Notes
    -----
    With :math:`m` imputations,

    .. math::

        \\bar Q = \\frac{1}{m}\\sum_j Q_j,\\quad \\bar U = \\frac{1}{m}\\sum_j U_j,\\quad
        B = \\frac{1}{m-1}\\sum_j (Q_j - \\bar Q)^2,\\quad T = \\bar U + (1 + 1/m) B.

    :math:`\\lambda = (1+1/m)B/T`, :math:`r = (1+1/m)B/\\bar U`.  The old df is
    :math:`\\nu_{old} = (m-1)/\\lambda^2` (:math:`\\lambda` floored at 1e-4, as mice
    does); with complete-data df :math:`\\nu_{com}`, Barnard & Rubin's observed-data df
    :math:`\\nu_{obs} = \\frac{\\nu_{com}+1}{\\nu_{com}+3}\\nu_{com}(1-\\lambda)` and
    :math:`\\nu = \\nu_{old}\\nu_{obs}/(\\nu_{old}+\\nu_{obs})`.  The fraction of missing
    information is :math:`(r + 2/(\\nu+3))/(r+1)`.  CI and p-value use :math:`t_\\nu`.

    Pool quantities that are roughly normal: regression coefficients, calibration
    intercept and slope, log odds ratios.  Pool an AUC on the logit scale with
    :func:`pool_auc`.

    References
    ----------
    .. [1] Rubin DB. Multiple Imputation for Nonresponse in Surveys. Wiley; 1987.
    .. [2] Barnard J, Rubin DB. Small-sample degrees of freedom with multiple
       imputation. Biometrika. 1999;86(4):948-955.
    .. [3] van Buuren S. Flexible Imputation of Missing Data. 2nd ed. CRC; 2018, §2.3-2.4.

    Examples
    --------
    >>> from radval.stats import rubin_pool
    >>> r = rubin_pool([1.1, 0.9, 1.3, 1.0, 1.2], [0.04, 0.05, 0.045, 0.05, 0.04], n_obs=50)
    >>> round(r.estimate, 3), round(r.df, 2)
    (1.1, 13.27)
    """
    caller = "rubin_pool"
    level = check_confidence_level(confidence_level, caller=caller)
    dfc = _dfcom(n_obs, dfcom, caller)
    q, u = _validate(estimates, variances, caller)
    if q.shape[1] != 1:
        raise param_error("estimates", caller, "a 1-d array (use rubin_pool_many for "
                          "several parameters)", f"an array of shape {q.shape}")
    cols = _pool_columns(q, u, dfc, level)
    _warn_undefined(cols, caller)
    vals = {k: float(v[0]) for k, v in cols.items()}
    return RubinResult(**vals, m=int(q.shape[0]), confidence_level=level)


def rubin_pool_many(estimates: npt.ArrayLike, variances: npt.ArrayLike, *,
                    names: Sequence[str] | None = None, n_obs: float | None = None,
                    dfcom: float | None = None,
                    confidence_level: float = 0.95) -> RubinPoolTable:
    """Pool ``k`` parameters at once (e.g. the coefficients of one model) by Rubin's rules.

    Parameters
    ----------
    estimates : array-like, shape (m, k)
        One row of estimates per completed data set.
    variances : array-like, shape (m, k) or (m, k, k)
        Squared standard errors, or the covariance matrices (their diagonals are used,
        as ``mice::pool`` does).
    names : sequence of str, optional
        Parameter names (default ``"x0", "x1", ...``).
    n_obs, dfcom, confidence_level
        As in :func:`rubin_pool`.  ``mice::pool`` on a fitted model uses
        ``dfcom = n - p`` (the residual df).

    Returns
    -------
    RubinPoolTable
        ``.to_frame()`` has one row per parameter; ``result["x1"]`` gives one
        :class:`RubinResult`.

    See Also
    --------
    rubin_pool : the rules and their formulas.

    Examples
    --------
    >>> import numpy as np
    >>> from radval.stats import rubin_pool_many
    >>> q = np.array([[0.5, 1.0], [0.6, 1.1], [0.4, 0.9]])
    >>> u = np.full((3, 2), 0.01)
    >>> t = rubin_pool_many(q, u, names=["a", "b"], dfcom=97)
    >>> t.to_frame()[["term", "estimate"]].round(3).values.tolist()
    [['a', 0.5], ['b', 1.0]]
    """
    caller = "rubin_pool_many"
    level = check_confidence_level(confidence_level, caller=caller)
    dfc = _dfcom(n_obs, dfcom, caller)
    q, u = _validate(estimates, variances, caller)
    k = q.shape[1]
    terms = [f"x{j}" for j in range(k)] if names is None else [str(n) for n in names]
    if len(terms) != k:
        raise param_error("names", caller, f"{k} names (one per column of 'estimates')",
                          f"{len(terms)} names")
    cols = _pool_columns(q, u, dfc, level)
    _warn_undefined(cols, caller)
    table = pd.DataFrame({"term": terms, **cols})
    return RubinPoolTable(table=table, m=int(q.shape[0]), confidence_level=level)


def pool_auc(aucs: npt.ArrayLike, variances: npt.ArrayLike, *, n_obs: float | None = None,
             confidence_level: float = 0.95) -> PooledAUCResult:
    """Pool an AUC (C-statistic) across imputations on the logit scale.

    Parameters
    ----------
    aucs : array-like, shape (m,)
        The AUC of each completed data set, strictly between 0 and 1.
    variances : array-like, shape (m,)
        Its variance in each completed data set (e.g. ``delong_ci(...).variance``).
    n_obs : float, optional
        Complete-data sample size for the Barnard-Rubin df (see :func:`rubin_pool`).
    confidence_level : float, optional

    Returns
    -------
    PooledAUCResult

    Raises
    ------
    InputError
        An AUC of 0 or 1 (its logit is infinite), or the errors of :func:`rubin_pool`.

    Notes
    -----
    The AUC is bounded and its sampling distribution is skewed near 1, so Rubin's rules
    are applied to :math:`\\operatorname{logit}(\\mathrm{AUC}_j)` with the delta-method
    variance

    .. math::

        \\operatorname{var}(\\operatorname{logit} \\widehat{\\mathrm{AUC}}) \\approx
        \\frac{\\operatorname{var}(\\widehat{\\mathrm{AUC}})}
        {\\left(\\mathrm{AUC}(1-\\mathrm{AUC})\\right)^2},

    and the pooled estimate and confidence limits are back-transformed with the
    logistic function (Marshall et al. 2009 recommend transforming towards normality
    before pooling; Debray et al. 2017 give the logit transform of the C-statistic and
    its variance).  The back-transformed estimate is the expit of the mean logit, not
    the mean AUC.

    References
    ----------
    .. [1] Marshall A, Altman DG, Holder RL, Royston P. Combining estimates of interest
       in prognostic modelling studies after multiple imputation: current practice and
       guidelines. BMC Med Res Methodol. 2009;9:57.
    .. [2] Debray TPA, Damen JAAG, Snell KIE, et al. A guide to systematic review and
       meta-analysis of prediction model performance. BMJ. 2017;356:i6460.
    .. [3] Wood AM, Royston P, White IR. The estimation and use of predictions for the
       assessment of model performance using large samples with multiply imputed data.
       Biom J. 2015;57(4):614-632.

    Examples
    --------
    >>> from radval.stats import pool_auc
    >>> r = pool_auc([0.78, 0.80, 0.79], [0.0009, 0.0008, 0.00085], n_obs=200)
    >>> round(r.estimate, 4), r.ci_low < r.estimate < r.ci_high
    (0.7901, True)
    """
    caller = "pool_auc"
    q = _as_matrix(aucs, "aucs", caller)
    if q.shape[1] != 1:
        raise param_error("aucs", caller, "a 1-d array", f"an array of shape {q.shape}")
    q = q[:, 0]
    if ((q <= 0.0) | (q >= 1.0)).any():
        raise param_error("aucs", caller, "strictly between 0 and 1 (the logit of 0 or 1 is "
                          "infinite)", q.tolist())
    u = _as_matrix(variances, "variances", caller)[:, 0]
    if u.shape != q.shape:
        raise param_error("variances", caller, f"of length {q.size}", u.size)
    logit_q = logit(q)
    logit_u = u / (q * (1.0 - q)) ** 2
    res = rubin_pool(logit_q, logit_u, n_obs=n_obs, confidence_level=confidence_level)

    def back(v: float) -> float:
        return float(expit(v)) if math.isfinite(v) else math.nan

    return PooledAUCResult(estimate=back(res.estimate), ci_low=back(res.ci_low),
                           ci_high=back(res.ci_high), logit=res, m=res.m,
                           confidence_level=res.confidence_level)
