"""Discrimination: ROC AUC, DeLong variance / CI / tests, bootstrap AUC.

Every quantity matches R's pROC with ``levels = c(0, 1)`` and
``direction = "<"``: ``y_true == 1`` marks a case (event), a higher score means
an event is more likely, and there is **no automatic direction** (a score that
ranks events lower has an AUC below 0.5).  Ties between a case and a control
count 1/2 (the Mann-Whitney convention, equal to pROC's trapezoidal AUC).

Notation: cases :math:`X_1..X_m`, controls :math:`Y_1..Y_n`,
:math:`\\psi(x, y) = 1` if :math:`x > y`, 1/2 if :math:`x = y`, 0 otherwise
(exact floating-point equality, as pROC).  DeLong placements (structural
components)

.. math::

    V_{10}(X_i) = \\frac1n \\sum_j \\psi(X_i, Y_j), \\qquad
    V_{01}(Y_j) = \\frac1m \\sum_i \\psi(X_i, Y_j),

:math:`\\hat\\theta = \\overline{V_{10}} = \\overline{V_{01}}` and
:math:`\\widehat{\\mathrm{Var}}(\\hat\\theta) = S_{10}/m + S_{01}/n` with sample
(co)variances (denominators :math:`m-1`, :math:`n-1`).  For one score the
placements come from one sort per class and ``searchsorted``; for paired
comparisons (placements needed in patient order) from one pooled sort and
cumulative class counts over the tie groups.  Both are :math:`O(N \\log N)` and
give the same numbers as Sun & Xu's (2014) midrank algorithm.

Naming: ``roc_*`` describe a curve, ``delong_*`` use the DeLong variance,
``bootstrap_*`` resample patients; functions ending in ``_test`` return a
statistic and a p-value.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
correlated receiver operating characteristic curves: a nonparametric approach.
Biometrics 1988;44:837-845.
Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas
under correlated receiver operating characteristic curves. IEEE Signal Process
Lett 2014;21:1389-1393.
Robin X, et al. pROC: an open-source package for R and S+ to analyze and compare
ROC curves. BMC Bioinformatics 2011;12:77.
Efron B. Better bootstrap confidence intervals. JASA 1987;82:171-185.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from radval._results import Result
from radval._validation import (
    check_binary,
    check_choice,
    check_confidence_level,
    check_consistent_length,
    check_positive_int,
    check_scores,
    param_error,
)
from radval.exceptions import DegenerateBootstrapWarning, UndefinedMetricWarning
from radval.stats._kernels import rank_auc
from radval.stats._multitest import adjust_pvalues

__all__ = [
    "BootstrapAUCResult",
    "BootstrapAUCTestResult",
    "DeLongCIResult",
    "DeLongTestResult",
    "bootstrap_auc",
    "bootstrap_auc_test",
    "bootstrap_indices",
    "delong_ci",
    "delong_covariance",
    "delong_placements",
    "delong_test",
    "delong_test_many",
    "delong_test_unpaired",
    "roc_auc",
    "roc_curve",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Alternative = Literal["two-sided", "greater", "less"]
_ALTERNATIVES = ("two-sided", "greater", "less")
_CHUNK_ELEMENTS = 2_000_000  # bootstrap: max matrix elements per chunk (~16 MB)


# --------------------------------------------------------------------------- validation


def _check_pair(y_true: Any, y_score: Any, *, caller: str, y_param: str = "y_true",
                s_param: str = "y_score") -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Validate labels and scores; return (is_case, scores)."""
    y = check_binary(y_true, caller=caller, param=y_param)
    s = check_scores(y_score, caller=caller, param=s_param)
    check_consistent_length(caller, **{y_param: y, s_param: s})
    return y.astype(bool), s


def _warn_constant(s: FloatArray, *, caller: str, param: str) -> None:
    if s.size and s.min() == s.max():
        msg = (f"The {param!r} parameter of {caller} is constant ({s[0]!r}): the AUC is 0.5 "
               "by construction and carries no information.")
        warnings.warn(msg, UndefinedMetricWarning, stacklevel=3)


def _check_alternative(alternative: str, caller: str) -> str:
    return check_choice(alternative, _ALTERNATIVES, caller=caller, param="alternative")


def _check_rng(rng: Any, caller: str) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    if isinstance(rng, np.random.Generator):
        return rng
    raise param_error("rng", caller, "a non-negative int seed, a numpy Generator or None", rng)


# --------------------------------------------------------------------------- kernels


_SIGN = np.uint64(1 << 63)


