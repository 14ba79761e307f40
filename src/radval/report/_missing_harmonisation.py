"""Report sections on missing data and feature harmonisation (TRIPOD+AI 11, 12b, 27a).

Built from the typed results only (``missing_data``, ``harmonisation``, ``shift`` of
:class:`radval.contracts.ResultsFile`, through the tidy frames of
:class:`radval.report._data.ReportData`); nothing is computed here.

* :data:`SECTION` (main report, order 25, after the participants): how missing clinical
  predictors were handled and how many values were missing (``sec-missing-data``), and
  the ComBat harmonisation with its batch-outcome guard and batch separability in one
  sentence (``sec-harmonisation``).  TRIPOD+AI items 11 and 27a link to these ids.
* :data:`DETAIL_SECTION` (supplement, order 115, after the cohorts): missing-data
  patterns, patients kept with imputed predictors, coefficients and performance pooled by
  Rubin's rules, batches, the separability table and the principal-component plot.
* A site run (``radval validate``, one document) gets everything in the main section:
  the bundle's deployment imputer with the clinical models on all patients, the complete
  cases and the imputed patients, and the dataset shift before and after the frozen
  ComBat.  A one-document report of a development run (``split=False``) likewise keeps
  the detail inline.

:func:`flow_note` (the sentence under the patient flow) and :func:`methods_text` (the
methods paragraphs) are called by the participants and methods sections of
:mod:`radval.report._main_sections`.

Figures are drawn with the primitives of :mod:`radval.report._plots` (``new_figure``,
``style``, the Okabe-Ito palette) and saved with :func:`radval.report.figures.save`;
the ``plot_*`` functions take tidy data and ``ax=None``.  Every text that comes from an
input file (variable, batch, cohort, model and feature names) goes through
:func:`radval.report._escape.md_text` (markdown; the writer's tables and captions do it)
or :func:`radval.report._escape.mpl_text` (figures).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radval.report._data import ReportData, in_sentence
from radval.report._escape import md_text, mpl_text
from radval.report._plots import LINE_STYLES, OKABE_ITO, new_figure, style
from radval.report._sections import Section, SectionContext, SectionSpec, SectionWriter
from radval.report.tables import fmt_ci, fmt_num, fmt_p, predictor_label

__all__ = ["DETAIL_SECTION", "SECTION", "SECTIONS", "batch_pca_figure", "batches_table",
           "build", "build_detail", "flow_note", "imputed_table", "methods_text",
           "missing_data_table", "missing_patterns_figure", "missing_patterns_table",
           "plot_batch_pca", "plot_missing_patterns", "plot_shift_before_after",
           "pooled_coefficients_table", "pooled_performance_table", "separability_table",
           "shift_harmonisation_figure", "shift_harmonisation_table",
           "site_imputation_table", "site_missing_table"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_SCOPES = {"development": "development cohort", "all_cohorts": "all cohorts"}
_SUBSETS = {"all": "all patients", "complete_cases": "complete cases",
            "imputed": "imputed patients"}
#: Batches listed by name in the main text; more are counted (the list is a table).
_MAX_LISTED = 6


# ------------------------------------------------------------------------ formatting
def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _count_pct(n: Any, of: Any, pct: Any = None) -> str:
    """``"20 (20.0%)"``; the percentage from ``n / of`` unless given."""
    if not _finite(n):
        return "–"
    if pct is None:
        pct = 100.0 * float(n) / float(of) if _finite(of) and float(of) > 0 else None
    return f"{int(n)} ({fmt_num(pct, 1)}%)" if _finite(pct) else str(int(n))


def _share(x: Any) -> str:
    return f"{100 * float(x):.0f}%" if _finite(x) else "–"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _listing(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _refs(*labels: tuple[str, bool]) -> str:
    """``@tbl-a and @fig-b`` for the items that exist."""
    return _listing([f"@{lab}" for lab, ok in labels if ok])


def _development(d: ReportData) -> str | None:
    return next((c.name for c in d.results.cohorts if c.role == "development"),
                d.cohorts[0] if d.cohorts else None)


def _scope_name(d: ReportData, scope: str, *, article: bool = False) -> str:
    """``"development cohort"`` (or the development cohort's display name), ``"all
    cohorts"``; ``article`` adds "the" where English needs it."""
    if scope == "development":
        dev = _development(d)
        if dev is not None and d.labels.cohort(dev) != dev:
            return d.labels.cohort(dev)
        return "the development cohort" if article else "development cohort"
    return _SCOPES.get(scope, scope)


# --------------------------------------------------------------------------- plots
def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    _fig, new = new_figure(figsize=figsize)
    return new


def plot_missing_patterns(patterns: pd.DataFrame, *, labels: dict[str, str] | None = None,
                          ax: Any = None) -> Any:
    """Missing-data patterns as a grid: one row per pattern, one column per predictor
    (orange = missing), the number of patients on the left.

    Parameters
    ----------
    patterns : DataFrame
        Long: ``pattern, variable, observed`` (1 observed, 0 missing) and ``n_rows``
        (patients with the pattern), one row per pattern and predictor
        (:attr:`ReportData.missing_patterns` summed over cohorts).  Patterns are drawn
        in the order of their first row.
    labels : mapping, optional
        Predictor -> display name.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    labels = labels or {}
    grid = patterns.pivot_table(index="pattern", columns="variable", values="observed",
                                aggfunc="first", sort=False)
    order = list(dict.fromkeys(patterns["pattern"]))
    variables = list(dict.fromkeys(patterns["variable"]))
    grid = grid.reindex(index=order, columns=variables)
    n_rows = patterns.drop_duplicates("pattern").set_index("pattern")["n_rows"].reindex(order)
    colours = [OKABE_ITO[1], "#DCEBF7"]
    with style():
        ax = _axes(ax, (max(3.0, 0.8 * len(variables) + 1.6),
                        max(1.8, 0.32 * len(order) + 1.2)))
        ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap=ListedColormap(colours),
                  vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(range(len(variables)),
                      [mpl_text(labels.get(v, v)) for v in variables], rotation=30,
                      ha="right", rotation_mode="anchor")
        for i in range(1, len(variables)):  # white rules: cells of one colour stay apart
            ax.axvline(i - 0.5, color="white", lw=1.5)
        for i in range(1, len(order)):
            ax.axhline(i - 0.5, color="white", lw=1.5)
        ax.set_yticks(range(len(order)), [f"n = {int(n)}" for n in n_rows])
        ax.set_ylabel("patients with the pattern")
        ax.tick_params(length=0)
        for side in ("top", "right", "left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.legend(handles=[Patch(color=colours[1], label="observed"),
                           Patch(color=colours[0], label="missing")],
                  loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False,
                  fontsize=7, borderaxespad=0.3)
    return ax


def plot_batch_pca(pca: pd.DataFrame, *, ax: Any = None, title: str | None = None,
                   batches: list[str] | None = None, legend: bool = True) -> Any:
    """Patients on the first two principal components, coloured and shaped by batch.

    Parameters
    ----------
    pca : DataFrame
        ``batch, pc1, pc2`` per patient (``pc2`` may be absent or NaN with one feature).
    ax : matplotlib Axes, optional
    title : str, optional
    batches : list of str, optional
        All batches in their order (same colours in several panels); default those of
        ``pca``, sorted.
    legend : bool
        Draw the legend in the axes.

    Returns
    -------
    matplotlib Axes
    """
    batches = batches or sorted({str(b) for b in pca["batch"]})
    with style():
        ax = _axes(ax, (4.0, 3.4))
        for i, b in enumerate(batches):
            sub = pca[pca["batch"].astype(str) == b]
            if sub.empty:
                continue
            y = (pd.to_numeric(sub["pc2"], errors="coerce").fillna(0.0) if "pc2" in sub
                 else np.zeros(len(sub)))
            ax.scatter(sub["pc1"], y, s=14, alpha=0.75, color=OKABE_ITO[i % len(OKABE_ITO)],
                       marker=_MARKERS[i % len(_MARKERS)], label=mpl_text(b),
                       edgecolors="none")
        ax.set_xlabel("principal component 1")
        ax.set_ylabel("principal component 2")
        if title:
            ax.set_title(mpl_text(title))
        if legend:
            ax.legend(title="batch", frameon=False, fontsize=7)
    return ax


def plot_shift_before_after(shift: pd.DataFrame, *, threshold: float = 0.5,
                            ax: Any = None) -> Any:
    """|SMD| of each selected feature at the site before and after harmonisation.

    Parameters
    ----------
    shift : DataFrame
        ``feature, smd_before, smd_after``.
    threshold : float
        The flagging threshold (dashed line).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    n = len(shift)
    with style():
        ax = _axes(ax, (5.2, max(1.8, 0.3 * n + 1.0)))
        ypos = np.arange(n)[::-1]
        before = np.abs(shift["smd_before"].to_numpy(dtype=float))
        after = np.abs(shift["smd_after"].to_numpy(dtype=float))
        for yv, b, a in zip(ypos, before, after, strict=True):
            ax.plot([b, a], [yv, yv], color="0.65", lw=1, zorder=1)
        ax.scatter(before, ypos, color=OKABE_ITO[1], marker="o", s=22,
                   label="before harmonisation", zorder=2)
        ax.scatter(after, ypos, color=OKABE_ITO[0], marker="s", s=22,
                   label="after harmonisation", zorder=3)
        ax.axvline(threshold, color="0.3", ls=LINE_STYLES[1], lw=0.8)
        ax.set_yticks(ypos, [mpl_text(f) for f in shift["feature"]], fontsize=7)
        ax.set_ylim(-0.7, n - 0.3)
        # a little room left of 0: a marker at |SMD| = 0 is drawn whole
        top = max(float(np.nanmax(np.r_[before, after, threshold])), threshold)
        ax.set_xlim(-0.03 * top, 1.05 * top)
        ax.set_xlabel("|standardised mean difference| against development")
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False,
                  fontsize=7, borderaxespad=0.3)
    return ax


