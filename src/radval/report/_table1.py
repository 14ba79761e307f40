"""Table 1: baseline characteristics by cohort, as journals print it.

From the typed ``baseline`` records (:func:`radval.stats.baseline_table`) and the study
file's labels:

* a numeric variable is one row, ``"Age, years, mean ± SD"`` or ``"..., median [IQR]"``;
* a categorical variable is a heading row ``"Sex, n (%)"`` and one indented row per
  labelled level; a variable coded absent/present (0/1, no/yes, false/true, by code or by
  label) is one row with the count of "present" (``"Vascular invasion, n (%)"``);
* one column per cohort (``"Centre 2 (n = 13)"``), then ``Overall`` and ``p``;
* p-values as journals print them (``<0.001``, else two significant digits) with a
  letter naming the test, explained in the table's footnote.

The ``Characteristic`` and ``p`` cells are markdown built here (indentation, superscript
letters) around escaped text; every other cell is plain text.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from radval.contracts._results import BaselineRow
from radval.report._data import ReportData, records_frame
from radval.report._escape import md_text

__all__ = ["TEST_NAMES", "baseline_table"]

#: How the test names of :func:`radval.stats.baseline_table` read in a footnote.
TEST_NAMES = {
    "Welch t-test": "Welch's t-test",
    "Welch ANOVA": "Welch's one-way ANOVA",
    "Mann-Whitney U": "Mann-Whitney U test",
    "Kruskal-Wallis": "Kruskal-Wallis test",
    "chi-square": "Pearson's chi-square test",
    "chi-square (Yates)": "Pearson's chi-square test with Yates' continuity correction",
    "chi-square (expected < 5)": "Pearson's chi-square test (some expected counts below 5)",
    "Fisher exact": "Fisher's exact test",
}
_INDENT = "\\ \\ \\ \\ "   # four escaped (non-breaking) spaces: an indented level row
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _count(rows: pd.DataFrame, cohort: str, level: str) -> str:
    r = rows[(rows["cohort"] == cohort) & (rows["level"] == level)]
    if r.empty:
        return "–"
    rec = r.iloc[0]
    n, pct = rec["stat_1"], rec["percent"]
    if pd.isna(n):
        return "–"
    return f"{int(n)} ({float(pct):.1f})" if pd.notna(pct) else str(int(n))


def baseline_table(d: ReportData
                   ) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, str]]]:
    """Table 1: ``(plain, markdown, footnotes)``.

    ``plain`` is the table as text (the CSV: levels indented with spaces, the test named
    in a ``Test`` column); ``markdown`` holds the same cells as markdown (levels indented,
    p-values with a superscript letter); ``footnotes`` name each test as
    ``(letter, test)``.  Empty frames when the run has no ``baseline``.
    """
    from radval.report.tables import fmt_p

    df = records_frame(d.results.baseline, BaselineRow)
    if df.empty:
        return df, df, []
    df["level"] = df["level"].astype(str)
    present = list(dict.fromkeys(df["cohort"].astype(str)))
    cohorts = [c for c in d.cohorts if c in present]
    extra = [c for c in present if c not in cohorts]  # "Overall"
    columns = cohorts + extra
    head = {c: (f"{d.labels.cohort(c)} (n = {d.cohort_rows[c].n})" if c in d.cohort_rows
                else c) for c in columns}
    tests: dict[str, str] = {}

    def p_cells(sub: pd.DataFrame) -> dict[str, str]:
        tested = sub[sub["test"].astype(str) != ""]
        if tested.empty:
            return {"p": "", "Test": "", "_p": ""}
        first = tested.iloc[0]
        name = str(first["test"])
        letter = tests.setdefault(name, _LETTERS[len(tests) % len(_LETTERS)])
        p = fmt_p(first["p_value"])
        return {"p": p, "Test": TEST_NAMES.get(name, name), "_p": md_text(p) + f"^{letter}^"}

    def add(text: str, cells: dict[str, str], sub: pd.DataFrame | None,
            indent: bool = False) -> None:
        pc = p_cells(sub) if sub is not None else {"p": "", "Test": "", "_p": ""}
        rows.append({"Characteristic": ("    " if indent else "") + text, **cells, **pc,
                     "_c": (_INDENT if indent else "") + md_text(text)})

    rows: list[dict[str, Any]] = []
    for var in dict.fromkeys(df["variable"].astype(str)):
        sub = df[df["variable"] == var]
        label = d.labels.variable(var)
        if str(sub["kind"].iloc[0]) == "numeric":
            median = not bool(sub["normal"].iloc[0])
            cells = {}
            for c in columns:
                r = sub[sub["cohort"] == c]
                cells[head[c]] = str(r.iloc[0]["summary"]) if len(r) else "–"
            add(f"{label}, " + ("median [IQR]" if median else "mean ± SD"), cells, sub)
            continue
        levels = list(dict.fromkeys(sub["level"]))
        present_level = d.labels.binary_level(var, levels)
        if present_level is not None:
            add(f"{label}, n (%)", {head[c]: _count(sub, c, present_level) for c in columns},
                sub)
            continue
        add(f"{label}, n (%)", {head[c]: "" for c in columns}, sub)
        for lv in levels:
            add(d.labels.level(var, lv), {head[c]: _count(sub, c, lv) for c in columns},
                None, indent=True)
    notes = [(letter, TEST_NAMES.get(name, name)) for name, letter in tests.items()]
    full = pd.DataFrame(rows)
    shown = ["Characteristic", *(head[c] for c in columns), "p"]
    plain = full[[*shown, "Test"]]
    markdown = full[["_c", *(head[c] for c in columns), "_p"]].copy()
    markdown.columns = shown
    for col in shown[1:-1]:
        markdown[col] = [md_text(v) for v in markdown[col]]
    return plain, markdown, notes
