"""The report's calibration and clinical-utility parts beyond the main calibration and
decision curves, from the typed results.

Section builders (protocol: :mod:`radval.report._sections`), placed with the reader in
mind (the calibration and net benefit per subgroup level, supplement order 172, are
:mod:`radval.report._subgroup_calibration`):

* main, order 52 (:func:`corrected_calibration_main`), right after the calibration of
  the signature: what the signature's risk is when it is a score (recalibrated on
  development, or a raw score at a site), and the bias-corrected calibration curve of the
  signature (and the nomogram) from the optimism bootstrap, with its mean and
  0.9-quantile absolute error;
* main, order 62 (:func:`utility_main`), right after the decision curves: the signature's
  optimism-corrected net benefit at the key thresholds, in one sentence;
* supplement, order 162 (:func:`detail`), after the calibration of every model: flexible
  calibration curves with bootstrap bands for every model, the bias-corrected
  calibration and decision curves of every model, the difference in net benefit between
  models with its bootstrap CI, and the partial AUC;
* main, order 22 (:func:`site_sample_size`), in the participants of a site's report:
  does the site meet the minimum sample size for external validation (Riley et al.)?

A builder reads ``ctx.results`` / ``ctx.data`` only and computes nothing.  A part that
continues a section of another module (calibration, decision curves, participants) is a
sub-heading of it when that section was built (``ctx.sections``),
else a heading of its own level.  Every text from the input (cohort, model, subgroup
names) is a display name of ``ctx.data.labels`` and goes through ``md_text`` (markdown)
or ``mpl_text`` (figures).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report._data import ReportData
from radval.report._escape import md_text, mpl_text
from radval.report._sections import Section, SectionContext, SectionSpec
from radval.report.methods import cite
from radval.report.tables import fmt_ci, fmt_num, grouped

__all__ = ["SECTIONS", "corrected_calibration_main", "detail", "site_sample_size",
           "utility_main"]

#: At most this many models are drawn in a figure (every model is in the tables).
MAX_MODELS = 5
#: What the calibration of a row assesses (``risk_scale``).
SCALE_TEXT = {"recalibrated_score": "score recalibrated on development",
              "raw_score": "raw score (not a calibrated probability)",
              "model": "model probability"}


# ------------------------------------------------------------------------ helpers
def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _text(x: Any) -> str | None:
    """A string field of a frame row (``None`` / NaN -> ``None``)."""
    return x if isinstance(x, str) and x else None


def _join(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _wrap(text: str, width: int = 26) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _key_thresholds(d: ReportData) -> list[float]:
    """The thresholds at which net benefit is tabulated: the study's
    ``net_benefit_thresholds``; at a site (no study file) those of the run's tables."""
    if d.study is not None and d.study.evaluation.net_benefit_thresholds:
        return [float(t) for t in d.study.evaluation.net_benefit_thresholds]
    sub = d.subgroup_net_benefit
    if not sub.empty:
        return sorted({float(t) for t in sub["threshold"]})
    return [0.1, 0.2, 0.3]


def _at(df: pd.DataFrame, t: float) -> pd.DataFrame:
    return df[(pd.to_numeric(df["threshold"], errors="coerce") - t).abs() < 1e-9]


def _figure_models(d: ReportData, present: Sequence[str]) -> list[str]:
    """Models drawn: results order, without the scikit-learn classifiers when there are
    more than :data:`MAX_MODELS`, and never without the signature."""
    have = set(present)
    order = [m for m in d.models if m in have] + [m for m in present if m not in d.models]
    if len(order) > MAX_MODELS:
        order = [m for m in order if d.model_kinds.get(m) != "sklearn"] or order
    if len(order) > MAX_MODELS:
        first = order[:MAX_MODELS]
        sig = d.signature_model
        if sig in order and sig not in first:
            first = [sig, *first[:MAX_MODELS - 1]]
        order = first
    return order


def _cohorts(d: ReportData, df: pd.DataFrame) -> list[str]:
    have = set(df["cohort"].astype(str)) if "cohort" in df else set()
    return [c for c in d.cohorts if c in have] + sorted(have - set(d.cohorts))


