"""Report section on missing data and feature harmonisation (TRIPOD+AI 11, 12b, 27a).

Built from results.json only (``missing_data``, ``harmonisation``, ``shift``); nothing
is computed here.  Each ``*_section`` function takes the results dict and returns
``(markdown, figures)``: the markdown refers to ``figures/<label>.png`` and ``figures``
maps each label to a matplotlib :class:`~matplotlib.figure.Figure`, written by
:func:`save_figures`.  The plotting functions take tidy data and ``ax=None``; they
draw inside :func:`matplotlib.rc_context` and create figures without pyplot, so no
global matplotlib state changes.  Every text that comes from an input file (variable,
batch, cohort and feature names) goes through :func:`radval.report._escape.md_text`
(markdown) or :func:`radval.report._escape.mpl_text` (figures).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radval.report._dictform import as_mapping
from radval.report._escape import md_identifier, md_text, mpl_text
from radval.report.tables import fmt_ci, fmt_num, fmt_p, to_pipe

__all__ = ["RC", "flow_note", "harmonisation_section", "methods_text",
           "missing_data_section", "plot_batch_pca", "plot_missing_patterns",
           "plot_shift_before_after", "report_section", "save_figures"]

#: matplotlib settings of these figures (applied with rc_context only).
RC: dict[str, Any] = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "path",
    "pdf.fonttype": 42, "svg.hashsalt": "radval", "figure.dpi": 100}

_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
            "#000000")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _records(value: Any) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, list) and value:
        return pd.DataFrame([r for r in value if isinstance(r, Mapping)])
    return pd.DataFrame()


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _mi(results: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_mapping(results.get("missing_data"))


def _hm(results: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_mapping(results.get("harmonisation"))


# ------------------------------------------------------------------------- figures
def _rc() -> Any:
    """These figures' settings for the duration of a ``with`` block (no global state)."""
    import matplotlib

    return matplotlib.rc_context(RC)  # type: ignore[arg-type]


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig.add_subplot()


def plot_missing_patterns(patterns: pd.DataFrame, *, ax: Any = None) -> Any:
    """Missing-data patterns as a grid: one row per pattern, one column per variable
    (dark = missing), the number of patients at the right.

    Parameters
    ----------
    patterns : DataFrame
        One row per pattern: a 0/1 column per variable (1 observed) and ``n_rows``
        (other columns are ignored, e.g. ``n_missing_variables``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    variables = [c for c in patterns.columns
                 if c not in ("n_rows", "n_missing_variables", "cohort", "pattern")]
    grid = patterns[variables].to_numpy(dtype=float) if variables else np.zeros((0, 0))
    with _rc():
        ax = _axes(ax, (max(3.0, 0.9 * len(variables) + 1.5),
                        max(1.6, 0.35 * len(patterns) + 1.0)))
        from matplotlib.colors import ListedColormap

        ax.imshow(grid, aspect="auto", cmap=ListedColormap(["#D55E00", "#DCEBF7"]),
                  vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(range(len(variables)), [mpl_text(v) for v in variables],
                      rotation=30, ha="right")
        ax.set_yticks(range(len(patterns)),
                      [f"n = {int(n)}" for n in patterns["n_rows"]])
        ax.tick_params(length=0)
        for side in ("top", "right", "left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_title("Missing-data patterns (orange = missing)")
    return ax


def plot_batch_pca(pca: pd.DataFrame, *, ax: Any = None, title: str | None = None) -> Any:
    """Patients on the first two principal components, coloured (and shaped) by batch.

    Parameters
    ----------
    pca : DataFrame
        ``batch, pc1, pc2`` per patient.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    batches = sorted({str(b) for b in pca["batch"]})
    with _rc():
        ax = _axes(ax, (4.0, 3.4))
        for i, b in enumerate(batches):
            sub = pca[pca["batch"].astype(str) == b]
            y = sub["pc2"] if "pc2" in sub else np.zeros(len(sub))
            ax.scatter(sub["pc1"], y, s=14, alpha=0.75, color=_PALETTE[i % len(_PALETTE)],
                       marker=_MARKERS[i % len(_MARKERS)], label=mpl_text(b),
                       edgecolors="none")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        if title:
            ax.set_title(mpl_text(title))
        ax.legend(title="Batch", frameon=False, fontsize=7)
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
    with _rc():
        ax = _axes(ax, (5.2, max(1.8, 0.32 * n + 1.0)))
        ypos = np.arange(n)[::-1]
        before = np.abs(shift["smd_before"].to_numpy(dtype=float))
        after = np.abs(shift["smd_after"].to_numpy(dtype=float))
        for yv, b, a in zip(ypos, before, after, strict=True):
            ax.plot([b, a], [yv, yv], color="0.6", lw=1, zorder=1)
        ax.scatter(before, ypos, color=_PALETTE[1], marker="o", label="before", zorder=2)
        ax.scatter(after, ypos, color=_PALETTE[0], marker="s", label="after", zorder=3)
        ax.axvline(threshold, color="0.3", ls="--", lw=0.8)
        ax.set_yticks(ypos, [mpl_text(f) for f in shift["feature"]], fontsize=7)
        ax.set_xlabel("|standardised mean difference| against development")
        ax.legend(frameon=False, loc="lower right")
    return ax


