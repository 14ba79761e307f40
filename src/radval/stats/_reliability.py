"""Intraclass correlation coefficients (Shrout & Fleiss), vectorised over features.

Equal to R's ``psych::ICC(x, lmer=FALSE)`` (two-way ANOVA mean squares),
including its McGraw & Wong (1996) confidence interval for ICC2/ICC2k.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval._validation import check_choice, check_confidence_level, param_error
from radval.exceptions import InputError, UndefinedMetricWarning

__all__ = ["ICC_TYPES", "ICCResult", "icc"]

#: The six Shrout & Fleiss forms, in psych's row order.
ICC_TYPES: tuple[str, ...] = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")

_CALLER = "icc"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class ICCResult(Result):
    """Intraclass correlations for one or more features.

    Attributes
    ----------
    features : list
        Feature labels, one per feature (``0, 1, ...`` for array input).
    n_subjects, n_raters : int
        Number of targets (subjects) and raters (readers) per feature.
    confidence_level : float
        Level of the two-sided confidence intervals.
    table : pandas.DataFrame
        Long table, one row per feature x form: ``feature, type, icc, F, df1, df2,
        p_value, ci_low, ci_high``.
    mean_squares : pandas.DataFrame
        Per feature: ``feature, msb, msj, mse, msw`` (between subjects, between
        raters/judges, residual, within subjects).
    """

    features: list[Hashable]
    n_subjects: int
    n_raters: int
    confidence_level: float
    table: pd.DataFrame = field(repr=False, compare=False)
    mean_squares: pd.DataFrame = field(repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """Return the long table (one row per feature x ICC form)."""
        return self.table.copy()

    def get(self, type: str = "ICC2") -> pd.DataFrame:  # noqa: A002 - psych's column name
        """Return the rows of one ICC form, one row per feature (indexed by feature).

        Parameters
        ----------
        type : {"ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"}, optional
            The form; default ``"ICC2"`` (two-way random, absolute agreement,
            single rater), the usual choice for radiomic feature reproducibility.
        """
        check_choice(type, ICC_TYPES, caller="ICCResult.get", param="type")
        sub = self.table[self.table["type"] == type]
        return sub.drop(columns="type").set_index("feature")


def _ratings_from_frame(data: pd.DataFrame, targets: str | None, raters: str | None,
                        values: str | None, feature: str | None
                        ) -> tuple[FloatArray, list[Hashable], list[Hashable]]:
    for name, col in (("targets", targets), ("raters", raters), ("values", values)):
        if col is None:
            raise param_error(name, _CALLER, "a column name when 'ratings' is a DataFrame", col)
        if col not in data.columns:
            raise param_error(name, _CALLER, f"a column of 'ratings' {list(data.columns)[:8]}",
                              col)
    if feature is not None and feature not in data.columns:
        raise param_error("feature", _CALLER, "a column of 'ratings'", feature)
    if not pd.api.types.is_numeric_dtype(data[values]):
        raise param_error("values", _CALLER, "a numeric column", str(data[values].dtype))
    keys = [feature, targets, raters] if feature is not None else [targets, raters]
    dup = data.duplicated(subset=keys, keep=False)
    if dup.any():
        row = data.loc[dup, keys].iloc[0].tolist()
        msg = (f"The 'ratings' parameter of icc must have one value per {tuple(keys)}. "
               f"Got {int(dup.sum())} duplicated rows, e.g. {row} instead.")
        raise InputError(msg)
    subjects = list(pd.unique(data[targets]))
    readers = list(pd.unique(data[raters]))
    if feature is None:
        feats: list[Hashable] = [values]
        wide = data.pivot(index=targets, columns=raters, values=values)
        arr = wide.reindex(index=subjects, columns=readers).to_numpy(dtype=np.float64)[None]
    else:
        feats = list(pd.unique(data[feature]))
        idx = pd.MultiIndex.from_product([feats, subjects, readers])
        s = data.set_index([feature, targets, raters])[values].reindex(idx)
        arr = s.to_numpy(dtype=np.float64).reshape(len(feats), len(subjects), len(readers))
    return arr, feats, subjects


def _check_complete(arr: FloatArray, feats: Sequence[Hashable],
                    subjects: Sequence[Hashable] | None) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        f_i, s_i, _ = (int(v[0]) for v in np.nonzero(bad))
        subj = subjects[s_i] if subjects is not None else s_i
        n_bad = int(bad.any(axis=2).sum())
        msg = (f"The 'ratings' parameter of icc must be complete (no missing, NaN or infinite "
               f"ratings; ANOVA ICCs need a balanced design). Got {n_bad} incomplete "
               f"feature x subject cell(s), e.g. feature {feats[f_i]!r}, subject {subj!r} "
               "instead. Drop those subjects (list-wise deletion) or impute first.")
        raise InputError(msg)


def mean_squares(arr: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Two-way ANOVA mean squares of an ``(F, n, k)`` array, per feature.

    Computed from centred data (two-pass), with the residual sum of squares taken
    from the explicit residuals ``y_ij - ybar_i. - ybar_.j + ybar`` rather than
    by subtraction, so that large offsets (e.g. 1e12 + small signal) do not
    cancel catastrophically.

    Returns
    -------
    tuple of numpy.ndarray
        ``(MSB, MSJ, MSE, MSW)``, each of shape ``(F,)``.
    """
    _, n, k = arr.shape
    centred = arr - arr.mean(axis=(1, 2), keepdims=True)
    row = centred.mean(axis=2, keepdims=True)
    col = centred.mean(axis=1, keepdims=True)
    # second pass: remove the (tiny) residual mean left by rounding
    resid = centred - row - col + centred.mean(axis=(1, 2), keepdims=True)
    rowc = row[:, :, 0] - row.mean(axis=1)
    colc = col[:, 0, :] - col.mean(axis=2)
    ssr = k * np.einsum("fi,fi->f", rowc, rowc)
    ssc = n * np.einsum("fj,fj->f", colc, colc)
    sse = np.einsum("fij,fij->f", resid, resid)
    msb = ssr / (n - 1)
    msj = ssc / (k - 1)
    mse = sse / ((n - 1) * (k - 1))
    msw = (ssc + sse) / (n * (k - 1))
    return msb, msj, mse, msw