def _save(ctx: SectionContext, fig: Any, name: str) -> Path:
    return ctx.save(fig, name)


def _width(panels: int, extra: int = 0) -> str:
    """Width of a figure on the page: a panel as wide as those of the main figures (a
    quarter of the text width), at least 40%."""
    return f"{max(40, min(100, 24 * panels + extra))}%"


def _presented(w: Any, text: Callable[[bool], str], label: str, caption: str, *,
               draw: Callable[[], Path | None], width: str) -> bool:
    """A paragraph and the figure it presents: ``text(drawn)`` refers to the figure only
    when it was drawn (a figure that fails is replaced by a sentence)."""
    at = len(w.parts)
    drawn = bool(w.figure(label, caption, draw=draw, width=width))
    paragraph = text(drawn).strip()
    if paragraph:
        w.parts.insert(at, paragraph + "\n")
    return drawn


def _level(ctx: SectionContext, parent: str, level: int) -> int:
    """Heading level of a part that continues the section ``parent``: one below it when
    that section was built, else ``level``."""
    return level + 1 if parent in ctx.sections else level


# ------------------------------------------------------------- what the risk is
def _scale_rows(d: ReportData, scale: str) -> pd.DataFrame:
    cal = d.calibration
    if cal.empty:
        return cal
    return cal[cal["risk_scale"] == scale].drop_duplicates("model")


def _signature_scale(d: ReportData) -> str | None:
    cal = d.calibration
    sig = cal[cal["model"] == d.signature_model] if not cal.empty else cal
    scales = {s for s in sig["risk_scale"] if isinstance(s, str)} if len(sig) else set()
    for s in ("raw_score", "recalibrated_score"):
        if s in scales:
            return s
    return None


def _raw_sentence(d: ReportData) -> str:
    return (f"**The {md_text(d.labels.model(d.signature_model))} is a single score, expit "
            "of a shrunken linear predictor: its calibration is that of the raw score, "
            "which is not a calibrated probability, and cannot be read as the calibration "
            "of a risk model.**")


def _signature_scale_note(d: ReportData) -> str:
    """What the signature's calibration assesses, when the signature is a score."""
    scale = _signature_scale(d)
    if scale == "raw_score":
        return _raw_sentence(d)
    if scale != "recalibrated_score":
        return ""
    rows = _scale_rows(d, scale)
    r = rows[rows["model"] == d.signature_model].iloc[0]
    return (f"The {md_text(d.labels.model(d.signature_model))} is a shrunken (LASSO) linear "
            "predictor, not a calibrated probability: its calibration is that of the score "
            "after a logistic recalibration frozen on the development cohort, "
            f"expit(a + b logit(p)) with a = {fmt_num(r['recalibration_intercept'], 2)} and "
            f"b = {fmt_num(r['recalibration_slope'], 2)}. In the development cohort its "
            "calibration intercept is therefore 0 and its slope 1 by construction; in the "
            "validation cohorts its calibration is a finding.")


def _scale_paragraph(d: ReportData, *, raw: bool = True) -> str:
    """What every model's calibration assesses (``raw``: include the raw-score warning)."""
    out = []
    rec = _scale_rows(d, "recalibrated_score")
    if len(rec):
        names = [md_text(d.labels.model(str(m))) for m in rec["model"]]
        coefs = "; ".join(
            f"{md_text(d.labels.model(str(r['model'])))}: intercept "
            f"{fmt_num(r['recalibration_intercept'], 2)}, slope "
            f"{fmt_num(r['recalibration_slope'], 2)}" for r in rec.to_dict(orient="records"))
        one = len(names) == 1
        out.append(f"The {_join(names)} {'is a' if one else 'are'} shrunken (LASSO) linear "
                   f"predictor{'' if one else 's'}, not "
                   f"{'a calibrated probability' if one else 'calibrated probabilities'}: "
                   f"{'its' if one else 'their'} raw calibration slope"
                   f"{'' if one else 's'} say nothing about the signature. "
                   f"{'Its' if one else 'Their'} calibration is therefore shown after a "
                   "logistic recalibration frozen on the development cohort, "
                   "expit(a + b logit(p)), the recalibration the combined models already "
                   f"apply ({coefs}). In the development cohort "
                   f"{'it has' if one else 'they have'} intercept 0 and slope 1 by "
                   "construction; in the validation cohorts "
                   f"{'its' if one else 'their'} calibration is a finding.")
    if raw and _signature_scale(d) == "raw_score":
        out.append(_raw_sentence(d))
    return " ".join(out)