# ------------------------------------------------------------------------- figures
def _patterns_overall(d: ReportData) -> pd.DataFrame:
    """The patterns of every cohort summed by pattern (most frequent first)."""
    pats = d.missing_patterns
    if pats.empty:
        return pats
    wide = pats.pivot_table(index=["pattern", "n_rows"], columns="variable",
                            values="observed", aggfunc="first", sort=False)
    variables = list(dict.fromkeys(pats["variable"]))
    wide = wide.reindex(columns=variables).reset_index()
    overall = (wide.groupby(variables, sort=False, dropna=False)["n_rows"].sum()
               .reset_index().sort_values("n_rows", ascending=False, kind="stable")
               .reset_index(drop=True))
    overall["pattern"] = range(len(overall))
    return overall.melt(id_vars=["pattern", "n_rows"], value_vars=variables,
                        var_name="variable", value_name="observed").sort_values(
        ["pattern"], kind="stable").reset_index(drop=True)


def _draws_patterns(d: ReportData) -> bool:
    """Whether the patterns are worth a figure: two or more patterns with a missing
    predictor over all cohorts (one is a row of the patterns table)."""
    overall = _patterns_overall(d)
    if overall.empty:
        return False
    incomplete = overall.loc[overall["observed"] == 0, "pattern"].nunique()
    return bool(incomplete >= 2)


