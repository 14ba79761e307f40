"""Feature selection funnel of a radiomics / deep-feature signature.

Steps, fitted on the development cohort only and in this order:

0. **checks**: drop features with non-finite values or no variation.
1. **icc**: keep features whose inter-reader ICC (default ICC(2,1), two-way random,
   absolute agreement, Shrout & Fleiss 1979) exceeds ``icc_threshold``, computed on
   the patients segmented by two (or more) readers.  Skipped, and recorded as
   skipped, without reader data.
2. **univariate**: keep features whose Mann-Whitney U test between outcome groups
   (``wilcox.test(exact=FALSE, correct=TRUE)``) has ``p < p_threshold`` (or BH
   ``q < p_threshold`` with ``fdr=True``).
3. **redundancy**: among the remaining features, in increasing order of p-value
   (ties: column order), keep a feature unless its absolute Spearman correlation
   with an already kept feature exceeds ``corr_threshold``; so of every highly
   correlated pair the more significant feature stays.
4. **lasso**: LASSO logistic regression (glmnet-equivalent, standardised) with
   ``n_folds``-fold cross-validation; features with a nonzero coefficient at
   ``lambda.1se`` (or ``lambda.min``) are selected.  If none is selected at
   ``lambda.1se`` the rule falls back to ``lambda.min`` (warning recorded); if still
   none, the single most significant feature is kept with an unpenalised logistic
   fit (recorded).  The result is never silently empty.

The rad-score (or DL-score) is the LASSO linear predictor
:math:`b_0 + \\sum_j b_j x_j` on the original feature scale (:meth:`SelectionResult.score`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result, jsonable
from radval._validation import check_binary, check_choice, check_positive_int, param_error
from radval.exceptions import DataError, InputError

__all__ = ["SelectionResult", "select_features", "spearman_matrix"]

FloatArray = npt.NDArray[np.float64]

_STEPS = ("checks", "icc", "univariate", "redundancy", "lasso")


@dataclass(frozen=True, kw_only=True)
class SelectionResult(Result):
    """Outcome of :func:`select_features`.

    Attributes
    ----------
    selected : list of str
        Selected features (nonzero LASSO coefficients), in column order.
    funnel : pandas.DataFrame
        One row per step: ``step, n_in, n_out, status`` (``status`` is ``"done"``,
        ``"skipped"`` or ``"fallback"``) and ``note``.
    steps : pandas.DataFrame
        One row per feature and evaluated step: ``feature, step, kept, reason, value``
        (``value`` is the ICC, p-value, |rho| or coefficient behind the decision).
    icc_table : pandas.DataFrame or None
        ICC per feature (``feature, type, icc, F, df1, df2, p_value, ci_low,
        ci_high``) of the requested form; None when skipped.
    univariate : pandas.DataFrame
        Mann-Whitney table (``feature, statistic, p_value, q_value, auc, ...``).
    cv : LassoCVResult or None
        Cross-validation of the LASSO (None if fewer than 2 patients per class per fold
        made it impossible, see ``warnings``).
    coefficients : pandas.DataFrame
        ``feature, coef, mean, sd``: intercept (``"(Intercept)"``) and the selected
        features' coefficients on the original scale, with the development mean and
        1/N standard deviation of each feature.
    intercept : float
        Intercept of the score.
    lambda_used : float
        Penalty of the final model (NaN for the unpenalised fallback).
    lasso_rule : str
        ``"1se"``, ``"min"`` or ``"single-feature"`` (fallbacks recorded).
    lasso_path : pandas.DataFrame
        Long table ``lambda, feature, coef`` of the full-data LASSO path.
    warnings : list of str
        Fallbacks and other notes.
    family : str
        Feature family label (``"radiomics"`` or ``"deep"``).
    settings : dict
        The arguments used.
    """

    selected: list[str]
    funnel: pd.DataFrame = field(repr=False, compare=False)
    steps: pd.DataFrame = field(repr=False, compare=False)
    icc_table: pd.DataFrame | None = field(repr=False, compare=False)
    univariate: pd.DataFrame = field(repr=False, compare=False)
    cv: Any = field(repr=False, compare=False)
    coefficients: pd.DataFrame = field(repr=False, compare=False)
    intercept: float
    lambda_used: float
    lasso_rule: str
    lasso_path: pd.DataFrame = field(repr=False, compare=False)
    warnings: list[str] = field(default_factory=list)
    family: str = "radiomics"
    settings: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def score(self, X: pd.DataFrame) -> FloatArray:
        """Linear predictor (rad-score) :math:`b_0 + \\sum_j b_j x_j` for new patients.

        Parameters
        ----------
        X : pandas.DataFrame
            Must contain the selected feature columns (others are ignored).

        Returns
        -------
        numpy.ndarray
            One score per row of ``X``.
        """
        caller = "SelectionResult.score"
        if not isinstance(X, pd.DataFrame):
            raise param_error("X", caller, "a DataFrame with the selected feature columns",
                              type(X).__name__)
        missing = [f for f in self.selected if f not in X.columns]
        if missing:
            raise param_error("X", caller, "a DataFrame with the selected feature columns",
                              f"missing column(s) {missing[:5]}")
        coef = self.coefficients.set_index("feature")["coef"]
        vals = X[self.selected].to_numpy(dtype=np.float64)
        if not np.isfinite(vals).all():
            rows = X.index[~np.isfinite(vals).all(axis=1)].tolist()
            raise param_error("X", caller, "finite in the selected columns",
                              f"non-finite values for patient(s) {rows[:5]}")
        out: FloatArray = self.intercept + vals @ coef.loc[self.selected].to_numpy()
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of everything (the CV object without its full path)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, Result) else jsonable(v)
        return out

    def to_frame(self) -> pd.DataFrame:
        """The funnel table."""
        return self.funnel.copy()


# --------------------------------------------------------------------------- helpers
def spearman_matrix(values: FloatArray) -> FloatArray:
    """Spearman correlation matrix of the columns of ``values`` (average ranks for ties).

    Equal to ``cor(x, method = "spearman")`` in R: the Pearson correlation of the
    column ranks.
    """
    from scipy.stats import rankdata

    ranks = rankdata(values, axis=0)
    rc = ranks - ranks.mean(axis=0)
    norm = np.sqrt((rc * rc).sum(axis=0))
    norm[norm == 0] = np.nan
    rc = rc / norm
    out: FloatArray = rc.T @ rc
    return out


def _as_features(features: Any, caller: str) -> pd.DataFrame:
    if not isinstance(features, pd.DataFrame):
        raise param_error("features", caller, "a DataFrame (rows = patients)",
                          type(features).__name__)
    if features.shape[0] == 0 or features.shape[1] == 0:
        raise param_error("features", caller, "a non-empty DataFrame",
                          f"shape {features.shape}")
    non_numeric = [str(c) for c, dt in features.dtypes.items()
                   if not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)]
    if non_numeric:
        raise param_error("features", caller, "numeric feature columns only",
                          f"non-numeric column(s) {non_numeric[:5]}")
    out = features.copy()
    out.columns = [str(c) for c in out.columns]
    if pd.Index(out.columns).has_duplicates:
        raise param_error("features", caller, "unique column names", "duplicated columns")
    return out


def _as_outcome(y: Any, features: pd.DataFrame, caller: str) -> npt.NDArray[np.int64]:
    if isinstance(y, pd.Series):
        if y.index.equals(features.index):
            vals = y.to_numpy()
        else:
            missing = [i for i in features.index if i not in y.index]
            if missing:
                raise param_error("y", caller, "a value for every patient in 'features'",
                                  f"no outcome for patient(s) {missing[:5]}")
            vals = y.loc[features.index].to_numpy()
    else:
        vals = np.asarray(y)
        if vals.shape[0] != features.shape[0]:
            msg = (f"The arrays passed to {caller} must have the same length. "
                   f"Got features={features.shape[0]}, y={vals.shape[0]} instead.")
            raise InputError(msg)
    return check_binary(vals, caller=caller, param="y")


def _reader_array(reader_features: Any, feats: list[str],
                  caller: str) -> tuple[FloatArray, list[Any], list[Any]]:
    """Return (array (n_features, n_patients, n_readers), patients, readers)."""
    if isinstance(reader_features, Mapping):
        parts = []
        for reader, frame in reader_features.items():
            if not isinstance(frame, pd.DataFrame):
                raise param_error("reader_features", caller,
                                  "a long DataFrame or a mapping reader -> DataFrame",
                                  type(frame).__name__)
            f2 = frame.copy()
            f2["reader"] = reader
            parts.append(f2)
        long = pd.concat(parts)
    elif isinstance(reader_features, pd.DataFrame):
        long = reader_features.copy()
    else:
        raise param_error("reader_features", caller,
                          "a long DataFrame (index patient_id, column 'reader')",
                          type(reader_features).__name__)
    if "patient_id" in long.columns:
        long = long.set_index("patient_id")
    if "reader" not in long.columns:
        raise param_error("reader_features", caller, "a DataFrame with a 'reader' column",
                          f"columns {list(long.columns)[:5]}")
    long.columns = [str(c) for c in long.columns]
    missing = [f for f in feats if f not in long.columns]
    if missing:
        raise param_error("reader_features", caller, "the same feature columns as 'features'",
                          f"missing column(s) {missing[:5]}")
    long = long.reset_index()
    pid = long.columns[0]
    if long.duplicated([pid, "reader"]).any():
        dup = long.loc[long.duplicated([pid, "reader"]), pid].unique().tolist()
        raise param_error("reader_features", caller, "one row per patient and reader",
                          f"duplicated rows for patient(s) {dup[:5]}")
    readers = sorted(long["reader"].astype(str).unique().tolist())
    if len(readers) < 2:
        raise param_error("reader_features", caller, "values from at least 2 readers",
                          f"reader(s) {readers}")
    long["reader"] = long["reader"].astype(str)
    counts = long.groupby(pid)["reader"].nunique()
    patients = counts.index[counts == len(readers)].tolist()
    if len(patients) < 2:
        raise param_error("reader_features", caller,
                          "at least 2 patients segmented by every reader",
                          f"{len(patients)} patient(s)")
    sub = long[long[pid].isin(patients)].set_index([pid, "reader"])
    arr = np.empty((len(feats), len(patients), len(readers)))
    for k, r in enumerate(readers):
        block = sub.xs(r, level="reader").loc[patients, feats]
        arr[:, :, k] = block.to_numpy(dtype=np.float64).T
    return arr, patients, readers


def _record(rows: list[dict[str, Any]], feature: str, step: str, kept: bool, reason: str,
            value: float) -> None:
    rows.append({"feature": feature, "step": step, "kept": kept, "reason": reason,
                 "value": float(value)})


# --------------------------------------------------------------------------- main
def select_features(features: pd.DataFrame, y: Any, *,
                    reader_features: Any = None, icc_threshold: float = 0.75,
                    icc_type: str = "ICC2", p_threshold: float = 0.05, fdr: bool = False,
                    corr_threshold: float = 0.9, lasso_rule: str = "1se", n_folds: int = 10,
                    type_measure: str = "deviance", rng: Any = None,
                    family: str = "radiomics", groups: Any = None) -> SelectionResult:
    """Run the selection funnel (checks, ICC, Mann-Whitney, redundancy, LASSO-CV).

    Parameters
    ----------
    features : pandas.DataFrame
        Development patients (index ``patient_id``) x candidate features.  Repeated
        patient ids are allowed (bootstrap resamples).
    y : pandas.Series or array-like
        0/1 outcome (1 = event); a Series is aligned on the patient index.
    reader_features : pandas.DataFrame or mapping, optional
        Values of the patients segmented by several readers: a long table (index or
        column ``patient_id``, column ``reader``, the feature columns) or a mapping
        ``reader -> DataFrame`` indexed by patient.  Every patient with a value from
        every reader is used (they need not be rows of ``features``).  Without it the
        ICC step is skipped.
    icc_threshold : float, optional
        Keep features with ICC strictly above this value (default 0.75).
    icc_type : {"ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"}, optional
        ICC form (default ICC2 = ICC(2,1), absolute agreement).
    p_threshold : float, optional
        Keep features with Mann-Whitney ``p < p_threshold``.
    fdr : bool, optional
        Use the Benjamini-Hochberg q-value instead of the p-value.
    corr_threshold : float, optional
        Redundancy cut-off on the absolute Spearman correlation (default 0.9).
    lasso_rule : {"1se", "min"}, optional
        CV rule for the penalty.
    n_folds : int, optional
        CV folds (reduced to the size of the smaller outcome class if needed, recorded).
    type_measure : {"deviance", "auc"}, optional
        CV loss.
    rng : int or numpy.random.Generator, optional
        Seed of the fold assignment; same seed, same result.
    family : str, optional
        Label stored with the result (``"radiomics"``, ``"deep"``).
    groups : array-like, optional
        One label per row; rows with the same label (the copies of one patient in a
        bootstrap resample) are put in the same cross-validation fold, so that the CV
        never validates on a patient it trained on, as in the original sample.  The
        folds are stratified by outcome over the groups.  Default: every row its own
        group.

    Returns
    -------
    SelectionResult

    Raises
    ------
    InputError
        Bad arguments; :class:`~radval.exceptions.DataError` if no feature survives
        the basic checks.
    """
    from radval.selection.lasso import cv_lasso_logistic, lasso_logistic
    from radval.stats import icc as icc_fn
    from radval.stats import mann_whitney_table

    caller = "select_features"
    feats = _as_features(features, caller)
    yy = _as_outcome(y, feats, caller)
    for name, val, lo, hi in (("icc_threshold", icc_threshold, -1.0, 1.0),
                              ("p_threshold", p_threshold, 0.0, 1.0),
                              ("corr_threshold", corr_threshold, 0.0, 1.0)):
        if not isinstance(val, int | float) or isinstance(val, bool) or not lo <= val <= hi:
            raise param_error(name, caller, f"a number in [{lo:g}, {hi:g}]", val)
    icc_type = check_choice(icc_type, ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"),
                            caller=caller, param="icc_type")
    lasso_rule = check_choice(lasso_rule, ("1se", "min"), caller=caller, param="lasso_rule")
    type_measure = check_choice(type_measure, ("deviance", "auc"), caller=caller,
                                param="type_measure")
    n_folds = check_positive_int(n_folds, caller=caller, param="n_folds", minimum=3)
    group_codes = _group_codes(groups, yy, caller)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    settings = {"icc_threshold": icc_threshold, "icc_type": icc_type,
                "p_threshold": p_threshold, "fdr": bool(fdr), "corr_threshold": corr_threshold,
                "lasso_rule": lasso_rule, "n_folds": n_folds, "type_measure": type_measure,
                "family": family, "reader_data": reader_features is not None}

    rows: list[dict[str, Any]] = []
    funnel: list[dict[str, Any]] = []
    notes: list[str] = []

    # 0. checks ---------------------------------------------------------------
    values = feats.to_numpy(dtype=np.float64)
    n_bad = (~np.isfinite(values)).sum(axis=0)
    kept: list[str] = []
    for j, f in enumerate(feats.columns):
        col = values[:, j]
        if n_bad[j]:
            _record(rows, f, "checks", False, f"non-finite values in {n_bad[j]} patient(s)",
                    float(n_bad[j]))
        elif np.ptp(col) == 0:
            _record(rows, f, "checks", False, "constant", 0.0)
        else:
            _record(rows, f, "checks", True, "", float(np.std(col)))
            kept.append(f)
    funnel.append({"step": "checks", "n_in": feats.shape[1], "n_out": len(kept),
                   "status": "done", "note": ""})
    if not kept:
        raise DataError(f"{caller}: no feature is finite and non-constant in the "
                        f"{feats.shape[0]} development patients")

    # 1. ICC ------------------------------------------------------------------
    icc_table: pd.DataFrame | None = None
    n_in = len(kept)
    if reader_features is None:
        funnel.append({"step": "icc", "n_in": n_in, "n_out": n_in, "status": "skipped",
                       "note": "no reader data"})
    else:
        arr, patients, readers = _reader_array(reader_features, kept, caller)
        finite_arr = np.asarray(np.isfinite(arr).all(axis=(1, 2)), dtype=bool)
        finite: list[bool] = [bool(v) for v in finite_arr.tolist()]
        icc_vals = np.full(len(kept), np.nan)
        if any(finite):
            import warnings

            ok_feats = [f for f, g in zip(kept, finite) if g]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant features: NaN ICC, recorded below
                res = icc_fn(arr[np.asarray(finite)])
            tab = res.to_frame()
            tab = tab[tab["type"] == icc_type].copy()
            tab["feature"] = ok_feats
            icc_table = tab.reset_index(drop=True)
            icc_vals[np.asarray(finite)] = tab["icc"].to_numpy()
        new_kept = []
        for f, v, g in zip(kept, icc_vals, finite):
            if not g:
                _record(rows, f, "icc", False, "non-finite reader values", np.nan)
            elif not np.isfinite(v):
                _record(rows, f, "icc", False, "ICC undefined (no variation)", np.nan)
            elif v > icc_threshold:
                _record(rows, f, "icc", True, "", v)
                new_kept.append(f)
            else:
                _record(rows, f, "icc", False, f"{icc_type} <= {icc_threshold:g}", v)
        kept = new_kept
        funnel.append({"step": "icc", "n_in": n_in, "n_out": len(kept), "status": "done",
                       "note": f"{len(patients)} patients x {len(readers)} readers"})
    last_pool = list(kept)

    # 2. univariate -----------------------------------------------------------
    n_in = len(kept)
    if kept:
        uni = mann_whitney_table(feats[kept], yy, fdr="bh")
        uni["feature"] = uni["feature"].astype(str)
        pcol = "q_value" if fdr else "p_value"
        pvals = dict(zip(uni["feature"], uni[pcol]))
        praw = dict(zip(uni["feature"], uni["p_value"]))
    else:
        uni = pd.DataFrame(columns=["feature", "statistic", "p_value", "q_value", "auc"])
        pcol, pvals, praw = "p_value", {}, {}
    new_kept = []
    for f in kept:
        p = pvals[f]
        if np.isfinite(p) and p < p_threshold:
            _record(rows, f, "univariate", True, "", p)
            new_kept.append(f)
        else:
            _record(rows, f, "univariate", False, f"{pcol} >= {p_threshold:g}", p)
    funnel.append({"step": "univariate", "n_in": n_in, "n_out": len(new_kept),
                   "status": "done", "note": "Mann-Whitney U" + (" (BH q)" if fdr else "")})
    status_note = ""
    if not new_kept and kept:
        # never silently empty: carry the most significant feature forward
        best = min(kept, key=lambda f: (np.nan_to_num(praw[f], nan=np.inf), kept.index(f)))
        new_kept = [best]
        msg = (f"no feature reached {pcol} < {p_threshold:g}; kept the most significant "
               f"feature {best!r} ({pcol} = {pvals[best]:.4g})")
        notes.append(msg)
        funnel[-1]["status"] = "fallback"
        funnel[-1]["n_out"] = 1
        _record(rows, best, "univariate", True, "fallback: most significant feature",
                pvals[best])
        status_note = msg
    kept = new_kept
    if not kept:
        kept = [last_pool[0]] if last_pool else []
    if not kept:
        raise DataError(f"{caller}: no feature passed the ICC step "
                        f"(threshold {icc_threshold:g}); nothing to select from")

    # 3. redundancy -----------------------------------------------------------
    n_in = len(kept)
    order = sorted(kept, key=lambda f: (np.nan_to_num(praw.get(f, np.nan), nan=np.inf),
                                        kept.index(f)))
    rho = np.abs(spearman_matrix(feats[order].to_numpy(dtype=np.float64)))
    keep_idx: list[int] = []
    for i, f in enumerate(order):
        if keep_idx:
            r = rho[i, keep_idx]
            k = int(np.nanargmax(r)) if np.isfinite(r).any() else -1
            if k >= 0 and r[k] > corr_threshold:
                _record(rows, f, "redundancy", False,
                        f"|rho| = {r[k]:.3f} with {order[keep_idx[k]]!r}", float(r[k]))
                continue
        _record(rows, f, "redundancy", True, "",
                float(np.nanmax(rho[i, keep_idx])) if keep_idx else 0.0)
        keep_idx.append(i)
    kept_set = {order[i] for i in keep_idx}
    kept = [f for f in kept if f in kept_set]  # back to column order
    funnel.append({"step": "redundancy", "n_in": n_in, "n_out": len(kept), "status": "done",
                   "note": f"|Spearman rho| > {corr_threshold:g}"})

    # 4. LASSO ----------------------------------------------------------------
    n_in = len(kept)
    X = feats[kept]
    # folds are drawn over groups (distinct patients), each stratified by outcome
    y_group = np.zeros(int(group_codes.max()) + 1, dtype=np.int64)
    y_group[group_codes] = yy
    n_min = int(min(y_group.sum(), y_group.size - y_group.sum()))
    folds = min(n_folds, n_min)
    cv = None
    rule_used = lasso_rule
    lam_used = float("nan")
    path_long = pd.DataFrame(columns=["lambda", "feature", "coef"])
    coef_vec = np.zeros(len(kept))
    intercept = float("nan")
    if folds < n_folds:
        notes.append(f"n_folds reduced from {n_folds} to {folds} (smaller outcome class)")
    if folds >= 3:
        foldid = _stratified_folds(y_group, folds, gen)[group_codes]
        cv = cv_lasso_logistic(X, yy, foldid=foldid, type_measure=type_measure)
        path_long = cv.path.to_long()
        fit = cv.fit_at(lasso_rule)
        if not np.any(fit.coef) and lasso_rule == "1se":
            notes.append("LASSO selected no feature at lambda.1se; fell back to lambda.min")
            fit = cv.fit_at("min")
            rule_used = "min"
        if np.any(fit.coef):
            coef_vec, intercept, lam_used = fit.coef.copy(), fit.intercept, fit.lam
    else:
        notes.append(f"too few patients in the smaller outcome class ({n_min}) for "
                     "cross-validation; LASSO skipped")
    if not np.any(coef_vec):
        best = min(kept, key=lambda f: (np.nan_to_num(praw.get(f, np.nan), nan=np.inf),
                                        kept.index(f)))
        single = lasso_logistic(feats[[best]], yy, lam=0.0)
        coef_vec = np.zeros(len(kept))
        coef_vec[kept.index(best)] = single.coef[0]
        intercept = float(single.intercept)
        lam_used = float("nan")
        rule_used = "single-feature"
        notes.append(f"LASSO selected no feature; kept the most significant feature {best!r} "
                     "with an unpenalised logistic fit")
    selected = [f for f, c in zip(kept, coef_vec) if c != 0]
    for f, c in zip(kept, coef_vec):
        _record(rows, f, "lasso", bool(c != 0), "" if c != 0 else "zero coefficient", c)
    funnel.append({"step": "lasso", "n_in": n_in, "n_out": len(selected),
                   "status": "done" if rule_used == lasso_rule else "fallback",
                   "note": f"lambda.{rule_used}" if rule_used != "single-feature"
                   else rule_used})
    if status_note:
        funnel[2]["note"] = funnel[2]["note"] + "; " + status_note

    sel_vals = feats[selected].to_numpy(dtype=np.float64)
    coefficients = pd.DataFrame({
        "feature": ["(Intercept)", *selected],
        "coef": [intercept, *(coef_vec[kept.index(f)] for f in selected)],
        "mean": [np.nan, *sel_vals.mean(axis=0)],
        "sd": [np.nan, *sel_vals.std(axis=0)],
    })
    return SelectionResult(
        selected=selected, funnel=pd.DataFrame(funnel), steps=pd.DataFrame(rows),
        icc_table=icc_table, univariate=uni, cv=cv, coefficients=coefficients,
        intercept=float(intercept), lambda_used=lam_used, lasso_rule=rule_used,
        lasso_path=path_long, warnings=notes, family=str(family), settings=settings)


def _group_codes(groups: Any, y: npt.NDArray[np.int64],
                 caller: str) -> npt.NDArray[np.int64]:
    """Integer code per row (0..G-1, in order of first appearance); without ``groups``
    every row is its own group (codes 0..n-1, the ungrouped folds)."""
    if groups is None:
        return np.arange(y.size, dtype=np.int64)
    labels = pd.Series(np.asarray(groups, dtype=object))
    if labels.size != y.size:
        raise param_error("groups", caller, f"one label per row ({y.size})",
                          f"{labels.size} labels")
    if labels.isna().any():
        raise param_error("groups", caller, "free of missing labels",
                          f"{int(labels.isna().sum())} missing")
    codes, _ = pd.factorize(labels)
    codes = codes.astype(np.int64)
    mixed = pd.Series(y).groupby(codes).nunique()
    if (mixed > 1).any():
        bad = labels[codes == int(mixed.index[mixed > 1][0])].iloc[0]
        raise param_error("groups", caller, "one outcome per group (copies of a patient)",
                          f"group {bad!r} with both outcomes")
    return codes


def _stratified_folds(y: npt.NDArray[np.int64], n_folds: int,
                      gen: np.random.Generator) -> npt.NDArray[np.int64]:
    """Fold ids 1..K, balanced within each outcome class (every fold sees both classes)."""
    foldid = np.empty(y.size, dtype=np.int64)
    offset = 0
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        base = (np.arange(idx.size) + offset) % n_folds + 1
        foldid[idx] = gen.permutation(base)
        offset = (offset + idx.size) % n_folds
    return foldid
