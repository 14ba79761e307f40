"""Batch-effect diagnostics: how well features identify the batch, and batch-outcome confounding.

Used before and after harmonisation (separability should fall to chance) and as the
guard against harmonising away real signal (batch associated with the outcome).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval._validation import check_binary, check_positive_int, param_error
from radval.exceptions import InputError, SmallSampleWarning
from radval.harmonize._combat import _batch, _features

__all__ = ["BatchOutcomeResult", "BatchSeparabilityResult", "batch_outcome_association",
           "batch_separability"]

FloatArray = npt.NDArray[np.float64]


def _seed(rng: int | np.random.Generator | None) -> int:
    gen = np.random.default_rng(rng)
    return int(gen.integers(0, 2**31 - 1))


@dataclass(frozen=True, kw_only=True)
class BatchSeparabilityResult(Result):
    """How well the features identify the batch.

    Attributes
    ----------
    auc : float
        Cross-validated AUC of predicting the batch from the features (L2 logistic
        regression on standardised features; one-vs-rest macro average for more than
        two batches).  0.5 = batches indistinguishable; near 1 = strong batch effect.
    n_splits : int
        Cross-validation folds used.
    n_batches, n_samples, n_features : int
    fraction_significant : float
        Fraction of features whose Kruskal-Wallis test across batches has a
        Benjamini-Hochberg q-value below 0.05.
    median_kruskal_h : float
        Median Kruskal-Wallis H statistic over features.
    per_feature : pandas.DataFrame
        ``feature, kruskal_h, p_value, q_value`` per feature.
    pca : pandas.DataFrame
        Coordinates on the first principal components of the standardised features,
        ``pc1, pc2, ..., batch`` (one row per sample), for a plot coloured by batch.
    explained_variance_ratio : ndarray
        Share of variance of each reported component.
    """

    auc: float
    n_splits: int
    n_batches: int
    n_samples: int
    n_features: int
    fraction_significant: float
    median_kruskal_h: float
    per_feature: pd.DataFrame = field(repr=False, compare=False)
    pca: pd.DataFrame = field(repr=False, compare=False)
    explained_variance_ratio: FloatArray = field(repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class BatchOutcomeResult(Result):
    """Association between batch and outcome (the ComBat confounding guard).

    Attributes
    ----------
    method : {"pearson_chi2", "fisher_exact"}
        Pearson chi-square test of independence (no continuity correction, R
        ``chisq.test(correct = FALSE)``) or, for a 2 x 2 table with an expected count
        below 5, Fisher's exact test (R ``fisher.test``).
    statistic : float
        Chi-square statistic; for Fisher's test the sample odds ratio (as scipy
        reports it).
    df : int
        Degrees of freedom of the chi-square test ((batches - 1) for a binary outcome).
    p_value : float
    cramers_v : float
        Effect size :math:`\\sqrt{\\chi^2 / (n (\\min(r, c) - 1))}`.
    min_expected : float
        Smallest expected count under independence.
    associated : bool
        ``p_value < alpha``: ComBat would remove part of the outcome signal along with
        the batch effect; adjust for it as a covariate only if it is not the outcome
        of the model being developed, otherwise report the risk.
    alpha : float
    table : pandas.DataFrame
        Counts, batches x outcome classes, with the event proportion per batch.
    """

    method: str
    statistic: float
    df: int
    p_value: float
    cramers_v: float
    min_expected: float
    associated: bool
    alpha: float
    table: pd.DataFrame = field(repr=False, compare=False)


def _bh(p: FloatArray) -> FloatArray:
    from radval.stats import adjust_pvalues

    return np.asarray(adjust_pvalues(p, method="bh"), dtype=np.float64)


def batch_separability(features: Any, batch: Any, *, n_splits: int = 5, n_components: int = 2,
                       rng: int | np.random.Generator | None = None
                       ) -> BatchSeparabilityResult:
    """Quantify how well features identify the batch (before/after harmonisation).

    Parameters
    ----------
    features : pandas.DataFrame or array-like, shape (n, p)
        Samples x features, complete.
    batch : array-like, shape (n,)
        Batch label of each sample.
    n_splits : int, optional
        Stratified cross-validation folds (reduced to the smallest batch size if
        needed; default 5).
    n_components : int, optional
        Principal components reported for plotting (default 2).
    rng : int, numpy.random.Generator or None, optional
        Seeds the fold assignment.

    Returns
    -------
    BatchSeparabilityResult

    Raises
    ------
    InputError
        NaN features, length mismatch, fewer than two batches, a batch of one sample.

    Notes
    -----
    The classifier is fitted inside each fold (standardisation included) and its
    out-of-fold probabilities are scored, so a separability AUC near 0.5 after
    harmonisation means the batch can no longer be predicted from the features.
    A high AUC before harmonisation is expected with scanner differences; one that
    stays high after harmonisation suggests non-linear batch effects or batch
    confounded with biology.  Requires scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> from radval.harmonize import batch_separability
    >>> rng = np.random.default_rng(1)
    >>> x = np.vstack([rng.normal(0, 1, (40, 6)), rng.normal(1.5, 1, (40, 6))])
    >>> r = batch_separability(x, ["a"] * 40 + ["b"] * 40, rng=0)
    >>> r.auc > 0.9
    True
    """
    caller = "batch_separability"
    x, names = _features(features, caller)
    n, p = x.shape
    b = _batch(batch, n, caller)
    n_splits = check_positive_int(n_splits, caller=caller, param="n_splits", minimum=2)
    n_components = check_positive_int(n_components, caller=caller, param="n_components")
    levels, codes = np.unique(b.astype(str), return_inverse=True)
    if levels.size < 2:
        raise param_error("batch", caller, "at least two batches", levels.tolist())
    counts = np.bincount(codes)
    if counts.min() < 2:
        raise param_error("batch", caller, "at least 2 samples per batch",
                          dict(zip(levels.tolist(), counts.tolist())))
    from scipy import stats
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    k_folds = int(min(n_splits, counts.min()))
    cv = StratifiedKFold(n_splits=k_folds, shuffle=True, random_state=_seed(rng))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    prob = cross_val_predict(model, x, codes, cv=cv, method="predict_proba")
    if levels.size == 2:
        auc = float(roc_auc_score(codes, prob[:, 1]))
    else:
        auc = float(roc_auc_score(codes, prob, multi_class="ovr", average="macro"))

    h = np.full(p, np.nan)
    pv = np.full(p, np.nan)
    for j in range(p):
        groups = [x[codes == i, j] for i in range(levels.size)]
        if np.ptp(x[:, j]) > 0:
            res = stats.kruskal(*groups)
            h[j], pv[j] = float(res.statistic), float(res.pvalue)
    q = np.full(p, np.nan)
    ok = np.isfinite(pv)
    if ok.any():
        q[ok] = _bh(pv[ok])
    per_feature = pd.DataFrame({"feature": names if names is not None else list(range(p)),
                                "kruskal_h": h, "p_value": pv, "q_value": q})

    sd = x.std(axis=0, ddof=1)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    u, sv, _ = np.linalg.svd(z, full_matrices=False)
    n_comp = min(n_components, sv.size)
    # sign convention: the largest loading of each component positive (stable across runs)
    coords = u[:, :n_comp] * sv[:n_comp]
    signs = np.sign(coords[np.argmax(np.abs(coords), axis=0), np.arange(n_comp)])
    coords = coords * np.where(signs == 0, 1.0, signs)
    ratio = sv[:n_comp] ** 2 / np.sum(sv**2)
    pca = pd.DataFrame(coords, columns=[f"pc{i + 1}" for i in range(n_comp)])
    pca["batch"] = b
    return BatchSeparabilityResult(
        auc=auc, n_splits=k_folds, n_batches=int(levels.size), n_samples=n, n_features=p,
        fraction_significant=float(np.mean(q[ok] < 0.05)) if ok.any() else float("nan"),
        median_kruskal_h=float(np.nanmedian(h)) if ok.any() else float("nan"),
        per_feature=per_feature, pca=pca, explained_variance_ratio=ratio)


def batch_outcome_association(batch: Any, y_true: Any, *, alpha: float = 0.05
                              ) -> BatchOutcomeResult:
    """Test whether the outcome rate differs between batches (ComBat's confounding guard).

    Parameters
    ----------
    batch : array-like, shape (n,)
        Batch label of each patient.
    y_true : array-like of {0, 1}, shape (n,)
        Outcome.
    alpha : float, optional
        Level below which ``associated`` is True (default 0.05).

    Returns
    -------
    BatchOutcomeResult

    Raises
    ------
    InputError
        Length mismatch, a non-binary outcome, fewer than two batches.

    Warns
    -----
    SmallSampleWarning
        A table larger than 2 x 2 with an expected count below 5 (the chi-square
        approximation is poor).

    Notes
    -----
    ComBat removes every systematic difference between batches that the covariates
    do not explain.  When the outcome rate differs between batches, features that
    carry outcome signal also differ between batches, and harmonisation removes part
    of that signal (Nygaard et al. 2016).  The outcome must never be a ComBat
    covariate for a prediction model developed on the harmonised features (it leaks
    the outcome into the features); report this test instead.

    References
    ----------
    .. [1] Nygaard V, Rodland EA, Hovig E. Methods that remove batch effects while
       retaining group differences may lead to exaggerated confidence in downstream
       analyses. Biostatistics. 2016;17(1):29-39.

    Examples
    --------
    >>> from radval.harmonize import batch_outcome_association
    >>> y = [0] * 40 + [1] * 10 + [0] * 20 + [1] * 30
    >>> r = batch_outcome_association(["a"] * 50 + ["b"] * 50, y)
    >>> r.method, r.associated
    ('pearson_chi2', True)
    """
    caller = "batch_outcome_association"
    y = check_binary(y_true, caller=caller, require_both=False)
    b = _batch(batch, y.size, caller)
    if not (isinstance(alpha, float | int) and 0 < alpha < 1) or isinstance(alpha, bool):
        raise param_error("alpha", caller, "a float in (0, 1)", alpha)
    from scipy import stats

    tab = pd.crosstab(pd.Series(b.astype(str), name="batch"), pd.Series(y, name="y_true"))
    if tab.shape[0] < 2:
        raise param_error("batch", caller, "at least two batches", tab.index.tolist())
    counts = tab.to_numpy(dtype=np.float64)
    n = counts.sum()
    expected = counts.sum(axis=1, keepdims=True) * counts.sum(axis=0, keepdims=True) / n
    table = tab.rename(columns={0: "n_no_event", 1: "n_event"}).reset_index()
    table["event_rate"] = table.get("n_event", 0) / counts.sum(axis=1)
    if counts.shape[1] < 2:
        # one outcome class: no association is possible
        return BatchOutcomeResult(method="pearson_chi2", statistic=0.0, df=0, p_value=1.0,
                                  cramers_v=0.0, min_expected=float(expected.min()),
                                  associated=False, alpha=float(alpha), table=table)
    r, c = counts.shape
    df = (r - 1) * (c - 1)
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    v = float(np.sqrt(chi2 / (n * (min(r, c) - 1))))
    if counts.shape == (2, 2) and expected.min() < 5:
        res = stats.fisher_exact(counts.astype(np.int64))
        method, stat, p = "fisher_exact", float(res.statistic), float(res.pvalue)
    else:
        if expected.min() < 5:
            warnings.warn(f"{caller}: an expected count is {expected.min():.2f} (< 5); the "
                          "chi-square p-value is approximate.", SmallSampleWarning, stacklevel=2)
        method, stat, p = "pearson_chi2", chi2, float(stats.chi2.sf(chi2, df))
    if not np.isfinite(p):
        msg = f"{caller}: the test is undefined for this table {counts.tolist()}."
        raise InputError(msg)
    return BatchOutcomeResult(method=method, statistic=stat, df=int(df), p_value=p,
                              cramers_v=v, min_expected=float(expected.min()),
                              associated=bool(p < alpha), alpha=float(alpha), table=table)