def icc(ratings: Any, *, confidence_level: float = 0.95, targets: str | None = None,
        raters: str | None = None, values: str | None = None,
        feature: str | None = None) -> ICCResult:
    r"""Intraclass correlation coefficients ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k.

    Parameters
    ----------
    ratings : array-like or pandas.DataFrame
        Either an array of shape ``(n_subjects, n_raters)`` (one feature), an
        array of shape ``(n_features, n_subjects, n_raters)``, a wide DataFrame
        (one row per subject, one numeric column per rater, as ``psych::ICC``
        takes it), or a long DataFrame with one row per rating and the columns
        named by ``targets``, ``raters``, ``values`` (and ``feature`` for several
        features).
    confidence_level : float, optional
        Level of the two-sided confidence intervals (psych ``alpha = 1 - level``).
    targets, raters, values, feature : str, optional
        Column names for a long DataFrame: subject id, rater id, rating, and
        (optional) feature name.

    Returns
    -------
    ICCResult
        ``.to_frame()`` has one row per feature x form with columns ``feature,
        type, icc, F, df1, df2, p_value, ci_low, ci_high``; ``.get("ICC2")``
        gives one form per feature.

    Warns
    -----
    UndefinedMetricWarning
        A feature with zero variance (all ratings equal): its ICCs are NaN.

    Raises
    ------
    InputError
        Fewer than 2 subjects or raters, non-numeric ratings, duplicated
        (subject, rater) rows, or missing ratings.  Missing ratings are refused
        (not silently dropped): the message names the first feature and subject
        concerned.  psych with ``lmer=FALSE`` refuses them too.

    Notes
    -----
    With :math:`n` subjects, :math:`k` raters and the two-way ANOVA mean squares
    MSB (subjects), MSJ (raters), MSE (residual) and
    MSW = (SS_J + SS_E) / (n(k-1)) (within subjects), following Shrout & Fleiss
    (1979) and psych:

    * ICC1 = (MSB - MSW) / (MSB + (k-1) MSW), one-way random, single rater;
      F = MSB/MSW on (n-1, n(k-1)) df.
    * ICC2 = (MSB - MSE) / (MSB + (k-1) MSE + k (MSJ - MSE)/n), two-way random,
      absolute agreement, single rater (McGraw & Wong ICC(A,1)); F = MSB/MSE on
      (n-1, (n-1)(k-1)) df.
    * ICC3 = (MSB - MSE) / (MSB + (k-1) MSE), two-way mixed, consistency
      (ICC(C,1)).
    * ICC1k = (MSB - MSW)/MSB, ICC2k = (MSB - MSE)/(MSB + (MSJ - MSE)/n),
      ICC3k = (MSB - MSE)/MSB: the same for the mean of k raters.

    p-values are the upper F tail.  Confidence intervals are F-based for ICC1/ICC3
    (and their k forms); for ICC2/ICC2k the McGraw & Wong (1996) interval with
    Satterthwaite degrees of freedom
    :math:`v = (k-1)(n-1)[k r F_J + n(1+(k-1)r) - k r]^2 / [(n-1)k^2 r^2 F_J^2 +
    (n(1+(k-1)r) - k r)^2]`, exactly as psych computes it.

    Mean squares are computed directly with numpy over the ``(F, n, k)`` array
    (centred two-pass sums, residuals formed explicitly), so thousands of
    features cost one pass over the data.  psych's default ``lmer=TRUE`` differs
    when a REML variance component is truncated at zero (e.g. MSJ < MSE); this
    function always uses the ANOVA estimates (``lmer=FALSE``, as pingouin).

    Koo & Li (2016) suggest reading the 95% CI: < 0.5 poor, 0.5-0.75 moderate,
    0.75-0.9 good, > 0.9 excellent reliability.

    References
    ----------
    Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater
    reliability. Psychol Bull 1979;86:420-428.
    McGraw KO, Wong SP. Forming inferences about some intraclass correlation
    coefficients. Psychol Methods 1996;1:30-46.
    Koo TK, Li MY. J Chiropr Med 2016;15:155-163.

    Examples
    --------
    >>> import numpy as np
    >>> from radval.stats import icc
    >>> x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...               [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    >>> res = icc(x)
    >>> round(float(res.get("ICC2")["icc"].iloc[0]), 4)
    0.2898
    """
    level = check_confidence_level(confidence_level, caller=_CALLER)
    subjects: list[Hashable] | None = None
    feats: list[Hashable]
    if isinstance(ratings, pd.DataFrame) and targets is raters is values is feature is None:
        # wide table as psych::ICC takes it: one row per subject, one column per rater
        non_numeric = [c for c, dt in ratings.dtypes.items()
                       if not pd.api.types.is_numeric_dtype(dt)]
        if non_numeric:
            raise param_error("ratings", _CALLER,
                              "numeric rater columns (or pass targets/raters/values for a "
                              "long table)", f"non-numeric column(s) {non_numeric[:5]}")
        arr = ratings.to_numpy(dtype=np.float64)[None]
        feats, subjects = [0], list(ratings.index)
    elif isinstance(ratings, pd.DataFrame):
        arr, feats, subjects = _ratings_from_frame(ratings, targets, raters, values, feature)
    else:
        try:
            arr = np.asarray(ratings, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise param_error("ratings", _CALLER, "a numeric array or a long DataFrame",
                              type(ratings).__name__) from exc
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise param_error("ratings", _CALLER,
                              "2-d (n_subjects, n_raters) or 3-d (n_features, n_subjects, "
                              "n_raters)", f"an array of shape {arr.shape}")
        feats = list(range(arr.shape[0]))
    n_feat, n, k = arr.shape
    if n_feat == 0:
        raise param_error("ratings", _CALLER, "at least one feature", "0 features")
    if n < 2:
        raise param_error("ratings", _CALLER, "rated on at least 2 subjects", f"{n} subject(s)")
    if k < 2:
        raise param_error("ratings", _CALLER, "rated by at least 2 raters", f"{k} rater(s)")
    _check_complete(arr, feats, subjects)
    table, ms = _icc_table(arr, level)
    undefined = ~np.isfinite(table["icc"].to_numpy(dtype=np.float64).reshape(n_feat, -1))
    if undefined.any():
        names = [feats[i] for i in np.flatnonzero(undefined.any(axis=1))]
        warnings.warn(f"icc: {len(names)} feature(s) have no between-subject or residual "
                      f"variance (e.g. constant ratings); their ICCs are NaN: {names[:5]}",
                      UndefinedMetricWarning, stacklevel=2)
    feat_col = np.repeat(np.array(feats, dtype=object), len(ICC_TYPES))
    table.insert(0, "feature", feat_col)
    ms_frame = pd.DataFrame({"feature": feats, "msb": ms[0], "msj": ms[1], "mse": ms[2],
                             "msw": ms[3]})
    return ICCResult(features=feats, n_subjects=n, n_raters=k, confidence_level=level,
                     table=table, mean_squares=ms_frame)


def _icc_table(arr: FloatArray, level: float
               ) -> tuple[pd.DataFrame, tuple[FloatArray, FloatArray, FloatArray, FloatArray]]:
    from scipy import stats

    n_feat, n, k = arr.shape
    msb, msj, mse, msw = mean_squares(arr)
    q = 1.0 - (1.0 - level) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        icc1 = (msb - msw) / (msb + (k - 1) * msw)
        icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
        icc3 = (msb - mse) / (msb + (k - 1) * mse)
        icc1k = (msb - msw) / msb
        icc2k = (msb - mse) / (msb + (msj - mse) / n)
        icc3k = (msb - mse) / msb
        df11n, df11d = n - 1, n * (k - 1)
        df21n, df21d = n - 1, (n - 1) * (k - 1)
        f11 = msb / msw
        f21 = msb / mse
        p11 = stats.f.sf(f11, df11n, df11d)
        p21 = stats.f.sf(f21, df21n, df21d)
        f1l = f11 / stats.f.ppf(q, df11n, df11d)
        f1u = f11 * stats.f.ppf(q, df11d, df11n)
        f3l = f21 / stats.f.ppf(q, df21n, df21d)
        f3u = f21 * stats.f.ppf(q, df21d, df21n)
        fj = msj / mse
        a = n * (1 + (k - 1) * icc2) - k * icc2
        vn = (k - 1) * (n - 1) * (k * icc2 * fj + a) ** 2
        vd = (n - 1) * k**2 * icc2**2 * fj**2 + a**2
        v = vn / vd
        fu = stats.f.ppf(q, n - 1, v)
        fl = stats.f.ppf(q, v, n - 1)
        denom = k * msj + (k * n - k - n) * mse
        l2 = n * (msb - fu * mse) / (fu * denom + n * msb)
        u2 = n * (fl * msb - mse) / (denom + n * fl * msb)
        l2k = l2 * k / (1 + l2 * (k - 1))
        u2k = u2 * k / (1 + u2 * (k - 1))
        lo = np.stack([(f1l - 1) / (f1l + k - 1), l2, (f3l - 1) / (f3l + k - 1),
                       1 - 1 / f1l, l2k, 1 - 1 / f3l], axis=1)
        hi = np.stack([(f1u - 1) / (f1u + k - 1), u2, (f3u - 1) / (f3u + k - 1),
                       1 - 1 / f1u, u2k, 1 - 1 / f3u], axis=1)
    est = np.stack([icc1, icc2, icc3, icc1k, icc2k, icc3k], axis=1)
    fval = np.stack([f11, f21, f21, f11, f21, f21], axis=1)
    pval = np.stack([p11, p21, p21, p11, p21, p21], axis=1)
    df1 = np.tile(np.array([df11n, df21n, df21n, df11n, df21n, df21n], dtype=np.int64),
                  (n_feat, 1))
    df2 = np.tile(np.array([df11d, df21d, df21d, df11d, df21d, df21d], dtype=np.int64),
                  (n_feat, 1))
    table = pd.DataFrame({
        "type": np.tile(np.array(ICC_TYPES, dtype=object), n_feat),
        "icc": est.ravel(), "F": fval.ravel(), "df1": df1.ravel(), "df2": df2.ravel(),
        "p_value": pval.ravel(), "ci_low": lo.ravel(), "ci_high": hi.ravel(),
    })
    return table, (msb, msj, mse, msw)
