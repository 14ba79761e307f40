"""The report's calibration and net benefit per subgroup level (fairness checks,
TRIPOD+AI items 14 and 23), from the typed results: the signature's flexible calibration
curves per level with bootstrap bands, its calibration-in-the-large, slope and O/E, its
net benefit at the key thresholds, and Cochran's Q test of equality across the levels.

One section builder (protocol: :mod:`radval.report._sections`), in the supplement after
the subgroup AUCs (order 172) and a sub-section of them when they were reported.  The
helpers are those of :mod:`radval.report._calibration_utility`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report._calibration_utility import (
    _at,
    _cohorts,
    _finite,
    _key_thresholds,
    _level,
    _save,
    _text,
    _width,
    _wrap,
)
from radval.report._data import ReportData
from radval.report._escape import md_text, mpl_text
from radval.report._sections import Section, SectionContext, SectionSpec
from radval.report.tables import fmt_ci, fmt_num, fmt_p, grouped

__all__ = ["SECTION", "SECTIONS", "subgroup_detail"]

_MEASURE = {"citl": "calibration-in-the-large", "slope": "calibration slope",
            "log_o_e": "log O/E", "net_benefit": "net benefit"}


def _subgroup_figure(ctx: SectionContext, curves: pd.DataFrame, model: str,
                     subgroups: list[str], cohorts: list[str]) -> Path:
    from radval.report._plots import new_figure, plot_calibration_band, style

    d = ctx.data
    with style():
        fig, axes = new_figure(len(subgroups), len(cohorts), squeeze=False, sharex=True,
                               sharey=True,
                               figsize=(2.4 * len(cohorts) + 0.6, 2.5 * len(subgroups)))
        for i, sg in enumerate(subgroups):
            rows = curves[(curves["model"] == model) & (curves["subgroup"] == sg)]
            order = list(dict.fromkeys(rows["level"].astype(str)))
            levels = {v: _wrap(d.labels.subgroup_level(sg, v), 22) for v in order}
            for j, c in enumerate(cohorts):
                g = rows[rows["cohort"] == c]
                # every level in the same order in every panel (an empty row for a level
                # without a curve): the primitive colours the lines by their order
                g = pd.concat([g[g["level"] == v] if (g["level"] == v).any() else
                               pd.DataFrame({"level": [v], "predicted": [math.nan],
                                             "observed": [math.nan], "ci_low": [math.nan],
                                             "ci_high": [math.nan]})
                               for v in order], ignore_index=True)
                plot_calibration_band(g, by="level", labels=levels,
                                      title=_wrap(d.labels.cohort(c)) if i == 0 else None,
                                      legend=False, ax=axes[i, j])
                if j == 0:
                    axes[i, j].set_ylabel(
                        f"{mpl_text(_wrap(d.labels.subgroup(sg), 22))}\nobserved risk",
                        fontsize=7)
                if i == len(subgroups) - 1:
                    axes[i, j].set_xlabel("predicted probability", fontsize=7)
            # the levels' legend right of the row: inside a panel it hides the curves
            handles, names = axes[i, 0].get_legend_handles_labels()
            if len(names) > 1:
                axes[i, -1].legend(handles, names, loc="center left", frameon=False,
                                   fontsize=6.5, bbox_to_anchor=(1.02, 0.5))
        fig.tight_layout()
        return _save(ctx, fig, "fig-calibration-subgroup")


def _lin(est: Any, se: Any, z: float) -> float:
    return float(est) + z * float(se) if _finite(est) and _finite(se) else math.nan


def _exp(log_est: Any, se: Any, z: float) -> float:
    return math.exp(float(log_est) + z * float(se)) if _finite(log_est) and _finite(se) \
        else math.nan


def _measure(measure: Any, threshold: Any) -> str:
    text = _MEASURE.get(str(measure), str(measure))
    return f"{text} at threshold {float(threshold):g}" if _finite(threshold) else text


def _level_text(d: ReportData, subgroup: str, level: str) -> str:
    """``"Tumour size < 20 mm"``: the level, prefixed by its subgroup unless it names it."""
    name, text = d.labels.subgroup(subgroup), d.labels.subgroup_level(subgroup, level)
    return text if text.startswith(name) else f"{name}: {text}"


def _subgroup_table(d: ReportData, model: str) -> pd.DataFrame:
    cal = d.subgroup_calibration
    rows = []
    for r in cal[cal["model"] == model].to_dict(orient="records"):
        row = {"Cohort": d.labels.cohort(str(r["cohort"])),
               "Subgroup level": _level_text(d, str(r["subgroup"]), str(r["level"])),
               "n (events)": f"{int(r['n'])} ({int(r['events'])})"}
        if _text(r["undefined_reason"]) and not _finite(r["citl"]):
            row.update({"CITL": "–", "Slope": "–", "O/E": "–"})
        else:
            # Wald intervals from the recorded standard errors, at the run's level
            z = d.ci_z
            row["CITL"] = fmt_ci(r["citl"], _lin(r["citl"], r["citl_se"], -z),
                                 _lin(r["citl"], r["citl_se"], z))
            row["Slope"] = fmt_ci(r["slope"], _lin(r["slope"], r["slope_se"], -z),
                                  _lin(r["slope"], r["slope_se"], z))
            row["O/E"] = fmt_ci(r["o_e"], _exp(r["log_o_e"], r["log_o_e_se"], -z),
                                _exp(r["log_o_e"], r["log_o_e_se"], z))
        rows.append(row)
    return pd.DataFrame(rows)


def _subgroup_nb_table(d: ReportData, model: str, keys: list[float]) -> pd.DataFrame:
    nb = d.order(d.subgroup_net_benefit, models=[model])
    rows = []
    for (c, sg, level), g in nb.groupby(["cohort", "subgroup", "level"], sort=False):
        row = {"Cohort": d.labels.cohort(str(c)),
               "Subgroup level": _level_text(d, str(sg), str(level)),
               "n (events)": f"{int(g['n'].iloc[0])} ({int(g['events'].iloc[0])})"}
        for t in keys:
            m = _at(g, t)
            row[f"Threshold {t:g}"] = fmt_ci(m.iloc[0]["net_benefit"], m.iloc[0]["ci_low"],
                                             m.iloc[0]["ci_high"], 3) if len(m) else "–"
        rows.append(row)
    return pd.DataFrame(rows)


def subgroup_detail(ctx: SectionContext) -> Section | None:
    """Supplement: calibration and net benefit of the signature per subgroup level, with
    the tests of heterogeneity across the levels."""
    d = ctx.data
    cal, nb, het = d.subgroup_calibration, d.subgroup_net_benefit, d.subgroup_heterogeneity
    if cal.empty and nb.empty:
        return None
    present = list(dict.fromkeys((cal if not cal.empty else nb)["model"].astype(str)))
    model = d.signature_model if d.signature_model in present else present[0]
    name = md_text(d.labels.model(model))
    w = ctx.writer()
    w.h(_level(ctx, "sec-subgroups", 1), "Calibration and net benefit by subgroup",
        "sec-subgroup-calibration")
    w.p(f"Calibration and net benefit of the {name} in each subgroup level (fairness "
        "checks, TRIPOD+AI items 14 and 23), each with Cochran's Q test of equality across "
        "the levels (inverse-variance weights). Net benefit depends on the prevalence, so "
        "levels with different event rates differ in net benefit even with the same model "
        "performance. A level with one outcome class is reported as undefined. The "
        "estimates of every model are in results.json (subgroup_calibration, "
        "subgroup_net_benefit, subgroup_heterogeneity).")
    curves = d.calibration_subgroup
    if not curves.empty and (curves["model"] == model).any():
        sub_c = curves[curves["model"] == model]
        subgroups = list(dict.fromkeys(sub_c["subgroup"].astype(str)))
        cohorts = _cohorts(d, sub_c)
        if w.figure("fig-calibration-subgroup", f"Calibration curves of the "
                    f"{d.labels.model(model)} by subgroup level with {d.ci} bootstrap bands; "
                    "rows are subgroups, columns cohorts.",
                    draw=lambda: _subgroup_figure(ctx, curves, model, subgroups, cohorts),
                    width=_width(len(cohorts), 14)):
            w.p("@fig-calibration-subgroup shows the calibration curves per level.")
    if not cal.empty:
        df = _subgroup_table(d, model)
        if w.table(df, "tbl-subgroup-calibration", "Calibration-in-the-large (CITL), "
                   f"calibration slope and O/E ({d.ci} CIs) of the {d.labels.model(model)} by "
                   "subgroup level.", markdown=grouped(df, "Cohort")):
            w.p("@tbl-subgroup-calibration gives the calibration per level.")
    if not nb.empty:
        df = _subgroup_nb_table(d, model, _key_thresholds(d))
        if w.table(df, "tbl-subgroup-net-benefit", f"Net benefit ({d.ci} CI) of the "
                   f"{d.labels.model(model)} by subgroup level at the key threshold "
                   "probabilities.", markdown=grouped(df, "Cohort")):
            w.p("@tbl-subgroup-net-benefit gives the net benefit per level.")
    if not het.empty:
        h = het[het["model"] == model]
        df = pd.DataFrame({
            "Cohort": [d.labels.cohort(str(c)) for c in h["cohort"]],
            "Subgroup": [d.labels.subgroup(str(s)) for s in h["subgroup"]],
            "Measure": [_measure(m, t) for m, t in zip(h["measure"], h["threshold"],
                                                        strict=True)],
            "Q (df)": [f"{fmt_num(q, 2)} ({fmt_num(k, 0)})" if _finite(q) else "–"
                       for q, k in zip(h["statistic"], h["df"], strict=True)],
            "p": [fmt_p(p) for p in h["p_value"]],
            "Note": [_text(r) or "" for r in h["undefined_reason"]]})
        if not df["Note"].astype(bool).any():
            df = df.drop(columns="Note")
        if w.table(df, "tbl-subgroup-heterogeneity", "Heterogeneity of the "
                   f"{d.labels.model(model)} across subgroup levels: Cochran's Q "
                   "(chi-square, k − 1 df).", markdown=grouped(df, "Cohort")):
            w.p("@tbl-subgroup-heterogeneity tests whether the levels differ.")
    return w.section()


SECTION = SectionSpec(key="subgroup-calibration", build=subgroup_detail,
                      placement="supplement", order=172)

#: The registry entries of this module (:mod:`radval.report.document`).
SECTIONS = [SECTION]
