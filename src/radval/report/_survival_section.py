"""The time-to-event section of the report, from results.json's ``survival`` block.

A self-contained module (the report layout calls it; it does not depend on it):

* figure functions that take *tidy* data and an optional matplotlib ``ax`` and draw
  inside ``matplotlib.rc_context`` on a :class:`matplotlib.figure.Figure` (no pyplot, no
  global state): :func:`td_auc_plot` (AUC(t) over the horizons),
  :func:`survival_calibration_plot` (calibration at one horizon),
  :func:`survival_decision_plot` (net benefit at one horizon);
* :func:`survival_section`, which draws them for a run, writes the tables, fills the
  TRIPOD+AI items of a time-to-event outcome (:func:`radval.report.tripod.time_to_event_items`)
  and returns the markdown with the figure and table files.  The Kaplan-Meier curves by
  risk group with numbers at risk are :func:`radval.report.figures.km_figure`
  (``include_km=True`` adds them).

Every text that comes from the results (cohort names, column names) goes through
:func:`radval.report._escape.md_text` where it enters the markdown and through
:func:`radval.report._escape.mpl_text` where it enters a figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report._dictform import as_mapping, frame
from radval.report._escape import md_text, mpl_text
from radval.report.tables import fmt_ci, fmt_num, fmt_p, to_pipe, write_csv

__all__ = ["SurvivalSection", "survival_calibration_plot", "survival_decision_plot",
           "survival_section", "survival_tripod_values", "td_auc_plot"]

#: Okabe & Ito colours, as the other report figures
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_STYLES = ("-", "--", "-.", ":")
_RC: Any = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
       "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "path",
       "pdf.fonttype": 42, "svg.hashsalt": "radval", "figure.dpi": 100}


@dataclass(frozen=True)
class SurvivalSection:
    """What :func:`survival_section` produced.

    Attributes
    ----------
    markdown : str
        The section's Quarto markdown (headings, paragraphs, pipe tables, figures).
    figures : dict
        Label (``fig-survival-...``) -> PNG path.
    tables : dict
        Label (``tbl-survival-...``) -> CSV path.
    sections : set of str
        Section ids the markdown defines.
    """

    markdown: str
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    sections: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------- figures
def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=size).subplots()


def _colour(i: int) -> str:
    return _COLOURS[i % len(_COLOURS)]


def td_auc_plot(data: pd.DataFrame, *, ax: Any = None, time_unit: str = "") -> Any:
    """AUC(t) with its 95% CI against the horizon, one line per cohort.

    Parameters
    ----------
    data : DataFrame
        ``cohort, horizon, auc, ci_low, ci_high`` (results.json
        ``survival.time_dependent_auc``).
    ax : matplotlib Axes, optional
        Drawn into when given; else on a new figure.
    time_unit : str
        Axis label.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib

    with matplotlib.rc_context(_RC):
        ax = _axes(ax, (4.2, 3.2))
        for i, (cohort, d) in enumerate(data.groupby("cohort", sort=False)):
            d = d.sort_values("horizon")
            x = d["horizon"].to_numpy(float)
            ax.errorbar(x + 0.01 * i * (x.max() - x.min() if len(x) > 1 else 1.0),
                        d["auc"].to_numpy(float),
                        yerr=[(d["auc"] - d["ci_low"]).to_numpy(float),
                              (d["ci_high"] - d["auc"]).to_numpy(float)],
                        color=_colour(i), ls=_STYLES[i % 4], marker="o", ms=4, capsize=2,
                        label=mpl_text(cohort))
        ax.axhline(0.5, color="0.5", lw=0.8, ls=":")
        ax.set_ylim(0.3, 1.0)
        ax.set_xlabel(f"horizon ({mpl_text(time_unit)})" if time_unit else "horizon")
        ax.set_ylabel("AUC(t) (95% CI)")
        ax.legend(frameon=False)
    return ax