def missing_patterns_figure(d: ReportData) -> Any | None:
    """The missing-data patterns over all analysed patients (a matplotlib Figure), or
    ``None`` with fewer than two patterns with a missing predictor."""
    if not _draws_patterns(d):
        return None
    overall = _patterns_overall(d)
    labels = {v: d.labels.variable(v, unit=False) for v in overall["variable"]}
    ax = plot_missing_patterns(overall, labels=labels)
    return ax.figure


def _pca_scope(d: ReportData) -> tuple[pd.DataFrame, str]:
    pca = d.batch_pca
    if pca.empty:
        return pca, ""
    scopes = list(dict.fromkeys(pca["scope"]))
    # all cohorts show the batches new to the model (harmonised from their own features)
    scope = "all_cohorts" if "all_cohorts" in scopes else scopes[0]
    return pca[pca["scope"] == scope], scope


def batch_pca_figure(d: ReportData) -> Any | None:
    """Principal components before and after harmonisation, side by side (a matplotlib
    Figure), or ``None`` without principal components in the run."""
    pca, _scope = _pca_scope(d)
    if pca.empty:
        return None
    batches = list(dict.fromkeys(d.harmonisation_batches["batch"].astype(str)))
    batches += sorted({str(b) for b in pca["batch"]} - set(batches))
    with style():
        fig, axes = new_figure(1, 2, figsize=(7.2, 3.3))
        for ax, stage in zip(axes, ("before", "after"), strict=True):
            plot_batch_pca(pca[pca["stage"] == stage], ax=ax, batches=batches,
                           title=f"{stage} harmonisation", legend=False)
        handles, texts = axes[0].get_legend_handles_labels()
        fig.legend(handles, texts, title="batch", loc="upper center",
                   bbox_to_anchor=(0.5, 0.02), ncol=min(len(texts), 4), frameon=False,
                   fontsize=7, title_fontsize=7)
        fig.tight_layout()
    return fig


def _shift_merged(d: ReportData) -> pd.DataFrame:
    before, after = d.shift_features_unharmonised, d.shift_features
    if before.empty or after.empty:
        return pd.DataFrame()
    cols = ["feature", "smd", "share_outside_q05_q95", "flagged"]
    return before[cols].merge(after[cols], on="feature", suffixes=("_before", "_after"))


def shift_harmonisation_figure(d: ReportData) -> Any | None:
    """|SMD| per selected feature at the site before and after the frozen harmonisation
    (a matplotlib Figure), or ``None`` when the run has not both diagnostics."""
    merged = _shift_merged(d)
    if merged.empty:
        return None
    sh = d.results.shift
    thr = float(sh.smd_threshold) if sh is not None and _finite(sh.smd_threshold) else 0.5
    return plot_shift_before_after(merged, threshold=thr).figure


def _drawer(ctx: SectionContext, label: str, make: Any) -> Any:
    """``draw`` of :meth:`SectionWriter.figure`: the figure of ``make(ctx.data)`` saved
    as ``label`` (``None`` when there is nothing to draw)."""
    def draw() -> Path | None:
        from radval.report.figures import save

        fig = make(ctx.data)
        return None if fig is None else save(fig, ctx.fig_dir, label)
    return draw


# -------------------------------------------------------------------------- tables
def missing_data_table(d: ReportData) -> pd.DataFrame:
    """Missing values of the models' predictors among the analysed patients: one row per
    predictor, one column per cohort (``n (%)``); with multiple imputation a last row
    counts the patients with at least one missing predictor.  Empty when no analysed
    patient misses a predictor (a complete-case analysis)."""
    t = d.missing_predictors
    if t.empty or not (pd.to_numeric(t["n_missing"]) > 0).any():
        return pd.DataFrame()
    have = list(dict.fromkeys(t["cohort"].astype(str)))
    cohorts = [c for c in d.cohorts if c in have] + [c for c in have if c not in d.cohorts]
    first = t.drop_duplicates("cohort")
    n_of = {str(c): int(n) for c, n in zip(first["cohort"], first["n"], strict=True)}
    heads = {c: f"{d.labels.cohort(c)} (n = {n_of[c]})" for c in cohorts}
    rows = []
    for v in dict.fromkeys(t["variable"].astype(str)):
        sub = t[t["variable"].astype(str) == v].set_index("cohort")
        row = {"Predictor": d.labels.variable(v, unit=False)}
        for c in cohorts:
            row[heads[c]] = (_count_pct(sub.at[c, "n_missing"], None,
                                        sub.at[c, "percent_missing"])
                             if c in sub.index else "–")
        rows.append(row)
    md = d.results.missing_data
    imp = d.imputed_counts
    if md is not None and md.method == "multiple_imputation" and len(imp):
        by = imp.set_index("cohort")
        rows.append({"Predictor": "At least one predictor (patients imputed)",
                     **{heads[c]: (_count_pct(by.at[c, "n_imputed"], by.at[c, "n"])
                                   if c in by.index else "–") for c in cohorts}})
    return pd.DataFrame(rows)


def imputed_table(d: ReportData) -> pd.DataFrame:
    """Patients analysed and kept with imputed predictors, per cohort (multiple
    imputation only)."""
    md, imp = d.results.missing_data, d.imputed_counts
    if md is None or md.method != "multiple_imputation" or imp.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Cohort": [d.labels.cohort(c) for c in imp["cohort"]],
        "Analysed": [str(int(n)) for n in imp["n"]],
        "Kept with imputed predictors": [_count_pct(k, n) for k, n in
                                         zip(imp["n_imputed"], imp["n"], strict=True)]})


