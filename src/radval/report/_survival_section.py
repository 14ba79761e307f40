"""The validation of the time-to-event endpoint (results.json ``survival``) in the report.

Two section builders (protocol of :mod:`radval.report._sections`):

* :data:`SECTION` (main report, order 72, a subsection of the secondary endpoint's
  Kaplan-Meier curves and hazard ratios at order 70): what was validated, discrimination
  over the horizons (Harrell's and Uno's C, AUC(t)) and, at the main horizon
  (:func:`main_horizon`), calibration and net benefit of the absolute risks;
* :data:`SUPPLEMENT_SECTION` (supplement, order 175): the risk groups, AUC(t) over the
  horizons, the optimism correction, calibration and decision curves at every horizon,
  the frozen model with its absolute-risk formula, and the TRIPOD+AI items a
  time-to-event outcome adds to (:func:`radval.report.tripod.time_to_event_items`,
  filled by :func:`survival_tripod_values`).

The figures are drawn by :mod:`radval.report._survival_figures` (:func:`td_auc_plot`,
:func:`survival_calibration_plot`, :func:`survival_decision_plot`, re-exported here),
from the tidy ``survival`` tables of :class:`radval.report._data.ReportData`.

Every text that comes from the results (cohort, model, variable names, units) goes
through :func:`radval.report._escape.md_text` where it enters the markdown (the
writer's tables and captions do it) and :func:`radval.report._escape.mpl_text` where it
enters a figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval.contracts._results import ResultsFile, Survival
from radval.report import tables as T
from radval.report._data import ReportData, in_sentence
from radval.report._escape import md_identifier, md_text
from radval.report._sections import Section, SectionContext, SectionSpec
from radval.report._survival_figures import (
    _at,
    _h,
    _num,
    _unit,
    auc_figure,
    horizon_figure,
    per_horizon_figure,
    survival_calibration_plot,
    survival_decision_plot,
    td_auc_plot,
)
from radval.report.tables import fmt_ci, fmt_num

__all__ = ["SECTION", "SECTIONS", "SUPPLEMENT_SECTION", "build_detail", "build_main",
           "main_horizon", "survival_calibration_plot", "survival_decision_plot",
           "survival_tripod_values", "td_auc_plot"]


# --------------------------------------------------------------------------- text
def _and(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _wald(c: Any, se: Any, z: float) -> float | None:
    """A limit of Harrell's C: C + z SE (the infinitesimal-jackknife SE, as R's
    ``survival::concordance``), ``z`` signed (``-ReportData.ci_z`` for the lower limit:
    the interval is at the run's level)."""
    if not (T._finite(c) and T._finite(se)):
        return None
    return float(c) + z * float(se)


def main_horizon(d: ReportData) -> float | None:
    """The horizon shown in the main report: the middle one (the later of the two middle
    ones for an even number) of the horizons at which the absolute risks were assessed
    (calibration, else decision curves); ``None`` when there are none.  The study file
    names no primary horizon; the middle one is neither the earliest (few events) nor
    the latest (few patients still followed)."""
    for df, col in ((d.survival_calibration, "observed_risk"),
                    (d.survival_decision, "net_benefit")):
        if df.empty:
            continue
        ok = df[pd.notna(_num(df[col]))]
        hs = sorted({float(h) for h in _num(ok["horizon"]) if math.isfinite(h)})
        if hs:
            return hs[len(hs) // 2]
    return None


def _term(d: ReportData, surv: Survival, term: str) -> str:
    """A design column of the survival model as a reader names it."""
    if term == "signature":
        return f"{d.labels.model(surv.model)} (linear predictor)"
    return T.predictor_label(d, term)


def survival_tripod_values(results: ReportData | ResultsFile | Mapping[str, Any]
                           ) -> dict[str, str]:
    """Plain-text values of the ``{fields}`` of the TRIPOD+AI time-to-event templates
    (``time_to_event.text`` of ``templates/tripod.yaml``).

    Parameters
    ----------
    results : ReportData, ResultsFile or its dict form (validated)

    Returns
    -------
    dict
        Field -> text, with display names for cohorts and variables; empty when the run
        has no time-to-event endpoint.  The text is not escaped (the caller escapes it
        where it enters the document).
    """
    d = results if isinstance(results, ReportData) else ReportData.build(results)
    surv = d.results.survival
    if surv is None:
        return {}
    unit = _unit(surv)
    iv = d.results.internal_validation
    opt = d.survival_optimism
    resamples = iv.n_resamples if iv is not None else \
        int(pd.Series(opt["n_resamples"]).max()) if len(opt) else 0
    out = {"time": d.labels.variable(surv.time, unit=False) if surv.time else "–",
           "event": d.labels.variable(surv.event, unit=False) if surv.event else "–",
           "time_unit": unit,
           "horizons": ", ".join(_h(h) for h in surv.horizons or []) or "none",
           "cutoff": fmt_num(surv.cutoff, 3), "n_resamples": str(resamples), "ci": d.ci}
    summ = d.survival_summary
    if len(summ):
        name = {c: d.labels.cohort(c) for c in summ["cohort"]}
        out["follow_up"] = "; ".join(f"{name[c]} {fmt_num(m, 1)}" for c, m in
                                     zip(summ["cohort"], summ["median_follow_up"]))
        out["max_follow_up"] = fmt_num(pd.Series(_num(summ["max_follow_up"])).max(), 1)
        out["events"] = "; ".join(f"{name[c]} {e} events in {n} patients" for c, e, n in
                                  zip(summ["cohort"], summ["events"], summ["n"]))
        auc = d.survival_auc
        perf = []
        for rec in summ.to_dict(orient="records"):
            c, se = rec["c_index"], rec["c_index_se"]
            harrell = fmt_ci(c, _wald(c, se, -d.ci_z), _wald(c, se, d.ci_z), 3)
            uno = fmt_ci(rec["c_uno"], rec["c_uno_ci_low"], rec["c_uno_ci_high"], 3)
            part = f"{name[rec['cohort']]}: Harrell's C {harrell}, Uno's C {uno}"
            for r in auc[auc["cohort"] == rec["cohort"]].to_dict(orient="records"):
                ci = fmt_ci(r["auc"], r["ci_low"], r["ci_high"], 3)
                part += f", AUC({_h(r['horizon'])}) {ci}"
            perf.append(part)
        out["performance"] = "; ".join(perf)
    model = surv.survival_model
    if model is not None:
        sig = f"the linear predictor of the {d.labels.model(surv.model)}"
        preds = [d.labels.variable(p[0], unit=False) for p in model.predictors]
        out["model_type"] = (f"Cox proportional-hazards model of {sig} and {_and(preds)}"
                             if model.kind == "cox" and preds else
                             f"Cox proportional-hazards model of {sig} alone (calibration "
                             "of the score into absolute risks)")
        terms = []
        for i, (b, x, m) in enumerate(zip(model.coef, model.inputs, model.means)):
            sign = "" if i == 0 else (" − " if b < 0 else " + ")
            coef = fmt_num(b if i == 0 else abs(b), 4)
            centre = f" − {fmt_num(m, 4)}" if m >= 0 else f" + {fmt_num(-m, 4)}"
            terms.append(f"{sign}{coef} × ({_term(d, surv, x)}{centre})")
        base = ", ".join(f"S0({_h(h)}) = {fmt_num(s, 4)}" for h, s in
                         zip(model.horizons, model.baseline_survival))
        out["model_formula"] = (f"risk(t) = 1 − S0(t)^exp(lp), lp = {''.join(terms)}; "
                                f"baseline survival {base or 'not given'}")
    return out


# --------------------------------------------------------------------------- tables
def discrimination_table(d: ReportData) -> pd.DataFrame:
    """Per cohort: n (events), median follow-up, Harrell's and Uno's C and AUC(t) at each
    horizon, with CIs at the run's level."""
    summ = d.survival_summary
    if summ.empty:
        return pd.DataFrame()
    unit = _unit(d.results.survival)
    median = f"Median follow-up{', ' + unit if unit else ''}"
    auc = d.survival_auc
    rows = []
    for rec in summ.to_dict(orient="records"):
        c, se = rec["c_index"], rec["c_index_se"]
        row = {"Cohort": d.labels.cohort(rec["cohort"]),
               "n (events)": f"{rec['n']} ({rec['events']})",
               median: fmt_num(rec["median_follow_up"], 1),
               f"Harrell's C ({d.ci} CI)": fmt_ci(c, _wald(c, se, -d.ci_z),
                                                  _wald(c, se, d.ci_z)),
               f"Uno's C ({d.ci} CI)": fmt_ci(rec["c_uno"], rec["c_uno_ci_low"],
                                              rec["c_uno_ci_high"])}
        for r in auc[auc["cohort"] == rec["cohort"]].to_dict(orient="records"):
            row[f"AUC at {_h(r['horizon'])} {unit}".rstrip() + f" ({d.ci} CI)"] = \
                fmt_ci(r["auc"], r["ci_low"], r["ci_high"])
        rows.append(row)
    out = pd.DataFrame(rows)
    if (out[median] == "–").all():  # an older run without follow-up
        out = out.drop(columns=[median])
    return out.fillna("–")


def _undefined_notes(d: ReportData) -> list[str]:
    """Why an index is missing (–) from the discrimination table."""
    notes = []
    summ, auc = d.survival_summary, d.survival_auc
    for rec in summ.to_dict(orient="records"):
        if not T._finite(rec["c_index"]) and rec["undefined_reason"]:
            notes.append(f"C in {d.labels.cohort(rec['cohort'])}: {rec['undefined_reason']}")
    short = [d.labels.cohort(c) for c, m in zip(summ["cohort"], summ["median_follow_up"])
             if not T._finite(m)]
    if short and len(short) < len(summ):  # all missing: an older run, the column is dropped
        notes.append(f"median follow-up in {_and(short)}: the reverse Kaplan-Meier curve "
                     "does not reach 0.5")
    unit = _unit(d.results.survival)
    for rec in auc.to_dict(orient="records"):
        if not T._finite(rec["auc"]) and rec["undefined_reason"]:
            notes.append(f"AUC at {_h(rec['horizon'])} {unit} in "
                         f"{d.labels.cohort(rec['cohort'])}: {rec['undefined_reason']}")
    return [f"– not estimable ({'; '.join(notes)})"] if notes else []


def calibration_table(d: ReportData, horizon: float | None = None) -> pd.DataFrame:
    """Accuracy and calibration of the absolute risks per cohort (and horizon): observed
    (Kaplan-Meier) and mean predicted risk, O/E and slope with CIs, ICI, Brier score
    and IPA; one horizon when ``horizon`` is given (no horizon column)."""
    cal = d.survival_calibration
    if horizon is not None:
        cal = _at(cal, horizon)
    if cal.empty:
        return pd.DataFrame()
    br = d.survival_brier
    key = {(str(r["cohort"]), float(r["horizon"])): r for r in br.to_dict(orient="records")}
    unit = _unit(d.results.survival)
    rows = []
    for r in cal.to_dict(orient="records"):
        b = key.get((str(r["cohort"]), float(r["horizon"])), {})
        row = {"Cohort": d.labels.cohort(r["cohort"])}
        if horizon is None:
            row[f"Horizon{', ' + unit if unit else ''}"] = _h(r["horizon"])
        row.update({
            "n (events)": f"{r['n']} ({r['events']})",
            "Observed risk": fmt_num(r["observed_risk"], 3),
            "Mean predicted risk": fmt_num(r["mean_predicted"], 3),
            f"O/E ({d.ci} CI)": fmt_ci(r["o_e_ratio"], r["o_e_ci_low"], r["o_e_ci_high"]),
            f"Slope ({d.ci} CI)": fmt_ci(r["slope"], r["slope_ci_low"], r["slope_ci_high"]),
            "ICI": fmt_num(r["ici"], 3),
            "Brier": fmt_num(b.get("brier"), 3),
            "IPA": fmt_num(b.get("ipa"), 3)})
        rows.append(row)
    return pd.DataFrame(rows)


def _median_text(m: Any, lo: Any, hi: Any) -> str:
    """Median event-free time (CI): "not reached", and "NR" for a limit the curve
    does not reach (survfit's NA)."""
    if not T._finite(m):
        return "not reached"
    if not T._finite(lo) and not T._finite(hi):
        return fmt_num(m, 1)
    return (f"{fmt_num(m, 1)} ({fmt_num(lo, 1) if T._finite(lo) else 'NR'}–"
            f"{fmt_num(hi, 1) if T._finite(hi) else 'NR'})")


_REFERENCE = "low risk"  # RiskGroupRow.group: "low risk" or "high risk"


def risk_group_table(d: ReportData) -> pd.DataFrame:
    """Per cohort and risk group: n, events, median event-free time and the hazard ratio
    against the low-risk group."""
    rg = d.survival_risk_groups
    if rg.empty:
        return pd.DataFrame()
    unit = _unit(d.results.survival)
    return pd.DataFrame({
        "Cohort": [d.labels.cohort(c) for c in rg["cohort"]],
        "Risk group": rg["group"].astype(str),
        "n (events)": [f"{n} ({e})" for n, e in zip(rg["n"], rg["events"])],
        f"Median event-free time{', ' + unit if unit else ''} ({d.ci} CI)":
            [_median_text(m, lo, hi) for m, lo, hi in
             zip(rg["median"], rg["median_ci_low"], rg["median_ci_high"])],
        # the low-risk group is the reference (HR 1, no interval or p-value); a cohort
        # whose patients all fall in one group has no hazard ratio (null)
        f"HR ({d.ci} CI)": [("1 (reference)" if g == _REFERENCE and T._finite(h)
                         else fmt_ci(h, lo, hi))
                        for g, h, lo, hi in zip(rg["group"], rg["hr"], rg["hr_ci_low"],
                                                rg["hr_ci_high"])],
        "p": [T.fmt_p(p) for p in rg["hr_p"]]})


_INDEX = {"c_harrell": "Harrell's C", "c_uno": "Uno's C"}


def optimism_table(d: ReportData) -> pd.DataFrame:
    """Apparent, optimism and corrected value of each discrimination index."""
    opt = d.survival_optimism
    if opt.empty:
        return pd.DataFrame()
    unit = _unit(d.results.survival)
    return pd.DataFrame({
        # the C-index rows carry no horizon (null in results.json)
        "Index": [_INDEX.get(m) or f"AUC at {_h(h)} {unit}".rstrip()
                  for m, h in zip(opt["metric"], _num(opt["horizon"]))],
        "Apparent": [fmt_num(v, 3) for v in opt["apparent"]],
        "Optimism": [fmt_num(v, 3) for v in opt["optimism"]],
        "Corrected": [fmt_num(v, 3) for v in opt["corrected"]],
        "Resamples": [str(v) for v in opt["n_resamples"]]})


def model_table(d: ReportData) -> pd.DataFrame:
    """The frozen Cox model: coefficient, hazard ratio, SE and development mean of each
    input."""
    surv = d.results.survival
    m = surv.survival_model if surv is not None else None
    if surv is None or m is None:
        return pd.DataFrame()
    return pd.DataFrame([
        {"Term": _term(d, surv, x), "Coefficient": fmt_num(b, 4),
         "HR": fmt_num(math.exp(b), 3) if T._finite(b) else "–", "SE": fmt_num(s, 4),
         "Development mean": fmt_num(mu, 4)}
        for x, b, s, mu in zip(m.inputs, m.coef, m.se, m.means)])


def _what(d: ReportData, surv: Survival) -> str:
    """What was validated (markdown, input escaped)."""
    name = md_text(d.labels.model(surv.model))
    model = surv.survival_model
    if surv.validated == "cox":
        preds = [md_text(d.labels.variable(p[0], unit=False))
                 for p in (model.predictors if model is not None else [])]
        inputs = _and([f"the linear predictor of the {name}", *preds])
        return f"the Cox model of {inputs}, frozen on the development cohort"
    if surv.validated == "signature":
        return (f"the score of the {name} as a prognostic marker, its absolute risks from a "
                "Cox model of the score fitted on the development cohort")
    return f"the {name} as a prognostic marker"


def _has_detail(d: ReportData) -> bool:
    return any(not df.empty for df in (d.survival_risk_groups, d.survival_auc,
                                         d.survival_optimism, d.survival_calibration,
                                         d.survival_decision)) or \
        (d.results.survival is not None and d.results.survival.survival_model is not None)


# --------------------------------------------------------------------------- sections
def build_main(ctx: SectionContext) -> Section | None:
    """Main report: what was validated, discrimination over the horizons, calibration and
    net benefit at the main horizon."""
    d, surv = ctx.data, ctx.results.survival
    if surv is None:
        return None
    unit = md_text(_unit(surv))
    w = ctx.writer()
    # a subsection of the secondary endpoint (order 70) when that section is there
    w.h(2 if "sec-survival" in ctx.sections else 1, "Validation of the time-to-event "
        "predictions", "sec-survival-validation")
    text = f"Validated: {_what(d, surv)}."
    if surv.time and surv.event:
        text += (f" Outcome: follow-up time "
                 f"{md_text(in_sentence(d.labels.variable(surv.time, unit=False)))} and event "
                 f"indicator {md_text(in_sentence(d.labels.variable(surv.event, unit=False)))}"
                 " (1 = event)")
        text += (f"; horizons {_and([_h(h) for h in surv.horizons])} {unit}."
                 if surv.horizons else ".")
    if T._finite(surv.cutoff):
        km = isinstance(ctx.drawn.get("fig-km"), Path)
        text += (f" The risk groups{' of @fig-km' if km else ''} split the patients at the "
                 f"signature probability {fmt_num(surv.cutoff, 3)} frozen on the "
                 "development cohort.")
    w.p(text)
    disc = discrimination_table(d)
    if w.table(disc, "tbl-survival-discrimination",
               f"Discrimination of the time-to-event predictions: Harrell's C ({d.ci} Wald CI, "
               "infinitesimal-jackknife SE), Uno's C and the cumulative/dynamic AUC(t) "
               "(inverse probability of censoring weights) at each horizon; median "
               "follow-up by reverse Kaplan-Meier.", notes=_undefined_notes(d)):
        text = "@tbl-survival-discrimination gives the discrimination per cohort"
        opt = d.survival_optimism
        corr = [f"{_INDEX[m]}{' was' if not i else ''} {fmt_num(v, 2)}"
                for i, (m, v) in enumerate((m, v) for m, v in zip(opt["metric"],
                                                                  opt["corrected"])
                                           if m in _INDEX and T._finite(v))]
        if corr:
            text += (f"; corrected for optimism (bootstrap), {_and(corr)} in the development "
                     "cohort (@tbl-survival-optimism)")
        w.p(text + ".")
    h = main_horizon(d)
    if h is not None:
        at = f"{_h(h)} {_unit(surv)}".strip()
        drew_f = w.figure(
            "fig-survival-horizon",
            f"Absolute risks at {at}. Left: calibration, Kaplan-Meier risk by tenth of "
            f"predicted risk ({d.ci} CI) and the flexible calibration curve; dotted: ideal. "
            "Right: net benefit of the risks against the threshold probability (thin "
            "lines: treat all; 0: treat none).", width="90%",
            draw=lambda: horizon_figure(d, h, ctx.save))
        drew_t = w.table(calibration_table(d, h), "tbl-survival-calibration-main",
                         f"Accuracy and calibration of the absolute risks at {at}: "
                         "observed (Kaplan-Meier) and mean predicted risk, observed/expected "
                         "ratio, calibration slope, integrated calibration index, Brier "
                         "score and index of prediction accuracy (IPA).")
        refs = [x for x, ok in (("@fig-survival-horizon", drew_f),
                                ("@tbl-survival-calibration-main", drew_t)) if ok]
        if refs:
            n_h = len(surv.horizons or [])
            which = ("" if n_h < 2 else ", the later of the two horizons" if n_h == 2 else
                     f", the middle of the {n_h} horizons" if n_h % 2 else
                     ", the later of the two middle horizons")
            w.p(f"{' and '.join(refs)} show{'s' if len(refs) == 1 else ''} the absolute "
                f"risks at {md_text(at)}{which}"
                + ("; every horizon is in @sec-survival-calibration-all." if n_h > 1
                   else "."))
    if _has_detail(d):
        w.p("Risk groups, the optimism correction, calibration and decision curves at every "
            "horizon and the model's coefficients are in @sec-survival-detail.")
    return w.section()


def build_detail(ctx: SectionContext) -> Section | None:
    """Supplement: risk groups, AUC(t), optimism, calibration and decision curves at every
    horizon, the model, and the TRIPOD+AI items of the time-to-event outcome."""
    d, surv = ctx.data, ctx.results.survival
    if surv is None:
        return None
    unit = _unit(surv)
    w = ctx.writer()
    w.h(1, "Time-to-event endpoint", "sec-survival-detail")
    w.p("Detail of the validation of the time-to-event predictions "
        "(@sec-survival-validation).")
    if w.table(risk_group_table(d), "tbl-survival-risk-groups",
               "Risk groups (signature probability at or above the cut-off frozen on the "
               "development cohort: high risk): events, median event-free time (NR: not "
               "reached) and hazard ratio against the low-risk group (Cox)."):
        w.p("@tbl-survival-risk-groups describes the risk groups of the Kaplan-Meier "
            "curves.")
    if w.figure("fig-survival-auc", f"Time-dependent AUC ({d.ci} CI) over the horizons, per "
                "cohort; dotted: 0.5.", width="70%", draw=lambda: auc_figure(d, ctx.save)):
        w.p("@fig-survival-auc shows how the discrimination changes with the horizon.")
    if w.table(optimism_table(d), "tbl-survival-optimism",
               "Bootstrap optimism of the time-to-event discrimination on the development "
               "cohort: apparent value, optimism and corrected value."):
        w.p("@tbl-survival-optimism comes from the resamples of the binary endpoint: each "
            "resample's refitted signature (and Cox model) is evaluated on the resample "
            "and on the development cohort.")
    cal = calibration_table(d)
    if not cal.empty or not d.survival_decision.empty:
        w.h(2, "Calibration and clinical utility at every horizon",
            "sec-survival-calibration-all")
        drew_f = w.figure("fig-survival-calibration", "Calibration of the absolute risks at "
                          "each horizon: Kaplan-Meier risk by tenth of predicted risk "
                          f"({d.ci} CI) and the flexible calibration curve; dotted: ideal.",
                          draw=lambda: per_horizon_figure(d, "calibration", ctx.save))
        drew_t = w.table(cal, "tbl-survival-calibration",
                         "Accuracy and calibration of the absolute risks at each horizon: "
                         "observed (Kaplan-Meier) and mean predicted risk, observed/expected "
                         "ratio, calibration slope, integrated calibration index, Brier "
                         "score and IPA.")
        drew_d = w.figure("fig-survival-dca", "Decision curves of the absolute risks at each "
                          "horizon (thin lines: treat all; 0: treat none).",
                          draw=lambda: per_horizon_figure(d, "decision", ctx.save))
        refs = [x for x, ok in (("@fig-survival-calibration", drew_f),
                                ("@tbl-survival-calibration", drew_t),
                                ("@fig-survival-dca", drew_d)) if ok]
        if refs:
            w.p(f"{_and(refs)} give the calibration and net benefit at every horizon.")
    model = surv.survival_model
    if model is not None:
        w.h(2, "The time-to-event model", "sec-survival-model")
        w.table(model_table(d), "tbl-survival-model",
                "The frozen time-to-event model: log hazard ratio (coefficient), hazard "
                "ratio per unit, standard error and the development mean of each input.")
        vals = survival_tripod_values(d)
        w.p(f"@tbl-survival-model gives the Cox model fitted on {model.n} development "
            f"patients with {model.events} events ({md_text(model.ties)} ties). Absolute "
            f"risk: {md_text(vals['model_formula'])}"
            + (f" (horizons in {md_text(unit)})." if unit else "."))
    _tripod(ctx, w)
    return w.section()


def _tripod(ctx: SectionContext, w: Any) -> None:
    """The TRIPOD+AI items a time-to-event outcome adds to, filled from the run."""
    from radval.report.tripod import time_to_event_items

    d = ctx.data
    own = {"sec-survival-detail", "sec-survival-tripod", "sec-survival-model",
           "sec-survival-calibration-all", "sec-survival-validation"}
    tri = time_to_event_items(d, survival_tripod_values(d), sections=ctx.sections | own)
    if tri.empty:
        return
    w.h(2, "TRIPOD+AI items for the time-to-event outcome", "sec-survival-tripod")
    w.p("What a time-to-event outcome adds to the TRIPOD+AI items (@tbl-survival-tripod), "
        "filled from this run; the authors complete the items marked *partly*.")
    plain = pd.DataFrame({"Item": tri["item"], "Topic": tri["topic"], "Status": tri["status"],
                          "Reported here": [t or "–" for t in tri["text"]],
                          "Where": [x or "–" for x in tri["where"]]})
    markdown = pd.DataFrame({
        "Item": [md_text(x) for x in tri["item"]], "Topic": [md_text(x) for x in tri["topic"]],
        "Status": [md_text(x) for x in tri["status"]],
        "Reported here": [md_text(t) if t else "–" for t in tri["text"]],
        "Where": [f"@{md_identifier(x)}" if x else "–" for x in tri["where"]]})
    w.table(plain, "tbl-survival-tripod", "TRIPOD+AI items a time-to-event outcome adds "
            "to: status, the text filled from this run and where it is reported.",
            markdown=markdown)


#: The main report's part (after the secondary endpoint's Kaplan-Meier curves, order 70).
SECTION = SectionSpec(key="survival-validation", build=build_main, placement="main",
                      order=72)
#: The supplement's part (after the subgroups, before the checklists).
SUPPLEMENT_SECTION = SectionSpec(key="survival-detail", build=build_detail,
                                 placement="supplement", order=175)

#: Both builders, in the registry of :mod:`radval.report.document`.
SECTIONS = [SECTION, SUPPLEMENT_SECTION]
