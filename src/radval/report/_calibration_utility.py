"""The report's calibration and clinical-utility parts, from results.json.

Each ``*_markdown`` function takes the parsed ``results`` dict and the report folder and
returns ``(markdown, figures)``: Quarto markdown (empty when the part is not in the run)
and ``{label: png path}`` of the figures it drew under ``figures/``.  The figures are
composed from the primitives of :mod:`radval.report._plots`; every text that comes from
the input (cohort, model, subgroup labels) goes through :func:`md_text` (markdown) or
:func:`mpl_text` (figures).  :func:`calibration_utility_markdown` joins them into one
section; :mod:`radval.report.document` inserts it after the model performance.

Parts: flexible calibration curves with bootstrap bands (with what each model's risk is:
the rad-score and DL-score are shown after their recalibration frozen on development),
the bias-corrected calibration curve and optimism-corrected decision curve of internal
validation, the difference in net benefit between models with its CI, calibration and
net benefit per subgroup level with their heterogeneity tests, the partial AUC and, at a
site, its minimum sample size for external validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report._dictform import as_mapping, cohort_order, frame, model_labels
from radval.report._escape import md_text, mpl_text
from radval.report.tables import fmt_ci, fmt_num, fmt_p, to_pipe, write_csv

__all__ = [
    "calibration_band_markdown",
    "calibration_utility_markdown",
    "corrected_calibration_markdown",
    "net_benefit_difference_markdown",
    "partial_auc_markdown",
    "site_sample_size_markdown",
    "subgroup_calibration_markdown",
]

Part = tuple[str, dict[str, Path]]
MAX_MODELS = 5
SCALE_TEXT = {"recalibrated_score": "score recalibrated on development",
              "raw_score": "raw score (not a calibrated probability)",
              "model": "model probability"}


# ------------------------------------------------------------------------ helpers
def _fig(draw: Callable[[], Path | None], label: str, caption: str, figs: dict[str, Path],
         lines: list[str]) -> bool:
    """Draw a figure; on failure the report says so instead of stopping."""
    try:
        png = draw()
    except Exception as exc:  # noqa: BLE001 - a broken figure must not kill the report
        lines.append(f"_The figure {md_text(label.removeprefix('fig-'))} could not be drawn "
                     f"({md_text(type(exc).__name__)}: {md_text(exc)})._\n")
        return False
    if png is None:
        return False
    figs[label] = png
    rel = f"figures/{png.name}"
    lines.append(f"![{md_text(caption)}]({rel}){{#{label} width=100%}}\n")
    return True


def _table(df: pd.DataFrame, label: str, caption: str, out_dir: Path,
           lines: list[str]) -> bool:
    if df is None or df.empty:
        return False
    write_csv(df, out_dir / "tables" / f"{label}.csv")
    lines.append(to_pipe(df, caption, label))
    return True


def _key_thresholds(results: Mapping[str, Any]) -> list[float]:
    ev = as_mapping(as_mapping(as_mapping(results.get("provenance")).get("study"))
                    .get("evaluation"))
    chosen = ev.get("net_benefit_thresholds")
    if isinstance(chosen, list) and chosen:
        return [float(t) for t in chosen]
    sub = frame(results, "subgroup_net_benefit")
    if not sub.empty:
        return sorted({float(t) for t in sub["threshold"]})
    return [0.1, 0.2, 0.3]


def _main_models(results: Mapping[str, Any], present: Sequence[str]) -> list[str]:
    """Models to draw: the signature first, no scikit-learn classifier when more than
    :data:`MAX_MODELS` (their numbers stay in the tables)."""
    kinds = {str(m.get("name")): str(m.get("kind")) for m in results.get("models") or []
             if isinstance(m, Mapping)}
    order = [m for m in model_labels(results) if m in present] + \
        [m for m in present if m not in model_labels(results)]
    if len(order) > MAX_MODELS:
        order = [m for m in order if kinds.get(m) != "sklearn"] or order
    return order[:MAX_MODELS] if len(order) > MAX_MODELS else order


def _signature(results: Mapping[str, Any], present: Sequence[str]) -> str | None:
    sig = as_mapping(results.get("study")).get("signature_model")
    if sig in present:
        return str(sig)
    return present[0] if present else None


def _cohorts(results: Mapping[str, Any], df: pd.DataFrame) -> list[str]:
    have = set(df["cohort"].astype(str)) if "cohort" in df else set()
    return [c for c in cohort_order(results) if c in have] + sorted(
        have - set(cohort_order(results)))


def _save(fig: Any, out_dir: Path, name: str) -> Path:
    from radval.report.figures import save

    return save(fig, out_dir / "figures", name)


# --------------------------------------------------------------- calibration band
def _scale_sentence(results: Mapping[str, Any]) -> str:
    cal = frame(results, "calibration")
    if cal.empty or "risk_scale" not in cal:
        return ""
    labels = model_labels(results)
    out = []
    rec = cal[cal["risk_scale"] == "recalibrated_score"].drop_duplicates("model")
    if len(rec):
        coefs = "; ".join(
            f"{md_text(labels.get(str(r['model']), str(r['model'])))}: intercept "
            f"{fmt_num(r.get('recalibration_intercept'), 2)}, slope "
            f"{fmt_num(r.get('recalibration_slope'), 2)}"
            for r in rec.to_dict(orient="records"))
        out.append("The rad-score and the DL-score are shrunken (LASSO) linear predictors, "
                   "not calibrated probabilities: their raw calibration slopes say nothing "
                   "about the signature. Their calibration is therefore shown after a "
                   "logistic recalibration frozen on the development cohort, "
                   "expit(a + b logit(p)), the recalibration the combined models already "
                   f"apply ({coefs}). In the development cohort they have intercept 0 and "
                   "slope 1 by construction; in the validation cohorts their calibration "
                   "is a finding.")
    if (cal["risk_scale"] == "raw_score").any():
        out.append("**The signature is a single score, expit of a shrunken linear "
                   "predictor: its calibration below is that of the raw score, which is "
                   "not a calibrated probability, and cannot be read as the calibration "
                   "of a risk model.**")
    return " ".join(out)


def _band_figure(results: Mapping[str, Any], band: pd.DataFrame, cohorts: list[str],
                 models: list[str], out_dir: Path) -> Path:
    from radval.report._plots import new_figure, plot_calibration_band, style

    cal = frame(results, "calibration")
    labels = model_labels(results)
    with style():
        fig, axes = new_figure(len(models), len(cohorts), squeeze=False, sharex=True,
                               sharey=True,
                               figsize=(2.6 * len(cohorts) + 0.5, 2.5 * len(models)))
        for i, m in enumerate(models):
            for j, c in enumerate(cohorts):
                ax = axes[i, j]
                d = band[(band["cohort"] == c) & (band["model"] == m)]
                r = cal[(cal["cohort"] == c) & (cal["model"] == m)] if not cal.empty else cal
                note = None
                if len(r):
                    rec = r.iloc[0]
                    note = f"ICI {fmt_num(rec.get('curve_ici'), 3)}"
                    if rec.get("risk_scale") == "recalibrated_score":
                        note += "\nrecalibrated score"
                    elif rec.get("risk_scale") == "raw_score":
                        note += "\nraw score"
                plot_calibration_band(d, note=note, title=c if i == 0 else None, ax=ax)
                if j == 0:
                    ax.set_ylabel(f"{mpl_text(labels.get(m, m))}\nobserved", fontsize=7)
                if i == len(models) - 1:
                    ax.set_xlabel("predicted risk", fontsize=7)
        fig.tight_layout()
        return _save(fig, out_dir, "fig-calibration-band")


def calibration_band_markdown(results: Mapping[str, Any], out_dir: str | Path) -> Part:
    """Flexible calibration curves with bootstrap bands, their ICI/E50/E90/Emax, and what
    each model's risk is (``risk_scale``)."""
    out = Path(out_dir)
    band = frame(results, "curves", "calibration_band")
    if band.empty:
        return "", {}
    figs: dict[str, Path] = {}
    lines = ["## Calibration curves with confidence bands {#sec-calibration-band}\n"]
    method = str(band["method"].iloc[0])
    n_res = pd.to_numeric(band["n_resamples"], errors="coerce").max()
    lines.append(f"Flexible calibration curves ({md_text(method)}"
                 f"{' as CalibrationCurves val.prob.ci.2' if method == 'loess' else ''}) "
                 "with pointwise 95% bootstrap percentile bands"
                 f"{f' ({int(n_res)} resamples)' if method != 'grouped' and n_res > 0 else ''}"
                 ". A curve on the diagonal is perfect calibration; the band shows where the "
                 "data leave it in doubt.\n")
    scale = _scale_sentence(results)
    if scale:
        lines.append(scale + "\n")
    cohorts = _cohorts(results, band)
    models = _main_models(results, list(dict.fromkeys(band["model"].astype(str))))
    _fig(lambda: _band_figure(results, band, cohorts, models, out), "fig-calibration-band",
         "Calibration curves with 95% pointwise bootstrap bands; rows are models, columns "
         "cohorts; ICI on each panel.", figs, lines)
    cal = frame(results, "calibration")
    if not cal.empty and "curve_ici" in cal:
        labels = model_labels(results)
        df = pd.DataFrame({
            "Cohort": cal["cohort"].astype(str),
            "Model": [labels.get(str(m), str(m)) for m in cal["model"]],
            "Risk assessed": [SCALE_TEXT.get(str(s), "model probability")
                              for s in cal.get("risk_scale", ["model"] * len(cal))],
            "ICI": [fmt_num(v, 3) for v in cal["curve_ici"]],
            "E50": [fmt_num(v, 3) for v in cal.get("curve_e50", [None] * len(cal))],
            "E90": [fmt_num(v, 3) for v in cal.get("curve_e90", [None] * len(cal))],
            "Emax": [fmt_num(v, 3) for v in cal.get("curve_emax", [None] * len(cal))]})
        _table(df, "tbl-calibration-curve", "Calibration curve summaries: mean (ICI), "
               "median, 90th percentile and maximum of |predicted - estimated observed| "
               "over the patients, with the risk each row assesses.", out, lines)
    return "\n".join(lines), figs


