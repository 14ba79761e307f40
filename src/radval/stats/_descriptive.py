"""Baseline characteristics by cohort ("Table 1") with between-cohort tests.

One public function, :func:`baseline_table`, returns one tidy long DataFrame
(one row per variable x level x cohort) that the report formats; every test
matches its R counterpart (``tests/reference/table1.R``):

========================  ===========================  ==============================
variable kind             two cohorts                  three or more cohorts
========================  ===========================  ==============================
numeric, normal           Welch t-test                 Welch one-way ANOVA
                          (``t.test``, ``var.equal =   (``oneway.test``, ``var.equal
                          FALSE``)                     = FALSE``)
numeric, non-normal       Mann-Whitney U               Kruskal-Wallis
                          (``wilcox.test``, exact if   (``kruskal.test``)
                          both n < 50 and no ties,
                          else normal approximation
                          with continuity and tie
                          correction)
categorical               chi-square (``chisq.test``, Yates' correction for 2 x 2);
                          Fisher's exact test (``fisher.test``) for a 2 x 2 table
                          with an expected count below 5
========================  ===========================  ==============================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from radval._validation import param_error
from radval.exceptions import InputError

__all__ = ["baseline_table"]

_CALLER = "baseline_table"
_COLUMNS = ["variable", "level", "cohort", "summary", "n", "missing", "test", "p_value", "kind",
            "stat_1", "stat_2", "stat_3", "percent", "normal"]
OVERALL = "Overall"


def _fmt(x: float, digits: int) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.{digits}f}"


def _is_categorical(s: pd.Series) -> bool:
    if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(s):
        return True
    if not pd.api.types.is_numeric_dtype(s):
        return True
    vals = pd.unique(s.dropna())
    return len(vals) <= 2 and set(np.asarray(vals, dtype=float).tolist()) <= {0.0, 1.0}


def _shapiro_normal(groups: Sequence[np.ndarray], alpha: float) -> bool:
    from scipy import stats

    for g in groups:
        if 3 <= g.size <= 5000 and np.ptp(g) > 0 and stats.shapiro(g).pvalue < alpha:
            return False
    return True


def _numeric_test(groups: list[np.ndarray], normal: bool) -> tuple[str, float]:
    from scipy import stats

    groups = [g for g in groups if g.size > 0]
    if len(groups) < 2:
        return "", float("nan")
    if normal:
        if any(g.size < 2 for g in groups):
            return "", float("nan")
        if len(groups) == 2:
            res = stats.ttest_ind(groups[0], groups[1], equal_var=False)
            return "Welch t-test", float(res.pvalue)
        res = stats.f_oneway(*groups, equal_var=False)
        return "Welch ANOVA", float(res.pvalue)
    if len(groups) == 2:
        x, y = groups
        ties = np.unique(np.concatenate([x, y])).size < x.size + y.size
        if x.size < 50 and y.size < 50 and not ties:
            res = stats.mannwhitneyu(x, y, method="exact")
        else:
            res = stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=True)
        return "Mann-Whitney U", float(res.pvalue)
    res = stats.kruskal(*groups)
    return "Kruskal-Wallis", float(res.pvalue)


def _categorical_test(table: np.ndarray) -> tuple[str, float]:
    from scipy import stats

    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return "", float("nan")
    expected = stats.contingency.expected_freq(table)
    if table.shape == (2, 2) and (expected < 5).any():
        return "Fisher's exact", float(stats.fisher_exact(table).pvalue)
    res = stats.chi2_contingency(table, correction=True)
    name = "chi-square" if (expected >= 5).all() else "chi-square (expected < 5)"
    return name, float(res.pvalue)


def _as_list(value: Any, param: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise param_error(param, _CALLER, "a list of column names or None", value)
    return [str(v) for v in value]


def baseline_table(
    clinical: pd.DataFrame,
    *,
    group: str = "cohort",
    variables: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    nonnormal: Sequence[str] | None = None,
    overall: bool = True,
    digits: int = 1,
    normality_alpha: float = 0.05,
) -> pd.DataFrame:
    r"""Summarise baseline characteristics by cohort and test for differences.

    Parameters
    ----------
    clinical : pandas.DataFrame
        One row per patient; must contain ``group`` and the variables.
    group : str, optional
        Column that defines the cohorts (default ``"cohort"``).
    variables : sequence of str, optional
        Columns to summarise, in order.  Default: every column except ``group``
        and ``patient_id``.
    categorical : sequence of str, optional
        Columns treated as categorical.  Default: non-numeric, boolean and
        0/1 columns.
    nonnormal : sequence of str, optional
        Numeric columns summarised as median [IQR] and tested with rank tests.
        Default (``None``): a column is non-normal when a Shapiro-Wilk test
        rejects normality (p < ``normality_alpha``) in any cohort with 3 or
        more values.  Pass ``[]`` to treat every numeric column as normal.
    overall : bool, optional
        Add rows for all patients (``cohort == "Overall"``), without a test.
    digits : int, optional
        Decimals in the ``summary`` strings (percentages use ``digits`` too).
        The numbers are also returned unrounded in ``stat_1..3`` / ``percent``.
    normality_alpha : float, optional
        Level of the Shapiro-Wilk screen when ``nonnormal`` is ``None``.

    Returns
    -------
    pandas.DataFrame
        Long format, one row per variable x level x cohort, columns

        - ``variable``, ``level`` (``""`` for numeric variables), ``cohort``;
        - ``summary``: ``"mean ± SD"``, ``"median [Q1–Q3]"`` (quantile type 7)
          or ``"n (%)"`` with the percentage of non-missing values;
        - ``n`` (non-missing count; for a level, the count in that level),
          ``missing`` (missing count in the cohort);
        - ``test`` and ``p_value`` (repeated on every row of the variable;
          empty / NaN for the overall rows and when a test is undefined);
        - ``kind`` (``"numeric"`` or ``"categorical"``), ``normal`` (bool);
        - ``stat_1, stat_2, stat_3``: mean, SD, NaN or median, Q1, Q3;
          ``percent`` for levels.

    Notes
    -----
    Tests (R equivalents in brackets):

    * normal numeric, 2 cohorts: Welch's t-test [``t.test(var.equal=FALSE)``];
      3 or more: Welch's one-way ANOVA [``oneway.test(var.equal=FALSE)``].
      Welch's versions are used because cohorts from different centres rarely
      share a variance (Delacre et al. 2017).
    * non-normal numeric, 2 cohorts: Mann-Whitney U [``wilcox.test``], exact
      when both cohorts have fewer than 50 values and there are no ties, else
      the normal approximation with continuity and tie correction; 3 or more:
      Kruskal-Wallis [``kruskal.test``].
    * categorical: Pearson's chi-square [``chisq.test``] (Yates' continuity
      correction for 2 x 2), or Fisher's exact test [``fisher.test``] for a
      2 x 2 table with an expected count below 5.  A larger table with small
      expected counts keeps the chi-square test and says so in ``test``.

    Missing values are excluded from summaries and tests and counted in
    ``missing``.

    References
    ----------
    Welch BL. Biometrika 1947;34:28-35.  Kruskal WH, Wallis WA. JASA
    1952;47:583-621.  Delacre M, Lakens D, Leys C. Int Rev Soc Psychol
    2017;30:92-101.
    """
    if not isinstance(clinical, pd.DataFrame):
        raise param_error("clinical", _CALLER, "a pandas DataFrame", type(clinical).__name__)
    if group not in clinical.columns:
        raise param_error("group", _CALLER, "a column of clinical", group)
    variables_l = _as_list(variables, "variables")
    categorical_l = _as_list(categorical, "categorical") or []
    nonnormal_l = _as_list(nonnormal, "nonnormal")
    if variables_l is None:
        variables_l = [c for c in clinical.columns if c not in (group, "patient_id")]
    for name, cols in (("variables", variables_l), ("categorical", categorical_l),
                       ("nonnormal", nonnormal_l or [])):
        missing_cols = [c for c in cols if c not in clinical.columns]
        if missing_cols:
            raise param_error(name, _CALLER, "columns of clinical", missing_cols)
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise param_error("digits", _CALLER, "an integer >= 0", digits)
    if clinical[group].isna().any():
        n_bad = int(clinical[group].isna().sum())
        raise InputError(f"The {group!r} column passed to {_CALLER} has {n_bad} missing "
                         "value(s); every patient needs a cohort.")
    grp = clinical[group].astype(str)
    cohorts = list(dict.fromkeys(grp))  # order of first appearance
    rows: list[dict[str, Any]] = []
    for var in variables_l:
        col = clinical[var]
        is_cat = var in categorical_l or _is_categorical(col)
        miss = {c: int(col[grp == c].isna().sum()) for c in cohorts}
        miss[OVERALL] = int(col.isna().sum())
        targets = cohorts + ([OVERALL] if overall else [])
        if is_cat:
            values = col.astype("object").where(col.notna(), None)
            if isinstance(col.dtype, pd.CategoricalDtype):
                levels = [str(v) for v in col.cat.categories]
            else:
                uniq_list = list(pd.unique(col.dropna()))
                try:
                    uniq = sorted(uniq_list)
                except TypeError:
                    uniq = sorted(uniq_list, key=str)
                levels = [_level_str(v) for v in uniq]
            lab = values.map(lambda v: None if v is None else _level_str(v))
            table = np.array([[int(((grp == c) & (lab == lv)).sum()) for c in cohorts]
                              for lv in levels], dtype=float)
            test, p = _categorical_test(table) if len(cohorts) > 1 else ("", float("nan"))
            for lv in levels:
                for c in targets:
                    sel = lab.notna() if c == OVERALL else (grp == c) & lab.notna()
                    denom = int(sel.sum())
                    k = int((sel & (lab == lv)).sum())
                    pct = 100.0 * k / denom if denom else float("nan")
                    rows.append({"variable": var, "level": lv, "cohort": c,
                                 "summary": f"{k} ({_fmt(pct, digits)}%)", "n": k,
                                 "missing": miss[c],
                                 "test": test if c != OVERALL else "",
                                 "p_value": p if c != OVERALL else float("nan"),
                                 "kind": "categorical", "stat_1": float(k),
                                 "stat_2": float(denom), "stat_3": float("nan"),
                                 "percent": pct, "normal": False})
            continue
        x = pd.to_numeric(col, errors="coerce")
        if int(x.isna().sum()) > int(col.isna().sum()):
            raise InputError(f"Column {var!r} passed to {_CALLER} mixes numbers and text; "
                             "list it in 'categorical' or clean it.")
        groups = [x[grp == c].dropna().to_numpy(dtype=float) for c in cohorts]
        normal = (var not in nonnormal_l if nonnormal_l is not None
                  else _shapiro_normal(groups, normality_alpha))
        test, p = _numeric_test(groups, normal) if len(cohorts) > 1 else ("", float("nan"))
        for c in targets:
            v = (x.dropna() if c == OVERALL else x[grp == c].dropna()).to_numpy(dtype=float)
            if normal:
                m = float(v.mean()) if v.size else float("nan")
                sd = float(v.std(ddof=1)) if v.size > 1 else float("nan")
                s1, s2, s3 = m, sd, float("nan")
                summary = f"{_fmt(m, digits)} ± {_fmt(sd, digits)}"
            else:
                if v.size:
                    q1, med, q3 = (float(q) for q in np.quantile(v, [0.25, 0.5, 0.75]))
                else:
                    q1 = med = q3 = float("nan")
                s1, s2, s3 = med, q1, q3
                summary = f"{_fmt(med, digits)} [{_fmt(q1, digits)}–{_fmt(q3, digits)}]"
            rows.append({"variable": var, "level": "", "cohort": c, "summary": summary,
                         "n": int(v.size), "missing": miss[c],
                         "test": test if c != OVERALL else "",
                         "p_value": p if c != OVERALL else float("nan"),
                         "kind": "numeric", "stat_1": s1, "stat_2": s2, "stat_3": s3,
                         "percent": float("nan"), "normal": bool(normal)})
    return pd.DataFrame(rows, columns=_COLUMNS)


def _level_str(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    return str(v)