def missing_patterns_table(d: ReportData) -> pd.DataFrame:
    """Missing-data patterns per cohort, most frequent first: the predictors missing in
    each pattern and the patients with it.  Empty when no pattern misses a predictor."""
    pats = d.missing_patterns
    if pats.empty or not (pats["observed"] == 0).any():
        return pd.DataFrame()
    rows = []
    for _p, g in pats.groupby("pattern", sort=True):
        gone = [d.labels.variable(v, unit=False) for v, o in zip(g["variable"],
                                                                 g["observed"], strict=True)
                if int(o) == 0]
        first = g.iloc[0]
        rows.append({"_c": str(first["cohort"]), "Cohort": d.labels.cohort(str(first["cohort"])),
                     "Missing predictors": ", ".join(gone) if gone else "none (complete)",
                     "Patients": str(int(first["n_rows"]))})
    rank = {c: i for i, c in enumerate(d.cohorts)}
    df = pd.DataFrame(rows)
    df = df.assign(_r=df["_c"].map(rank).fillna(len(rank))).sort_values("_r", kind="stable")
    return df.drop(columns=["_c", "_r"]).reset_index(drop=True)


def pooled_coefficients_table(d: ReportData) -> pd.DataFrame:
    """Coefficients pooled over the completed data sets by Rubin's rules."""
    coef = d.pooled_coefficients
    if coef.empty:
        return pd.DataFrame()
    coef = d.order(coef)
    return pd.DataFrame({
        "Model": [d.labels.model(m) for m in coef["model"]],
        "Term": ["Intercept" if t == "(Intercept)" else predictor_label(d, str(t))
                 for t in coef["term"]],
        "Estimate (95% CI)": [fmt_ci(e, lo, hi, 3) for e, lo, hi in
                              zip(coef["estimate"], coef["ci_low"], coef["ci_high"],
                                  strict=True)],
        "SE": [fmt_num(v, 3) for v in coef["se"]],
        "df": [fmt_num(v, 1) for v in coef["df"]],
        "FMI": [fmt_num(v, 3) for v in coef["fmi"]],
        "p": [fmt_p(v) for v in coef["p_value"]]})


def pooled_performance_table(d: ReportData) -> pd.DataFrame:
    """AUC, calibration intercept and slope pooled by Rubin's rules, per cohort and model."""
    perf = d.pooled_performance
    if perf.empty:
        return pd.DataFrame()
    rows = []
    for (cohort, model), g in perf.groupby(["cohort", "model"], sort=False):
        by = {str(r["metric"]): r for r in g.to_dict(orient="records")}

        def cell(metric: str, by: dict[str, Any] = by) -> str:
            r = by.get(metric)
            if r is None:
                return "–"
            if not _finite(r["estimate"]):
                return str(r["undefined_reason"]) if isinstance(r["undefined_reason"], str) \
                    else "–"
            return fmt_ci(r["estimate"], r["ci_low"], r["ci_high"], 3)

        auc = by.get("auc")
        rows.append({"Cohort": d.labels.cohort(str(cohort)),
                     "Model": d.labels.model(str(model)),
                     "n": str(int(g["n"].iloc[0])),
                     "AUC (95% CI)": cell("auc"),
                     "Calibration intercept (95% CI)": cell("calibration_intercept"),
                     "Calibration slope (95% CI)": cell("calibration_slope"),
                     "FMI (AUC)": fmt_num(auc["fmi"] if auc else None, 3)})
    return pd.DataFrame(rows)


def batches_table(d: ReportData) -> pd.DataFrame:
    """Batches per cohort."""
    b = d.harmonisation_batches
    if b.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Cohort": [d.labels.cohort(c) for c in b["cohort"]],
        "Batch": b["batch"].astype(str), "n": [str(int(n)) for n in b["n"]],
        "Development batch": ["yes" if bool(v) else "no (new)" for v in b["in_development"]]})


def separability_table(d: ReportData) -> pd.DataFrame:
    """Batch separability before and after harmonisation."""
    sep = d.batch_separability
    if sep.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Patients": [_scope_name(d, str(s)) for s in sep["scope"]],
        "Harmonisation": sep["stage"].astype(str),
        "Batch AUC": [fmt_num(v, 3) for v in sep["auc"]],
        "Features differing (q < 0.05)": [_share(v) for v in sep["fraction_significant"]],
        "Batches": [str(int(v)) for v in sep["n_batches"]],
        "n": [str(int(v)) for v in sep["n_samples"]]})


def site_missing_table(d: ReportData) -> pd.DataFrame:
    """Missing values of the models' predictors at a site."""
    t = d.site_missing_predictors
    if t.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Predictor": [d.labels.variable(str(v), unit=False) for v in t["variable"]],
        "Patients": [str(int(n)) for n in t["n"]],
        "Missing": [_count_pct(n, None, p) for n, p in zip(t["n_missing"],
                                                          t["percent_missing"], strict=True)]})


