"""Report tables: typed results -> display DataFrames -> pandoc pipe tables and CSV.

This is the only place where numbers are rounded.  Every builder takes the
:class:`radval.report._data.ReportData` of a run (the typed results and the tidy frames
built from them) and returns a DataFrame of display strings, with the study file's
labels for variables, levels, models, cohorts and subgroups; an empty DataFrame when
that part is not in the run.  :func:`to_pipe` emits a pandoc pipe table with a caption
and label (``: Caption {#tbl-x}``), which becomes a real table in HTML, DOCX and typst.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report._data import ReportData
from radval.report._escape import csv_frame, md_text

__all__ = [
    "Table",
    "calibration_table",
    "coefficients_table",
    "cohort_table",
    "comparison_matrix",
    "flow_table",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "fmt_p_eq",
    "funnel_table",
    "grouped",
    "internal_validation_table",
    "key_comparison_table",
    "missing_table",
    "model_table",
    "optimism_table",
    "performance_table",
    "predictor_label",
    "selection_size_text",
    "stability_table",
    "subgroup_table",
    "summary_auc_table",
    "survival_table",
    "to_pipe",
    "undefined_comparisons",
    "write_csv",
]

_METRIC_LABEL = {"accuracy": "Accuracy", "sensitivity": "Sensitivity",
                 "specificity": "Specificity", "ppv": "PPV", "npv": "NPV"}
_STEP_LABEL = {"candidates": "Candidate features", "checks": "Valid features (checks)",
               "icc": "Reproducible (ICC)",
               "mann_whitney": "Univariable (Mann-Whitney U)",
               "univariate": "Univariable (Mann-Whitney U)",
               "redundancy": "Non-redundant (correlation)", "lasso": "LASSO (non-zero)"}
_FAMILY_LABEL = {"radiomics": "Radiomics", "deep": "Deep learning"}
_SCORE_NAME = {"radiomics": "Rad-score", "deep": "DL-score"}
#: Columns of the workflow's design matrices that hold a score (radval.workflow._coding)
_SCORE_COLUMNS = {"rad_score": "radiomics", "dl_score": "deep"}
_TERM = re.compile(r"^(?P<var>.+)\[(?P<level>[^\[\]]*)\]$")


@dataclass(frozen=True)
class Table:
    """A report table: plain-text cells (the CSV), optionally the same cells as markdown
    (``markdown``: built by radval around escaped text), and plain-text footnotes."""

    frame: pd.DataFrame
    markdown: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the table has no rows."""
        return self.frame.empty


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_num(x: Any, digits: int = 2) -> str:
    """Format a number with fixed decimals; missing / NaN become an en dash, and a value
    that rounds to zero is ``0.00``, never ``-0.00``."""
    if not _finite(x):
        return "–"
    text = f"{float(x):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_p(p: Any) -> str:
    """Format a p-value as journals do: ``<0.001``, else two significant digits
    (``0.012``, ``0.46``, ``0.050``)."""
    if not _finite(p):
        return "–"
    p = float(p)
    if p < 0.001:
        return "<0.001"
    return f"{p:#.2g}".rstrip(".")


def fmt_ci(est: Any, low: Any, high: Any, digits: int = 2, *, to: bool = False) -> str:
    """``"0.81 (0.77–0.85)"``; ``"0.04 (-0.03 to 0.11)"`` with ``to`` or a negative bound
    (a dash between signed numbers misreads); the interval is omitted when missing."""
    if not _finite(est):
        return "–"
    if _finite(low) and _finite(high):
        sep = " to " if to or float(low) < 0 or float(high) < 0 else "–"
        return f"{fmt_num(est, digits)} ({fmt_num(low, digits)}{sep}{fmt_num(high, digits)})"
    return fmt_num(est, digits)