def survival_calibration_plot(grouped: pd.DataFrame, curve: pd.DataFrame | None = None, *,
                              ax: Any = None, title: str = "") -> Any:
    """Observed (Kaplan-Meier) against predicted risk at one horizon, per cohort.

    Parameters
    ----------
    grouped : DataFrame
        ``cohort, mean_predicted, observed, ci_low, ci_high`` (risk groups).
    curve : DataFrame, optional
        ``cohort, predicted, observed`` (flexible curve).
    ax : matplotlib Axes, optional
    title : str
        Panel title (e.g. the horizon).

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib

    with matplotlib.rc_context(_RC):
        ax = _axes(ax, (3.4, 3.4))
        cohorts = list(dict.fromkeys([*grouped.get("cohort", pd.Series(dtype=str)),
                                      *(curve["cohort"] if curve is not None and len(curve)
                                        else [])]))
        top = 0.05
        for i, cohort in enumerate(cohorts):
            g = grouped[grouped["cohort"] == cohort] if len(grouped) else grouped
            if len(g):
                x, y = g["mean_predicted"].to_numpy(float), g["observed"].to_numpy(float)
                ax.errorbar(x, y, yerr=[y - g["ci_low"].to_numpy(float),
                                        g["ci_high"].to_numpy(float) - y],
                            fmt="o", ms=3.5, capsize=2, color=_colour(i),
                            label=mpl_text(cohort))
                top = max(top, float(pd.Series([*x, *g["ci_high"]]).max()))
            if curve is not None and len(curve):
                c = curve[curve["cohort"] == cohort].sort_values("predicted")
                ax.plot(c["predicted"], c["observed"], color=_colour(i), ls=_STYLES[i % 4],
                        lw=1, label=None if len(g) else mpl_text(cohort))
                obs = pd.to_numeric(c["observed"], errors="coerce")
                if obs.notna().any():
                    top = max(top, float(obs.max()), float(c["predicted"].max()))
        lim = min(1.0, 1.1 * top) if math.isfinite(top) else 1.0
        ax.plot([0, lim], [0, lim], color="0.5", lw=0.8, ls=":")
        ax.set_xlim(0, lim)
        ax.set_ylim(0, lim)
        ax.set_xlabel("predicted risk")
        ax.set_ylabel("observed risk (Kaplan-Meier)")
        if title:
            ax.set_title(mpl_text(title))
        ax.legend(frameon=False)
    return ax


def survival_decision_plot(data: pd.DataFrame, *, ax: Any = None, title: str = "",
                           max_threshold: float = 0.6) -> Any:
    """Net benefit against the threshold probability at one horizon, per cohort, with
    treat-all (thin, same colour) and treat-none.

    Parameters
    ----------
    data : DataFrame
        ``cohort, threshold, net_benefit, treat_all`` (results.json
        ``survival.decision`` of one horizon).
    ax : matplotlib Axes, optional
    title : str
    max_threshold : float
        Right end of the threshold axis.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib

    with matplotlib.rc_context(_RC):
        ax = _axes(ax, (3.4, 3.0))
        d_all = data[data["threshold"] <= max_threshold]
        lo, hi = 0.0, 0.0
        for i, (cohort, d) in enumerate(d_all.groupby("cohort", sort=False)):
            d = d.sort_values("threshold")
            ax.plot(d["threshold"], d["net_benefit"], color=_colour(i), ls=_STYLES[i % 4],
                    label=mpl_text(cohort))
            ax.plot(d["threshold"], d["treat_all"], color=_colour(i), lw=0.6, alpha=0.7)
            nb = pd.to_numeric(d["net_benefit"], errors="coerce")
            hi = max(hi, float(nb.max()) if nb.notna().any() else 0.0)
            lo = min(lo, float(nb.min()) if nb.notna().any() else 0.0)
        ax.axhline(0.0, color="0.3", lw=0.8)
        span = max(hi, 0.05)
        ax.set_ylim(max(lo, -0.25 * span) - 0.02 * span, 1.1 * span)
        ax.set_xlim(0, max_threshold)
        ax.set_xlabel("threshold probability")
        ax.set_ylabel("net benefit")
        if title:
            ax.set_title(mpl_text(title))
        ax.legend(frameon=False)
    return ax


