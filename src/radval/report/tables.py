"""Report tables: tidy results.json records -> formatted DataFrames -> pipe tables / CSV.

This is the only place where numbers are rounded.  Every builder takes the
parsed ``results`` dict (``data-dictionary/results.yaml``) and returns a
DataFrame of display strings, or an empty DataFrame when that part is not in
the run; :func:`to_pipe` emits a pandoc pipe table with a Quarto caption and
label (``: Caption {#tbl-x}``) which becomes a real table in HTML, DOCX and
typst.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report._escape import csv_frame, md_text

__all__ = [
    "as_mapping",
    "baseline_table_wide",
    "calibration_table",
    "coefficients_table",
    "cohort_order",
    "comparison_table",
    "flow_table",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "frame",
    "funnel_table",
    "missing_table",
    "model_labels",
    "optimism_table",
    "performance_table",
    "selection_size_text",
    "stability_table",
    "subgroup_table",
    "summary_auc_table",
    "survival_table",
    "to_pipe",
    "undefined_comparisons",
    "write_csv",
]

_METRIC_ORDER = ("accuracy", "sensitivity", "specificity", "ppv", "npv")
_METRIC_LABEL = {"accuracy": "Accuracy", "sensitivity": "Sensitivity",
                 "specificity": "Specificity", "ppv": "PPV", "npv": "NPV"}
_STEP_LABEL = {"candidates": "Candidate features", "checks": "Valid features (checks)",
               "icc": "Reproducible (ICC)",
               "mann_whitney": "Univariable (Mann-Whitney U)",
               "univariate": "Univariable (Mann-Whitney U)",
               "redundancy": "Non-redundant (correlation)", "lasso": "LASSO (non-zero)"}


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty dict (results.json parts may be absent)."""
    return value if isinstance(value, Mapping) else {}


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_num(x: Any, digits: int = 2) -> str:
    """Format a number with fixed decimals; missing / NaN become an en dash."""
    return f"{float(x):.{digits}f}" if _finite(x) else "–"


def fmt_p(p: Any) -> str:
    """Format a p-value: ``<0.001``, three decimals below 0.1, else two."""
    if not _finite(p):
        return "–"
    p = float(p)
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def fmt_ci(est: Any, low: Any, high: Any, digits: int = 2) -> str:
    """``"0.81 (0.77–0.85)"``; the interval is omitted when it is missing."""
    if not _finite(est):
        return "–"
    if _finite(low) and _finite(high):
        return f"{fmt_num(est, digits)} ({fmt_num(low, digits)}–{fmt_num(high, digits)})"
    return fmt_num(est, digits)


def frame(results: Mapping[str, Any], *keys: str) -> pd.DataFrame:
    """Return the list of records at ``results[k1][k2]...`` as a DataFrame (empty if absent)."""
    node: Any = results
    for k in keys:
        if not isinstance(node, Mapping) or node.get(k) is None:
            return pd.DataFrame()
        node = node[k]
    if isinstance(node, list) and node and isinstance(node[0], Mapping):
        return pd.DataFrame(node)
    return pd.DataFrame()


def model_labels(results: Mapping[str, Any]) -> dict[str, str]:
    """Model name -> display label (falls back to the name)."""
    out: dict[str, str] = {}
    for m in results.get("models") or []:
        if isinstance(m, Mapping) and m.get("name"):
            out[str(m["name"])] = str(m.get("label") or m["name"])
    return out


def cohort_order(results: Mapping[str, Any]) -> list[str]:
    """Cohort names in results order (development first)."""
    names = [str(c["name"]) for c in results.get("cohorts") or [] if isinstance(c, Mapping)]
    if not names:
        perf = frame(results, "performance")
        names = list(dict.fromkeys(perf["cohort"].astype(str))) if "cohort" in perf else []
    return names


def _label(results: Mapping[str, Any], name: Any) -> str:
    return model_labels(results).get(str(name), str(name))


def _all(df: pd.DataFrame) -> pd.DataFrame:
    if "subgroup" in df:
        return df[df["subgroup"].fillna("all").astype(str) == "all"]
    return df


