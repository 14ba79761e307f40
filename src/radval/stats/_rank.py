"""Wilcoxon-Mann-Whitney rank-sum test, single and vectorised over feature tables.

Equal to R's ``wilcox.test(x, y, exact=FALSE, correct=TRUE)``: normal
approximation with tie correction and continuity correction; ``mann_whitney``
also has R's exact test (``exact=TRUE``) for samples without ties.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval._validation import (
    check_binary,
    check_choice,
    check_consistent_length,
    check_scores,
    param_error,
)
from radval.exceptions import UndefinedMetricWarning
from radval.stats._kernels import auc_from_rank_sum

__all__ = ["MannWhitneyResult", "mann_whitney", "mann_whitney_table"]

FloatArray = npt.NDArray[np.float64]
_ALTERNATIVES = ("two-sided", "less", "greater")


@dataclass(frozen=True, kw_only=True)
class MannWhitneyResult(Result):
    """Result of :func:`mann_whitney`.

    Attributes
    ----------
    statistic : float
        U of ``x``: the number of pairs (x_i, y_j) with x_i > y_j plus half the
        ties; R's ``W`` of ``wilcox.test(x, y)``.
    p_value : float
        Normal-approximation p-value with tie and continuity correction (NaN if
        all values are tied, as in R).
    z : float
        The continuity-corrected standardised statistic.
    auc : float
        ``U / (n_x n_y)``: P(X > Y) + P(X = Y)/2, the common-language effect size
        (the AUC of ``x`` against ``y``).
    rank_biserial : float
        ``2 auc - 1`` (Kerby's simple difference formula).
    n_x, n_y : int
        Group sizes.
    alternative : str
        ``"two-sided"``, ``"less"`` or ``"greater"`` (x stochastically smaller /
        larger than y).
    method : str
        ``"asymptotic"`` or ``"exact"`` (the one used, after ``"auto"``).
    """

    statistic: float
    p_value: float
    z: float
    auc: float
    rank_biserial: float
    n_x: int
    n_y: int
    alternative: str
    method: str = "asymptotic"


_EXACT_MAX_CELLS = 10_000


def _u_counts(m: int, n: int) -> list[int]:
    """Exact null frequencies of U for samples of m and n untied values.

    The coefficients of the Gaussian binomial
    :math:`\\prod_{i=1}^{m} (1 - q^{n+i}) / (1 - q^i)`, built one factor at a
    time in Python integers (exact; R's ``cwilcox`` sums the same counts in
    doubles).
    """
    if m > n:
        m, n = n, m
    size = m * n + 1
    # int64 is exact while every count fits (the total C(m+n, m) bounds them all)
    dtype: Any = np.int64 if math.comb(m + n, m) < 2**62 else object
    c = np.zeros(size, dtype=dtype)
    c[0] = 1
    for i in range(1, m + 1):
        k = n + i
        if k < size:
            c[k:] = c[k:] - c[:size - k]
        # divide by (1 - q^i): running sums with stride i, as columns of a matrix
        rows = -(-size // i)
        pad = np.zeros(rows * i, dtype=dtype)
        pad[:size] = c
        c = np.cumsum(pad.reshape(rows, i), axis=0).ravel()[:size]
    return [int(v) for v in c]


def _exact_p(u: float, n_x: int, n_y: int, alternative: str) -> float:
    """R ``wilcox.test(exact = TRUE)`` p-value from ``pwilcox`` (no ties)."""
    from fractions import Fraction

    counts = _u_counts(n_x, n_y)
    total = sum(counts)
    w = int(round(u))

    def lower(q: int) -> Fraction:  # P(U <= q)
        return Fraction(sum(counts[:max(q + 1, 0)]), total)

    if alternative == "less":
        return float(lower(w))
    upper = 1 - lower(w - 1)  # P(U >= w)
    if alternative == "greater":
        return float(upper)
    p = upper if u > n_x * n_y / 2.0 else lower(w)
    return float(min(2 * p, Fraction(1)))


def _p_from_z(z: FloatArray, alternative: str) -> FloatArray:
    from scipy.special import ndtr

    if alternative == "less":
        return np.asarray(ndtr(z))
    if alternative == "greater":
        return np.asarray(ndtr(-z))
    return np.asarray(2.0 * np.minimum(ndtr(z), ndtr(-z)))


def _normal_approx(u: FloatArray, n_x: FloatArray, n_y: FloatArray, tie_sum: FloatArray,
                   alternative: str, correct: bool) -> tuple[FloatArray, FloatArray]:
    """z and p of R's wilcox.test normal approximation (vectorised)."""
    n = n_x + n_y
    d = u - n_x * n_y / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt((n_x * n_y / 12.0) * ((n + 1.0) - tie_sum / (n * (n - 1.0))))
        if correct:
            if alternative == "two-sided":
                corr = np.sign(d) * 0.5
            elif alternative == "greater":
                corr = np.full_like(d, 0.5)
            else:
                corr = np.full_like(d, -0.5)
        else:
            corr = np.zeros_like(d)
        z = (d - corr) / sigma
    return z, _p_from_z(z, alternative)


def _rank_sums(x: FloatArray, group: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Per column: the sum of the mid-ranks (R ``rank``) of the rows in ``group``,
    and the tie sum ``sum(t^3 - t)`` over tie groups.

    One argsort per column (on a contiguous transposed copy; stability is not
    needed because tied values share their mid-rank).  Tie groups are found on
    the sorted values, each element gets the mean of the first and last position
    of its group, and ``sum(t^3 - t)`` is accumulated exactly as the sum over
    elements of ``t^2 - 1`` (integers).
    """
    xt = np.ascontiguousarray(x.T)
    p, n = xt.shape
    order = np.argsort(xt, axis=1)
    srt = np.take_along_axis(xt, order, axis=1)
    pos = np.broadcast_to(np.arange(n), (p, n))
    new = np.ones((p, n), dtype=bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    first = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    last_flag = np.ones((p, n), dtype=bool)
    last_flag[:, :-1] = new[:, 1:]
    last = np.minimum.accumulate(np.where(last_flag, pos, n - 1)[:, ::-1], axis=1)[:, ::-1]
    size = (last - first + 1).astype(np.float64)
    mid = (first + last) / 2.0 + 1.0
    in_group = group[order]
    rank_sum = np.einsum("ij,ij->i", mid, in_group.astype(np.float64))
    tie_sum = np.einsum("ij,ij->i", size, size) - n
    return rank_sum, tie_sum


def mann_whitney(x: Any, y: Any, *, alternative: str = "two-sided",
                 correct: bool = True, method: str = "asymptotic") -> MannWhitneyResult:
    r"""Wilcoxon-Mann-Whitney test of ``x`` against ``y``.

    Parameters
    ----------
    x, y : array-like
        Finite values of the two groups (e.g. a feature in events and non-events).
    alternative : {"two-sided", "less", "greater"}, optional
        ``"greater"``: x tends to be larger than y.
    correct : bool, optional
        Continuity correction of 1/2 (R default ``TRUE``; normal approximation
        only).
    method : {"asymptotic", "exact", "auto"}, optional
        ``"asymptotic"`` (default): normal approximation, ``wilcox.test(exact =
        FALSE)``.  ``"exact"``: the exact null distribution of U,
        ``wilcox.test(exact = TRUE)``; it needs untied values.  ``"auto"``: R's
        default rule, exact when both samples have fewer than 50 values and
        there are no ties, otherwise the normal approximation.

    Returns
    -------
    MannWhitneyResult
        ``statistic`` (U of x), ``p_value``, ``z`` (NaN for the exact test),
        ``auc``, ``rank_biserial``, ``n_x``, ``n_y``, ``method``.

    Raises
    ------
    InputError
        Empty groups, NaN or infinite values (R drops them silently; radval asks
        you to decide); ``method="exact"`` with tied values (R falls back to the
        normal approximation with a warning; use ``"auto"`` for that) or with
        more than 10,000 pairs (``n_x * n_y``, e.g. 100 x 100; the exact counts
        then take seconds and the normal approximation is accurate).

    Warns
    -----
    UndefinedMetricWarning
        All values tied: the variance is 0 and ``p_value`` is NaN (as R).

    Notes
    -----
    With mid-ranks :math:`R_i` of the pooled sample,
    :math:`U = \sum_{i \in x} R_i - n_x(n_x+1)/2`,
    :math:`\sigma^2 = \frac{n_x n_y}{12}\left[(N+1) - \frac{\sum_g (t_g^3 - t_g)}{N(N-1)}\right]`
    and :math:`z = (U - n_x n_y/2 - c)/\sigma` with
    :math:`c = \operatorname{sign}(U - n_x n_y/2)/2` (two-sided), :math:`1/2`
    ("greater") or :math:`-1/2` ("less"); two-sided
    :math:`p = 2\min(\Phi(z), 1 - \Phi(z))`.  This is ``wilcox.test(x, y,
    exact=FALSE, correct=TRUE)``.

    Exact test: the null frequencies of :math:`U` are the coefficients of the
    Gaussian binomial :math:`\binom{n_x+n_y}{n_x}_q`, counted exactly; as R,
    two-sided :math:`p = \min(1, 2 P(U \ge u))` if :math:`u > n_x n_y / 2`, else
    :math:`\min(1, 2 P(U \le u))`; ``"greater"`` :math:`P(U \ge u)`, ``"less"``
    :math:`P(U \le u)`.  scipy's ``mannwhitneyu(method="asymptotic")``
    agrees except when :math:`|U - n_x n_y/2| < 1/2` (possible with ties), where
    scipy reports 1 and R a value just below 1.

    References
    ----------
    Mann HB, Whitney DR. Ann Math Stat 1947;18:50-60.  Hollander M, Wolfe DA.
    Nonparametric Statistical Methods. Wiley, 1973.

    Examples
    --------
    >>> from radval.stats import mann_whitney
    >>> res = mann_whitney([1.1, 2.3, 3.8, 4.2], [0.5, 1.0, 2.0])
    >>> res.statistic, round(res.auc, 4)
    (11.0, 0.9167)
    """
    caller = "mann_whitney"
    xa = check_scores(x, caller=caller, param="x")
    ya = check_scores(y, caller=caller, param="y")
    alternative = check_choice(alternative, _ALTERNATIVES, caller=caller, param="alternative")
    method = check_choice(method, ("asymptotic", "exact", "auto"), caller=caller,
                          param="method")
    pooled = np.concatenate([xa, ya])[:, None]
    n_x, n_y = xa.size, ya.size
    is_x = np.zeros(n_x + n_y, dtype=bool)
    is_x[:n_x] = True
    rank_sum, tie_sum = _rank_sums(pooled, is_x)
    u = float(rank_sum[0]) - n_x * (n_x + 1) / 2.0
    z, p = _normal_approx(np.array([u]), np.array([float(n_x)]), np.array([float(n_y)]),
                          tie_sum, alternative, bool(correct))
    ties = bool(tie_sum[0] > 0)
    if method == "auto":
        method = "exact" if (n_x < 50 and n_y < 50 and not ties) else "asymptotic"
    if method == "exact":
        if ties:
            raise param_error("method", caller, "'asymptotic' or 'auto' when the values "
                              "have ties (the exact distribution assumes none; R falls back "
                              "to the normal approximation)", method)
        if n_x * n_y > _EXACT_MAX_CELLS:
            raise param_error("method", caller, f"'asymptotic' for more than "
                              f"{_EXACT_MAX_CELLS} pairs (n_x * n_y = {n_x * n_y})", method)
        p = np.array([_exact_p(u, n_x, n_y, alternative)])
        z = np.array([math.nan])
    elif not math.isfinite(float(p[0])):
        warnings.warn("mann_whitney: all values are tied; the p-value is undefined (NaN), "
                      "as in R's wilcox.test.", UndefinedMetricWarning, stacklevel=2)
    auc = float(auc_from_rank_sum(rank_sum[0], n_x, n_y))
    return MannWhitneyResult(statistic=u, p_value=float(p[0]), z=float(z[0]), auc=auc,
                             method=method,
                             rank_biserial=2.0 * auc - 1.0, n_x=n_x, n_y=n_y,
                             alternative=alternative)


def mann_whitney_table(features: Any, y_true: Any, *, fdr: str = "bh",
                       alternative: str = "two-sided", correct: bool = True) -> pd.DataFrame:
    r"""Mann-Whitney test of every feature column between events and non-events.

    Parameters
    ----------
    features : pandas.DataFrame or array-like
        One row per patient, one numeric column per feature (a 2-d array gets
        column names ``0, 1, ...``).
    y_true : array-like
        0/1 outcome per row (1 = event).  ``x`` of each test is the event group.
    fdr : {"bh", "holm", "bonferroni", "none"}, optional
        Adjustment for ``q_value`` (R ``p.adjust``); default Benjamini-Hochberg.
    alternative : {"two-sided", "less", "greater"}, optional
        As in :func:`mann_whitney` (``"greater"``: larger in events).
    correct : bool, optional
        Continuity correction (R default ``TRUE``).

    Returns
    -------
    pandas.DataFrame
        Columns ``feature, statistic, p_value, q_value, auc, n_pos, n_neg`` in
        the column order of ``features``; ``statistic`` is U of the event group,
        ``auc`` = U / (n_pos n_neg).

    Raises
    ------
    InputError
        Non-numeric columns, infinite values, a length mismatch, or an outcome
        with one class.

    Warns
    -----
    UndefinedMetricWarning
        Constant columns (or a column with no observed value in one group).

    Notes
    -----
    All columns are ranked in one vectorised call (one argsort per column); the
    tie correction :math:`\sum_g (t_g^3 - t_g)` is accumulated per column as the
    sum over observations of :math:`t^2 - 1` (exact integers).  Each column equals
    ``wilcox.test(x[y == 1], x[y == 0], exact=FALSE, correct=TRUE)``.

    Rule for degenerate columns: a constant column (all values tied) has zero
    variance; R then returns ``p = NaN`` and so does this function (``q_value``
    is NaN too and the column is not counted in the FDR adjustment, as
    ``p.adjust`` ignores ``NA``).  Missing values (NaN) are dropped column by
    column (R's ``wilcox.test`` drops them as well), and ``n_pos``/``n_neg``
    report the patients actually used.
    """
    from radval.stats._multitest import adjust_pvalues

    caller = "mann_whitney_table"
    if isinstance(features, pd.DataFrame):
        frame = features
    else:
        arr = np.asarray(features)
        if arr.ndim != 2:
            raise param_error("features", caller, "a DataFrame or a 2-d array",
                              f"an array of shape {arr.shape}")
        frame = pd.DataFrame(arr)
    fdr = check_choice(str(fdr).lower(), ("bh", "holm", "bonferroni", "none"), caller=caller,
                       param="fdr")
    alternative = check_choice(alternative, _ALTERNATIVES, caller=caller, param="alternative")
    y = check_binary(y_true, caller=caller)
    check_consistent_length(caller, features=frame.to_numpy(), y_true=y)
    non_numeric = [c for c, dt in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(dt)
                   or pd.api.types.is_bool_dtype(dt)]
    if non_numeric:
        raise param_error("features", caller, "numeric columns only",
                          f"non-numeric column(s) {non_numeric[:5]}")
    values = frame.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        bad = list(frame.columns[np.flatnonzero(np.isinf(values).any(axis=0))])
        raise param_error("features", caller, "free of infinite values",
                          f"infinite values in column(s) {bad[:5]}")
    p = values.shape[1]
    pos = y == 1
    u = np.empty(p)
    n_pos = np.full(p, float(pos.sum()))
    n_neg = np.full(p, float((~pos).sum()))
    tie_sum = np.empty(p)
    has_nan = np.isnan(values).any(axis=0)
    full = np.flatnonzero(~has_nan)
    if full.size:
        rank_sum, ts = _rank_sums(values[:, full], pos)
        npos = float(pos.sum())
        u[full] = rank_sum - npos * (npos + 1.0) / 2.0
        tie_sum[full] = ts
    for j in np.flatnonzero(has_nan):
        ok = ~np.isnan(values[:, j])
        col = values[ok, j][:, None]
        pj = pos[ok]
        n_pos[j], n_neg[j] = float(pj.sum()), float((~pj).sum())
        if n_pos[j] == 0 or n_neg[j] == 0:
            u[j], tie_sum[j] = np.nan, np.nan
            continue
        rs, ts = _rank_sums(col, pj)
        u[j] = rs[0] - n_pos[j] * (n_pos[j] + 1.0) / 2.0
        tie_sum[j] = ts[0]
    _, pval = _normal_approx(u, n_pos, n_neg, tie_sum, alternative, bool(correct))
    undefined = ~np.isfinite(pval)
    if undefined.any():
        names = list(frame.columns[np.flatnonzero(undefined)])
        warnings.warn(f"mann_whitney_table: {int(undefined.sum())} column(s) are constant or "
                      f"have no values in one group; their p-values are NaN (as R), e.g. "
                      f"{names[:5]}", UndefinedMetricWarning, stacklevel=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = u / (n_pos * n_neg)  # = auc_from_rank_sum(...) of the kernel, from U
    return pd.DataFrame({
        "feature": list(frame.columns),
        "statistic": u,
        "p_value": pval,
        "q_value": adjust_pvalues(pval, method=fdr),
        "auc": auc,
        "n_pos": n_pos.astype(np.int64),
        "n_neg": n_neg.astype(np.int64),
    })
