"""Tables and figures of the missing-data and harmonisation sections
(:mod:`radval.report._missing_harmonisation`), from the tidy frames of
:class:`radval.report._data.ReportData`.

Each ``*_table`` function returns a plain-text DataFrame (display names from
``ReportData.labels``; escaped where it enters markdown, by the section writer) and is
empty when the run has no such part.  Each ``*_figure`` function returns a matplotlib
Figure (or ``None``) drawn with the primitives of :mod:`radval.report._plots`
(``new_figure``, ``style``, the Okabe-Ito palette); the ``plot_*`` functions take tidy
data and ``ax=None``, draw inside ``style()`` without pyplot and show every text from an
input file through :func:`radval.report._escape.mpl_text`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from radval.report._data import ReportData
from radval.report._escape import mpl_text
from radval.report._plots import LINE_STYLES, OKABE_ITO, new_figure, style
from radval.report.tables import fmt_ci, fmt_num, fmt_p, predictor_label

__all__ = ["batch_pca_figure", "batches_table", "development_cohort", "draws_patterns",
           "finite", "imputed_table", "missing_data_table", "missing_patterns_figure",
           "missing_patterns_table", "pca_scope", "percent_text", "plot_batch_pca",
           "plot_missing_patterns", "plot_shift_before_after", "pooled_coefficients_table",
           "pooled_performance_table", "scope_name", "separability_table",
           "shift_harmonisation_figure", "shift_harmonisation_table", "shift_merged",
           "site_imputation_table", "site_missing_table"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_SCOPES = {"development": "development cohort", "all_cohorts": "all cohorts"}
_SUBSETS = {"all": "all patients", "complete_cases": "complete cases",
            "imputed": "imputed patients"}


# ------------------------------------------------------------------------ formatting
def finite(x: Any) -> bool:
    """Whether ``x`` is a finite number (``None`` and NaN are not)."""
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _count_pct(n: Any, of: Any, pct: Any = None) -> str:
    """``"20 (20.0%)"``; the percentage from ``n / of`` unless given."""
    if not finite(n):
        return "–"
    if pct is None:
        pct = 100.0 * float(n) / float(of) if finite(of) and float(of) > 0 else None
    return f"{int(n)} ({fmt_num(pct, 1)}%)" if finite(pct) else str(int(n))


def percent_text(x: Any) -> str:
    """A share as ``"37%"`` (``"–"`` when undefined)."""
    return f"{100 * float(x):.0f}%" if finite(x) else "–"


def development_cohort(d: ReportData) -> str | None:
    """The name of the development cohort (role ``development``, else the first)."""
    return next((c.name for c in d.results.cohorts if c.role == "development"),
                d.cohorts[0] if d.cohorts else None)


def scope_name(d: ReportData, scope: str, *, article: bool = False) -> str:
    """``"development cohort"`` (or the development cohort's display name), ``"all
    cohorts"``; ``article`` adds "the" where English needs it."""
    if scope == "development":
        dev = development_cohort(d)
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


def draws_patterns(d: ReportData) -> bool:
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
    if not draws_patterns(d):
        return None
    overall = _patterns_overall(d)
    labels = {v: d.labels.variable(v, unit=False) for v in overall["variable"]}
    ax = plot_missing_patterns(overall, labels=labels)
    return ax.figure


def pca_scope(d: ReportData) -> tuple[pd.DataFrame, str]:
    """The principal components to plot, and their scope: all cohorts when recorded,
    else the development cohort."""
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
    pca, _scope = pca_scope(d)
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


def shift_merged(d: ReportData) -> pd.DataFrame:
    """``feature`` and ``smd, share_outside_q05_q95, flagged`` with suffixes ``_before`` /
    ``_after`` the frozen harmonisation (empty unless the site run has both)."""
    before, after = d.shift_features_unharmonised, d.shift_features
    if before.empty or after.empty:
        return pd.DataFrame()
    cols = ["feature", "smd", "share_outside_q05_q95", "flagged"]
    return before[cols].merge(after[cols], on="feature", suffixes=("_before", "_after"))


def shift_harmonisation_figure(d: ReportData) -> Any | None:
    """|SMD| per selected feature at the site before and after the frozen harmonisation
    (a matplotlib Figure), or ``None`` when the run has not both diagnostics."""
    merged = shift_merged(d)
    if merged.empty:
        return None
    sh = d.results.shift
    thr = float(sh.smd_threshold) if sh is not None and finite(sh.smd_threshold) else 0.5
    return plot_shift_before_after(merged, threshold=thr).figure


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
        f"Estimate ({d.ci} CI)": [fmt_ci(e, lo, hi, 3) for e, lo, hi in
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
            if not finite(r["estimate"]):
                return str(r["undefined_reason"]) if isinstance(r["undefined_reason"], str) \
                    else "–"
            return fmt_ci(r["estimate"], r["ci_low"], r["ci_high"], 3)

        auc = by.get("auc")
        rows.append({"Cohort": d.labels.cohort(str(cohort)),
                     "Model": d.labels.model(str(model)),
                     "n": str(int(g["n"].iloc[0])),
                     f"AUC ({d.ci} CI)": cell("auc"),
                     f"Calibration intercept ({d.ci} CI)": cell("calibration_intercept"),
                     f"Calibration slope ({d.ci} CI)": cell("calibration_slope"),
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
        "Patients": [scope_name(d, str(s)) for s in sep["scope"]],
        "Harmonisation": sep["stage"].astype(str),
        "Batch AUC": [fmt_num(v, 3) for v in sep["auc"]],
        "Features differing (q < 0.05)": [percent_text(v) for v in sep["fraction_significant"]],
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

    def auc_text(a: Any, lo: Any, hi: Any, why: Any) -> str:
        if finite(a):
            return fmt_ci(a, lo, hi, 3)
        return str(why) if isinstance(why, str) else "–"

    return pd.DataFrame({
        # the study file's name, else the label the development run gave the model
        "Model": [lab if isinstance(lab, str) and lab and d.labels.model(str(m)) == str(m)
                  else d.labels.model(str(m))
                  for m, lab in zip(mod["model"], mod["label"], strict=True)],
        "Patients": [_SUBSETS.get(str(s), str(s)) for s in mod["subset"]],
        "n (events)": [f"{int(n)} ({int(e)})" for n, e in zip(mod["n"], mod["events"],
                                                              strict=True)],
        f"AUC ({d.ci} CI)": [auc_text(*x) for x in zip(mod["auc"], mod["auc_ci_low"],
                                              mod["auc_ci_high"], mod["undefined_reason"],
                                              strict=True)],
        "Calibration intercept": [fmt_num(v, 3) for v in mod["calibration_intercept"]],
        "Calibration slope": [fmt_num(v, 3) for v in mod["calibration_slope"]],
        "Brier": [fmt_num(v, 3) for v in mod["brier"]]})


def shift_harmonisation_table(d: ReportData) -> pd.DataFrame:
    """Dataset-shift diagnostics of the selected features at a site before and after the
    frozen harmonisation."""
    m = shift_merged(d)
    if m.empty:
        return pd.DataFrame()
    # "5-95%": the development 5% and 95% quantiles (radval.models.shift), not a CI
    return pd.DataFrame({
        "Feature": m["feature"].astype(str),
        "SMD before": [fmt_num(v, 2) for v in m["smd_before"]],
        "SMD after": [fmt_num(v, 2) for v in m["smd_after"]],
        "Outside dev. 5-95% before": [percent_text(v) for v in m["share_outside_q05_q95_before"]],
        "Outside dev. 5-95% after": [percent_text(v) for v in m["share_outside_q05_q95_after"]],
        "Flagged before": ["yes" if bool(v) else "" for v in m["flagged_before"]],
        "Flagged after": ["yes" if bool(v) else "" for v in m["flagged_after"]]})