def fmt_p_eq(p: Any) -> str:
    """``"p = 0.012"`` or ``"p < 0.001"``."""
    text = fmt_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def predictor_label(d: ReportData, term: str) -> str:
    """A model input as a reader names it: a clinical variable by its label, a coded level
    ``sex[M]`` as ``"Sex: male"``, a score column by its model's name."""
    if term in _SCORE_COLUMNS:
        return d.labels.model(_SCORE_COLUMNS[term])
    if term == "signature":
        return d.labels.model(d.signature_model)
    known = {p.name for p in d.study.clinical_predictors} if d.study is not None else set()
    if d.labels.has_variable(term) or term in known:
        return d.labels.variable(term, unit=False)
    m = _TERM.match(term)   # a coded level of a categorical predictor: "sex[M]"
    if m and (d.labels.has_variable(m["var"]) or m["var"] in known):
        return f"{d.labels.variable(m['var'], unit=False)}: {d.labels.level(m['var'], m['level'])}"
    return term


# ------------------------------------------------------------------------------ cohorts
def cohort_table(d: ReportData) -> pd.DataFrame:
    """Cohorts, roles, sample sizes, events, prevalence, exclusions."""
    rows = [{"Cohort": d.labels.cohort(c.name), "Role": c.role.replace("_", " "),
             "n": str(c.n), "Events": str(c.events),
             "Prevalence (%)": fmt_num(100 * c.prevalence, 1) if c.prevalence is not None
             else "–", "Excluded": str(c.n_excluded)} for c in d.results.cohorts]
    return pd.DataFrame(rows)


def flow_table(d: ReportData) -> pd.DataFrame:
    """Patient flow per cohort: stage, n and reason."""
    df = d.flow
    if df.empty:
        return pd.DataFrame()
    return pd.DataFrame({"Cohort": [d.labels.cohort(c) for c in df["cohort"]],
                         "Stage": df["stage"].astype(str).str.replace("_", " "),
                         "n": [str(int(v)) for v in df["n"]],
                         "Reason": [str(v) if isinstance(v, str) else "" for v in df["reason"]]})


def missing_table(d: ReportData) -> pd.DataFrame:
    """Missing values per variable and cohort (variables with any missing value)."""
    df = d.missing
    df = df[pd.to_numeric(df["missing"], errors="coerce").fillna(0) > 0]
    if df.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Variable": [d.labels.variable(v) for v in df["variable"]],
        "Cohort": [d.labels.cohort(c) for c in df["cohort"]],
        "Missing": [f"{int(m)} of {int(n)}" for m, n in zip(df["missing"], df["n"])],
        "%": [fmt_num(100 * float(f), 1) if _finite(f) else "–" for f in df["fraction"]]})


# ---------------------------------------------------------------------------- models
def model_table(d: ReportData) -> pd.DataFrame:
    """The models: name, kind, predictors (labelled) and the frozen cut-off."""
    kinds = {"radiomics": "radiomics score (LASSO)", "deep": "deep-learning score (LASSO)",
             "combined": "logistic, scores", "clinical": "logistic, clinical",
             "nomogram": "logistic, signature + clinical", "sklearn": "machine learning"}
    rows = []
    for m in d.results.models:
        preds = [predictor_label(d, t) for t in m.predictors]
        if m.kind in ("radiomics", "deep") and len(preds) > 3:
            shown = f"{len(preds)} {_FAMILY_LABEL.get(m.kind, m.kind).lower()} features"
        elif m.kind == "sklearn" and len(preds) > 3:
            shown = f"the {len(preds)} selected features"
        else:
            shown = ", ".join(dict.fromkeys(preds)) or "–"
        rows.append({"Model": d.labels.model(m.name), "Type": kinds.get(m.kind, m.kind),
                     "Predictors": shown, "Cut-off": fmt_num(m.cutoff, 3)})
    return pd.DataFrame(rows)


def coefficients_table(d: ReportData) -> pd.DataFrame:
    """Final coefficients of every score (original scale) with the feature mean and SD."""
    sel = d.families
    rows = []
    for fam, body in sel.items():
        for r in body.coefficients:
            rows.append({"Score": _SCORE_NAME.get(fam, fam), "Feature": r.feature,
                         "Coefficient": fmt_num(r.coef, 4), "Mean": fmt_num(r.mean, 3),
                         "SD": fmt_num(r.sd, 3)})
    return pd.DataFrame(rows)


def funnel_table(d: ReportData) -> pd.DataFrame:
    """Feature-selection funnel per family: step, features in, features kept."""
    rows = []
    for fam, body in d.families.items():
        for r in body.funnel or []:
            rows.append({"Family": _FAMILY_LABEL.get(fam, fam),
                         "Step": _STEP_LABEL.get(r.step, r.step.replace("_", " ")),
                         "Features in": str(r.n_in), "Features kept": str(r.n_out),
                         "Note": r.note})
    return pd.DataFrame(rows)


