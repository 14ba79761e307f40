"""Missing-data tables for the report (TRIPOD+AI: how much was missing, in which pattern)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from radval._validation import param_error

__all__ = ["missing_patterns", "missing_summary"]


def _frame(frame: pd.DataFrame, columns: Sequence[str] | None, caller: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise param_error("frame", caller, "a pandas DataFrame", type(frame).__name__)
    if columns is None:
        return frame
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise param_error("columns", caller, "columns of 'frame'", unknown)
    return frame[list(columns)]


def missing_summary(frame: pd.DataFrame, *, columns: Sequence[str] | None = None,
                    by: pd.Series | Sequence[object] | None = None) -> pd.DataFrame:
    """Number and percentage of missing values per variable (optionally per cohort).

    Parameters
    ----------
    frame : pandas.DataFrame
    columns : sequence of str, optional
        Variables to report (default all columns).
    by : array-like, optional
        A grouping (e.g. the cohort) of the rows; one block of rows per group.

    Returns
    -------
    pandas.DataFrame
        ``group`` (if ``by``), ``variable, n, n_missing, percent_missing``.

    Examples
    --------
    >>> import pandas as pd
    >>> from radval.impute import missing_summary
    >>> missing_summary(pd.DataFrame({"a": [1.0, None, 3.0, None]}))
      variable  n  n_missing  percent_missing
    0        a  4          2             50.0
    """
    sub = _frame(frame, columns, "missing_summary")

    def one(block: pd.DataFrame) -> pd.DataFrame:
        n_miss = block.isna().sum()
        return pd.DataFrame({"variable": [str(c) for c in block.columns], "n": len(block),
                             "n_missing": n_miss.to_numpy(),
                             "percent_missing": 100.0 * n_miss.to_numpy() / max(len(block), 1)})

    if by is None:
        return one(sub)
    groups = pd.Series(list(by), index=sub.index, name="group")
    if len(groups) != len(sub):
        raise param_error("by", "missing_summary", f"{len(sub)} labels (one per row)",
                          len(groups))
    parts = [one(block).assign(group=g) for g, block in sub.groupby(groups, sort=True)]
    out = pd.concat(parts, ignore_index=True)
    return out[["group", "variable", "n", "n_missing", "percent_missing"]]


def missing_patterns(frame: pd.DataFrame, *, columns: Sequence[str] | None = None
                     ) -> pd.DataFrame:
    """Missing-data patterns (as R ``mice::md.pattern``), most frequent first.

    Returns
    -------
    pandas.DataFrame
        One row per pattern: one 0/1 column per variable (1 = observed), ``n_rows`` and
        ``n_missing_variables``.

    Examples
    --------
    >>> import pandas as pd
    >>> from radval.impute import missing_patterns
    >>> df = pd.DataFrame({"a": [1.0, None, 3.0], "b": [1.0, 2.0, None]})
    >>> missing_patterns(df)["n_rows"].tolist()
    [1, 1, 1]
    """
    sub = _frame(frame, columns, "missing_patterns")
    observed = sub.notna().astype(int)
    observed.columns = [str(c) for c in sub.columns]
    cols = list(observed.columns)
    pat = observed.value_counts(sort=False).rename("n_rows").reset_index()
    pat["n_missing_variables"] = len(cols) - pat[cols].sum(axis=1)
    pat = pat.sort_values(["n_missing_variables", "n_rows"], ascending=[True, False],
                          kind="stable")
    return pat.reset_index(drop=True)