def _argsort(s: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """A permutation sorting ``s`` and the sorted values (finite floats; order
    within exact ties arbitrary).

    About twice as fast as ``np.argsort`` for large inputs: each double is
    mapped to an order-preserving uint64 key whose lowest ``b`` bits are
    replaced by the row index (``2**b >= n``), and the keys are sorted with
    numpy's vectorised integer sort.  Values that differ only in those low
    ``b`` bits (relative difference below ~``2**(b-52)``) may then come out
    in index order; such runs are detected (a descent in the sorted values)
    and re-sorted exactly, falling back to ``np.argsort`` when there are many.
    """
    n = s.size
    if n < 50_000:
        order = np.argsort(s)
        return order, s[order]
    b = int(n - 1).bit_length()
    u = (s + 0.0).view(np.uint64)  # + 0.0 maps -0.0 to 0.0
    key = np.where(u >= _SIGN, ~u, u | _SIGN)
    key >>= np.uint64(b)
    key <<= np.uint64(b)
    key |= np.arange(n, dtype=np.uint64)
    key.sort()
    order = (key & np.uint64((1 << b) - 1)).astype(np.intp)
    sv = s[order]
    bad = np.flatnonzero(sv[1:] < sv[:-1])
    if bad.size == 0:
        return order, sv
    if bad.size > 1000:
        order = np.argsort(s)
        return order, s[order]
    trunc = key >> np.uint64(b)
    for g in np.unique(trunc[bad]):
        lo = int(np.searchsorted(trunc, g, "left"))
        hi = int(np.searchsorted(trunc, g, "right"))
        within = np.argsort(sv[lo:hi], kind="stable")
        order[lo:hi] = order[lo:hi][within]
        sv[lo:hi] = sv[lo:hi][within]
    return order, sv


def _placements_pooled(y: npt.NDArray[np.bool_], s: FloatArray
                       ) -> tuple[FloatArray, FloatArray]:
    """Placements of cases and controls, each in input order, from one pooled sort.

    After sorting all N scores, runs of exactly equal values form tie groups;
    cumulative class counts at the group limits give, for a case, the controls
    strictly below its group plus half the controls inside it, and for a
    control the cases strictly above plus half the cases inside: O(N) after
    the sort.
    """
    n_total = s.size
    order, sv = _argsort(s)  # order within ties is irrelevant
    yl = y[order]
    new = np.empty(n_total, dtype=bool)
    new[0] = True
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    st = np.flatnonzero(new)
    en = np.empty_like(st)
    en[:-1] = st[1:]
    en[-1] = n_total
    size = en - st
    case_cum = np.zeros(n_total + 1, dtype=np.int64)
    np.cumsum(yl, out=case_cum[1:])
    ctrl_cum = np.arange(n_total + 1, dtype=np.int64) - case_cum
    m = int(case_cum[-1])
    n = n_total - m
    ctrl_below = ctrl_cum[st]
    two_case = 2 * ctrl_below + (ctrl_cum[en] - ctrl_below)          # 2 * sum_j psi(x, Y_j)
    two_ctrl = 2 * (m - case_cum[en]) + (case_cum[en] - case_cum[st])  # 2 * sum_i psi(X_i, y)
    v_sorted = np.where(yl, np.repeat(two_case / (2.0 * n), size),
                        np.repeat(two_ctrl / (2.0 * m), size))
    v = np.empty(n_total)
    v[order] = v_sorted
    return v[y], v[~y]


def delong_placements(y_true: Any, y_score: Any) -> tuple[FloatArray, FloatArray]:
    """DeLong placements (structural components) in the input order.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event (case).
    y_score : array-like of shape (n_samples,)
        Score, higher = event more likely.

    Returns
    -------
    v10 : numpy.ndarray of shape (m,)
        :math:`V_{10}(X_i)`, fraction of controls below each case (ties 1/2),
        cases in input order (pROC ``delongPlacements()$X``).
    v01 : numpy.ndarray of shape (n,)
        :math:`V_{01}(Y_j)`, fraction of cases above each control (ties 1/2),
        controls in input order (pROC ``$Y``).
    """
    y, s = _check_pair(y_true, y_score, caller="delong_placements")
    return _placements_pooled(y, s)


def _delong_stats(cases: FloatArray, controls: FloatArray) -> tuple[float, float]:
    """AUC and DeLong variance (order of placements irrelevant)."""
    m, n = cases.size, controls.size
    xs = np.sort(cases)
    ys = np.sort(controls)
    c2 = np.searchsorted(ys, xs, "left") + np.searchsorted(ys, xs, "right")
    d2 = 2 * m - (np.searchsorted(xs, ys, "left") + np.searchsorted(xs, ys, "right"))
    auc = float(c2.sum()) / (2.0 * m * n)
    if m < 2 or n < 2:
        return auc, math.nan
    v10 = c2 / (2.0 * n)
    v01 = d2 / (2.0 * m)
    var = float(np.var(v10, ddof=1)) / m + float(np.var(v01, ddof=1)) / n
    return auc, var


def _placement_matrix(y: npt.NDArray[np.bool_], scores: FloatArray
                      ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Placements of k models on the same patients: aucs (k,), V10 (k, m), V01 (k, n)."""
    k = scores.shape[0]
    m, n = int(y.sum()), int((~y).sum())
    v10 = np.empty((k, m))
    v01 = np.empty((k, n))
    for i in range(k):
        v10[i], v01[i] = _placements_pooled(y, scores[i])
    return v10.mean(axis=1), v10, v01


def _covariance(v10: FloatArray, v01: FloatArray) -> FloatArray:
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return np.asarray(s10 / m + s01 / n, dtype=np.float64)


def _p_normal(z: float, alternative: str) -> float:
    if math.isnan(z):
        return math.nan
    if alternative == "two-sided":
        return float(2.0 * special.ndtr(-abs(z)))
    if alternative == "greater":
        return float(special.ndtr(-z))
    return float(special.ndtr(z))


def _p_t(t: float, df: float, alternative: str) -> float:
    if math.isnan(t) or math.isnan(df):
        return math.nan
    if alternative == "two-sided":
        return float(2.0 * special.stdtr(df, -abs(t)))
    if alternative == "greater":
        return float(special.stdtr(df, -t))
    return float(special.stdtr(df, t))


# --------------------------------------------------------------------------- AUC and curve


def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve (Mann-Whitney, ties 1/2), pROC ``auc()``.

    .. math::

        \\hat\\theta = \\frac{1}{mn} \\sum_{i=1}^m \\sum_{j=1}^n \\psi(X_i, Y_j)

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event.  Both classes must be present.
    y_score : array-like of shape (n_samples,)
        Finite scores; higher = event more likely.  No automatic direction.

    Returns
    -------
    float
        The AUC in [0, 1] (pROC ``auc(roc(y, s, levels=c(0, 1), direction="<"))``).

    Raises
    ------
    radval.exceptions.InputError
        One class only, NaN or non-finite values, or length mismatch.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y, s = _check_pair(y_true, y_score, caller="roc_auc")
    _warn_constant(s, caller="roc_auc", param="y_score")
    return float(rank_auc(y, s))


def _proc_thresholds(s: FloatArray) -> FloatArray:
    """pROC thresholds for direction "<": -Inf, midpoints, +Inf (near-tie fix)."""
    u = np.unique(s)
    lo = np.concatenate(([-np.inf], u))
    hi = np.concatenate((u, [np.inf]))
    with np.errstate(over="ignore", invalid="ignore"):
        t1 = (lo + hi) / 2.0
        t2 = lo / 2.0 + hi / 2.0
    t = np.where(np.abs(t1) > 1e100, t2, t1)
    # A midpoint that rounds onto the lower value would classify it positive:
    # pROC then uses the upper value (roc.utils.thresholds, direction "<").
    inner = np.arange(1, t.size - 1)
    fix = inner[t[inner] == lo[inner]]
    t[fix] = hi[fix]
    return np.asarray(t, dtype=np.float64)


def _roc_counts(y: npt.NDArray[np.bool_], s: FloatArray
                ) -> tuple[FloatArray, IntArray, IntArray]:
    """Thresholds and (tp, tn) counts at each, positive iff score >= threshold."""
    t = _proc_thresholds(s)
    cs = np.sort(s[y])
    ct = np.sort(s[~y])
    tp = cs.size - np.searchsorted(cs, t, "left")
    tn = np.searchsorted(ct, t, "left")
    return t, tp.astype(np.int64), tn.astype(np.int64)


def roc_curve(y_true: Any, y_score: Any) -> pd.DataFrame:
    """Empirical ROC curve at pROC's thresholds.

    Thresholds are ``-inf``, the midpoints of consecutive sorted unique scores,
    and ``+inf`` (pROC ``roc()$thresholds``, including its fix for midpoints
    that round onto a data value).  A patient is test-positive iff
    ``score >= threshold``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event.
    y_score : array-like of shape (n_samples,)
        Finite scores.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold`` (increasing), ``fpr`` (1 - specificity) and
        ``tpr`` (sensitivity), both decreasing from 1 to 0.
    """
    y, s = _check_pair(y_true, y_score, caller="roc_curve")
    t, tp, tn = _roc_counts(y, s)
    m, n = int(y.sum()), int((~y).sum())
    return pd.DataFrame({"threshold": t, "fpr": 1.0 - tn / n, "tpr": tp / m})


# --------------------------------------------------------------------------- DeLong


@dataclass(frozen=True, kw_only=True)
class DeLongCIResult(Result):
    """AUC with its DeLong variance and normal confidence interval.

    Attributes
    ----------
    estimate : float
        AUC.
    variance : float
        DeLong variance :math:`S_{10}/m + S_{01}/n` (pROC ``var(roc)``); NaN
        with a single case or control.
    se : float
        Square root of ``variance``.
    ci_low, ci_high : float
        :math:`\\hat\\theta \\pm z_{1-\\alpha/2}\\,\\mathrm{se}`, clipped to [0, 1]
        (pROC ``ci.auc(method="delong")``).
    confidence_level : float
        Two-sided confidence level.
    n_cases, n_controls : int
        Number of events and non-events.
    """

    estimate: float
    variance: float
    se: float
    ci_low: float
    ci_high: float
    confidence_level: float
    n_cases: int
    n_controls: int
    method: str = "delong"


def delong_ci(y_true: Any, y_score: Any, *, confidence_level: float = 0.95) -> DeLongCIResult:
    """AUC with DeLong variance and confidence interval (pROC ``ci.auc(method="delong")``).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event.
    y_score : array-like of shape (n_samples,)
        Finite scores.
    confidence_level : float, optional
        Two-sided level in (0, 1).

    Returns
    -------
    DeLongCIResult

    Warns
    -----
    radval.exceptions.UndefinedMetricWarning
        With a single case or control (variance and CI are NaN, as pROC's NA),
        or a constant score.

    Notes
    -----
    :math:`\\widehat{\\mathrm{Var}} = \\frac{1}{m}\\frac{\\sum_i (V_{10,i}-\\hat\\theta)^2}{m-1}
    + \\frac{1}{n}\\frac{\\sum_j (V_{01,j}-\\hat\\theta)^2}{n-1}`; the interval is
    :math:`\\hat\\theta \\pm \\Phi^{-1}(1-\\alpha/2)\\sqrt{\\widehat{\\mathrm{Var}}}`
    with values above 1 set to 1 and below 0 set to 0.  No logit transform.
    """
    caller = "delong_ci"
    level = check_confidence_level(confidence_level, caller=caller)
    y, s = _check_pair(y_true, y_score, caller=caller)
    _warn_constant(s, caller=caller, param="y_score")
    cases, controls = s[y], s[~y]
    auc, var = _delong_stats(cases, controls)
    if math.isnan(var):
        msg = (f"delong_ci needs at least 2 cases and 2 controls for a variance; got "
               f"{cases.size} case(s) and {controls.size} control(s). Variance and CI are NaN.")
        warnings.warn(msg, UndefinedMetricWarning, stacklevel=2)
        lo = hi = se = math.nan
    else:
        se = math.sqrt(var)
        z = float(special.ndtri(1.0 - (1.0 - level) / 2.0))
        lo = min(1.0, max(0.0, auc - z * se))
        hi = min(1.0, max(0.0, auc + z * se))
    return DeLongCIResult(estimate=auc, variance=var, se=se, ci_low=lo, ci_high=hi,
                          confidence_level=level, n_cases=int(cases.size),
                          n_controls=int(controls.size))


def delong_covariance(y_true: Any, scores: Any) -> tuple[FloatArray, FloatArray]:
    """AUCs and the full DeLong covariance matrix of k models on the same patients.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome.
    scores : array-like of shape (k, n_samples) or mapping name -> array
        One row per model.

    Returns
    -------
    aucs : numpy.ndarray of shape (k,)
    covariance : numpy.ndarray of shape (k, k)
        :math:`S = S_{10}/m + S_{01}/n` with :math:`S_{10}, S_{01}` the sample
        covariance matrices of the placements (pROC ``cov(roc1, roc2)`` off the
        diagonal, ``var(roc)`` on it).
    """
    caller = "delong_covariance"
    names, y, mat = _check_many(y_true, scores, caller=caller)
    _check_min_per_class(y, caller)
    aucs, v10, v01 = _placement_matrix(y, mat)
    return aucs, _covariance(v10, v01)


def _check_min_per_class(y: npt.NDArray[np.bool_], caller: str) -> None:
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise param_error("y_true", caller, "holding at least 2 cases and 2 controls",
                          f"{m} case(s) and {n} control(s)")


def _check_many(y_true: Any, scores: Any, *, caller: str
                ) -> tuple[list[str], npt.NDArray[np.bool_], FloatArray]:
    y = check_binary(y_true, caller=caller).astype(bool)
    if isinstance(scores, Mapping):
        names = [str(k) for k in scores]
        arrays = [check_scores(v, caller=caller, param=f"scores[{k!r}]")
                  for k, v in scores.items()]
    else:
        arr = np.asarray(scores, dtype=np.float64)
        if arr.ndim != 2:
            raise param_error("scores", caller, "a mapping name -> array or a 2-d array "
                              "(k models, n samples)", f"an array of shape {arr.shape}")
        names = [f"model_{i}" for i in range(arr.shape[0])]
        arrays = [check_scores(r, caller=caller, param=f"scores[{i}]") for i, r in enumerate(arr)]
    for nm, a in zip(names, arrays, strict=True):
        check_consistent_length(caller, y_true=y, **{f"scores[{nm!r}]": a})
    if len(arrays) == 0:
        raise param_error("scores", caller, "at least one model", scores)
    return names, y, np.vstack(arrays)


@dataclass(frozen=True, kw_only=True)
class DeLongTestResult(Result):
    """DeLong comparison of two AUCs (pROC ``roc.test(method="delong")``).

    Attributes
    ----------
    auc_a, auc_b : float
        AUCs of the two scores.
    difference : float
        ``auc_a - auc_b``.
    statistic : float
        Paired: :math:`z = d / \\sqrt{L^\\top S L}`; unpaired: Welch-type ``t``.
    p_value : float
        From the normal (paired) or Student t (unpaired) distribution, for
        ``alternative``.
    ci_low, ci_high : float
        Two-sided CI of the difference, :math:`d \\pm z_{1-\\alpha/2}\\,\\mathrm{sd}`
        (not clipped; as pROC's paired CI, and with the same formula for the
        unpaired test, which pROC does not report).
    confidence_level : float
    alternative : str
        ``"two-sided"``, ``"greater"`` (auc_a > auc_b) or ``"less"``.
    se : float
        Standard deviation of the difference.
    df : float
        Degrees of freedom of the unpaired t test (NaN for the paired test).
    method : str
    """

    auc_a: float
    auc_b: float
    difference: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence_level: float
    alternative: str
    se: float
    df: float = math.nan
    method: str = "delong-paired"


def _paired_from_cov(aucs: FloatArray, cov: FloatArray, i: int, j: int, level: float,
                     alternative: str) -> DeLongTestResult:
    d = float(aucs[i] - aucs[j])
    v = float(cov[i, i] + cov[j, j] - 2.0 * cov[i, j])
    sig = math.sqrt(v) if v > 0 else 0.0
    if sig == 0.0:
        z = 0.0 if d == 0.0 else math.copysign(math.inf, d)
    else:
        z = d / sig
    zc = float(special.ndtri(1.0 - (1.0 - level) / 2.0))
    return DeLongTestResult(auc_a=float(aucs[i]), auc_b=float(aucs[j]), difference=d,
                            statistic=z, p_value=_p_normal(z, alternative),
                            ci_low=d - zc * sig, ci_high=d + zc * sig,
                            confidence_level=level, alternative=alternative, se=sig)


def delong_test(y_true: Any, score_a: Any, score_b: Any, *, confidence_level: float = 0.95,
                alternative: Alternative = "two-sided") -> DeLongTestResult:
    """Paired DeLong test of two AUCs on the same patients.

    Equal to pROC ``roc.test(roc_a, roc_b, method="delong", paired=TRUE)``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome.
    score_a, score_b : array-like of shape (n_samples,)
        Scores of the two models for the same patients.
    confidence_level : float, optional
        Level of the (two-sided) CI of the difference.
    alternative : {"two-sided", "greater", "less"}, optional
        ``"greater"`` tests AUC_a > AUC_b.

    Returns
    -------
    DeLongTestResult

    Notes
    -----
    With :math:`S` the 2x2 DeLong covariance and :math:`L = (1, -1)`,
    :math:`z = (\\hat\\theta_a - \\hat\\theta_b)/\\sqrt{L^\\top S L}`; when both the
    difference and its standard deviation are 0 (identical curves) ``z = 0``
    and ``p = 1`` (as pROC).  Two-sided :math:`p = 2\\Phi(-|z|)`; "greater"
    :math:`\\Phi(-z)`; "less" :math:`\\Phi(z)`.
    """
    caller = "delong_test"
    level = check_confidence_level(confidence_level, caller=caller)
    alternative = _check_alternative(alternative, caller)  # type: ignore[assignment]
    y = check_binary(y_true, caller=caller).astype(bool)
    a = check_scores(score_a, caller=caller, param="score_a")
    b = check_scores(score_b, caller=caller, param="score_b")
    check_consistent_length(caller, y_true=y, score_a=a, score_b=b)
    _check_min_per_class(y, caller)
    aucs, v10, v01 = _placement_matrix(y, np.vstack((a, b)))
    return _paired_from_cov(aucs, _covariance(v10, v01), 0, 1, level, alternative)


def delong_test_unpaired(y_true_a: Any, score_a: Any, y_true_b: Any, score_b: Any, *,
                         confidence_level: float = 0.95,
                         alternative: Alternative = "two-sided") -> DeLongTestResult:
    """Unpaired DeLong test of two AUCs from different patients.

    Equal to pROC ``roc.test(roc_a, roc_b, method="delong", paired=FALSE)``:
    a Welch-type statistic with a Student t reference distribution.

    Parameters
    ----------
    y_true_a, score_a : array-like
        Outcome and score of the first sample.
    y_true_b, score_b : array-like
        Outcome and score of the second sample.
    confidence_level : float, optional
        Level of the CI of the difference (normal, :math:`d \\pm z\\,\\mathrm{sd}`;
        pROC reports none for the unpaired test).
    alternative : {"two-sided", "greater", "less"}, optional

    Returns
    -------
    DeLongTestResult
        ``statistic`` is t, ``df`` its Welch degrees of freedom.

    Notes
    -----
    :math:`S_R = S_{10,R}/m_R + S_{01,R}/n_R`, likewise :math:`S_S`;
    :math:`t = (\\hat\\theta_R - \\hat\\theta_S)/\\sqrt{S_R + S_S}`,
    :math:`\\nu = (S_R+S_S)^2 / (S_R^2/(N_R-1) + S_S^2/(N_S-1))` with
    :math:`N = m + n`.
    """
    caller = "delong_test_unpaired"
    level = check_confidence_level(confidence_level, caller=caller)
    alternative = _check_alternative(alternative, caller)  # type: ignore[assignment]
    ya, a = _check_pair(y_true_a, score_a, caller=caller, y_param="y_true_a", s_param="score_a")
    yb, b = _check_pair(y_true_b, score_b, caller=caller, y_param="y_true_b", s_param="score_b")
    for yy, nm in ((ya, "y_true_a"), (yb, "y_true_b")):
        mm, nn = int(yy.sum()), int((~yy).sum())
        if mm < 2 or nn < 2:
            raise param_error(nm, caller, "holding at least 2 cases and 2 controls",
                              f"{mm} case(s) and {nn} control(s)")
    auc_a, var_a = _delong_stats(a[ya], a[~ya])
    auc_b, var_b = _delong_stats(b[yb], b[~yb])
    d = auc_a - auc_b
    tot = var_a + var_b
    sig = math.sqrt(tot)
    if sig == 0.0:
        t = 0.0 if d == 0.0 else math.copysign(math.inf, d)
        df = math.nan
        p = 1.0 if d == 0.0 else _p_normal(t, alternative)  # limit of the t test
    else:
        t = d / sig
        df = tot**2 / (var_a**2 / (ya.size - 1) + var_b**2 / (yb.size - 1))
        p = _p_t(t, df, alternative)
    zc = float(special.ndtri(1.0 - (1.0 - level) / 2.0))
    return DeLongTestResult(auc_a=auc_a, auc_b=auc_b, difference=d, statistic=t, p_value=p,
                            ci_low=d - zc * sig, ci_high=d + zc * sig, confidence_level=level,
                            alternative=alternative, se=sig, df=df, method="delong-unpaired")


def delong_test_many(y_true: Any, scores: Mapping[str, Any], *, adjust: str = "holm",
                     confidence_level: float = 0.95) -> pd.DataFrame:
    """All pairwise paired DeLong tests of k models, with adjusted p-values.

    The k x k DeLong covariance is computed once (one sort per model and class).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome.
    scores : mapping of str to array-like
        Model name -> scores for the same patients (at least 2 models).
    adjust : {"holm", "bh", "bonferroni", "none"}, optional
        Multiplicity adjustment over the k(k-1)/2 two-sided p-values
        (:func:`radval.stats._multitest.adjust_pvalues`).
    confidence_level : float, optional
        Level of each CI of the difference.

    Returns
    -------
    pandas.DataFrame
        One row per pair (in the order of ``scores``) with columns ``model_a,
        model_b, auc_a, auc_b, difference, statistic, p_value, p_adjusted,
        ci_low, ci_high``.
    """
    caller = "delong_test_many"
    level = check_confidence_level(confidence_level, caller=caller)
    if not isinstance(scores, Mapping):
        raise param_error("scores", caller, "a mapping model name -> scores", type(scores))
    names, y, mat = _check_many(y_true, scores, caller=caller)
    if len(names) < 2:
        raise param_error("scores", caller, "a mapping with at least 2 models", names)
    _check_min_per_class(y, caller)
    aucs, v10, v01 = _placement_matrix(y, mat)
    cov = _covariance(v10, v01)
    rows = []
    for i, j in itertools.combinations(range(len(names)), 2):
        r = _paired_from_cov(aucs, cov, i, j, level, "two-sided")
        rows.append({"model_a": names[i], "model_b": names[j], "auc_a": r.auc_a,
                     "auc_b": r.auc_b, "difference": r.difference, "statistic": r.statistic,
                     "p_value": r.p_value, "ci_low": r.ci_low, "ci_high": r.ci_high})
    out = pd.DataFrame(rows)
    out.insert(7, "p_adjusted", adjust_pvalues(out["p_value"].to_numpy(), method=adjust))
    return out


# --------------------------------------------------------------------------- bootstrap


def bootstrap_indices(y_true: Any, *, n_resamples: int = 2000, stratified: bool = True,
                      rng: int | np.random.Generator | None = None) -> IntArray:
    """Bootstrap resample indices (rows index the original sample).

    Stratified (pROC's default): each row holds the resampled controls first
    (n draws with replacement among the controls), then the resampled cases
    (m draws among the cases), as pROC's ``stratified.ci.auc``.  Otherwise each
    row is N draws among all patients.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome.
    n_resamples : int, optional
    stratified : bool, optional
    rng : int, numpy.random.Generator or None, optional

    Returns
    -------
    numpy.ndarray of shape (n_resamples, n_samples), int64
        Pass it as ``resample_indices`` to :func:`bootstrap_auc` to reproduce a
        run, or index ``y_true[idx]`` to check against another implementation.
    """
    caller = "bootstrap_indices"
    y = check_binary(y_true, caller=caller).astype(bool)
    b = check_positive_int(n_resamples, caller=caller, param="n_resamples")
    gen = _check_rng(rng, caller)
    n_total = y.size
    if not stratified:
        return gen.integers(0, n_total, size=(b, n_total), dtype=np.int64)
    ctrl = np.flatnonzero(~y)
    case = np.flatnonzero(y)
    out = np.empty((b, n_total), dtype=np.int64)
    out[:, :ctrl.size] = ctrl[gen.integers(0, ctrl.size, size=(b, ctrl.size))]
    out[:, ctrl.size:] = case[gen.integers(0, case.size, size=(b, case.size))]
    return out


def _weights_from_indices(idx: IntArray, n_total: int) -> FloatArray:
    b = idx.shape[0]
    flat = (idx + (np.arange(b, dtype=np.int64) * n_total)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n_total).reshape(b, n_total).astype(np.float64)


class _SortedModel:
    """One score pre-sorted for weighted AUCs: O(N) per resample."""

    def __init__(self, cases: FloatArray, controls: FloatArray) -> None:
        self.ctrl_order = np.argsort(controls)
        ys = controls[self.ctrl_order]
        self.lo = np.searchsorted(ys, cases, "left")
        self.hi = np.searchsorted(ys, cases, "right")

    def aucs(self, w_case: FloatArray, w_ctrl: FloatArray) -> FloatArray:
        """Weighted AUCs for a (B, m) case-weight and (B, n) control-weight matrix."""
        b = w_ctrl.shape[0]
        cum = np.empty((b, w_ctrl.shape[1] + 1))
        cum[:, 0] = 0.0
        np.cumsum(w_ctrl[:, self.ctrl_order], axis=1, out=cum[:, 1:])
        g = cum[:, self.lo] + cum[:, self.hi]
        num = np.einsum("ij,ij->i", g, w_case)
        den = 2.0 * w_case.sum(axis=1) * w_ctrl.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(num / den, dtype=np.float64)


def _chunk_weights(y: npt.NDArray[np.bool_], b: int, stratified: bool,
                   gen: np.random.Generator | None, idx: IntArray | None, start: int
                   ) -> tuple[FloatArray, FloatArray]:
    """Weight matrices (case, control) for resamples start..start+b."""
    n_total = y.size
    if idx is not None:
        w = _weights_from_indices(idx[start:start + b], n_total)
        return w[:, y], w[:, ~y]
    if gen is None:  # pragma: no cover - internal contract
        raise RuntimeError("generator required")
    m, n = int(y.sum()), int((~y).sum())
    if stratified:
        ic = gen.integers(0, n, size=(b, n))
        ix = gen.integers(0, m, size=(b, m))
        return _weights_from_indices(ix, m), _weights_from_indices(ic, n)
    w = _weights_from_indices(gen.integers(0, n_total, size=(b, n_total)), n_total)
    return w[:, y], w[:, ~y]


def _bootstrap_aucs(y: npt.NDArray[np.bool_], scores: list[FloatArray], *, n_resamples: int,
                    stratified: bool, gen: np.random.Generator | None,
                    idx: IntArray | None) -> FloatArray:
    """(k, B) bootstrap AUCs of k scores on the same resamples (NaN if a class is absent)."""
    models = [_SortedModel(s[y], s[~y]) for s in scores]
    out = np.empty((len(scores), n_resamples))
    chunk = max(1, _CHUNK_ELEMENTS // max(1, y.size))
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        wx, wc = _chunk_weights(y, b, stratified, gen, idx, start)
        for k, mod in enumerate(models):
            out[k, start:start + b] = mod.aucs(wx, wc)
    return out


def _quantile7(x: FloatArray, q: Any) -> FloatArray:
    return np.asarray(np.quantile(x, q, method="linear"), dtype=np.float64)


def _check_indices(resample_indices: Any, n_total: int, y: npt.NDArray[np.bool_],
                   stratified: bool, caller: str) -> IntArray:
    idx = np.asarray(resample_indices)
    if idx.ndim != 2 or idx.shape[1] != n_total or not np.issubdtype(idx.dtype, np.integer):
        raise param_error("resample_indices", caller,
                          f"an integer array of shape (n_resamples, {n_total})",
                          f"dtype {idx.dtype}, shape {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_total):
        raise param_error("resample_indices", caller, f"indices in [0, {n_total})",
                          f"range [{idx.min()}, {idx.max()}]")
    if stratified and idx.size:
        n_cases = y[idx].sum(axis=1)
        if (n_cases != y.sum()).any():
            raise param_error("resample_indices", caller,
                              "stratified (each row with the original numbers of cases and "
                              "controls) when stratified=True", "unstratified rows")
    return idx.astype(np.int64, copy=False)


@dataclass(frozen=True, kw_only=True)
class BootstrapAUCResult(Result):
    """Bootstrap confidence interval of an AUC.

    Attributes
    ----------
    estimate : float
        AUC of the original sample (not the bootstrap median).
    ci_low, ci_high : float
        Percentile (R type-7 quantiles, as pROC ``ci.auc(method="bootstrap")``)
        or BCa limits.
    median : float
        Median of the bootstrap AUCs (the middle value pROC prints).
    se : float
        Standard deviation of the bootstrap AUCs (pROC ``var(method="bootstrap")``
        is its square).
    n_resamples : int
        Number of resamples used (after dropping resamples with one class).
    n_dropped : int
        Unstratified resamples dropped because a class was absent.
    method : str
        ``"percentile"`` or ``"bca"``.
    confidence_level : float
    stratified : bool
    bias_correction, acceleration : float
        BCa :math:`z_0` and :math:`a` (NaN for percentile).
    distribution : numpy.ndarray
        The bootstrap AUCs.
    """

    estimate: float
    ci_low: float
    ci_high: float
    median: float
    se: float
    n_resamples: int
    n_dropped: int
    method: str
    confidence_level: float
    stratified: bool
    bias_correction: float = math.nan
    acceleration: float = math.nan
    distribution: FloatArray = field(repr=False, compare=False,
                                     default_factory=lambda: np.empty(0))


def _jackknife_acceleration(y: npt.NDArray[np.bool_], s: FloatArray) -> float:
    """BCa acceleration from leave-one-out AUCs computed from placements, O(N log N).

    Dropping case i: :math:`(m\\hat\\theta - V_{10,i})/(m-1)`; dropping control j:
    :math:`(n\\hat\\theta - V_{01,j})/(n-1)`.
    """
    v10, v01 = _placements_pooled(y, s)
    m, n = v10.size, v01.size
    theta = float(v10.mean())
    loo = np.concatenate(((m * theta - v10) / (m - 1), (n * theta - v01) / (n - 1)))
    dev = loo.mean() - loo
    den = 6.0 * float(np.sum(dev**2)) ** 1.5
    return float(np.sum(dev**3)) / den if den > 0 else 0.0


def bootstrap_auc(y_true: Any, y_score: Any, *, n_resamples: int = 2000,
                  confidence_level: float = 0.95, stratified: bool = True,
                  method: Literal["percentile", "bca"] = "percentile",
                  rng: int | np.random.Generator | None = None,
                  resample_indices: Any = None) -> BootstrapAUCResult:
    """Bootstrap confidence interval of the AUC (pROC ``ci.auc(method="bootstrap")``).

    Vectorised: scores are sorted once; a resample is a vector of
    multiplicities, and its AUC is
    :math:`\\sum_i w^{case}_i (C(\\ell_i) + C(h_i)) / (2 \\sum w^{case} \\sum w^{ctrl})`
    with :math:`C` the cumulative control weights in sorted order and
    :math:`\\ell_i, h_i` the left/right insertion points of case i among the
    sorted controls: O(N) per resample, resamples processed as matrices in
    chunks.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome.
    y_score : array-like of shape (n_samples,)
        Finite scores.
    n_resamples : int, optional
        Number of bootstrap resamples (pROC ``boot.n``); ignored when
        ``resample_indices`` is given.
    confidence_level : float, optional
    stratified : bool, optional
        Resample controls and cases separately, keeping their numbers
        (pROC ``boot.stratified=TRUE``).  Otherwise resample all patients;
        resamples without both classes are dropped with a
        :class:`~radval.exceptions.DegenerateBootstrapWarning` (pROC drops its NA).
    method : {"percentile", "bca"}, optional
        ``"percentile"``: type-7 quantiles :math:`\\alpha/2, 1-\\alpha/2` of the
        bootstrap AUCs (pROC).  ``"bca"``: bias-corrected and accelerated
        (Efron 1987) with :math:`z_0 = \\Phi^{-1}(\\#\\{\\theta^* < \\hat\\theta\\}/B
        + \\#\\{\\theta^* = \\hat\\theta\\}/(2B))` and the jackknife acceleration over
        all N patients (leave-one-out AUCs from placements); bootstrap AUCs within
        1e-12 of the estimate count as ties.
    rng : int, numpy.random.Generator or None, optional
        Seed or generator; the same seed gives the same result.
    resample_indices : array-like of shape (B, n_samples), optional
        Explicit resamples (rows of indices into the sample), e.g. from
        :func:`bootstrap_indices`; overrides ``n_resamples`` and ``rng``.

    Returns
    -------
    BootstrapAUCResult

    Notes
    -----
    R's random number stream is not reproduced, so intervals agree with pROC in
    distribution (Monte-Carlo error), not digit by digit.
    """
    caller = "bootstrap_auc"
    level = check_confidence_level(confidence_level, caller=caller)
    method = check_choice(method, ("percentile", "bca"), caller=caller,  # type: ignore[assignment]
                          param="method")
    y, s = _check_pair(y_true, y_score, caller=caller)
    _warn_constant(s, caller=caller, param="y_score")
    stratified = bool(stratified)
    idx = None
    gen = None
    if resample_indices is not None:
        idx = _check_indices(resample_indices, y.size, y, stratified, caller)
        b = idx.shape[0]
        if b < 1:
            raise param_error("resample_indices", caller, "at least one row", idx.shape)
    else:
        b = check_positive_int(n_resamples, caller=caller, param="n_resamples")
        gen = _check_rng(rng, caller)
    cases, controls = s[y], s[~y]
    if method == "bca" and (cases.size < 2 or controls.size < 2):
        raise param_error("y_true", caller, "holding at least 2 cases and 2 controls for BCa",
                          f"{cases.size} case(s) and {controls.size} control(s)")
    est = float(rank_auc(y, s))
    dist_all = _bootstrap_aucs(y, [s], n_resamples=b, stratified=stratified, gen=gen,
                               idx=idx)[0]
    ok = np.isfinite(dist_all)
    dropped = int((~ok).sum())
    dist = dist_all[ok]
    if dropped:
        msg = (f"bootstrap_auc dropped {dropped} of {b} resamples without both classes "
               f"(unstratified bootstrap).")
        warnings.warn(msg, DegenerateBootstrapWarning, stacklevel=2)
    if dist.size == 0:
        msg = "bootstrap_auc: no resample held both classes; the interval is NaN."
        warnings.warn(msg, DegenerateBootstrapWarning, stacklevel=2)
        return BootstrapAUCResult(estimate=est, ci_low=math.nan, ci_high=math.nan,
                                  median=math.nan, se=math.nan, n_resamples=0,
                                  n_dropped=dropped, method=method, confidence_level=level,
                                  stratified=stratified, distribution=dist)
    alpha = 1.0 - level
    med = float(_quantile7(dist, 0.5))
    sd = float(np.std(dist, ddof=1)) if dist.size > 1 else math.nan
    z0 = acc = math.nan
    if method == "percentile":
        lo, hi = _quantile7(dist, [alpha / 2, 1 - alpha / 2])
    else:
        # bootstrap AUCs equal to the estimate (up to rounding, 1e-12) count 1/2
        tie = np.abs(dist - est) <= 1e-12
        frac = (np.sum((dist < est) & ~tie) + 0.5 * np.sum(tie)) / dist.size
        if frac <= 0.0 or frac >= 1.0:
            msg = ("bootstrap_auc: every bootstrap AUC lies on one side of the estimate; "
                   "the BCa interval is undefined (NaN).")
            warnings.warn(msg, DegenerateBootstrapWarning, stacklevel=2)
            lo = hi = math.nan
        else:
            z0 = float(special.ndtri(frac))
            acc = _jackknife_acceleration(y, s)
            za = special.ndtri(np.array([alpha / 2, 1 - alpha / 2]))
            adj = special.ndtr(z0 + (z0 + za) / (1.0 - acc * (z0 + za)))
            lo, hi = _quantile7(dist, adj)
    return BootstrapAUCResult(estimate=est, ci_low=float(lo), ci_high=float(hi), median=med,
                              se=sd, n_resamples=int(dist.size), n_dropped=dropped,
                              method=method, confidence_level=level, stratified=stratified,
                              bias_correction=z0, acceleration=acc, distribution=dist)


@dataclass(frozen=True, kw_only=True)
class BootstrapAUCTestResult(Result):
    """Paired bootstrap test of an AUC difference (pROC ``roc.test(method="bootstrap")``).

    Attributes
    ----------
    auc_a, auc_b, difference : float
        Sample AUCs and ``auc_a - auc_b``.
    statistic : float
        :math:`D = (\\hat\\theta_a - \\hat\\theta_b)/\\mathrm{sd}(\\Delta^*)`.
    p_value : float
        Normal p-value for ``alternative``.
    ci_low, ci_high : float
        Percentile (type-7) interval of the bootstrap differences.
    se : float
        ``sd(Δ*)``.
    n_resamples, n_dropped : int
    confidence_level : float
    alternative : str
    distribution : numpy.ndarray
        Bootstrap differences.
    """

    auc_a: float
    auc_b: float
    difference: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    se: float
    n_resamples: int
    n_dropped: int
    confidence_level: float
    alternative: str
    stratified: bool
    method: str = "bootstrap-paired"
    distribution: FloatArray = field(repr=False, compare=False,
                                     default_factory=lambda: np.empty(0))


def bootstrap_auc_test(y_true: Any, score_a: Any, score_b: Any, *, n_resamples: int = 2000,
                       stratified: bool = True, confidence_level: float = 0.95,
                       alternative: Alternative = "two-sided",
                       rng: int | np.random.Generator | None = None,
                       resample_indices: Any = None) -> BootstrapAUCTestResult:
    """Paired bootstrap test of the AUC difference of two scores.

    As pROC ``roc.test(method="bootstrap", paired=TRUE)``: both scores are
    evaluated on the same resampled patients;
    :math:`D = (\\hat\\theta_a-\\hat\\theta_b)/\\mathrm{sd}(\\hat\\theta_a^*-\\hat\\theta_b^*)`
    (R ``sd``, denominator B-1) is referred to the standard normal.  When every
    bootstrap difference and the observed difference are 0, ``D = 0``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    score_a, score_b : array-like of shape (n_samples,)
    n_resamples : int, optional
    stratified : bool, optional
    confidence_level : float, optional
        Level of the percentile CI of the difference.
    alternative : {"two-sided", "greater", "less"}, optional
    rng : int, numpy.random.Generator or None, optional
    resample_indices : array-like of shape (B, n_samples), optional

    Returns
    -------
    BootstrapAUCTestResult
    """
    caller = "bootstrap_auc_test"
    level = check_confidence_level(confidence_level, caller=caller)
    alternative = _check_alternative(alternative, caller)  # type: ignore[assignment]
    y = check_binary(y_true, caller=caller).astype(bool)
    a = check_scores(score_a, caller=caller, param="score_a")
    b_ = check_scores(score_b, caller=caller, param="score_b")
    check_consistent_length(caller, y_true=y, score_a=a, score_b=b_)
    stratified = bool(stratified)
    idx = None
    gen = None
    if resample_indices is not None:
        idx = _check_indices(resample_indices, y.size, y, stratified, caller)
        nb = idx.shape[0]
    else:
        nb = check_positive_int(n_resamples, caller=caller, param="n_resamples", minimum=2)
        gen = _check_rng(rng, caller)
    auc_a = float(rank_auc(y, a))
    auc_b = float(rank_auc(y, b_))
    d = auc_a - auc_b
    boots = _bootstrap_aucs(y, [a, b_], n_resamples=nb, stratified=stratified, gen=gen,
                            idx=idx)
    diffs_all = boots[0] - boots[1]
    ok = np.isfinite(diffs_all)
    dropped = int((~ok).sum())
    diffs = diffs_all[ok]
    if dropped:
        msg = f"bootstrap_auc_test dropped {dropped} of {nb} resamples without both classes."
        warnings.warn(msg, DegenerateBootstrapWarning, stacklevel=2)
    if diffs.size < 2:
        msg = "bootstrap_auc_test: fewer than 2 usable resamples; statistic is NaN."
        warnings.warn(msg, DegenerateBootstrapWarning, stacklevel=2)
        sd = stat = p = lo = hi = math.nan
    else:
        sd = float(np.std(diffs, ddof=1))
        if sd == 0.0:
            stat = 0.0 if d == 0.0 else math.copysign(math.inf, d)
        else:
            stat = d / sd
        p = _p_normal(stat, alternative)
        alpha = 1.0 - level
        lo, hi = (float(v) for v in _quantile7(diffs, [alpha / 2, 1 - alpha / 2]))
    return BootstrapAUCTestResult(auc_a=auc_a, auc_b=auc_b, difference=d, statistic=stat,
                                  p_value=p, ci_low=lo, ci_high=hi, se=sd,
                                  n_resamples=int(diffs.size), n_dropped=dropped,
                                  confidence_level=level, alternative=alternative,
                                  stratified=stratified, distribution=diffs)