def summary_auc_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Headline AUC (95% DeLong CI): one row per model, one column per cohort."""
    perf = _all(frame(results, "performance"))
    if perf.empty:
        return pd.DataFrame()
    cohorts = cohort_order(results)
    rows = []
    for model in dict.fromkeys(perf["model"]):
        row = {"Model": _label(results, model)}
        for c in cohorts:
            r = perf[(perf["model"] == model) & (perf["cohort"] == c)]
            row[c] = (fmt_ci(r.iloc[0]["auc"], r.iloc[0].get("auc_ci_low"),
                             r.iloc[0].get("auc_ci_high")) if len(r) else "–")
        rows.append(row)
    return pd.DataFrame(rows)


def performance_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Cohort x model: n (events), AUC (95% CI) and threshold metrics (95% CI) at the cutoff."""
    perf = _all(frame(results, "performance"))
    if perf.empty:
        return pd.DataFrame()
    thr = _all(frame(results, "threshold_metrics"))
    rows = []
    order = {c: i for i, c in enumerate(cohort_order(results))}
    perf = perf.assign(_o=perf["cohort"].map(order).fillna(99)).sort_values("_o", kind="stable")
    for _, r in perf.iterrows():
        row: dict[str, str] = {
            "Cohort": str(r["cohort"]), "Model": _label(results, r["model"]),
            "n (events)": f"{int(r['n'])} ({int(r['events'])})" if _finite(r.get("n"))
            and _finite(r.get("events")) else "–",
            "AUC (95% CI)": fmt_ci(r.get("auc"), r.get("auc_ci_low"), r.get("auc_ci_high")),
            "Cutoff": fmt_num(r.get("cutoff"), 3)}
        if not _finite(r.get("auc")) and r.get("undefined_reason"):
            row["AUC (95% CI)"] = f"undefined ({r['undefined_reason']})"
        for metric in _METRIC_ORDER:
            m = thr[(thr.get("cohort") == r["cohort"]) & (thr.get("model") == r["model"])
                    & (thr.get("metric") == metric)] if not thr.empty else thr
            row[_METRIC_LABEL[metric]] = (fmt_ci(m.iloc[0]["estimate"], m.iloc[0]["ci_low"],
                                                 m.iloc[0]["ci_high"]) if len(m) else "–")
        rows.append(row)
    return pd.DataFrame(rows)


def optimism_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Harrell bootstrap optimism: apparent, optimism and corrected value per model x metric."""
    df = frame(results, "optimism")
    if df.empty:
        return df
    out = pd.DataFrame({
        "Model": [_label(results, m) for m in df["model"]],
        "Metric": df["metric"].astype(str).str.replace("auc", "AUC").str.capitalize()
        .str.replace("Auc", "AUC"),
        "Apparent": [fmt_num(v, 3) for v in df["apparent"]],
        "Optimism": [fmt_num(v, 3) for v in df["optimism"]],
        "Corrected": [fmt_num(v, 3) for v in df["corrected"]],
        "Resamples": [str(int(v)) if _finite(v) else "–" for v in df.get("n_resamples", [])]})
    return out


_FAMILY_LABEL = {"radiomics": "Radiomics", "deep": "Deep"}


def _selected_features(sel: Mapping[str, Any]) -> list[str]:
    """Features of a family's final signature (``selected``, else its coefficients)."""
    if sel.get("selected") is not None:
        return [str(x) for x in sel["selected"]]
    return [str(r["feature"]) for r in sel.get("coefficients") or []
            if isinstance(r, Mapping) and r.get("feature") != "(Intercept)"]


def stability_table(results: Mapping[str, Any], *, n_other: int = 5) -> pd.DataFrame:
    """Selection stability: how often the optimism bootstrap selected each feature.

    Per family, the features of the final signature and the ``n_other`` most often
    selected other features, with the share of resamples that selected them.
    """
    freq = frame(results, "stability", "selection_frequency")
    if freq.empty:
        return freq
    sel = as_mapping(results.get("selection"))
    rows = []
    for fam in dict.fromkeys(freq["family"].astype(str)):
        f = freq[freq["family"].astype(str) == fam].sort_values(
            "frequency", ascending=False, kind="mergesort")
        final = _selected_features(as_mapping(sel.get(fam)))
        by_feature = dict(zip(f["feature"].astype(str), f["frequency"], strict=True))
        others = [x for x in f["feature"].astype(str) if x not in final][:n_other]
        for feat in [*final, *others]:
            v = float(by_feature.get(feat, 0.0))   # never selected in a resample: 0%
            rows.append({"Family": _FAMILY_LABEL.get(fam, fam), "Feature": feat,
                         "In the final signature": "yes" if feat in final else "no",
                         "Selected in": f"{100 * v:.0f}%"})
    return pd.DataFrame(rows)