def stability_table(d: ReportData, *, n_other: int = 5) -> pd.DataFrame:
    """Selection stability: per family, the final features and the ``n_other`` most often
    selected others, with the share of optimism resamples that selected them."""
    freq = d.selection_frequency
    if freq.empty:
        return pd.DataFrame()
    sel = d.families
    rows = []
    for fam in dict.fromkeys(freq["family"].astype(str)):
        f = freq[freq["family"] == fam].sort_values("frequency", ascending=False,
                                                    kind="mergesort")
        final = list(sel[fam].selected) if fam in sel else []
        by_feature = dict(zip(f["feature"].astype(str), f["frequency"], strict=True))
        others = [x for x in f["feature"].astype(str) if x not in final][:n_other]
        for feat in [*final, *others]:
            v = float(by_feature.get(feat, 0.0))   # never selected in a resample: 0%
            rows.append({"Family": _FAMILY_LABEL.get(fam, fam), "Feature": feat,
                         "In the final signature": "yes" if feat in final else "no",
                         "Selected in": f"{100 * v:.0f}%"})
    return pd.DataFrame(rows)


def selection_size_text(d: ReportData) -> str:
    """One sentence (markdown): how many features each resample's selection kept."""
    size = d.selection_size
    if size.empty:
        return ""
    parts = [f"a median of {fmt_num(r['median'], 0)} (range {fmt_num(r['min'], 0)}–"
             f"{fmt_num(r['max'], 0)}) "
             f"{md_text(_FAMILY_LABEL.get(str(r['family']), str(r['family'])).lower())} features"
             for r in size.to_dict(orient="records")]
    return "In the optimism bootstrap, the selection kept " + " and ".join(parts) + "."


# ----------------------------------------------------------------------- performance
def summary_auc_table(d: ReportData, models: Sequence[str] | None = None) -> pd.DataFrame:
    """AUC (DeLong CI at the run's level): one row per model, one column per cohort."""
    perf = d.order(d.performance, models=models)
    if perf.empty:
        return pd.DataFrame()
    rows = []
    for model in dict.fromkeys(perf["model"]):
        row = {"Model": d.labels.model(model)}
        for c in d.cohorts:
            r = perf[(perf["model"] == model) & (perf["cohort"] == c)]
            row[d.labels.cohort(c)] = (fmt_ci(r.iloc[0]["auc"], r.iloc[0]["auc_ci_low"],
                                              r.iloc[0]["auc_ci_high"]) if len(r) else "–")
        rows.append(row)
    return pd.DataFrame(rows)


def performance_table(d: ReportData, models: Sequence[str] | None = None, *,
                      accuracy: bool = False, bootstrap: bool = False,
                      cutoff: bool = True, n_in_cohort: bool = False) -> pd.DataFrame:
    """Cohort x model: n (events), AUC (DeLong CI) and, at the frozen cut-off,
    sensitivity, specificity, PPV and NPV (Wilson CIs), at the run's level
    (:attr:`ReportData.ci`); optionally the bootstrap CI
    of the AUC, the cut-off and the accuracy.  ``n_in_cohort`` writes the cohort's
    patients and events in its cell instead of a column of their own (a narrower table)."""
    perf = d.order(d.performance, models=models)
    if perf.empty:
        return pd.DataFrame()
    thr = d.threshold
    rows = []
    for r in perf.to_dict(orient="records"):
        n_events = f"{int(r['n'])} ({int(r['events'])})"
        row: dict[str, str] = {
            "Cohort": (f"{d.labels.cohort(r['cohort'])}, n = {int(r['n'])} "
                       f"({int(r['events'])} events)") if n_in_cohort
            else d.labels.cohort(r["cohort"]),
            "Model": d.labels.model(r["model"])}
        if not n_in_cohort:
            row["n (events)"] = n_events
        auc = f"AUC ({d.ci} CI)"
        row[auc] = fmt_ci(r["auc"], r["auc_ci_low"], r["auc_ci_high"])
        if not _finite(r["auc"]) and r["undefined_reason"]:
            row[auc] = f"undefined ({r['undefined_reason']})"
        if bootstrap:
            row["AUC bootstrap CI"] = (f"{fmt_num(r['auc_boot_ci_low'])}–"
                                       f"{fmt_num(r['auc_boot_ci_high'])}"
                                       if _finite(r["auc_boot_ci_low"]) else "–")
        if cutoff:
            row["Cut-off"] = fmt_num(r["cutoff"], 3)
        metrics = ("sensitivity", "specificity", "ppv", "npv") + (("accuracy",) if accuracy
                                                                   else ())
        for metric in metrics:
            m = thr[(thr["cohort"] == r["cohort"]) & (thr["model"] == r["model"])
                    & (thr["metric"] == metric)]
            row[_METRIC_LABEL[metric]] = (fmt_ci(m.iloc[0]["estimate"], m.iloc[0]["ci_low"],
                                                 m.iloc[0]["ci_high"]) if len(m) else "–")
        rows.append(row)
    return pd.DataFrame(rows)