def _save(fig: Any, out_dir: Path, name: str) -> Path:
    """SVG, PDF and PNG as the other report figures (:data:`figures.SAVE_OPTIONS`)."""
    import matplotlib

    from radval.report.figures import SAVE_OPTIONS

    out_dir.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(_RC):
        formats = set(SAVE_OPTIONS["formats"]) | {"png"}
        if "svg" in formats:
            fig.savefig(out_dir / f"{name}.svg", bbox_inches="tight",
                        metadata={"Date": None})
        if "pdf" in formats:
            fig.savefig(out_dir / f"{name}.pdf", bbox_inches="tight",
                        metadata={"CreationDate": None})
        fig.savefig(out_dir / f"{name}.png", dpi=int(SAVE_OPTIONS["dpi"]), bbox_inches="tight")
    return out_dir / f"{name}.png"


def _panels(n: int, width: float, height: float) -> tuple[Any, list[Any]]:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width * n, height))
        axes = fig.subplots(1, n, squeeze=False)[0]
        # the tight bounding box at saving trims the margins; labels from the results can
        # be long, so no layout engine that shrinks the axes to nothing
        fig.subplots_adjust(wspace=0.35)
    return fig, list(axes)


# --------------------------------------------------------------------------- text
def _unit(surv: Mapping[str, Any]) -> str:
    return str(surv.get("time_unit") or "")


def _h(x: Any) -> str:
    return f"{float(x):g}"


def survival_tripod_values(results: Mapping[str, Any]) -> dict[str, str]:
    """Plain-text values of the ``{fields}`` of the TRIPOD+AI time-to-event templates."""
    surv = as_mapping(results.get("survival"))
    summ = frame(results, "survival", "summary")
    unit = _unit(surv)
    horizons = ", ".join(_h(h) for h in surv.get("horizons") or []) or "none"
    out = {"time": str(surv.get("time") or ""), "event": str(surv.get("event") or ""),
           "time_unit": unit, "horizons": horizons, "cutoff": fmt_num(surv.get("cutoff"), 3),
           "n_resamples": str(as_mapping(results.get("internal_validation"))
                              .get("n_resamples", 0))}
    if len(summ):
        out["follow_up"] = "; ".join(f"{c} {fmt_num(m, 1)}" for c, m in
                                     zip(summ["cohort"], summ.get("median_follow_up",
                                                                  [None] * len(summ))))
        longest = pd.to_numeric(summ["max_follow_up"], errors="coerce") \
            if "max_follow_up" in summ else pd.Series(dtype=float)
        out["max_follow_up"] = fmt_num(longest.max(), 1)
        out["events"] = "; ".join(f"{c} {e} events in {n} patients" for c, e, n in
                                  zip(summ["cohort"], summ["events"], summ["n"]))
        perf = []
        auc = frame(results, "survival", "time_dependent_auc")
        for rec in summ.to_dict(orient="records"):
            uno = fmt_ci(rec.get("c_uno"), rec.get("c_uno_ci_low"), rec.get("c_uno_ci_high"), 3)
            part = (f"{rec['cohort']}: Harrell's C "
                    f"{fmt_ci(rec.get('c_index'), _lo(rec), _hi(rec), 3)}, Uno's C {uno}")
            if len(auc):
                a = auc[auc["cohort"] == rec["cohort"]]
                part += "".join(f", AUC({_h(r['horizon'])}) "
                                f"{fmt_ci(r['auc'], r['ci_low'], r['ci_high'], 3)}"
                                for r in a.to_dict(orient="records"))
            perf.append(part)
        out["performance"] = "; ".join(perf)
    model = as_mapping(surv.get("survival_model"))
    if model:
        kind = ("Cox proportional-hazards model of the signature's linear predictor and "
                f"{', '.join(p[0] for p in model.get('predictors', []))}"
                if model.get("kind") == "cox" else
                "Cox proportional-hazards model of the signature's linear predictor alone "
                "(calibration of the score into absolute risks)")
        out["model_type"] = kind
        terms = " + ".join(f"{fmt_num(b, 4)} × ({x} − {fmt_num(m, 4)})" for b, x, m in
                           zip(model.get("coef", []), model.get("inputs", []),
                               model.get("means", [])))
        base = ", ".join(f"S0({_h(h)}) = {fmt_num(s, 4)}" for h, s in
                         zip(model.get("horizons", []), model.get("baseline_survival", [])))
        out["model_formula"] = (f"risk(t) = 1 − S0(t)^exp(lp), lp = {terms}; baseline "
                                f"survival {base or 'not given'}")
    return out