def site_imputation_table(d: ReportData) -> pd.DataFrame:
    """The bundle's clinical models at a site on all patients, the complete cases and the
    patients with an imputed predictor."""
    mod = d.site_imputation
    if mod.empty:
        return pd.DataFrame()

    def auc(a: Any, lo: Any, hi: Any, why: Any) -> str:
        if _finite(a):
            return fmt_ci(a, lo, hi, 3)
        return str(why) if isinstance(why, str) else "–"

    return pd.DataFrame({
        "Model": [d.labels.model(str(m)) for m in mod["model"]],
        "Patients": [_SUBSETS.get(str(s), str(s)) for s in mod["subset"]],
        "n (events)": [f"{int(n)} ({int(e)})" for n, e in zip(mod["n"], mod["events"],
                                                              strict=True)],
        "AUC (95% CI)": [auc(*x) for x in zip(mod["auc"], mod["auc_ci_low"],
                                              mod["auc_ci_high"], mod["undefined_reason"],
                                              strict=True)],
        "Calibration intercept": [fmt_num(v, 3) for v in mod["calibration_intercept"]],
        "Calibration slope": [fmt_num(v, 3) for v in mod["calibration_slope"]],
        "Brier": [fmt_num(v, 3) for v in mod["brier"]]})


def shift_harmonisation_table(d: ReportData) -> pd.DataFrame:
    """Dataset-shift diagnostics of the selected features at a site before and after the
    frozen harmonisation."""
    m = _shift_merged(d)
    if m.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "Feature": m["feature"].astype(str),
        "SMD before": [fmt_num(v, 2) for v in m["smd_before"]],
        "SMD after": [fmt_num(v, 2) for v in m["smd_after"]],
        "Outside dev. 5-95% before": [_share(v) for v in m["share_outside_q05_q95_before"]],
        "Outside dev. 5-95% after": [_share(v) for v in m["share_outside_q05_q95_after"]],
        "Flagged before": ["yes" if bool(v) else "" for v in m["flagged_before"]],
        "Flagged after": ["yes" if bool(v) else "" for v in m["flagged_after"]]})


# ---------------------------------------------------------------- missing data text
_CAP_MISSING = ("Missing values of the models' clinical predictors among the analysed "
                "patients: n (%).")
_CAP_IMPUTED = "Patients analysed with imputed predictors (instead of excluded)."
_CAP_PATTERNS = "Missing-data patterns per cohort (most frequent first)."
_CAP_COEF = ("Coefficients pooled over the completed data sets by Rubin's rules "
             "(Barnard-Rubin df; FMI = fraction of missing information).")
_CAP_PERF = ("Performance pooled over the completed data sets by Rubin's rules: AUC pooled "
             "on the logit scale, calibration intercept and slope; FMI = fraction of "
             "missing information.")
_CAP_FIG_PATTERNS = ("Missing-data patterns over all analysed patients: one row per "
                     "pattern (orange = missing), most frequent first.")
_CAP_BATCHES = "Batches per cohort."
_CAP_SEP = ("Batch separability: cross-validated AUC of predicting the batch from the "
            "features (0.5 or below = indistinguishable; below 0.5 after harmonisation "
            "because it equalises the batch means in the whole sample, so a classifier "
            "trained on the other folds points the wrong way) and share of features "
            "differing between batches (Kruskal-Wallis, BH q < 0.05), before and after "
            "harmonisation.")


def _mi_sentence(d: ReportData, table: pd.DataFrame) -> str:
    md = d.results.missing_data
    if md is None or md.method != "multiple_imputation":
        return ""
    imp = d.imputed_counts
    total = int(pd.to_numeric(imp["n_imputed"]).sum()) if len(imp) else 0
    text = ("Missing clinical predictors were multiply imputed by chained equations "
            f"({md.n_imputations} completed data sets, {md.max_iter} iterations); imaging "
            "features were not imputed. ")
    if total == 0:
        return text + "No analysed patient had a missing predictor."
    text += (f"{_plural(total, 'analysed patient')} with a missing predictor "
             f"{'was' if total == 1 else 'were'} kept instead of excluded")
    return text + "."


def _missing_main(ctx: SectionContext, w: SectionWriter, level: int) -> None:
    """How missing predictors were handled and the missing values per cohort."""
    d, md = ctx.data, ctx.results.missing_data
    if md is None:
        return
    w.h(level, "Missing data", "sec-missing-data")
    if md.site is not None:
        _site_missing(ctx, w)
        return
    table = missing_data_table(d)
    mi = md.method == "multiple_imputation"
    if mi:
        text = _mi_sentence(d, table)
    else:
        text = ("Complete-case analysis: patients missing a clinical predictor used by a "
                "model were excluded (@sec-participants gives the numbers and reasons).")
        if table.empty:
            text += " No analysed patient had a missing predictor."
    if not table.empty:
        text += " @tbl-missing-data gives the missing values per predictor and cohort" + (
            " (last row: the patients imputed)." if mi else ".")
    w.p(text)
    w.table(table, "tbl-missing-data", _CAP_MISSING)
    if not ctx.split:
        _missing_detail(ctx, w)
        return
    refs = _refs(("tbl-imputed", not imputed_table(d).empty),
                 ("tbl-missing-patterns", not missing_patterns_table(d).empty),
                 ("fig-missing-patterns", _draws_patterns(d)))
    pooled = _refs(("tbl-pooled-coefficients", not pooled_coefficients_table(d).empty),
                   ("tbl-pooled-performance", not pooled_performance_table(d).empty))
    more = []
    if refs:
        more.append(f"The patients kept per cohort and the missing-data patterns are in "
                    f"{refs}")
    if pooled:
        more.append(f"the coefficients and performance pooled over the completed data "
                    f"sets by Rubin's rules in {pooled}")
    if more:
        w.p("; ".join(more) + ".")