def selection_size_text(results: Mapping[str, Any]) -> str:
    """One sentence: how many features each resample's selection kept, per family."""
    size = frame(results, "stability", "selection_size")
    if size.empty:
        return ""
    parts = [f"a median of {fmt_num(r['median'], 0)} (range {fmt_num(r['min'], 0)}–"
             f"{fmt_num(r['max'], 0)}) "
             f"{md_text(_FAMILY_LABEL.get(str(r['family']), str(r['family'])).lower())} features"
             for r in size.to_dict(orient="records")]
    return "In the optimism bootstrap, the selection kept " + " and ".join(parts) + "."


def comparison_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Pairwise DeLong tests within each cohort with Holm-adjusted p-values."""
    df = frame(results, "comparisons")
    if df.empty:
        return df
    defined = pd.to_numeric(df["p_value"], errors="coerce").notna()
    df = df[defined]
    if df.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Cohort": df["cohort"].astype(str),
        "Model A": [_label(results, m) for m in df["model_a"]],
        "Model B": [_label(results, m) for m in df["model_b"]],
        "AUC A": [fmt_num(v, 3) for v in df["auc_a"]],
        "AUC B": [fmt_num(v, 3) for v in df["auc_b"]],
        "Difference (95% CI)": [fmt_ci(d, lo, hi, 3) for d, lo, hi in
                                zip(df["difference"], df["ci_low"], df["ci_high"])],
        "z": [fmt_num(v, 2) for v in df["statistic"]],
        "p": [fmt_p(v) for v in df["p_value"]],
        "p (Holm)": [fmt_p(v) for v in df["p_adjusted"]]})


def undefined_comparisons(results: Mapping[str, Any]) -> list[str]:
    """One sentence per cohort whose DeLong comparisons are undefined, with the reason."""
    df = frame(results, "comparisons")
    if df.empty or "p_value" not in df:
        return []
    bad = df[pd.to_numeric(df["p_value"], errors="coerce").isna()]
    out = []
    for cohort, g in bad.groupby("cohort", sort=False):
        reasons = sorted({str(r) for r in g.get("undefined_reason", pd.Series(dtype=object))
                          if isinstance(r, str) and r})
        why = f": {md_text(reasons[0].rstrip('.'))}" if len(reasons) == 1 else ""
        out.append(f"{len(g)} comparison(s) in {md_text(cohort)} are undefined{why}.")
    return out


def calibration_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Calibration metrics (val.prob style) and Hosmer-Lemeshow per cohort x model."""
    df = frame(results, "calibration")
    if df.empty:
        return df
    def col(name: str, digits: int = 3) -> list[str]:
        return [fmt_num(v, digits) for v in df[name]] if name in df else ["–"] * len(df)
    hl = []
    for _, r in df.iterrows():
        if _finite(r.get("hl_statistic")):
            df_ = int(r["hl_df"]) if _finite(r.get("hl_df")) else "?"
            hl.append(f"{fmt_num(r['hl_statistic'], 2)} ({df_}); p = {fmt_p(r.get('hl_p_value'))}")
        else:
            hl.append("–")
    return pd.DataFrame({
        "Cohort": df["cohort"].astype(str), "Model": [_label(results, m) for m in df["model"]],
        "Intercept": col("intercept"), "Slope": col("slope"), "CITL": col("citl"),
        "O/E": col("o_e_ratio", 2), "Brier": col("brier"), "ICI": col("ici"),
        "E90": col("e90"), "Emax": col("emax"),
        "HL χ² (df); p": hl})