def _lo(rec: Mapping[Any, Any]) -> float | None:
    """Lower limit of Harrell's C: C - z SE (the IJ standard error, as R's concordance)."""
    return _wald(rec, -1.0)


def _hi(rec: Mapping[Any, Any]) -> float | None:
    """Upper limit of Harrell's C."""
    return _wald(rec, 1.0)


def _wald(rec: Mapping[Any, Any], sign: float) -> float | None:
    c, se = rec.get("c_index"), rec.get("c_index_se")
    if c is None or se is None:
        return None
    try:
        return float(c) + sign * 1.959963984540054 * float(se)
    except (TypeError, ValueError):
        return None


def _discrimination_table(results: Mapping[str, Any]) -> pd.DataFrame:
    summ = frame(results, "survival", "summary")
    if summ.empty:
        return summ
    auc = frame(results, "survival", "time_dependent_auc")
    rows = []
    for rec in summ.to_dict(orient="records"):
        row = {"Cohort": str(rec["cohort"]), "n": str(rec["n"]), "Events": str(rec["events"]),
               "Median follow-up": fmt_num(rec.get("median_follow_up"), 1),
               "Harrell's C (95% CI)": fmt_ci(rec.get("c_index"), _lo(rec), _hi(rec), 3),
               "Uno's C (95% CI)": fmt_ci(rec.get("c_uno"), rec.get("c_uno_ci_low"),
                                          rec.get("c_uno_ci_high"), 3)}
        if len(auc):
            for r in auc[auc["cohort"] == rec["cohort"]].to_dict(orient="records"):
                row[f"AUC({_h(r['horizon'])})"] = fmt_ci(r["auc"], r["ci_low"], r["ci_high"], 3)
        rows.append(row)
    return pd.DataFrame(rows)


def _risk_group_table(results: Mapping[str, Any]) -> pd.DataFrame:
    rg = frame(results, "survival", "risk_groups")
    if rg.empty:
        return rg
    return pd.DataFrame({
        "Cohort": rg["cohort"].astype(str), "Risk group": rg["group"].astype(str),
        "n": rg["n"].astype(str), "Events": rg["events"].astype(str),
        "Median (95% CI)": [fmt_ci(m, lo, hi, 1) for m, lo, hi in
                            zip(rg["median"], rg["median_ci_low"], rg["median_ci_high"])],
        "HR (95% CI)": [("1 (reference)" if g == "low risk" else fmt_ci(h, lo, hi))
                        for g, h, lo, hi in zip(rg["group"], rg["hr"], rg["hr_ci_low"],
                                                rg["hr_ci_high"])],
        "p": [fmt_p(p) for p in rg["hr_p"]]})


def _calibration_table(results: Mapping[str, Any]) -> pd.DataFrame:
    cal = frame(results, "survival", "calibration")
    if cal.empty:
        return cal
    br = frame(results, "survival", "brier")
    key = br.set_index(["cohort", "horizon"]) if len(br) else None
    rows = []
    for r in cal.to_dict(orient="records"):
        b = key.loc[(r["cohort"], r["horizon"])] if key is not None and \
            (r["cohort"], r["horizon"]) in key.index else {}
        rows.append({"Cohort": str(r["cohort"]), "Horizon": _h(r["horizon"]),
                     "Observed risk": fmt_num(r.get("observed_risk"), 3),
                     "Mean predicted": fmt_num(r.get("mean_predicted"), 3),
                     "O/E (95% CI)": fmt_ci(r.get("o_e_ratio"), r.get("o_e_ci_low"),
                                            r.get("o_e_ci_high")),
                     "Slope (95% CI)": fmt_ci(r.get("slope"), r.get("slope_ci_low"),
                                              r.get("slope_ci_high")),
                     "ICI": fmt_num(r.get("ici"), 3),
                     "Brier": fmt_num(b.get("brier") if len(b) else None, 3),
                     "IPA": fmt_num(b.get("ipa") if len(b) else None, 3)})
    return pd.DataFrame(rows)