def _missing_detail(ctx: SectionContext, w: SectionWriter) -> bool:
    """The supplementary tables and figure of a multiple imputation; whether any."""
    d = ctx.data
    imputed, patterns = imputed_table(d), missing_patterns_table(d)
    coef, perf = pooled_coefficients_table(d), pooled_performance_table(d)
    text = []
    if not imputed.empty:
        text.append("@tbl-imputed counts the patients kept with imputed predictors.")
    if not patterns.empty:
        fig = _draws_patterns(d)
        text.append(_refs(("tbl-missing-patterns", True), ("fig-missing-patterns", fig))
                    + f" show{'' if fig else 's'} which predictors were missing together.")
    pooled = _refs(("tbl-pooled-coefficients", not coef.empty),
                   ("tbl-pooled-performance", not perf.empty))
    if pooled:
        text.append(f"{pooled[0].upper()}{pooled[1:]} pool the estimates of the completed "
                    "data sets by Rubin's rules; the predictions of the main results average "
                    "the linear predictor over the completed data sets instead.")
    w.p(" ".join(text))
    wrote = w.table(imputed, "tbl-imputed", _CAP_IMPUTED)
    if w.table(patterns, "tbl-missing-patterns", _CAP_PATTERNS):
        wrote = True
        w.figure("fig-missing-patterns", _CAP_FIG_PATTERNS, width="60%",
                 draw=_drawer(ctx, "fig-missing-patterns", missing_patterns_figure))
    wrote |= w.table(coef, "tbl-pooled-coefficients", _CAP_COEF)
    wrote |= w.table(perf, "tbl-pooled-performance", _CAP_PERF)
    return wrote


def _site_missing(ctx: SectionContext, w: SectionWriter) -> None:
    d, md = ctx.data, ctx.results.missing_data
    site = md.site if md is not None else None
    if site is None:
        return
    if site.method == "deployment_imputer":
        n = site.n_imputed
        w.p("The bundle's clinical models were applied with its deployment imputer "
            "(fitted on the development predictors without the outcome): "
            f"{_plural(n, 'patient')} had at least one missing predictor, imputed with "
            f"{site.n_draws} draws whose linear predictors were averaged. The signature "
            "itself needs no clinical predictor; imaging features are not imputed.")
    else:
        w.p("The bundle carries no deployment imputer: the clinical models were evaluated "
            "on the patients with complete predictors.")
    w.table(site_missing_table(d), "tbl-missing-data",
            "Missing values of the models' predictors at this site.")
    if w.table(site_imputation_table(d), "tbl-site-imputation",
               "The clinical models at this site on all patients, on the complete cases "
               "and on the imputed patients (DeLong 95% CI of the AUC; calibration "
               "intercept and slope of logit(y) on logit(p))."):
        w.p("A large difference between the complete cases and the imputed patients "
            "would question the imputation at this site; small subsets give wide "
            "intervals.")


# ---------------------------------------------------------------- harmonisation text
def _harm_paragraph(d: ReportData) -> str:
    hm = d.results.harmonisation
    if hm is None:
        return ""
    kind = "parametric" if hm.parametric is not False else "non-parametric"
    text = (f"The imaging features were harmonised with ComBat ({kind} empirical Bayes) on "
            f"the batch column {md_text(hm.batch or '–')}"
            + (f" (from the {md_text(hm.batch_source)})" if hm.batch_source else "")
            + (f", with reference batch {md_text(hm.reference)}" if hm.reference else
               ", towards the size-weighted average batch")
            + (", preserving " + _listing([md_text(d.labels.variable(c, unit=False))
                                           for c in hm.covariates]) if hm.covariates else "")
            + ": " + (f"{hm.n_features} features, " if hm.n_features is not None else "")
            + "fitted on the development cohort before feature selection and applied to "
            "every cohort.")
    if hm.n_not_adjusted:
        text += (f" {_plural(hm.n_not_adjusted, 'feature')} constant within a batch "
                 f"{'was' if hm.n_not_adjusted == 1 else 'were'} passed through unchanged.")
    b = d.harmonisation_batches
    if len(b):
        dev = b[b["cohort"] == _development(d)]
        new = b[~b["in_development"].astype(bool)]
        if len(dev):
            if len(dev) <= _MAX_LISTED:
                names = _listing([f"{md_text(r['batch'])} (n = {int(r['n'])})"
                                  for r in dev.to_dict(orient="records")])
                text += (f" Batches of the development cohort: {names}; those of every "
                         "cohort are in @tbl-batches.")
            else:
                text += f" The development cohort had {len(dev)} batches (@tbl-batches)."
        if len(new):
            names = _listing([f"{md_text(r['batch'])} in "
                              f"{md_text(d.labels.cohort(str(r['cohort'])))} "
                              f"(n = {int(r['n'])})" for r in new.to_dict(orient="records")]) \
                if len(new) <= _MAX_LISTED else f"{len(new)} batches (@tbl-batches)"
            text += (f" Batches not seen in development were harmonised from their own "
                     f"feature distribution: {names}.")
    return text


def _batch_outcome_text(d: ReportData) -> str:
    hm = d.results.harmonisation
    bo = hm.batch_outcome if hm is not None else None
    if bo is None:
        return ""
    if bo.method == "fisher_exact":
        stat = f"Fisher's exact test, odds ratio {fmt_num(bo.statistic, 2)}"
    elif bo.method == "pearson_chi2":
        stat = f"Pearson's chi-square test, χ² = {fmt_num(bo.statistic, 2)}, df {bo.df}"
    else:
        stat = f"{md_text(bo.method.replace('_', ' '))}, statistic {fmt_num(bo.statistic, 2)}"
    verdict = ("**Batch and outcome are associated**: ComBat removes part of the outcome "
               "signal along with the scanner effect, and the harmonised model may "
               "understate the signature's performance in a new batch."
               if bo.associated else "Batch and outcome are not associated.")
    return (f"Batch-outcome association in the development cohort ({stat}, p = "
            f"{fmt_p(bo.p_value)}, Cramér's V {fmt_num(bo.cramers_v, 2)}). {verdict}")