def optimism_table(d: ReportData) -> pd.DataFrame:
    """Harrell bootstrap optimism: apparent, optimism and corrected value per model x metric."""
    df = d.optimism
    if df.empty:
        return pd.DataFrame()
    names = {"auc": "AUC", "slope": "Calibration slope", "intercept": "Calibration intercept",
             "brier": "Brier score"}
    return pd.DataFrame({
        "Model": [d.labels.model(m) for m in df["model"]],
        "Metric": [names.get(m, m) for m in df["metric"]],
        "Apparent": [fmt_num(v, 3) for v in df["apparent"]],
        "Optimism": [fmt_num(v, 3) for v in df["optimism"]],
        "Corrected": [fmt_num(v, 3) for v in df["corrected"]],
        "Resamples": [str(int(v)) for v in df["n_resamples"]]})


def internal_validation_table(d: ReportData, models: Sequence[str] | None = None
                              ) -> pd.DataFrame:
    """One row per model: apparent and optimism-corrected AUC, corrected calibration slope
    and Brier score (Harrell's bootstrap)."""
    df = d.order(d.optimism, models=models)
    if df.empty:
        return pd.DataFrame()
    def val(g: pd.DataFrame, metric: str, col: str) -> str:
        return fmt_num(g.loc[metric, col], 3 if metric == "brier" else 2) \
            if metric in g.index else "–"

    rows = []
    for model in dict.fromkeys(df["model"]):
        g = df[df["model"] == model].set_index("metric")
        rows.append({"Model": d.labels.model(model), "AUC, apparent": val(g, "auc", "apparent"),
                     "AUC, corrected": val(g, "auc", "corrected"),
                     "Slope, corrected": val(g, "slope", "corrected"),
                     "Brier, corrected": val(g, "brier", "corrected"),
                     "Resamples": str(int(g["n_resamples"].max()))})
    return pd.DataFrame(rows)