def _optimism_table(results: Mapping[str, Any]) -> pd.DataFrame:
    opt = frame(results, "survival", "optimism")
    if opt.empty:
        return opt
    names = {"c_harrell": "Harrell's C", "c_uno": "Uno's C"}
    return pd.DataFrame({
        # the C-index rows carry no horizon (None in results.json)
        "Index": [names[m] if m in names else f"AUC({_h(h)})"
                  for m, h in zip(opt["metric"], opt["horizon"])],
        "Apparent": [fmt_num(v, 3) for v in opt["apparent"]],
        "Optimism": [fmt_num(v, 3) for v in opt["optimism"]],
        "Corrected": [fmt_num(v, 3) for v in opt["corrected"]],
        "Resamples": opt["n_resamples"].astype(str)})


def _model_table(results: Mapping[str, Any]) -> pd.DataFrame:
    m = as_mapping(as_mapping(results.get("survival")).get("survival_model"))
    if not m:
        return pd.DataFrame()
    rows = [{"Term": str(x), "Coefficient": fmt_num(b, 4),
             "HR": fmt_num(math.exp(b), 3) if b is not None else "–", "SE": fmt_num(s, 4),
             "Development mean": fmt_num(mu, 4)}
            for x, b, s, mu in zip(m.get("inputs", []), m.get("coef", []), m.get("se", []),
                                   m.get("means", []))]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- section