def _separability_text(d: ReportData, refs: str) -> str:
    sep = d.batch_separability
    if sep.empty:
        return ""
    aucs, shares = [], []
    for scope in dict.fromkeys(sep["scope"].astype(str)):
        s = sep[sep["scope"] == scope].set_index("stage")
        if not {"before", "after"} <= set(s.index):
            continue
        where = ("over all cohorts" if scope == "all_cohorts"
                 else f"in {md_text(_scope_name(d, scope, article=True))}")
        aucs.append(f"from {fmt_num(s.at['before', 'auc'], 3)} before to "
                    f"{fmt_num(s.at['after', 'auc'], 3)} after harmonisation {where}")
        shares.append(f"from {_share(s.at['before', 'fraction_significant'])} to "
                      f"{_share(s.at['after', 'fraction_significant'])}")
    if not aucs:
        return ""
    return ("The cross-validated AUC of predicting the batch from the features (0.5 or "
            f"below = indistinguishable) went {' and '.join(aucs)}; the share of features "
            f"differing between batches {' and '.join(shares)}"
            + (f" ({refs})." if refs else "."))


def _harm_main(ctx: SectionContext, w: SectionWriter, level: int) -> None:
    d, hm = ctx.data, ctx.results.harmonisation
    if hm is None:
        return
    w.h(level, "Feature harmonisation", "sec-harmonisation")
    if hm.site is not None:
        _site_harmonisation(ctx, w)
        return
    w.p(_harm_paragraph(d))
    w.p(_batch_outcome_text(d))
    w.p(_separability_text(d, _refs(("tbl-separability", not separability_table(d).empty),
                                    ("fig-batch-pca", not d.batch_pca.empty))))
    if not ctx.split:
        _harm_detail(ctx, w)


def _harm_detail(ctx: SectionContext, w: SectionWriter) -> bool:
    d = ctx.data
    batches, sep = batches_table(d), separability_table(d)
    pca, scope = _pca_scope(d)
    refs = _refs(("tbl-separability", not sep.empty), ("fig-batch-pca", not pca.empty))
    w.p(" ".join(x for x in (
        "@tbl-batches lists the batches of every cohort." if not batches.empty else "",
        f"{refs} show how far the features identify the batch before and after "
        "harmonisation." if refs else "") if x))
    wrote = w.table(batches, "tbl-batches", _CAP_BATCHES)
    wrote |= w.table(sep, "tbl-separability", _CAP_SEP)
    who = _scope_name(d, scope, article=True)
    wrote |= w.figure("fig-batch-pca", "First two principal components of the standardised "
                      f"features of the patients of {who}, coloured by batch, before and "
                      "after harmonisation.",
                      draw=_drawer(ctx, "fig-batch-pca", batch_pca_figure))
    return wrote


def _site_harmonisation(ctx: SectionContext, w: SectionWriter) -> None:
    d, hm = ctx.data, ctx.results.harmonisation
    site = hm.site if hm is not None else None
    if site is None:
        return
    kinds = {True: "development batch, frozen parameters",
             False: "new batch, estimated from the site's features"}
    desc = "; ".join(f"{md_text(b.batch)} (n = {b.n}, {kinds[bool(b.seen)]})"
                     for b in site.batches) or "–"
    w.p(f"The bundle's frozen ComBat harmonised {site.n_features} of its "
        f"{site.n_features_bundle} features for {_plural(site.n_harmonised, 'patient')}. "
        f"Batches (from the {md_text(site.label_source)}): {desc}.")
    if _finite(site.auc_unharmonised):
        perf = d.performance
        sig = perf[perf["model"] == d.signature_model]
        after = sig["auc"].iloc[0] if len(sig) and _finite(sig["auc"].iloc[0]) else None
        w.p(f"AUC of the {md_text(in_sentence(d.labels.model(d.signature_model)))} on the "
            f"unharmonised features {fmt_num(site.auc_unharmonised, 3)}"
            + (f", on the harmonised features {fmt_num(after, 3)}." if after is not None
               else "."))
    m = _shift_merged(d)
    if w.table(shift_harmonisation_table(d), "tbl-shift-harmonisation",
               "Dataset-shift diagnostics of the selected features against the development "
               "cohort, before and after the frozen harmonisation: standardised mean "
               "difference (SMD) and share of the site's values outside the development "
               "5-95% range."):
        n_b = int(m["flagged_before"].astype(bool).sum())
        n_a = int(m["flagged_after"].astype(bool).sum())
        with np.errstate(all="ignore"):
            mb = float(np.nanmean(np.abs(m["smd_before"].to_numpy(dtype=float))))
            ma = float(np.nanmean(np.abs(m["smd_after"].to_numpy(dtype=float))))
        w.p(f"Features flagged as shifted: {n_b} before, {n_a} after harmonisation; mean "
            f"|SMD| {fmt_num(mb, 2)} before, {fmt_num(ma, 2)} after"
            + (" (@sec-shift gives the diagnostics after harmonisation)."
               if ctx.results.shift is not None else "."))
        w.figure("fig-shift-harmonisation", "Absolute standardised mean difference of each "
                 "selected feature against development, before and after harmonisation; "
                 "dashed: flagging threshold.",
                 draw=_drawer(ctx, "fig-shift-harmonisation", shift_harmonisation_figure))