def baseline_table_wide(results: Mapping[str, Any]) -> pd.DataFrame:
    """Table 1 in wide form: one row per variable / level, one column per cohort, test, p."""
    df = frame(results, "baseline")
    if df.empty:
        return df
    df = df.copy()
    df["level"] = df["level"].fillna("").astype(str)
    cohorts = [c for c in dict.fromkeys(df["cohort"].astype(str))]
    n_by = {str(c["name"]): c.get("n") for c in results.get("cohorts") or []
            if isinstance(c, Mapping)}
    rows = []
    for var in dict.fromkeys(df["variable"]):
        sub = df[df["variable"] == var]
        kind = str(sub["kind"].iloc[0])
        first = sub.iloc[0]
        miss = {c: int(sub[sub["cohort"] == c]["missing"].iloc[0])
                for c in cohorts if len(sub[sub["cohort"] == c])
                and _finite(sub[sub["cohort"] == c]["missing"].iloc[0])}
        miss_txt = ", ".join(f"{c} {m}" for c, m in miss.items() if m) or "0"
        if kind == "numeric":
            label = var + (" (median [IQR])" if "[" in str(first["summary"]) else " (mean ± SD)")
            row = {"Characteristic": label}
            for c in cohorts:
                r = sub[sub["cohort"] == c]
                row[c] = str(r.iloc[0]["summary"]) if len(r) else "–"
            row.update({"Test": str(first.get("test") or ""), "p": fmt_p(first.get("p_value")),
                        "Missing": miss_txt})
            rows.append(row)
            continue
        row = {"Characteristic": f"{var}, n (%)"} | {c: "" for c in cohorts} | {
            "Test": str(first.get("test") or ""), "p": fmt_p(first.get("p_value")),
            "Missing": miss_txt}
        rows.append(row)
        for lv in dict.fromkeys(sub["level"]):
            row = {"Characteristic": f"— {lv}"}
            for c in cohorts:
                r = sub[(sub["cohort"] == c) & (sub["level"] == lv)]
                row[c] = str(r.iloc[0]["summary"]) if len(r) else "–"
            row.update({"Test": "", "p": "", "Missing": ""})
            rows.append(row)
    out = pd.DataFrame(rows)
    rename = {c: f"{c} (n = {n_by[c]})" for c in cohorts if n_by.get(c) is not None}
    return out.rename(columns=rename)


def funnel_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Feature-selection funnel per family: step, features in, features kept."""
    sel = results.get("selection")
    if not isinstance(sel, Mapping):
        return pd.DataFrame()
    rows = []
    for fam, body in sel.items():
        if not isinstance(body, Mapping):
            continue
        for r in body.get("funnel") or []:
            rows.append({"Family": str(fam), "Step": _STEP_LABEL.get(str(r.get("step")),
                                                                     str(r.get("step"))),
                         "Features in": str(r.get("n_in", "–")),
                         "Features kept": str(r.get("n_out", "–"))})
    return pd.DataFrame(rows)


def coefficients_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Final coefficients of every score (original scale) with the feature mean and SD."""
    sel = results.get("selection")
    if not isinstance(sel, Mapping):
        return pd.DataFrame()
    rows = []
    for fam, body in sel.items():
        if not isinstance(body, Mapping):
            continue
        for r in body.get("coefficients") or []:
            rows.append({"Score": "rad-score" if fam == "radiomics" else
                         ("DL-score" if fam == "deep" else str(fam)),
                         "Feature": str(r.get("feature")),
                         "Coefficient": fmt_num(r.get("coef"), 4),
                         "Mean": fmt_num(r.get("mean"), 3), "SD": fmt_num(r.get("sd"), 3)})
    return pd.DataFrame(rows)


def flow_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Patient flow per cohort: stage, n and reason."""
    df = frame(results, "patient_flow")
    if df.empty:
        return df
    return pd.DataFrame({"Cohort": df["cohort"].astype(str),
                         "Stage": df["stage"].astype(str).str.replace("_", " "),
                         "n": [str(int(v)) if _finite(v) else "–" for v in df["n"]],
                         "Reason": [str(v) if isinstance(v, str) and v else ""
                                    for v in df.get("reason", [""] * len(df))]})


def missing_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Missing values per variable and cohort (only variables with any missing value)."""
    df = frame(results, "missing")
    if df.empty or "missing" not in df:
        return pd.DataFrame()
    df = df[pd.to_numeric(df["missing"], errors="coerce").fillna(0) > 0]
    if df.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Variable": df["variable"].astype(str), "Cohort": df["cohort"].astype(str),
        "Missing": [f"{int(m)} of {int(n)}" if _finite(n) else str(int(m))
                    for m, n in zip(df["missing"], df.get("n", [None] * len(df)))],
        "%": [fmt_num(100 * float(f), 1) if f is not None and _finite(f) else "–"
              for f in list(df.get("fraction", [None] * len(df)))]})