# -------------------------------------------------------------- corrected curves
def _corrected_figure(results: Mapping[str, Any], cc: pd.DataFrame, models: list[str],
                      out_dir: Path) -> Path:
    from radval.report._plots import new_figure, plot_calibration_band, style

    summ = frame(results, "optimism_calibration_summary")
    labels = model_labels(results)
    with style():
        ncol = min(len(models), 3)
        nrow = math.ceil(len(models) / ncol)
        fig, axes = new_figure(nrow, ncol, squeeze=False, sharex=True, sharey=True,
                               figsize=(2.7 * ncol + 0.3, 2.7 * nrow))
        for k, m in enumerate(models):
            ax = axes[k // ncol, k % ncol]
            s = summ[summ["model"] == m] if not summ.empty else summ
            note = None
            if len(s):
                note = (f"mean |error| {fmt_num(s.iloc[0]['mean_abs_error'], 3)}\n"
                        f"0.9 quantile {fmt_num(s.iloc[0]['q90_abs_error'], 3)}")
            plot_calibration_band(pd.DataFrame(), corrected=cc[cc["model"] == m], note=note,
                                  title=labels.get(m, m), legend=k == 0, ax=ax)
        for k in range(len(models), nrow * ncol):
            axes[k // ncol, k % ncol].set_visible(False)
        fig.supxlabel("predicted risk", fontsize=8)
        fig.supylabel("observed", fontsize=8)
        fig.tight_layout()
        return _save(fig, out_dir, "fig-calibration-corrected")


def _corrected_dca_figure(results: Mapping[str, Any], nb: pd.DataFrame, models: list[str],
                          out_dir: Path) -> Path:
    from radval.report._plots import new_figure, plot_decision_curve, style

    labels = model_labels(results)
    dev = as_mapping(results.get("study")).get("development_cohort")
    dec = frame(results, "curves", "decision")
    treat_all = dec[(dec["cohort"] == dev)] if not dec.empty and dev else pd.DataFrame()
    rows = []
    for m in models:
        d = nb[nb["model"] == m].copy()
        if treat_all.empty:
            d["treat_all"] = math.nan
        else:
            ta = treat_all[treat_all["model"] == treat_all["model"].iloc[0]] \
                .set_index("threshold")["treat_all"]
            d["treat_all"] = [ta.get(t, math.nan) for t in d["threshold"]]
        rows.append(d.assign(model=m, net_benefit=d["corrected"]))
    data = pd.concat(rows, ignore_index=True)
    with style():
        fig, ax = new_figure(figsize=(4.4, 3.3))
        plot_decision_curve(data, labels=labels, title="optimism-corrected (development)",
                            ax=ax)
        fig.tight_layout()
        return _save(fig, out_dir, "fig-dca-corrected")


def corrected_calibration_markdown(results: Mapping[str, Any], out_dir: str | Path) -> Part:
    """Bias-corrected calibration curves (rms calibrate) and optimism-corrected decision
    curves of internal validation."""
    out = Path(out_dir)
    cc = frame(results, "optimism_calibration")
    nb = frame(results, "optimism_net_benefit")
    if cc.empty and nb.empty:
        return "", {}
    figs: dict[str, Path] = {}
    labels = model_labels(results)
    lines = ["## Bias-corrected calibration and decision curves {#sec-calibration-corrected}\n",
             "In every optimism resample the whole development was repeated (feature "
             "selection, every model and, when radval trained it, the network); each "
             "resample's model was evaluated in the resample and in the development cohort "
             "on a common grid. The bias-corrected curve is the apparent lowess curve minus "
             "the mean difference at each predicted risk (rms calibrate); the same correction "
             "at each threshold gives the optimism-corrected decision curve. A rad-score or "
             "DL-score was recalibrated on each resample's own data first.\n"]
    opt = frame(results, "optimism")
    if not opt.empty and "risk_scale" in opt and (opt["risk_scale"] ==
                                                  "recalibrated_score").any():
        lines.append("Likewise, in the optimism-corrected performance the calibration "
                     "slope, intercept and Brier score of the rad-score and the DL-score are "
                     "those of the score after its recalibration on the data it was "
                     "developed on (apparent slope 1, intercept 0): their optimism is the "
                     "shrinkage the score needs, not the scale of the raw score.\n")
    if not cc.empty:
        models = _main_models(results, list(dict.fromkeys(cc["model"].astype(str))))
        _fig(lambda: _corrected_figure(results, cc, models, out), "fig-calibration-corrected",
             "Apparent (dashed) and bias-corrected (solid) calibration curves in the "
             "development cohort, with the mean and 0.9-quantile absolute error of the "
             "corrected curve.", figs, lines)
        summ = frame(results, "optimism_calibration_summary")
        if not summ.empty:
            df = pd.DataFrame({
                "Model": [labels.get(str(m), str(m)) for m in summ["model"]],
                "Risk assessed": [SCALE_TEXT.get(str(s), "model probability")
                                  for s in summ["risk_scale"]],
                "Mean |error|": [fmt_num(v, 3) for v in summ["mean_abs_error"]],
                "0.9 quantile |error|": [fmt_num(v, 3) for v in summ["q90_abs_error"]],
                "Mean squared error": [fmt_num(v, 4) for v in summ["mean_squared_error"]],
                "Resamples": [str(v) for v in summ["n_resamples"]]})
            _table(df, "tbl-calibration-corrected", "Bias-corrected calibration: errors of "
                   "the corrected curve over the development patients (rms calibrate).",
                   out, lines)
    if not nb.empty:
        models = _main_models(results, list(dict.fromkeys(nb["model"].astype(str))))
        _fig(lambda: _corrected_dca_figure(results, nb, models, out), "fig-dca-corrected",
             "Optimism-corrected decision curves in the development cohort, with treat "
             "all and treat none.", figs, lines)
        keys = _key_thresholds(results)
        sel = nb[nb["threshold"].apply(lambda t: any(abs(t - k) < 1e-9 for k in keys))
                 & nb["model"].isin(models)]
        if not sel.empty:
            df = pd.DataFrame({
                "Model": [labels.get(str(m), str(m)) for m in sel["model"]],
                "Threshold": [fmt_num(t, 2) for t in sel["threshold"]],
                "Apparent": [fmt_num(v, 3) for v in sel["apparent"]],
                "Optimism": [fmt_num(v, 3) for v in sel["optimism"]],
                "Corrected": [fmt_num(v, 3) for v in sel["corrected"]]})
            _table(df, "tbl-dca-corrected", "Net benefit in the development cohort: "
                   "apparent, bootstrap optimism and corrected.", out, lines)
    return "\n".join(lines), figs


# ------------------------------------------------------- net-benefit difference
def _difference_figure(results: Mapping[str, Any], diff: pd.DataFrame,
                       pairs: list[tuple[str, str]], cohorts: list[str], upper: float,
                       out_dir: Path) -> Path:
    from radval.report._plots import new_figure, plot_net_benefit_difference, style

    labels = model_labels(results)
    # near t = 1 the weight t/(1-t) blows every difference up: drawn up to `upper`
    diff = diff[diff["threshold"] <= upper + 1e-12]
    with style():
        fig, axes = new_figure(len(pairs), len(cohorts), squeeze=False, sharex=True,
                               sharey="row",
                               figsize=(2.9 * len(cohorts) + 0.5, 2.4 * len(pairs)))
        for i, (a, b) in enumerate(pairs):
            for j, c in enumerate(cohorts):
                d = diff[(diff["cohort"] == c) & (diff["model_a"] == a)
                         & (diff["model_b"] == b)]
                ax = axes[i, j]
                if d["difference"].notna().any():
                    plot_net_benefit_difference(
                        d, title=f"{c}: {labels.get(a, a)} - {labels.get(b, b)}",
                        ylabel="Δ net benefit" if j == 0 else "", ax=ax)
                    if i < len(pairs) - 1:
                        ax.set_xlabel("")
                else:
                    ax.set_axis_off()
        fig.tight_layout()
        return _save(fig, out_dir, "fig-nb-difference")


def net_benefit_difference_markdown(results: Mapping[str, Any], out_dir: str | Path) -> Part:
    """Difference in net benefit between model pairs with its bootstrap CI."""
    out = Path(out_dir)
    diff = frame(results, "net_benefit_difference")
    if diff.empty:
        return "", {}
    figs: dict[str, Path] = {}
    labels = model_labels(results)
    pairs = list(dict.fromkeys(zip(diff["model_a"].astype(str), diff["model_b"].astype(str),
                                   strict=True)))
    cohorts = _cohorts(results, diff)
    n_res = pd.to_numeric(diff["n_resamples"], errors="coerce").max()
    lines = ["## Difference in net benefit {#sec-nb-difference}\n",
             "The difference in net benefit between two models evaluated on the same "
             "patients, with a paired, stratified bootstrap 95% CI at every threshold"
             f"{f' ({int(n_res)} resamples)' if n_res and n_res > 0 else ''}: where the band "
             "excludes 0 the first model is more (above 0) or less useful than the second "
             "at that threshold. Restrict the reading to the thresholds that are clinically "
             "reasonable.\n"]
    keys = _key_thresholds(results)
    upper = max(0.5, *keys)
    _fig(lambda: _difference_figure(results, diff, pairs, cohorts, upper, out),
         "fig-nb-difference", f"Difference in net benefit with 95% bootstrap CIs by cohort "
         f"(thresholds up to {upper:g}).", figs, lines)
    rows = []
    for c in cohorts:
        for a, b in pairs:
            d = diff[(diff["cohort"] == c) & (diff["model_a"] == a) & (diff["model_b"] == b)]
            row = {"Cohort": c, "Comparison": f"{labels.get(a, a)} vs {labels.get(b, b)}"}
            for k in keys:
                r = d[(d["threshold"] - k).abs() < 1e-9]
                row[f"t = {k:g}"] = fmt_ci(r.iloc[0]["difference"], r.iloc[0]["ci_low"],
                                           r.iloc[0]["ci_high"], 3) if len(r) else "–"
            rows.append(row)
    _table(pd.DataFrame(rows), "tbl-nb-difference", "Difference in net benefit (95% "
           "bootstrap CI) at the key thresholds.", out, lines)
    return "\n".join(lines), figs


# -------------------------------------------------------------------- subgroups
def _subgroup_figure(results: Mapping[str, Any], curves: pd.DataFrame, model: str,
                     subgroups: list[str], cohorts: list[str], out_dir: Path) -> Path:
    from radval.report._plots import new_figure, plot_calibration_band, style

    with style():
        fig, axes = new_figure(len(subgroups), len(cohorts), squeeze=False, sharex=True,
                               sharey=True,
                               figsize=(2.7 * len(cohorts) + 0.5, 2.7 * len(subgroups)))
        for i, sg in enumerate(subgroups):
            for j, c in enumerate(cohorts):
                d = curves[(curves["cohort"] == c) & (curves["model"] == model)
                           & (curves["subgroup"] == sg)]
                plot_calibration_band(d, by="level", title=c if i == 0 else None,
                                      ax=axes[i, j])
                if j == 0:
                    axes[i, j].set_ylabel(f"{mpl_text(sg)}\nobserved", fontsize=7)
                if i == len(subgroups) - 1:
                    axes[i, j].set_xlabel("predicted risk", fontsize=7)
        fig.tight_layout()
        return _save(fig, out_dir, "fig-calibration-subgroup")


def subgroup_calibration_markdown(results: Mapping[str, Any], out_dir: str | Path) -> Part:
    """Calibration and net benefit of the signature per subgroup level, and the tests of
    heterogeneity across levels."""
    out = Path(out_dir)
    cal = frame(results, "subgroup_calibration")
    nb = frame(results, "subgroup_net_benefit")
    het = frame(results, "subgroup_heterogeneity")
    if cal.empty and nb.empty:
        return "", {}
    figs: dict[str, Path] = {}
    labels = model_labels(results)
    present = list(dict.fromkeys((cal if not cal.empty else nb)["model"].astype(str)))
    model = _signature(results, present)
    if model is None:
        return "", {}
    name = labels.get(model, model)
    lines = ["## Calibration and net benefit by subgroup {#sec-subgroup-calibration}\n",
             f"Calibration and net benefit of the {md_text(name)} in each subgroup level "
             "(fairness checks, TRIPOD+AI items 14 and 23), each with Cochran's Q test of "
             "equality across the levels (inverse-variance weights). Net benefit depends on "
             "the prevalence, so levels with different event rates differ in net benefit "
             "even with the same model performance. A level with one outcome class is "
             "reported as undefined. All models are in the CSV tables.\n"]
    curves = frame(results, "curves", "calibration_subgroup")
    if not curves.empty and (curves["model"] == model).any():
        sub_c = curves[curves["model"] == model]
        subgroups = list(dict.fromkeys(sub_c["subgroup"].astype(str)))
        cohorts = _cohorts(results, sub_c)
        _fig(lambda: _subgroup_figure(results, curves, model, subgroups, cohorts, out),
             "fig-calibration-subgroup", f"Calibration curves of the {name} by subgroup "
             "level with 95% bootstrap bands; rows are subgroups, columns cohorts.",
             figs, lines)
    keys = _key_thresholds(results)
    if not cal.empty:
        c = cal[cal["model"] == model]
        z = 1.959963984540054
        rows = []
        for r in c.to_dict(orient="records"):
            row = {"Cohort": r["cohort"], "Subgroup": r["subgroup"], "Level": r["level"],
                   "n (events)": f"{r['n']} ({r['events']})"}
            if r.get("undefined_reason") and not _finite(r.get("citl")):
                row.update({"CITL": "–", "Slope": "–", "O/E": "–"})
            else:
                row["CITL"] = fmt_ci(r["citl"], _lin(r["citl"], r["citl_se"], -z),
                                     _lin(r["citl"], r["citl_se"], z))
                row["Slope"] = fmt_ci(r["slope"], _lin(r["slope"], r["slope_se"], -z),
                                      _lin(r["slope"], r["slope_se"], z))
                row["O/E"] = fmt_ci(r["o_e"], _exp(r["log_o_e"], r["log_o_e_se"], -z),
                                    _exp(r["log_o_e"], r["log_o_e_se"], z))
            for k in keys:
                m = nb[(nb["model"] == model) & (nb["cohort"] == r["cohort"])
                       & (nb["subgroup"] == r["subgroup"]) & (nb["level"] == r["level"])
                       & ((nb["threshold"] - k).abs() < 1e-9)] if not nb.empty else nb
                row[f"NB t = {k:g}"] = fmt_ci(m.iloc[0]["net_benefit"], m.iloc[0]["ci_low"],
                                              m.iloc[0]["ci_high"], 3) if len(m) else "–"
            rows.append(row)
        _table(pd.DataFrame(rows), "tbl-subgroup-calibration",
               f"Calibration-in-the-large, calibration slope, O/E and net benefit (95% CIs) "
               f"of the {name} by subgroup level.", out, lines)
    if not het.empty:
        h = het[het["model"] == model]
        df = pd.DataFrame({
            "Cohort": h["cohort"].astype(str), "Subgroup": h["subgroup"].astype(str),
            "Measure": [_measure(m, t) for m, t in zip(h["measure"], h["threshold"],
                                                        strict=True)],
            "Q (df)": [f"{fmt_num(q, 2)} ({fmt_num(d, 0)})" if _finite(q) else "–"
                       for q, d in zip(h["statistic"], h["df"], strict=True)],
            "p": [fmt_p(p) for p in h["p_value"]],
            "Note": [str(r) if isinstance(r, str) else "" for r in h["undefined_reason"]]})
        _table(df, "tbl-subgroup-heterogeneity", f"Heterogeneity across subgroup levels of "
               f"the {name}: Cochran's Q (chi-square, k - 1 df).", out, lines)
    return "\n".join(lines), figs


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _lin(est: Any, se: Any, z: float) -> float:
    return float(est) + z * float(se) if _finite(est) and _finite(se) else math.nan


def _exp(log_est: Any, se: Any, z: float) -> float:
    return math.exp(float(log_est) + z * float(se)) if _finite(log_est) and _finite(se) \
        else math.nan


def _measure(measure: Any, threshold: Any) -> str:
    names = {"citl": "calibration-in-the-large", "slope": "calibration slope",
             "log_o_e": "log O/E", "net_benefit": "net benefit"}
    text = names.get(str(measure), str(measure))
    return f"{text} at t = {float(threshold):g}" if _finite(threshold) else text


# ------------------------------------------------------------ partial AUC, site
def partial_auc_markdown(results: Mapping[str, Any], out_dir: str | Path) -> Part:
    """Partial AUC table (when the study asked for it)."""
    pa = frame(results, "partial_auc")
    if pa.empty:
        return "", {}
    labels = model_labels(results)
    r0 = pa.iloc[0]
    lines = ["## Partial AUC {#sec-partial-auc}\n",
             f"Partial area under the ROC curve over {md_text(r0['focus'])} "
             f"{fmt_num(r0['low'], 2)} to {fmt_num(r0['high'], 2)}"
             f"{' (McClish-standardised)' if bool(r0['correct']) else ''}, as pROC, with "
             "stratified bootstrap 95% CIs.\n"]
    df = pd.DataFrame({"Cohort": pa["cohort"].astype(str),
                       "Model": [labels.get(str(m), str(m)) for m in pa["model"]],
                       "Partial AUC (95% CI)": [fmt_ci(e, lo, hi, 3) for e, lo, hi in
                                                zip(pa["estimate"], pa["ci_low"],
                                                    pa["ci_high"], strict=True)]})
    _table(df, "tbl-partial-auc", "Partial AUC by cohort and model.", Path(out_dir), lines)
    return "\n".join(lines), {}


def site_sample_size_markdown(results: Mapping[str, Any]) -> str:
    """One paragraph: does the site meet the minimum sample size for external validation?"""
    ss = as_mapping(results.get("validation_sample_size"))
    if not ss:
        return ""
    if ss.get("required") is None:
        reason = ss.get("undefined_reason") or "not computed"
        return ("The minimum sample size for external validation could not be computed "
                f"({md_text(reason)}).")
    crit = [("O/E", ss.get("n_oe")), ("calibration slope", ss.get("n_cslope")),
            ("C-statistic", ss.get("n_cstatistic")),
            ("net benefit at the cutoff", ss.get("n_net_benefit"))]
    parts = ", ".join(f"{name} {md_text(v)}" for name, v in crit if v is not None)
    verdict = ("**The site meets it.**" if ss.get("meets") else
               f"**The site does not meet it** ({md_text(ss.get('n'))} patients): its "
               "estimates, calibration in particular, are less precise than targeted and "
               "should be pooled with other sites rather than read alone.")
    return (f"This site validated the signature in {md_text(ss.get('n'))} patients with "
            f"{md_text(ss.get('events'))} events. The minimum sample size for a precise "
            "external validation (Riley et al. 2021: 95% CI widths 0.2 for O/E and the "
            "calibration slope, 0.1 for the C-statistic, 0.2 for the standardised net "
            f"benefit) at this site's prevalence, with the anticipated C-statistic "
            f"{fmt_num(ss.get('cstatistic'), 3)} ({md_text(ss.get('cstatistic_source'))}) "
            "and the development distribution of the linear predictor, is "
            f"{md_text(ss.get('required'))} patients (criteria: {parts}). {verdict}")


# ------------------------------------------------------------------------- all
def calibration_utility_markdown(results: Mapping[str, Any], out_dir: str | Path) -> Part:
    """Every calibration and clinical-utility part in one section (empty when none)."""
    out = Path(out_dir)
    blocks: list[str] = []
    figs: dict[str, Path] = {}
    for part in (calibration_band_markdown, corrected_calibration_markdown,
                 net_benefit_difference_markdown, subgroup_calibration_markdown,
                 partial_auc_markdown):
        md, f = part(results, out)
        if md:
            blocks.append(md)
            figs.update(f)
    site = site_sample_size_markdown(results)
    if site:
        blocks.append("## Sample size of this site {#sec-site-sample-size}\n\n" + site + "\n")
    if not blocks:
        return "", {}
    head = "# Calibration and clinical utility {#sec-calibration-utility}\n"
    return "\n".join([head, *blocks]), figs