def save_figures(figures: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write each figure as SVG, PDF and PNG (``radval.report.figures.SAVE_OPTIONS``)
    under ``out_dir``; returns label -> PNG path."""
    from radval.report.figures import SAVE_OPTIONS

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    formats = set(SAVE_OPTIONS["formats"]) | {"png"}
    with _rc():
        for label, fig in figures.items():
            name = md_identifier(label)
            if "svg" in formats:
                fig.savefig(out / f"{name}.svg", bbox_inches="tight", metadata={"Date": None})
            if "pdf" in formats:
                fig.savefig(out / f"{name}.pdf", bbox_inches="tight",
                            metadata={"CreationDate": None})
            fig.savefig(out / f"{name}.png", dpi=int(SAVE_OPTIONS["dpi"]),
                        bbox_inches="tight")
            paths[label] = out / f"{name}.png"
    return paths


def _figure_md(label: str, caption: str, width: str = "100%") -> str:
    return (f"![{md_text(caption)}](figures/{md_identifier(label)}.png)"
            f"{{#{md_identifier(label)} width={width}}}\n")


# ---------------------------------------------------------------------- missing data
def _pct(n: Any, pct: Any) -> str:
    return f"{int(_num(n))} ({fmt_num(pct, 1)}%)" if math.isfinite(_num(n)) else "–"


def missing_data_section(results: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The missing-data subsection: table per cohort and variable, patterns, patients
    imputed, pooled coefficients and performance (development runs) or the deployment
    imputer's results (site runs)."""
    md = _mi(results)
    if not md:
        return "", {}
    figs: dict[str, Any] = {}
    parts = ["## Missing data {#sec-missing-data}\n"]
    method = str(md.get("method") or "complete_case")
    site = as_mapping(md.get("site"))
    if site:
        return _site_missing(md, site), {}
    imputed = _records(md.get("imputed"))
    if method == "multiple_imputation":
        n_imp = int(pd.to_numeric(imputed.get("n_imputed", pd.Series(dtype=float)))
                    .fillna(0).sum()) if len(imputed) else 0
        parts.append(
            "Missing clinical predictors were multiply imputed "
            f"({md_text(md.get('n_imputations'))} completed data sets, "
            f"{md_text(md.get('max_iter'))} iterations of chained "
            f"equations); {n_imp} analysed patient(s) with a missing predictor were kept "
            "instead of excluded. Imaging features were not imputed.\n")
    else:
        parts.append("Complete-case analysis: patients missing a predictor used by a model "
                     "were excluded (see the patient flow).\n")
    table = _records(md.get("table"))
    if len(table):
        wide = table.assign(cell=[_pct(n, p) for n, p in zip(table["n_missing"],
                                                            table["percent_missing"])])
        cohorts = list(dict.fromkeys(wide["cohort"].astype(str)))
        pivot = wide.pivot(index="variable", columns="cohort", values="cell")
        pivot = pivot.reindex(index=list(dict.fromkeys(wide["variable"])), columns=cohorts)
        df = pivot.reset_index().rename(columns={"variable": "Variable"})
        n_row = {str(r["cohort"]): int(r["n"]) for r in
                 table.drop_duplicates("cohort").to_dict(orient="records")}
        df.columns = ["Variable", *[f"{c} (n = {n_row.get(c, '?')})" for c in cohorts]]
        parts.append(to_pipe(df.fillna("–"), "Missing values of the models' clinical "
                             "predictors among the analysed patients: n (%).",
                             "tbl-missing-data"))
    if len(imputed) and method == "multiple_imputation":
        parts.append(to_pipe(pd.DataFrame({
            "Cohort": imputed["cohort"].astype(str), "Analysed": imputed["n"].astype(str),
            "Kept with imputed predictors": imputed["n_imputed"].astype(str)}),
            "Patients analysed with imputed predictors (instead of excluded).",
            "tbl-imputed"))
    pats = _records(md.get("patterns"))
    if len(pats) and "pattern" in pats:
        flat = pd.concat([pats.drop(columns=["pattern"]).reset_index(drop=True),
                          pd.DataFrame(list(pats["pattern"]))], axis=1)
        variables = [c for c in flat.columns
                     if c not in ("cohort", "n_rows", "n_missing_variables")]
        tab = pd.DataFrame({"Cohort": flat["cohort"].astype(str),
                            **{v: ["observed" if int(x) else "missing" for x in flat[v]]
                               for v in variables},
                            "Patients": flat["n_rows"].astype(str)})
        parts.append(to_pipe(tab, "Missing-data patterns per cohort (most frequent first).",
                             "tbl-missing-patterns"))
        overall = pd.DataFrame(flat.groupby(variables, sort=False, as_index=False)["n_rows"]
                               .sum())
        overall = overall.sort_values("n_rows", ascending=False, kind="stable")
        if (overall[variables] == 0).to_numpy().any():
            figs["fig-missing-patterns"] = plot_missing_patterns(overall).figure
            parts.append(_figure_md("fig-missing-patterns", "Missing-data patterns over all "
                                    "analysed patients.", width="70%"))
    coef = _records(md.get("pooled_coefficients"))
    if len(coef):
        parts.append(to_pipe(pd.DataFrame({
            "Model": coef["model"].astype(str), "Term": coef["term"].astype(str),
            "Estimate (95% CI)": [fmt_ci(e, lo, hi, 3) for e, lo, hi in
                                  zip(coef["estimate"], coef.get("ci_low", [None] * len(coef)),
                                      coef.get("ci_high", [None] * len(coef)))],
            "SE": [fmt_num(v, 3) for v in coef.get("se", [None] * len(coef))],
            "df": [fmt_num(v, 1) for v in coef.get("df", [None] * len(coef))],
            "FMI": [fmt_num(v, 3) for v in coef.get("fmi", [None] * len(coef))],
            "p": [fmt_p(v) for v in coef.get("p_value", [None] * len(coef))]}),
            "Coefficients pooled over the completed data sets by Rubin's rules "
            "(Barnard-Rubin df; FMI = fraction of missing information).",
            "tbl-pooled-coefficients"))
    perf = _records(md.get("pooled_performance"))
    if len(perf):
        parts.append(_pooled_perf_table(perf))
    return "\n".join(parts), figs


def _pooled_perf_table(perf: pd.DataFrame) -> str:
    rows = []
    for (cohort, model), g in perf.groupby(["cohort", "model"], sort=False):
        bym = {str(r["metric"]): r for r in g.to_dict(orient="records")}

        def cell(metric: str, byt: dict[str, Any] = bym) -> str:
            r = byt.get(metric)
            if r is None or not math.isfinite(_num(r.get("estimate"))):
                return "–"
            return fmt_ci(r.get("estimate"), r.get("ci_low"), r.get("ci_high"), 3)

        auc = bym.get("auc", {})
        rows.append({"Cohort": str(cohort), "Model": str(model), "AUC (95% CI)": cell("auc"),
                     "Calibration intercept": cell("calibration_intercept"),
                     "Calibration slope": cell("calibration_slope"),
                     "FMI (AUC)": fmt_num(auc.get("fmi"), 3)})
    return to_pipe(pd.DataFrame(rows), "Performance pooled over the completed data sets by "
                   "Rubin's rules: AUC on the logit scale, calibration intercept and slope.",
                   "tbl-pooled-performance")


def _site_missing(md: Mapping[str, Any], site: Mapping[str, Any]) -> str:
    parts = ["## Missing data {#sec-missing-data}\n"]
    method = str(site.get("method"))
    n_imp = site.get("n_imputed", 0)
    if method == "deployment_imputer":
        parts.append(f"The bundle's clinical models were applied with its deployment imputer "
                     f"(fitted on the development predictors without the outcome): "
                     f"{md_text(n_imp)} patient(s) had at least one missing predictor, "
                     f"imputed with {md_text(site.get('n_draws'))} draws whose linear "
                     "predictors were averaged. The signature itself needs no clinical "
                     "predictor; imaging features are not imputed.\n")
    else:
        parts.append("The bundle carries no deployment imputer: the clinical models were "
                     "evaluated on the patients with complete predictors.\n")
    tab = _records(site.get("table"))
    if len(tab):
        parts.append(to_pipe(pd.DataFrame({
            "Variable": tab["variable"].astype(str), "Patients": tab["n"].astype(str),
            "Missing": [_pct(n, p) for n, p in zip(tab["n_missing"], tab["percent_missing"])]}),
            "Missing values of the models' predictors at this site.", "tbl-missing-data"))
    mod = _records(site.get("models"))
    if len(mod):
        label = {"all": "all patients", "complete_cases": "complete cases",
                 "imputed": "imputed patients"}
        parts.append(to_pipe(pd.DataFrame({
            "Model": mod["model"].astype(str),
            "Patients": [label.get(str(s), str(s)) for s in mod["subset"]],
            "n (events)": [f"{int(n)} ({int(e)})" for n, e in zip(mod["n"], mod["events"])],
            "AUC (95% CI)": [fmt_ci(a, lo, hi, 3) if math.isfinite(_num(a)) else
                             (str(r) if isinstance(r, str) else "–")
                             for a, lo, hi, r in zip(mod["auc"], mod["auc_ci_low"],
                                                     mod["auc_ci_high"],
                                                     mod["undefined_reason"])],
            "Intercept": [fmt_num(v, 3) for v in mod["calibration_intercept"]],
            "Slope": [fmt_num(v, 3) for v in mod["calibration_slope"]],
            "Brier": [fmt_num(v, 3) for v in mod["brier"]]}),
            "The clinical models at this site with and without the patients whose "
            "predictors were imputed.", "tbl-site-imputation"))
    return "\n".join(parts)


# ------------------------------------------------------------------- harmonisation
def harmonisation_section(results: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The harmonisation subsection: batches, batch-outcome guard, separability before
    and after with a PCA plot (development runs); the shift diagnostics before and after
    the frozen ComBat (site runs)."""
    hm = _hm(results)
    if not hm:
        return "", {}
    figs: dict[str, Any] = {}
    parts = ["## Feature harmonisation {#sec-harmonisation}\n"]
    site = as_mapping(hm.get("site"))
    if site:
        text, f = _site_harmonisation(results, hm, site)
        return "\n".join([*parts, text]), f
    ref = hm.get("reference")
    parts.append(
        f"The imaging features were harmonised with ComBat on the batch column "
        f"{md_text(hm.get('batch'))} ({md_text(hm.get('batch_source'))}), "
        + (f"with reference batch {md_text(ref)}" if ref else
           "towards the size-weighted average batch")
        + (f", preserving {md_text(', '.join(map(str, hm.get('covariates') or [])))}"
           if hm.get("covariates") else "")
        + f": {md_text(hm.get('n_features'))} features, fitted on the development cohort "
        "before feature selection and applied to every cohort; batches not seen in "
        "development were harmonised from their own feature distribution.\n")
    batches = _records(hm.get("batches"))
    if len(batches):
        parts.append(to_pipe(pd.DataFrame({
            "Cohort": batches["cohort"].astype(str), "Batch": batches["batch"].astype(str),
            "n": batches["n"].astype(str),
            "Development batch": ["yes" if bool(v) else "no (new)"
                                  for v in batches["in_development"]]}),
            "Batches per cohort.", "tbl-batches"))
    bo = as_mapping(hm.get("batch_outcome"))
    if bo:
        verdict = ("**Batch and outcome are associated**: ComBat removes part of the outcome "
                   "signal along with the scanner effect."
                   if bo.get("associated") else "Batch and outcome are not associated.")
        parts.append(f"Batch-outcome association in the development cohort "
                     f"({md_text(str(bo.get('method')).replace('_', ' '))}): statistic "
                     f"{fmt_num(bo.get('statistic'), 3)}, df {md_text(bo.get('df'))}, "
                     f"p {fmt_p(bo.get('p_value'))}, Cramér's V "
                     f"{fmt_num(bo.get('cramers_v'), 2)}. {verdict}\n")
    sep = _records(hm.get("separability"))
    if len(sep):
        parts.append(to_pipe(pd.DataFrame({
            "Patients": [{"development": "development cohort",
                          "all_cohorts": "all cohorts"}.get(str(s), str(s))
                         for s in sep["scope"]],
            "Harmonisation": sep["stage"].astype(str),
            "Batch AUC": [fmt_num(v, 3) for v in sep["auc"]],
            "Features differing (q < 0.05)": [f"{fmt_num(100 * _num(v), 0)}%"
                                              if math.isfinite(_num(v)) else "–"
                                              for v in sep["fraction_significant"]],
            "Batches": sep["n_batches"].astype(str), "n": sep["n_samples"].astype(str)}),
            "Batch separability: cross-validated AUC of predicting the batch from the "
            "features (0.5 or below = indistinguishable; below 0.5 after harmonisation "
            "because it equalises the batch means in the whole sample, so a classifier "
            "trained on the other folds points the wrong way) and share of features "
            "differing between batches, before and after harmonisation.",
            "tbl-separability"))
    pca = _records(hm.get("pca"))
    if len(pca) and {"stage", "batch", "pc1"} <= set(pca.columns):
        from matplotlib.figure import Figure

        with _rc():
            fig = Figure(figsize=(8.0, 3.4))
            axes = fig.subplots(1, 2)
            for ax, stage in zip(axes, ("before", "after"), strict=True):
                plot_batch_pca(pca[pca["stage"] == stage], ax=ax,
                               title=f"{stage} harmonisation")
            fig.tight_layout()
        figs["fig-batch-pca"] = fig
        parts.append(_figure_md("fig-batch-pca", "First two principal components of the "
                                "standardised features, coloured by batch, before and after "
                                "harmonisation."))
    return "\n".join(parts), figs




def _site_harmonisation(results: Mapping[str, Any], hm: Mapping[str, Any],
                        site: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    figs: dict[str, Any] = {}
    parts = []
    batches = _records(site.get("batches"))
    kinds = {True: "development batch, frozen parameters",
             False: "new batch, estimated from the site features"}
    desc = "; ".join(f"{md_text(r['batch'])} (n = {md_text(r['n'])}, "
                     f"{kinds[bool(r.get('seen'))]})"
                     for r in batches.to_dict(orient="records")) if len(batches) else "–"
    parts.append(f"The bundle's frozen ComBat harmonised {md_text(site.get('n_features'))} of "
                 f"its {md_text(site.get('n_features_bundle'))} features for "
                 f"{md_text(site.get('n_harmonised'))} patients. Batches (from "
                 f"{md_text(site.get('label_source'))}): {desc}.\n")
    if site.get("auc_unharmonised") is not None:
        perf = _records(results.get("performance"))
        auc_after = None
        if len(perf) and "subgroup" in perf:
            sub = perf[perf["subgroup"] == "all"]
            auc_after = sub["auc"].iloc[0] if len(sub) else None
        parts.append(f"AUC of the signature without harmonisation "
                     f"{fmt_num(site.get('auc_unharmonised'), 3)}"
                     + (f", with harmonisation {fmt_num(auc_after, 3)}.\n"
                        if auc_after is not None else ".\n"))
    before = _records(as_mapping(site.get("shift_before")).get("features"))
    after = _records(as_mapping(results.get("shift")).get("features"))
    if len(before) and len(after):
        merged = before[["feature", "smd", "share_outside_q05_q95", "flagged"]].merge(
            after[["feature", "smd", "share_outside_q05_q95", "flagged"]], on="feature",
            suffixes=("_before", "_after"))

        def share(v: Any) -> str:
            return f"{100 * _num(v):.0f}%" if math.isfinite(_num(v)) else "–"

        parts.append(to_pipe(pd.DataFrame({
            "Feature": merged["feature"].astype(str),
            "SMD before": [fmt_num(v, 2) for v in merged["smd_before"]],
            "SMD after": [fmt_num(v, 2) for v in merged["smd_after"]],
            "Outside dev. 5-95% before": [share(v) for v in merged["share_outside_q05_q95_before"]],
            "Outside dev. 5-95% after": [share(v) for v in merged["share_outside_q05_q95_after"]],
            "Flagged before": ["yes" if bool(v) else "" for v in merged["flagged_before"]],
            "Flagged after": ["yes" if bool(v) else "" for v in merged["flagged_after"]]}),
            "Dataset-shift diagnostics of the selected features against the development "
            "cohort, before and after the frozen harmonisation.", "tbl-shift-harmonisation"))
        n_b = int(merged["flagged_before"].astype(bool).sum())
        n_a = int(merged["flagged_after"].astype(bool).sum())
        mb = float(np.nanmean(np.abs(merged["smd_before"].to_numpy(dtype=float))))
        ma = float(np.nanmean(np.abs(merged["smd_after"].to_numpy(dtype=float))))
        parts.append(f"Features flagged as shifted: {n_b} before, {n_a} after harmonisation; "
                     f"mean |SMD| {fmt_num(mb, 2)} before, {fmt_num(ma, 2)} after.\n")
        thr = _num(as_mapping(results.get("shift")).get("smd_threshold"))
        ax = plot_shift_before_after(merged, threshold=thr
                                     if math.isfinite(thr) else 0.5)
        figs["fig-shift-harmonisation"] = ax.figure
        parts.append(_figure_md("fig-shift-harmonisation", "Absolute standardised mean "
                                "difference of each selected feature against development, "
                                "before and after harmonisation; dashed: flagging threshold.",
                                width="75%"))
    return "\n".join(parts), figs


# ------------------------------------------------------------------ texts and hooks
def flow_note(results: Mapping[str, Any]) -> str:
    """The sentence under the patient flow: what happened to patients with missing data."""
    md = _mi(results)
    if str(md.get("method")) == "multiple_imputation":
        return ("Patients with a missing outcome or failed imaging features were excluded; "
                "patients missing a clinical predictor were kept and their predictors "
                "multiply imputed (stage *imputed*, @sec-missing-data).")
    return ("Patients with a missing outcome or missing predictors used by a model "
            "were excluded (complete-case analysis); reasons are listed above.")


def methods_text(results: Mapping[str, Any]) -> str:
    """Methods paragraphs on missing data and harmonisation (empty when neither applies)."""
    paras = []
    md = _mi(results)
    if str(md.get("method")) == "multiple_imputation" and not md.get("site"):
        meth = as_mapping(md.get("imputation_methods"))
        how = "; ".join(f"{md_text(k)} by {md_text(v)}" for k, v in meth.items())
        paras.append(
            "**Missing data.** Missing clinical predictors were imputed by multiple "
            f"imputation by chained equations (van Buuren 2011) with "
            f"{md_text(md.get('n_imputations'))} imputations and "
            f"{md_text(md.get('max_iter'))} iterations"
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
    elif md and not md.get("site"):
        paras.append("**Missing data.** Complete-case analysis: patients with a missing "
                     "outcome, a missing predictor of a model or failed imaging features were "
                     "excluded.")
    hm = _hm(results)
    if hm and not hm.get("site"):
        paras.append(
            "**Harmonisation.** Scanner and protocol effects on the imaging features were "
            "removed with ComBat (Johnson et al. 2007; Fortin et al. 2018) using "
            f"{'parametric' if hm.get('parametric', True) else 'non-parametric'} "
            f"empirical-Bayes priors on batch {md_text(hm.get('batch'))}"
            + (f" with reference batch {md_text(hm.get('reference'))}"
               if hm.get("reference") else "")
            + ". It was fitted on the development cohort before feature selection, applied "
            "to every cohort (a batch not seen in development was harmonised from its own "
            "feature distribution), fitted again in every bootstrap resample of the internal "
            "validation, and frozen into the model bundle. The association of batch and "
            "outcome was tested in development, and batch separability (cross-validated AUC "
            "of predicting the batch from the features) is reported before and after.")
    return "\n\n".join(paras)


def report_section(results: Mapping[str, Any], out_dir: str | Path
                   ) -> tuple[str, dict[str, Path]]:
    """Missing data and harmonisation as one report section; figures written to
    ``out_dir/figures``.  Returns ``(markdown, label -> PNG path)`` (``""`` when the run
    has neither part)."""
    text_m, figs_m = missing_data_section(results)
    text_h, figs_h = harmonisation_section(results)
    if not text_m and not text_h:
        return "", {}
    figs = {**figs_m, **figs_h}
    paths = save_figures(figs, Path(out_dir) / "figures") if figs else {}
    head = "# Missing data and harmonisation {#sec-missing-harmonisation}\n"
    return "\n".join(x for x in (head, text_m, text_h) if x), paths