def subgroup_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Subgroup AUCs with CIs and the heterogeneity test per cohort x model x subgroup."""
    df = frame(results, "subgroups")
    if df.empty:
        return df
    het = frame(results, "heterogeneity")
    rows = []
    for _, r in df.iterrows():
        h = het[(het["cohort"] == r["cohort"]) & (het["model"] == r["model"])
                & (het["subgroup"] == r["subgroup"])] if not het.empty else het
        rows.append({"Cohort": str(r["cohort"]), "Model": _label(results, r["model"]),
                     "Subgroup": f"{r['subgroup']}: {r['level']}",
                     "n (events)": f"{int(r['n'])} ({int(r['events'])})",
                     "AUC (95% CI)": fmt_ci(r.get("auc"), r.get("ci_low"), r.get("ci_high")),
                     "Heterogeneity p": fmt_p(h.iloc[0]["p_value"]) if len(h) else "–"})
    return pd.DataFrame(rows)


def survival_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Log-rank test, hazard ratio (95% CI) and C-index per cohort."""
    df = frame(results, "survival", "summary")
    if df.empty:
        return df
    return pd.DataFrame({
        "Cohort": df["cohort"].astype(str),
        "HR (95% CI)": [fmt_ci(h, lo, hi) for h, lo, hi in
                        zip(df["hr"], df["hr_ci_low"], df["hr_ci_high"])],
        "Log-rank χ²": [fmt_num(v, 2) for v in df["logrank_statistic"]],
        "Log-rank p": [fmt_p(v) for v in df["logrank_p"]],
        "C-index": [fmt_num(v, 3) for v in df["c_index"]]})


def to_pipe(df: pd.DataFrame, caption: str, label: str,
            align: Sequence[str] | None = None, *, raw: Sequence[str] = ()) -> str:
    """Return ``df`` as a pandoc pipe table with ``: caption {#tbl-label}``.

    Cells, column names and the caption are display text, possibly from input
    files: each is escaped with :func:`radval.report._escape.md_text`, so it renders
    literally and cannot break the table.  Only the columns named in ``raw`` hold
    markdown built by radval itself (e.g. ``@sec-x`` references) and are kept as
    they are (line breaks and ``|`` still cannot break the table).

    ``label`` must start with ``tbl-`` and be ``[a-z0-9-]``.  The first column is
    left-aligned, others left too unless ``align`` says otherwise (``"l"``, ``"r"``,
    ``"c"``).
    """
    import re

    if not re.fullmatch(r"tbl-[a-z0-9-]+", label):
        msg = f"table label must start with 'tbl-' and be [a-z0-9-]; got {label!r}"
        raise ValueError(msg)
    keep = {str(c) for c in raw}

    def _raw(v: Any) -> str:
        return " ".join(str(v).split()).replace("|", "\\|")

    def _cell(v: Any, col: Any) -> str:
        return _raw(v) if str(col) in keep else md_text(v)
    cols = [str(c) for c in df.columns]
    aligns = list(align) if align is not None else ["l"] * len(cols)
    # pandoc sets relative column widths from the number of dashes (wide tables)
    widths = []
    for c in df.columns:
        cells = [str(c)] + [str(v) for v in df[c]]
        longest = max(len(v) for v in cells)
        word = max(len(w) for v in cells for w in (v.split() or [""]))
        # room for the longest unbreakable word, and about half of the longest cell
        widths.append(min(max(word + 2, math.ceil(0.55 * longest), 4), 40))
    def mark(a: str, w: int) -> str:
        if a == "r":
            return "-" * (w - 1) + ":"
        if a == "c":
            return ":" + "-" * (w - 2) + ":"
        return ":" + "-" * (w - 1)
    lines = ["| " + " | ".join(md_text(c) for c in cols) + " |",
             "|" + "|".join(mark(a, w) for a, w in zip(aligns, widths)) + "|"]
    for rec in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, c) for v, c in zip(rec, cols)) + " |")
    return "\n".join(lines) + f"\n\n: {md_text(caption)} {{#{label}}}\n"


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a display table as UTF-8 CSV (creates the folder).

    Text cells that a spreadsheet would evaluate as a formula (``= + - @``) are
    prefixed with ``'`` (:func:`radval.report._escape.csv_frame`).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    csv_frame(df).to_csv(p, index=False)
    return p