# ------------------------------------------------------------------------ builders
def build(ctx: SectionContext) -> Section | None:
    """The main-report section: missing data (``sec-missing-data``) and feature
    harmonisation (``sec-harmonisation``); ``None`` when the run has neither."""
    r = ctx.results
    if r.missing_data is None and r.harmonisation is None:
        return None
    w = ctx.writer()
    both = r.missing_data is not None and r.harmonisation is not None
    if both:
        w.h(1, "Missing data and harmonisation", "sec-missing-harmonisation")
    _missing_main(ctx, w, 2 if both else 1)
    _harm_main(ctx, w, 2 if both else 1)
    return w.section()


def build_detail(ctx: SectionContext) -> Section | None:
    """The supplement's detail of a development run: missing-data patterns, pooled
    estimates, batches, separability and principal components; ``None`` in a
    one-document report (the main section holds the detail) or without detail."""
    r = ctx.results
    if not ctx.split:
        return None
    md = r.missing_data if r.missing_data is not None and r.missing_data.site is None \
        else None
    hm = r.harmonisation if r.harmonisation is not None and r.harmonisation.site is None \
        else None
    w = ctx.writer()
    w.h(1, "Missing data and harmonisation", "sec-missing-harmonisation-detail")
    n_heading = len(w.parts)
    if md is not None:
        sub = ctx.writer()
        sub.h(2, "Missing data", "sec-missing-data-detail")
        if _missing_detail(ctx, sub):
            w.parts += sub.parts
            w.figures.update(sub.figures)
            w.tables.update(sub.tables)
    if hm is not None:
        sub = ctx.writer()
        sub.h(2, "Feature harmonisation", "sec-harmonisation-detail")
        if _harm_detail(ctx, sub):
            w.parts += sub.parts
            w.figures.update(sub.figures)
            w.tables.update(sub.tables)
    if len(w.parts) == n_heading:
        return None
    return w.section()


# ------------------------------------------------------------------ texts and hooks
def flow_note(d: ReportData) -> str:
    """The sentence under the patient flow: what happened to patients with missing data."""
    md = d.results.missing_data
    if md is not None and md.method == "multiple_imputation":
        return ("Patients with a missing outcome or failed imaging features were excluded; "
                "patients missing a clinical predictor were kept and their predictors "
                "multiply imputed (stage *imputed*, @sec-missing-data).")
    return ("Patients with a missing outcome or missing predictors used by a model "
            "were excluded (complete-case analysis); reasons are listed above.")


def methods_text(d: ReportData) -> str:
    """Methods paragraphs on missing data and harmonisation of a development run (empty
    for a site run, whose methods are in ``results.methods``, and when neither applies)."""
    paras = []
    md, hm = d.results.missing_data, d.results.harmonisation
    if md is not None and md.site is None and md.method == "multiple_imputation":
        how = "; ".join(f"{md_text(d.labels.variable(k, unit=False))} by {md_text(v)}"
                        for k, v in md.imputation_methods.items())
        paras.append(
            "**Missing data.** Missing clinical predictors were imputed by multiple "
            f"imputation by chained equations (van Buuren 2011) with {md.n_imputations} "
            f"imputations and {md.max_iter} iterations"
            + (f" ({how}; pmm = predictive mean matching)" if how else "")
            + ". The development imputation model contained the outcome and the signature's "
            "linear predictor (Moons et al. 2006). Feature selection used only the complete "
            "imaging features and the outcome, so it was the same in every completed data "
            "set; the clinical model and the nomogram were fitted on each completed data set "
            "and their coefficients pooled by Rubin's rules with Barnard-Rubin degrees of "
            "freedom. Predictions are the average linear predictor over the completed data "
            "sets; AUCs were pooled on the logit scale and calibration intercepts and slopes "
            "by Rubin's rules. Validation cohorts were completed by the development "
            "imputation models with their own outcome. In the internal validation each "
            "bootstrap resample was imputed again (bootstrap, then impute; Wahl et al. 2016). "
            "For use in new patients the bundle carries an imputation model fitted without "
            "the outcome. Imaging features were never imputed.")
    elif md is not None and md.site is None:
        paras.append("**Missing data.** Complete-case analysis: patients with a missing "
                     "outcome, a missing predictor of a model or failed imaging features were "
                     "excluded.")
    if hm is not None and hm.site is None:
        paras.append(
            "**Harmonisation.** Scanner and protocol effects on the imaging features were "
            "removed with ComBat (Johnson et al. 2007; Fortin et al. 2018) using "
            f"{'parametric' if hm.parametric is not False else 'non-parametric'} "
            f"empirical-Bayes priors on batch {md_text(hm.batch or '–')}"
            + (f" with reference batch {md_text(hm.reference)}" if hm.reference else "")
            + ". It was fitted on the development cohort before feature selection, applied "
            "to every cohort (a batch not seen in development was harmonised from its own "
            "feature distribution), fitted again in every bootstrap resample of the internal "
            "validation, and frozen into the model bundle. The association of batch and "
            "outcome was tested in development, and batch separability (cross-validated AUC "
            "of predicting the batch from the features) is reported before and after.")
    return "\n\n".join(paras)


SECTION = SectionSpec(key="missing-harmonisation", build=build, placement="main", order=25)
DETAIL_SECTION = SectionSpec(key="missing-harmonisation-detail", build=build_detail,
                             placement="supplement", order=115)
SECTIONS = (SECTION, DETAIL_SECTION)