def calibration_table(d: ReportData, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Calibration metrics (val.prob style) and Hosmer-Lemeshow per cohort x model."""
    df = d.order(d.calibration, models=models)
    if df.empty:
        return pd.DataFrame()
    hl = []
    for r in df.to_dict(orient="records"):
        if _finite(r["hl_statistic"]):
            df_ = int(r["hl_df"]) if _finite(r["hl_df"]) else "?"
            hl.append(f"{fmt_num(r['hl_statistic'], 2)} ({df_}); {fmt_p_eq(r['hl_p_value'])}")
        else:
            hl.append("–")
    return pd.DataFrame({
        "Cohort": [d.labels.cohort(c) for c in df["cohort"]],
        "Model": [d.labels.model(m) for m in df["model"]],
        "Intercept": [fmt_num(v, 2) for v in df["intercept"]],
        "Slope": [fmt_num(v, 2) for v in df["slope"]],
        "O/E": [fmt_num(v, 2) for v in df["o_e_ratio"]],
        "Brier": [fmt_num(v, 3) for v in df["brier"]],
        "ICI": [fmt_num(v, 3) for v in df["ici"]],
        "E90": [fmt_num(v, 3) for v in df["e90"]],
        "Emax": [fmt_num(v, 3) for v in df["emax"]],
        "HL χ² (df); p": hl})


# ----------------------------------------------------------------------- comparisons
def _defined(df: pd.DataFrame) -> pd.DataFrame:
    return df[pd.to_numeric(df["p_value"], errors="coerce").notna()]


def key_comparison_table(d: ReportData) -> pd.DataFrame:
    """The paper's comparison: the signature model against each of the study's other
    models (not the comparison classifiers), per cohort: AUC difference (CI) and the
    Holm-adjusted p-value of DeLong's test."""
    comp = _defined(d.comparisons)
    sig = d.signature_model
    others = [m for m in d.primary_models if m != sig]
    if comp.empty or not others:
        return pd.DataFrame()
    rows = []
    for other in others:
        row = {"Comparison": f"{d.labels.model(sig)} vs {d.labels.model(other)}"}
        found = False
        for c in d.cohorts:
            sub = comp[comp["cohort"] == c]
            r = sub[(sub["model_a"] == sig) & (sub["model_b"] == other)]
            sign = 1.0
            if r.empty:
                r, sign = sub[(sub["model_a"] == other) & (sub["model_b"] == sig)], -1.0
            if r.empty:
                row[d.labels.cohort(c)] = "–"
                continue
            found = True
            x = r.iloc[0]
            lo, hi = sorted((sign * x["ci_low"], sign * x["ci_high"]))
            row[d.labels.cohort(c)] = (f"{fmt_ci(sign * x['difference'], lo, hi, to=True)}; "
                                       f"{fmt_p_eq(x['p_adjusted'])}")
        if found:
            rows.append(row)
    return pd.DataFrame(rows)


def comparison_matrix(d: ReportData, cohort: str) -> pd.DataFrame:
    """All pairwise DeLong comparisons in one cohort as a matrix: the cell of row A and
    column B is AUC(A) - AUC(B) with the Holm-adjusted p-value; upper triangle only."""
    comp = d.comparisons[d.comparisons["cohort"] == cohort]
    models = [m for m in d.models if m in set(comp["model_a"]) | set(comp["model_b"])]
    if comp.empty or len(models) < 2:
        return pd.DataFrame()
    cell: dict[tuple[str, str], str] = {}
    for x in comp.to_dict(orient="records"):
        if _finite(x["difference"]) and _finite(x["p_value"]):
            text = f"{x['difference']:+.2f} ({fmt_p(x['p_adjusted'])})"
        else:  # the test is undefined (one class, too few events): no difference shown
            text = "undefined"
        cell[(x["model_a"], x["model_b"])] = text
        flipped = text if text == "undefined" else \
            f"{-x['difference']:+.2f} ({fmt_p(x['p_adjusted'])})"
        cell[(x["model_b"], x["model_a"])] = flipped
    rows = []
    for i, a in enumerate(models[:-1]):
        row = {"Model": d.labels.model(a)}
        for j, b in enumerate(models[1:], start=1):
            row[d.labels.model(b)] = cell.get((a, b), "–") if j > i else ""
        rows.append(row)
    return pd.DataFrame(rows)


def undefined_comparisons(d: ReportData) -> list[str]:
    """One sentence (markdown) per cohort whose DeLong comparisons are undefined."""
    df = d.comparisons
    bad = df[pd.to_numeric(df["p_value"], errors="coerce").isna()]
    out = []
    for cohort, g in bad.groupby("cohort", sort=False):
        reasons = sorted({str(r) for r in g["undefined_reason"] if isinstance(r, str) and r})
        why = f": {md_text(reasons[0].rstrip('.'))}" if len(reasons) == 1 else ""
        out.append(f"{len(g)} comparison(s) in {md_text(d.labels.cohort(str(cohort)))} are "
                   f"undefined{why}.")
    return out


# ------------------------------------------------------------------ subgroups, survival
def subgroup_table(d: ReportData, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Subgroup AUCs with CIs and the heterogeneity test per cohort x model x subgroup."""
    df = d.order(d.subgroups, models=models)
    if df.empty:
        return pd.DataFrame()
    het = d.heterogeneity
    rows = []
    for r in df.to_dict(orient="records"):
        h = het[(het["cohort"] == r["cohort"]) & (het["model"] == r["model"])
                & (het["subgroup"] == r["subgroup"])]
        auc = fmt_ci(r["auc"], r["ci_low"], r["ci_high"])
        if auc == "–" and r["undefined_reason"]:
            auc = f"undefined ({r['undefined_reason']})"
        rows.append({"Cohort": d.labels.cohort(r["cohort"]), "Model": d.labels.model(r["model"]),
                     "Subgroup": f"{d.labels.subgroup(r['subgroup'])}: "
                                 f"{d.labels.subgroup_level(r['subgroup'], r['level'])}",
                     "n (events)": f"{int(r['n'])} ({int(r['events'])})",
                     f"AUC ({d.ci} CI)": auc,
                     "Heterogeneity p": fmt_p(h.iloc[0]["p_value"]) if len(h) else "–"})
    return pd.DataFrame(rows)


def survival_table(d: ReportData) -> pd.DataFrame:
    """The signature as a prognostic marker per cohort: HR (CI), log-rank, C-index."""
    df = d.survival_summary
    if df.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Cohort": [d.labels.cohort(c) for c in df["cohort"]],
        "n (events)": [f"{int(n)} ({int(e)})" for n, e in zip(df["n"], df["events"])],
        f"HR ({d.ci} CI)": [fmt_ci(h, lo, hi) for h, lo, hi in
                        zip(df["hr"], df["hr_ci_low"], df["hr_ci_high"])],
        "Log-rank χ²": [fmt_num(v, 2) for v in df["logrank_statistic"]],
        "Log-rank p": [fmt_p(v) for v in df["logrank_p"]],
        "C-index": [fmt_num(v, 2) for v in df["c_index"]]})


# ------------------------------------------------------------------------------ output
def grouped(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """``df`` as markdown cells (escaped) with repeated values of ``column`` left blank: a
    group's name printed once, on its first row (for :meth:`SectionWriter.table`)."""
    out = df.map(md_text)
    if column in out and len(out):
        repeat = df[column].eq(df[column].shift())
        out.loc[repeat, column] = ""
    return out


def to_pipe(df: pd.DataFrame, caption: str, label: str,
            align: Sequence[str] | None = None, *, raw: Sequence[str] = ()) -> str:
    """Return ``df`` as a pandoc pipe table with ``: caption {#tbl-label}``.

    Cells, column names and the caption are display text, possibly from input
    files: each is escaped with :func:`radval.report._escape.md_text`, so it renders
    literally and cannot break the table.  Only the columns named in ``raw`` hold
    markdown built by radval itself (e.g. ``@sec-x`` references, or escaped text with
    radval's indentation) and are kept as they are (line breaks and ``|`` still cannot
    break the table).

    ``label`` must start with ``tbl-`` and be ``[a-z0-9-]``.  Columns are left-aligned
    unless ``align`` says otherwise (``"l"``, ``"r"``, ``"c"``).
    """
    if not re.fullmatch(r"tbl-[a-z0-9-]+", label):
        msg = f"table label must start with 'tbl-' and be [a-z0-9-]; got {label!r}"
        raise ValueError(msg)
    keep = {str(c) for c in raw}

    def _raw(v: Any) -> str:
        # a pipe not already escaped (an even number of backslashes before it) would end
        # the cell: escape it, and leave the escaped ones of md_text alone
        return re.sub(r"(?<!\\)((?:\\\\)*)\|", r"\1\\|", " ".join(str(v).split()))

    def _cell(v: Any, col: Any) -> str:
        return _raw(v) if str(col) in keep else md_text(v)
    cols = [str(c) for c in df.columns]
    aligns = list(align) if align is not None else ["l"] * len(cols)
    # pandoc sets relative column widths from the number of dashes (wide tables)
    widths = []
    for c in df.columns:
        cells = [str(c)] + [str(v) for v in df[c]]
        body = [str(v) for v in df[c]] or [""]
        word = max(len(w) for v in cells for w in (v.split() or [""]))
        if max(len(v) for v in body) <= 18:
            # a short cell (a number with its interval) is not wrapped
            widths.append(max(max(len(v) for v in body) + 2, word + 2, 4))
        else:  # room for the longest unbreakable word, and most of the longest cell
            longest_body = max(len(v) for v in body)
            widths.append(min(max(word + 2, math.ceil(0.75 * longest_body), 4), 40))

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
    csv_frame(df).to_csv(p, index=False, lineterminator="\n")
    return p