# ------------------------------------------------------------------ main, order 52
def _corrected_figure(ctx: SectionContext, models: list[str], name: str, *,
                      ncol_max: int = 3) -> Path:
    from radval.report._plots import new_figure, plot_calibration_band, style

    d = ctx.data
    cc, summ = d.optimism_calibration, d.optimism_calibration_summary
    with style():
        ncol = 2 if len(models) == 4 else min(len(models), ncol_max)  # 2 x 2, not 3 + 1
        nrow = math.ceil(len(models) / ncol)
        fig, axes = new_figure(nrow, ncol, squeeze=False, sharex=True, sharey=True,
                               figsize=(2.5 * ncol + 0.4, 2.5 * nrow))
        for k, m in enumerate(models):
            ax = axes[k // ncol, k % ncol]
            if k % ncol == 0:
                ax.set_ylabel("observed risk", fontsize=8)
            if k + ncol >= len(models):  # the lowest panel of its column
                ax.set_xlabel("predicted probability", fontsize=8)
                ax.xaxis.set_tick_params(labelbottom=True)
            s = summ[summ["model"] == m] if not summ.empty else summ
            note = None
            if len(s):
                note = (f"mean |error| {fmt_num(s.iloc[0]['mean_abs_error'], 3)}\n"
                        f"0.9 quantile {fmt_num(s.iloc[0]['q90_abs_error'], 3)}")
            plot_calibration_band(pd.DataFrame(), corrected=cc[cc["model"] == m], note=note,
                                  title=_wrap(d.labels.model(m), 34), legend=k == 0, ax=ax)
        for k in range(len(models), nrow * ncol):
            axes[k // ncol, k % ncol].set_visible(False)
        fig.tight_layout()
        return _save(ctx, fig, name)


def corrected_calibration_main(ctx: SectionContext) -> Section | None:
    """Next to the main calibration: what the signature's risk is, and the bias-corrected
    calibration curve of the signature and the nomogram."""
    d = ctx.data
    w = ctx.writer()
    after_calibration = "sec-calibration" in ctx.sections
    note = _signature_scale_note(d)
    if note and after_calibration:
        w.p(note)  # continues the paragraph on the signature's calibration slope
    cc = d.optimism_calibration
    have = set(cc["model"].astype(str)) if not cc.empty else set()
    models = [m for m in dict.fromkeys([d.signature_model, "nomogram"]) if m in have]
    if models:
        w.h(_level(ctx, "sec-calibration", 2), "Calibration corrected for optimism",
            "sec-calibration-corrected-main")
        summ = d.optimism_calibration_summary
        parts = []
        for m in models:
            s = summ[summ["model"] == m]
            if len(s) and _finite(s.iloc[0]["mean_abs_error"]):
                parts.append(f"{fmt_num(s.iloc[0]['mean_abs_error'], 3)} for the "
                             f"{md_text(d.labels.model(m))} (0.9 quantile "
                             f"{fmt_num(s.iloc[0]['q90_abs_error'], 3)})")
        n_res = pd.to_numeric(summ["n_resamples"], errors="coerce").max() if len(summ) \
            else math.nan
        text = ("In the development cohort the apparent calibration is optimistic: the "
                "models were fitted to these patients. "
                f"Corrected for optimism with the bootstrap {cite('harrell')} (the whole "
                "development repeated "
                + (f"in each of {int(n_res)} resamples; " if _finite(n_res) else "in each "
                   "resample; ") + "rms calibrate), ")
        more = (" The corrected curves of every model are in @sec-calibration-corrected."
                if set(d.optimism_calibration["model"]) - set(models) else "")

        def paragraph(drawn: bool) -> str:
            ref = " (@fig-calibration-corrected-main)" if drawn else ""
            if parts:
                return (f"{text}the mean absolute difference between predicted and "
                        f"bias-corrected observed risk was {_join(parts)}{ref}.{more}")
            return (f"{text}the calibration curve is shown in "
                    f"@fig-calibration-corrected-main.{more}" if drawn else "")

        _presented(w, paragraph, "fig-calibration-corrected-main",
                   "Apparent (dashed) and bias-corrected (solid) calibration curves in the "
                   "development cohort; on each panel the mean and 0.9-quantile absolute "
                   "difference between predicted and bias-corrected observed risk.",
                   draw=lambda: _corrected_figure(ctx, models,
                                                  "fig-calibration-corrected-main"),
                   width=_width(len(models), 14))
        if note and not after_calibration:
            w.p(note)
    return w.section()


# ------------------------------------------------------------------ main, order 62
def utility_main(ctx: SectionContext) -> Section | None:
    """After the main decision curves: the signature's optimism-corrected net benefit at
    the key thresholds, and where the differences between models are."""
    d = ctx.data
    if "sec-dca" not in ctx.sections:
        return None  # no decision curves in the main text: the detail is in the supplement
    nb = d.optimism_net_benefit
    sig = d.signature_model
    nb = nb[nb["model"] == sig] if not nb.empty else nb
    text = []
    parts = []
    for t in _key_thresholds(d):
        r = _at(nb, t) if not nb.empty else nb
        if len(r) and _finite(r.iloc[0]["corrected"]):
            parts.append(f"{fmt_num(r.iloc[0]['corrected'], 3)} at a threshold of {t:g} "
                         f"(apparent {fmt_num(r.iloc[0]['apparent'], 3)})")
    if parts:
        text.append(f"Corrected for optimism with the bootstrap, the net benefit of the "
                    f"{md_text(d.labels.model(sig))} in the development cohort was "
                    f"{_join(parts)} (@fig-dca-corrected).")
    diff = d.net_benefit_difference
    if not diff.empty:
        text.append("The difference in net benefit between the models, with bootstrap "
                    "confidence intervals, is in @sec-nb-difference.")
    if not text:
        return None
    w = ctx.writer()
    w.p(" ".join(text))
    return w.section()


# ------------------------------------------------------------ supplement, order 162
def _band_figure(ctx: SectionContext, band: pd.DataFrame, cohorts: list[str],
                 models: list[str]) -> Path:
    from radval.report._plots import new_figure, plot_calibration_band, style

    d = ctx.data
    cal = d.calibration
    with style():
        fig, axes = new_figure(len(models), len(cohorts), squeeze=False, sharex=True,
                               sharey=True,
                               figsize=(2.3 * len(cohorts) + 0.6, 2.3 * len(models)))
        for i, m in enumerate(models):
            for j, c in enumerate(cohorts):
                ax = axes[i, j]
                r = cal[(cal["cohort"] == c) & (cal["model"] == m)] if not cal.empty else cal
                note = None
                if len(r):
                    rec = r.iloc[0]
                    note = f"ICI {fmt_num(rec['curve_ici'], 3)}"
                    if rec["risk_scale"] == "recalibrated_score":
                        note += "\nrecalibrated score"
                    elif rec["risk_scale"] == "raw_score":
                        note += "\nraw score"
                plot_calibration_band(band[(band["cohort"] == c) & (band["model"] == m)],
                                      note=note,
                                      title=_wrap(d.labels.cohort(c)) if i == 0 else None,
                                      ax=ax)
                if j == 0:
                    ax.set_ylabel(f"{mpl_text(_wrap(d.labels.model(m), 22))}\nobserved risk",
                                  fontsize=7)
                if i == len(models) - 1:
                    ax.set_xlabel("predicted risk", fontsize=7)
        fig.tight_layout()
        return _save(ctx, fig, "fig-calibration-band")


def _band_part(ctx: SectionContext, w: Any) -> None:
    d = ctx.data
    band = d.calibration_band
    if band.empty:
        return
    w.h(2, "Flexible calibration curves with confidence bands", "sec-calibration-band")
    method = str(band["method"].iloc[0])
    n_res = pd.to_numeric(band["n_resamples"], errors="coerce").max()
    resamples = f" ({int(n_res)} resamples)" if method != "grouped" and _finite(n_res) \
        and n_res > 0 else ""
    # in a one-document report the main text already carries the raw-score warning
    said = not ctx.split and "sec-calibration" in ctx.sections
    scale = _scale_paragraph(d, raw=not said)

    def paragraph(drawn: bool) -> str:
        return (f"Flexible calibration curves {cite('vancalster')} ({md_text(method)}"
                f"{', as CalibrationCurves val.prob.ci.2' if method == 'loess' else ''}) "
                f"with pointwise {d.ci} bootstrap percentile bands{resamples}"
                f"{' are shown in @fig-calibration-band' if drawn else ''}. A curve on the "
                "diagonal is perfect calibration; the band shows where the data leave it in "
                "doubt." + (" " + scale if scale else ""))

    cohorts = _cohorts(d, band)
    models = _figure_models(d, list(dict.fromkeys(band["model"].astype(str))))
    _presented(w, paragraph, "fig-calibration-band", f"Calibration curves with {d.ci} "
               "pointwise bootstrap bands; rows are models, columns cohorts; integrated "
               "calibration index (ICI) on each panel.",
               draw=lambda: _band_figure(ctx, band, cohorts, models),
               width=_width(len(cohorts)))
    cal = d.calibration
    cal = cal[pd.to_numeric(cal["curve_ici"], errors="coerce").notna()] if not cal.empty \
        else cal
    if cal.empty:
        return
    df = pd.DataFrame({
        "Cohort": [d.labels.cohort(str(c)) for c in cal["cohort"]],
        "Model": [d.labels.model(str(m)) for m in cal["model"]],
        "Risk assessed": [SCALE_TEXT.get(str(s), "model probability")
                          for s in cal["risk_scale"]],
        "ICI": [fmt_num(v, 3) for v in cal["curve_ici"]],
        "E50": [fmt_num(v, 3) for v in cal["curve_e50"]],
        "E90": [fmt_num(v, 3) for v in cal["curve_e90"]],
        "Emax": [fmt_num(v, 3) for v in cal["curve_emax"]]})
    if w.table(df, "tbl-calibration-curve", "Summaries of the flexible calibration curves: "
               "mean (ICI), median (E50), 90th percentile (E90) and maximum (Emax) of "
               "|predicted − estimated observed risk| over the patients, with the risk each "
               "row assesses.", markdown=grouped(df, "Cohort")):
        w.p("@tbl-calibration-curve summarises the curves of every model.")


def _corrected_dca_figure(ctx: SectionContext, nb: pd.DataFrame, models: list[str]) -> Path:
    from radval.report._plots import new_figure, plot_decision_curve, style

    d = ctx.data
    dev = d.results.study.development_cohort
    dec = d.decision
    treat_all = dec[dec["cohort"] == dev] if not dec.empty and dev else pd.DataFrame()
    rows = []
    for m in models:
        g = nb[nb["model"] == m].copy()
        if treat_all.empty:
            g["treat_all"] = math.nan
        else:
            ta = treat_all[treat_all["model"] == treat_all["model"].iloc[0]] \
                .set_index("threshold")["treat_all"]
            g["treat_all"] = [ta.get(t, math.nan) for t in g["threshold"]]
        rows.append(g.assign(net_benefit=g["corrected"]))
    data = pd.concat(rows, ignore_index=True)
    with style():
        fig, ax = new_figure(figsize=(4.6, 3.4))
        plot_decision_curve(data, labels={m: d.labels.model(m) for m in models},
                            legend=False, title=f"Optimism-corrected, "
                            f"{d.labels.cohort(dev) if dev else 'development'}", ax=ax)
        ax.title.set_fontsize(8)
        ax.legend(frameon=False, fontsize=6.5, loc="upper right")
        fig.tight_layout()
        return _save(ctx, fig, "fig-dca-corrected")


def _corrected_part(ctx: SectionContext, w: Any) -> None:
    d = ctx.data
    cc, nb = d.optimism_calibration, d.optimism_net_benefit
    if cc.empty and nb.empty:
        return
    w.h(2, "Bias-corrected calibration and decision curves", "sec-calibration-corrected")
    text = ("In every optimism resample the whole development was repeated (feature "
            "selection, every model and, when radval trained it, the network); each "
            "resample's model was evaluated in the resample and in the development cohort "
            "on a common grid. The bias-corrected curve is the apparent lowess curve minus "
            f"the mean difference at each predicted risk (rms calibrate {cite('harrell')}); "
            "the same correction "
            "at each threshold gives the optimism-corrected decision curve. A score that is "
            "a shrunken linear predictor was recalibrated on each resample's own data first.")
    opt = d.optimism
    if not opt.empty and (opt["risk_scale"] == "recalibrated_score").any():
        text += (" Likewise, in the optimism-corrected performance the calibration slope, "
                 "intercept and Brier score of such a score are those of the score after its "
                 "recalibration on the data it was developed on (apparent slope 1, intercept "
                 "0): their optimism is the shrinkage the score needs, not the scale of the "
                 "raw score.")
    w.p(text)
    if not cc.empty:
        models = _figure_models(d, list(dict.fromkeys(cc["model"].astype(str))))
        if w.figure("fig-calibration-corrected", "Apparent (dashed) and bias-corrected "
                    "(solid) calibration curves in the development cohort, with the mean "
                    "and 0.9-quantile absolute error of the corrected curve.",
                    draw=lambda: _corrected_figure(ctx, models, "fig-calibration-corrected"),
                    width=_width(2 if len(models) == 4 else min(len(models), 3), 14)):
            w.p("@fig-calibration-corrected shows the curves of "
                + ("every model." if len(models) == cc["model"].nunique()
                   else "the study's models; @tbl-calibration-corrected lists every model."))
        summ = d.optimism_calibration_summary
        if not summ.empty:
            df = pd.DataFrame({
                "Model": [d.labels.model(str(m)) for m in summ["model"]],
                "Risk assessed": [SCALE_TEXT.get(str(s), "model probability")
                                  for s in summ["risk_scale"]],
                "Mean |error|": [fmt_num(v, 3) for v in summ["mean_abs_error"]],
                "0.9 quantile |error|": [fmt_num(v, 3) for v in summ["q90_abs_error"]],
                "Mean squared error": [fmt_num(v, 4) for v in summ["mean_squared_error"]],
                "Resamples": [str(v) for v in summ["n_resamples"]]})
            w.table(df, "tbl-calibration-corrected", "Bias-corrected calibration in the "
                    "development cohort: errors |p − corrected observed risk| of the "
                    "corrected curve over the development patients (rms calibrate).")
    if not nb.empty:
        models = _figure_models(d, list(dict.fromkeys(nb["model"].astype(str))))
        drew = w.figure("fig-dca-corrected", "Optimism-corrected decision curves in the "
                        "development cohort, with treat all and treat none.",
                        draw=lambda: _corrected_dca_figure(ctx, nb, models), width="50%")
        keys = _key_thresholds(d)
        picked = [r for m in models for t in keys
                  for r in _at(nb[nb["model"] == m], t).to_dict(orient="records")[:1]]
        if picked:
            sel = pd.DataFrame(picked)
            df = pd.DataFrame({
                "Model": [d.labels.model(str(m)) for m in sel["model"]],
                "Threshold": [f"{float(t):g}" for t in sel["threshold"]],
                "Apparent": [fmt_num(v, 3) for v in sel["apparent"]],
                "Optimism": [fmt_num(v, 3) for v in sel["optimism"]],
                "Corrected": [fmt_num(v, 3) for v in sel["corrected"]]})
            if w.table(df, "tbl-dca-corrected", "Net benefit in the development cohort at "
                       "the key threshold probabilities: apparent, bootstrap optimism and "
                       "corrected.", markdown=grouped(df, "Model")):
                w.p(("@fig-dca-corrected shows the corrected decision curves; "
                     if drew else "") + "@tbl-dca-corrected gives the apparent and "
                    "corrected net benefit at the key thresholds.")


def _difference_figure(ctx: SectionContext, diff: pd.DataFrame,
                       pairs: list[tuple[str, str]], cohorts: list[str], upper: float) -> Path:
    from matplotlib.figure import Figure

    from radval.report._plots import plot_net_benefit_difference, style

    d = ctx.data
    # near t = 1 the weight t/(1-t) blows every difference up: drawn up to `upper`
    diff = diff[pd.to_numeric(diff["threshold"], errors="coerce") <= upper + 1e-12]
    with style():
        # one row of panels per model pair, headed by the pair: subfigures (a figure of
        # its own, as new_figure makes, with a layout engine that places the headers)
        fig = Figure(figsize=(2.3 * len(cohorts) + 0.6, 2.4 * len(pairs)),
                     layout="constrained")
        rows = fig.subfigures(len(pairs), 1, squeeze=False)[:, 0]
        for (a, b), sf in zip(pairs, rows, strict=True):
            sf.suptitle(mpl_text(f"{d.labels.model(a)} − {d.labels.model(b)}"), x=0.01,
                        ha="left", fontsize=8.5, fontweight="bold")
            axes = sf.subplots(1, len(cohorts), sharey=True, squeeze=False)[0]
            for j, (c, ax) in enumerate(zip(cohorts, axes, strict=True)):
                g = diff[(diff["cohort"] == c) & (diff["model_a"] == a)
                         & (diff["model_b"] == b)]
                if pd.to_numeric(g["difference"], errors="coerce").notna().any():
                    plot_net_benefit_difference(g, title=_wrap(d.labels.cohort(c)),
                                                ylabel="Δ net benefit" if j == 0 else "",
                                                confidence_level=d.ci_level, ax=ax)
                    ax.xaxis.label.set_fontsize(8)
                    ax.yaxis.label.set_fontsize(8)
                else:
                    ax.set_axis_off()
        # lay out now: save() crops to the extent of the drawn figure
        engine = fig.get_layout_engine()
        if engine is not None:
            engine.execute(fig)
        return _save(ctx, fig, "fig-nb-difference")


def _difference_part(ctx: SectionContext, w: Any) -> None:
    d = ctx.data
    diff = d.net_benefit_difference
    if diff.empty:
        return
    pairs = list(dict.fromkeys(zip(diff["model_a"].astype(str), diff["model_b"].astype(str),
                                   strict=True)))
    cohorts = _cohorts(d, diff)
    n_res = pd.to_numeric(diff["n_resamples"], errors="coerce").max()
    keys = _key_thresholds(d)
    upper = max(0.5, *keys)
    w.h(2, "Difference in net benefit", "sec-nb-difference")
    resamples = f" ({int(n_res)} resamples)" if _finite(n_res) and n_res > 0 else ""
    _presented(
        w, lambda drawn: (
            f"The difference in net benefit {cite('vickers')} between two models evaluated "
            f"on the same patients, with a paired, stratified bootstrap {d.ci} CI at every "
            f"threshold{resamples}{', is shown in @fig-nb-difference' if drawn else ''}: "
            "where the band excludes 0 the first model is more (above 0) or less useful "
            "than the second at that threshold. Restrict the reading to the thresholds that "
            "are clinically reasonable; @tbl-nb-difference gives the differences at the key "
            "thresholds."),
        "fig-nb-difference", "Difference in net benefit (first minus second model) with "
        f"{d.ci} bootstrap CIs, one row of panels per pair of models (threshold "
        f"probabilities up to {upper:g}).",
        draw=lambda: _difference_figure(ctx, diff, pairs, cohorts, upper),
        width=_width(len(cohorts)))
    rows = []
    for c in cohorts:
        for a, b in pairs:
            g = diff[(diff["cohort"] == c) & (diff["model_a"] == a) & (diff["model_b"] == b)]
            if g.empty:
                continue
            row = {"Cohort": d.labels.cohort(c),
                   "Comparison": f"{d.labels.model(a)} vs {d.labels.model(b)}"}
            for t in keys:
                r = _at(g, t)
                row[f"Threshold {t:g}"] = fmt_ci(r.iloc[0]["difference"], r.iloc[0]["ci_low"],
                                                 r.iloc[0]["ci_high"], 3) if len(r) else "–"
            rows.append(row)
    df = pd.DataFrame(rows)
    w.table(df, "tbl-nb-difference", f"Difference in net benefit ({d.ci} bootstrap CI) at the "
            "key threshold probabilities.", markdown=grouped(df, "Cohort") if len(df)
            else None)


def _partial_auc_part(ctx: SectionContext, w: Any) -> None:
    d = ctx.data
    pa = d.partial_auc
    if pa.empty:
        return
    r0 = pa.iloc[0]
    w.h(2, "Partial AUC", "sec-partial-auc")
    w.p(f"@tbl-partial-auc gives the partial area under the ROC curve over "
        f"{md_text(r0['focus'])} {fmt_num(r0['low'], 2)} to {fmt_num(r0['high'], 2)}"
        f"{' (McClish-standardised)' if bool(r0['correct']) else ''}, computed as pROC "
        f"{cite('proc')}, "
        f"with stratified bootstrap {d.ci} CIs.")
    df = pd.DataFrame({"Cohort": [d.labels.cohort(str(c)) for c in pa["cohort"]],
                       "Model": [d.labels.model(str(m)) for m in pa["model"]],
                       f"Partial AUC ({d.ci} CI)": [
                           fmt_ci(e, lo, hi, 3) if _finite(e) else
                           f"– ({_text(u) or 'undefined'})" for e, lo, hi, u in
                           zip(pa["estimate"], pa["ci_low"], pa["ci_high"],
                               pa["undefined_reason"], strict=True)]})
    w.table(df, "tbl-partial-auc", "Partial AUC by cohort and model.",
            markdown=grouped(df, "Cohort"))


def detail(ctx: SectionContext) -> Section | None:
    """Supplement: calibration bands of every model, bias-corrected curves, net-benefit
    differences and partial AUC."""
    w = ctx.writer()
    w.h(1, "Calibration and clinical utility in detail", "sec-calibration-utility")
    n = len(w.parts)
    for part in (_band_part, _corrected_part, _difference_part, _partial_auc_part):
        part(ctx, w)
    return w.section() if len(w.parts) > n else None


# ------------------------------------------------------------------ main, order 22
def site_sample_size(ctx: SectionContext) -> Section | None:
    """A site's report: does the site meet the minimum sample size for external
    validation?"""
    ss = ctx.results.validation_sample_size
    if ss is None:
        return None
    w = ctx.writer()
    w.h(_level(ctx, "sec-participants", 1), "Sample size of this site",
        "sec-site-sample-size")
    if ss.required is None:
        w.p("The minimum sample size for external validation could not be computed "
            f"({md_text(ss.undefined_reason or 'not computed')}).")
        return w.section()
    crit = [("O/E", ss.n_oe), ("calibration slope", ss.n_cslope),
            ("C-statistic", ss.n_cstatistic), ("net benefit at the cut-off", ss.n_net_benefit)]
    parts = ", ".join(f"{name} {v}" for name, v in crit if v is not None)
    verdict = ("**The site meets it.**" if ss.meets else
               f"**The site does not meet it** ({ss.n} patients): its estimates, calibration "
               "in particular, are less precise than targeted and should be pooled with "
               "other sites rather than read alone.")
    source = f" (source: {md_text(ss.cstatistic_source)})" if ss.cstatistic_source else ""
    # the criteria's targets are widths of 95% CIs whatever the study's level (Riley et al.
    # 2021; radval.stats._sample_size uses z = 1.96): this label stays 95%
    w.p(f"This site validated the signature in {ss.n} patients with {ss.events} events. "
        f"The minimum sample size for a precise external validation {cite('riley_validation')} "
        "(95% CI widths 0.2 for O/E and the calibration slope, 0.1 for the C-statistic, 0.2 for "
        "the standardised net benefit) at this site's prevalence, with the anticipated "
        f"C-statistic {fmt_num(ss.cstatistic, 3)}{source} and the development distribution "
        f"of the linear predictor, is {ss.required} patients (patients needed per "
        f"criterion: {parts}). {verdict}")
    return w.section()


SECTIONS = (
    SectionSpec(key="site-sample-size", build=site_sample_size, placement="main", order=22),
    SectionSpec(key="calibration-corrected", build=corrected_calibration_main,
                placement="main", order=52),
    SectionSpec(key="utility-corrected", build=utility_main, placement="main", order=62),
    SectionSpec(key="calibration-utility", build=detail, placement="supplement", order=162),
)