def survival_section(results: Mapping[str, Any], out_dir: str | Path, *,
                     include_km: bool = False, level: int = 3,
                     sections: set[str] | None = None) -> SurvivalSection:
    """The time-to-event section: markdown, figures and tables (module docstring).

    Parameters
    ----------
    results : mapping
        results.json as a dict (:class:`radval.contracts.ResultsFile` data).
    out_dir : path
        Report folder: figures go to ``figures/``, tables to ``tables/``.
    include_km : bool
        Add the Kaplan-Meier figure (:func:`radval.report.figures.km_figure`); the main
        report draws it already.
    level : int
        Heading level of the subsections.
    sections : set of str, optional
        Section ids of the whole report, for the links of the TRIPOD+AI items (default:
        this section's).

    Returns
    -------
    SurvivalSection
        Empty markdown when the run has no ``survival`` block.
    """
    surv = as_mapping(results.get("survival"))
    if not surv:
        return SurvivalSection(markdown="")
    out = Path(out_dir)
    fig_dir, tab_dir = out / "figures", out / "tables"
    unit = _unit(surv)
    parts: list[str] = []
    figures: dict[str, Path] = {}
    tables: dict[str, Path] = {}
    secs = {"sec-survival-validation"}
    hashes = "#" * level

    def table(df: pd.DataFrame, label: str, caption: str) -> bool:
        if df.empty:
            return False
        tables[label] = write_csv(df, tab_dir / f"{label}.csv")
        parts.append(to_pipe(df, caption, label))
        return True

    def figure(label: str, png: Path | None, caption: str) -> None:
        if png is None:
            return
        figures[label] = png
        parts.append(f"![{md_text(caption)}]({png.relative_to(out).as_posix()})"
                     f"{{#{label} width=100%}}\n")

    what = ("the frozen Cox model of the signature and the clinical predictors"
            if surv.get("validated") == "cox" else
            "the signature's score as a prognostic marker (absolute risks from its "
            "calibration by a Cox model fitted on the development cohort)")
    horizons = surv.get("horizons") or []
    parts.append(f"{hashes} Time-to-event validation {{#sec-survival-validation}}\n")
    parts.append(
        f"Validated: {md_text(what)}. Outcome: follow-up {md_text(surv.get('time'))}, "
        f"event {md_text(surv.get('event'))}; horizons "
        f"{md_text(', '.join(_h(h) for h in horizons) or 'none')} {md_text(unit)}. "
        "Risk groups: signature probability at or above the cut-off "
        f"{fmt_num(surv.get('cutoff'), 3)} frozen on the development cohort.\n")
    if include_km:
        from radval.report.figures import km_figure

        figure("fig-survival-km", km_figure(results, fig_dir),
               "Kaplan-Meier curves by risk group with numbers at risk.")
    table(_risk_group_table(results), "tbl-survival-risk-groups",
          "Risk groups: events, median event-free time and hazard ratio against the "
          "low-risk group (Cox).")
    table(_discrimination_table(results), "tbl-survival-discrimination",
          f"Discrimination of the time-to-event marker: Harrell's and Uno's C and the "
          f"time-dependent AUC (IPCW) at each horizon ({unit}).")
    auc = frame(results, "survival", "time_dependent_auc")
    if len(auc) and auc["auc"].notna().any():
        ax = td_auc_plot(auc.dropna(subset=["auc"]), time_unit=unit)
        figure("fig-survival-auc", _save(ax.figure, fig_dir, "fig-survival-auc"),
               "Time-dependent AUC (95% CI) over the horizons, per cohort.")
    opt = _optimism_table(results)
    if table(opt, "tbl-survival-optimism",
             "Bootstrap optimism of the time-to-event discrimination (development cohort)."):
        parts.append("The optimism comes from the same bootstrap resamples as the binary "
                     "endpoint: each resample's refitted signature (and Cox model) is "
                     "evaluated on the resample and on the development cohort.\n")
    cal_g = frame(results, "survival", "calibration_grouped")
    cal_c = frame(results, "survival", "calibration_curve")
    if len(cal_g) or len(cal_c):
        hs = sorted({float(h) for h in [*cal_g.get("horizon", []), *cal_c.get("horizon", [])]})
        fig, axes = _panels(len(hs), 3.2, 3.3)
        for ax, hz in zip(axes, hs):
            survival_calibration_plot(
                cal_g[cal_g["horizon"] == hz] if len(cal_g) else cal_g,
                cal_c[cal_c["horizon"] == hz] if len(cal_c) else None, ax=ax,
                title=f"{_h(hz)} {unit}")
        figure("fig-survival-calibration", _save(fig, fig_dir, "fig-survival-calibration"),
               "Calibration at each horizon: Kaplan-Meier risk by tenth of predicted risk "
               "(95% CI) and the flexible calibration curve.")
    table(_calibration_table(results), "tbl-survival-calibration",
          "Accuracy and calibration of the absolute risks at each horizon.")
    dca = frame(results, "survival", "decision")
    if len(dca):
        hs = sorted({float(h) for h in dca["horizon"]})
        fig, axes = _panels(len(hs), 3.2, 3.0)
        for ax, hz in zip(axes, hs):
            survival_decision_plot(dca[dca["horizon"] == hz], ax=ax, title=f"{_h(hz)} {unit}")
        figure("fig-survival-dca", _save(fig, fig_dir, "fig-survival-dca"),
               "Decision curves at each horizon (thin lines: treat all; 0: treat none).")
    table(_model_table(results), "tbl-survival-model",
          "The frozen time-to-event model (baseline survival at the horizons in the text).")
    vals = survival_tripod_values(results)
    if "model_formula" in vals:
        parts.append(f"Absolute risk: {md_text(vals['model_formula'])}.\n")
    from radval.report.tripod import time_to_event_items

    known = (sections or set()) | secs | {"sec-survival"}
    tri = time_to_event_items(results, vals, sections=known)
    if len(tri):
        parts.append(f"{hashes}# TRIPOD+AI items for the time-to-event outcome "
                     "{#sec-survival-tripod}\n")
        secs.add("sec-survival-tripod")
        df = pd.DataFrame({"Item": tri["item"], "Topic": tri["topic"], "Status": tri["status"],
                           "Reported here": [t or "–" for t in tri["text"]]})
        table(df, "tbl-survival-tripod", "TRIPOD+AI items a time-to-event outcome adds to, "
              "filled from this run.")
    return SurvivalSection(markdown="\n".join(parts), figures=figures, tables=tables,
                           sections=secs)


def _build(ctx: Any) -> Any:
    """Report-section builder (:mod:`radval.report._sections` protocol): the validation of
    the time-to-event endpoint as subsections of the secondary-endpoint section."""
    from radval.report._sections import Section

    sec = survival_section(ctx.raw, ctx.out, level=2, sections=ctx.sections or None)
    if not sec.markdown:
        return None
    return Section(markdown=sec.markdown, figures=dict(sec.figures), tables=dict(sec.tables))


def _spec() -> Any:
    from radval.report._sections import SectionSpec

    # after the Kaplan-Meier curves of the main report's secondary endpoint (order 70)
    return SectionSpec(key="survival-validation", build=_build, placement="main", order=72)


#: The section of :mod:`radval.report.document`'s registry.
SECTION = _spec()
