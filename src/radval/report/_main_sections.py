"""The sections of the main report (``report.*``): the text a journal takes.

Summary, methods, participants (flow diagram, Table 1), the model (specification,
formulas, nomogram), one performance table per endpoint at the frozen cut-off with the
ROC curves, the key comparison of the study's models, calibration, clinical utility, the
secondary time-to-event endpoint and the references.  Each builder follows the protocol
of :mod:`radval.report._sections`; :data:`SECTIONS` lists them.
"""

from __future__ import annotations

from typing import Any

from radval.report import _missing_harmonisation as MH
from radval.report import tables as T
from radval.report._data import in_sentence
from radval.report._escape import md_text
from radval.report._sections import Section, SectionContext, SectionSpec
from radval.report._table1 import baseline_table
from radval.report.methods import methods_markdown, references_markdown

__all__ = ["SECTIONS"]

NOT_IN_RUN = "_Not part of this run._"
_CALLOUT_KINDS = ("note", "tip", "warning", "important", "caution")


def callout(kind: str, title: str, body: str) -> str:
    """A callout block; ``title`` is plain text (escaped here), ``body`` markdown."""
    if kind not in _CALLOUT_KINDS:
        kind = "note"
    return f"::: {{.callout-{kind}}}\n## {md_text(title)}\n\n{body}\n:::\n"


def _auc_text(ctx: SectionContext, model: str, cohort: str) -> str | None:
    perf = ctx.data.performance
    r = perf[(perf["model"] == model) & (perf["cohort"] == cohort)]
    if r.empty or not T._finite(r.iloc[0]["auc"]):
        return None
    x = r.iloc[0]
    return T.fmt_ci(x["auc"], x["auc_ci_low"], x["auc_ci_high"])


# --------------------------------------------------------------------------- summary
def summary(ctx: SectionContext) -> Section | None:
    """Question, outcome, cohorts, the headline result and the run's warnings."""
    d, r = ctx.data, ctx.results
    w = ctx.writer()
    w.h(1, "Summary", "sec-summary")
    st = r.study
    if st.question:
        w.p(f"**Question.** {md_text(st.question)}")
    outcome = d.labels.variable(st.outcome, unit=False)
    event = d.labels.level(st.outcome, st.positive_label)
    text = f"**Outcome.** {md_text(outcome)} (event: {md_text(event)})"
    if st.definition:
        text += f"; {md_text(st.definition)}"
    w.p(text + f". Moment of prediction: {md_text(st.prediction_moment)}.")
    if r.cohorts:
        w.p("**Cohorts.** " + "; ".join(
            f"{md_text(d.labels.cohort(c.name))} ({md_text(c.role.replace('_', ' '))}, "
            f"n = {c.n}, {c.events} events)" for c in r.cohorts) + ".")
    sig = d.signature_model
    parts = []
    for c in r.cohorts:
        auc = _auc_text(ctx, sig, c.name)
        if auc is not None:
            parts.append(f"{auc} in {md_text(d.labels.cohort(c.name))}")
    if parts:
        text = (f"**Result.** The {md_text(d.labels.model(sig))} had an AUC ({d.ci} CI) of "
                + ", ".join(parts))
        opt = d.optimism
        o = opt[(opt["model"] == sig) & (opt["metric"] == "auc")]
        if len(o) and T._finite(o.iloc[0]["corrected"]):
            text += (f"; the optimism-corrected development AUC was "
                     f"{T.fmt_num(o.iloc[0]['corrected'])}")
        w.p(text + " (@tbl-performance).")
    else:
        w.p("Performance estimates are not part of this run.")
    text = f"Results of {md_text(r.created[:10])} (radval {md_text(r.radval_version)})"
    w.p(text + ("; everything that does not carry the main message is in the supplement "
                "(@sec-supplement)." if ctx.split else "."))
    if r.warnings:
        items = "\n".join(f"- **{md_text(x.code)}**: {md_text(d.labels.relabel(x.message))}"
                          for x in r.warnings)
        w.p(callout("warning", f"The run raised {len(r.warnings)} warning"
                    f"{'s' if len(r.warnings) != 1 else ''}", items))
    return w.section()


def methods(ctx: SectionContext) -> Section | None:
    """The statistical methods a biostatistician can paste."""
    w = ctx.writer()
    w.h(1, "Methods", "sec-methods")
    w.p(methods_markdown(ctx.data))
    extra = MH.methods_text(ctx.data)  # missing data and harmonisation, when they apply
    if extra:
        w.p(extra)
    return w.section()


# ---------------------------------------------------------------------- participants
def participants(ctx: SectionContext) -> Section | None:
    """Flow diagram and Table 1."""
    d = ctx.data
    w = ctx.writer()
    w.h(1, "Participants", "sec-participants")
    if w.figure("fig-flow", "Patient flow per cohort: patients in the clinical table, "
                "excluded (with reasons) and analysed.", width="85%"):
        w.p("@fig-flow shows the flow of patients per cohort (stages in @tbl-flow). "
            + MH.flow_note(ctx.data))
    plain, markdown, notes = baseline_table(d)
    w.h(2, "Baseline characteristics", "sec-baseline")
    if w.table(plain, "tbl-baseline", "Baseline characteristics by cohort: mean ± SD, "
               "median [IQR] or n (%); p-values compare the cohorts.", markdown=markdown,
               notes=notes):
        missing = T.missing_table(d)
        text = ("@tbl-baseline compares the cohorts; differences between development and "
                "validation cohorts bear on transportability.")
        text += (" Missing values are counted in @tbl-missing." if not missing.empty
                 else " No variable had missing values.")
        w.p(text)
    else:
        w.p("Baseline characteristics are not part of this run.")
    return w.section()


# ---------------------------------------------------------------------------- model
def _score_formula(name: str, coefficients: list[Any]) -> str:
    """``**Rad-score** = −68.23 − 16.66 x~1~ + ..., where x~1~ is <feature>; ...`` from the
    coefficients on the original scale (feature names escaped; never a code block)."""
    terms = [c for c in coefficients if c.feature != "(Intercept)"]
    intercept = next((c.coef for c in coefficients if c.feature == "(Intercept)"), 0.0)
    text = f"**{md_text(name)}** = {_num(intercept)}"
    for i, c in enumerate(terms, start=1):
        text += f" {'+' if c.coef >= 0 else '−'} {_num(abs(c.coef))} x~{i}~"
    if terms:
        text += ", where " + "; ".join(f"x~{i}~ is {md_text(c.feature)}"
                                      for i, c in enumerate(terms, start=1))
    return text + "."


def _num(x: float) -> str:
    return f"{x:.4g}".replace("-", "−")


def model(ctx: SectionContext) -> Section | None:
    """Model specification, the scores' formulas and the nomogram."""
    d, r = ctx.data, ctx.results
    if not r.models:
        return None
    w = ctx.writer()
    w.h(1, "The models", "sec-models")
    w.table(T.model_table(d), "tbl-models", "Models evaluated: type, predictors and the "
            "probability cut-off frozen on the development cohort.")
    w.p("@tbl-models lists the models" + ("; the selection of the features is in "
                                          "@sec-selection and the coefficients in @tbl-coef."
                                          if d.families else "."))
    for fam, body in d.families.items():
        w.p(_score_formula(d.labels.model(fam), body.coefficients))
    for m in r.models:
        if m.kind in ("combined", "clinical", "nomogram") and m.coefficients:
            terms = []
            for c in m.coefficients:  # records: feature, coef (ResultsFile.models)
                if not T._finite(c["coef"]):
                    continue
                term = str(c["feature"])
                label = "intercept" if term == "(Intercept)" else T.predictor_label(d, term)
                terms.append((label, float(c["coef"])))
            if terms:
                w.p(f"**{md_text(d.labels.model(m.name))}.** logit(p) = " + " ".join(
                    (f"{c:.3f}".replace("-", "−") if i == 0
                     else f"{'+' if c >= 0 else '−'} {abs(c):.3f}")
                    + ("" if lab == "intercept" else f" × {md_text(lab)}")
                    for i, (lab, c) in enumerate(terms)) + ".")
    if w.figure("fig-nomogram", "Nomogram: read each predictor's points on the top axis, "
                "add them, and read the probability below the total points.", width="90%"):
        w.p(f"@fig-nomogram shows the points scales of the model "
            f"{md_text(d.labels.model('nomogram'))}.")
    return w.section()


# ---------------------------------------------------------------------- performance
def performance(ctx: SectionContext) -> Section | None:
    """One performance table per endpoint at the frozen cut-off, and the ROC curves."""
    d = ctx.data
    if d.performance.empty:
        return None
    w = ctx.writer()
    w.h(1, "Discrimination and classification", "sec-performance")
    outcome = d.labels.variable(d.results.study.outcome, unit=False)
    perf = T.performance_table(d, d.primary_models, cutoff=False, n_in_cohort=True)
    w.table(perf, "tbl-performance",
            f"Prediction of {in_sentence(outcome)}: AUC ({d.ci} DeLong CI) and, at the "
            "probability cut-off frozen on the development cohort, sensitivity, specificity, "
            f"positive and negative predictive value ({d.ci} Wilson CIs).",
            markdown=T.grouped(perf, "Cohort"))
    w.p("@tbl-performance gives discrimination and classification of the study's models "
        "(the cut-offs are in @tbl-models); every model, with accuracy and bootstrap "
        "intervals, is in @tbl-performance-all.")
    if w.table(T.internal_validation_table(d, d.primary_models), "tbl-internal",
               "Internal validation on the development cohort (Harrell's bootstrap, the "
               "whole selection and fitting repeated in each resample): apparent and "
               "optimism-corrected AUC, corrected calibration slope and Brier score."):
        w.p("@tbl-internal corrects the development performance for optimism; each metric's "
            "optimism is in @tbl-optimism.")
    if w.figure("fig-roc", "ROC curves by cohort; the legend gives each model's AUC, the "
                f"shaded band the {d.ci} confidence band of the signature."):
        w.p("@fig-roc shows the ROC curves.")
    return w.section()


def comparison(ctx: SectionContext) -> Section | None:
    """The signature against each of the study's other models."""
    d = ctx.data
    tab = T.key_comparison_table(d)
    if tab.empty:
        return None
    w = ctx.writer()
    w.h(2, "Comparison of the models", "sec-comparison")
    w.table(tab, "tbl-comparison", f"The {d.labels.model(d.signature_model)} against the "
            f"study's other models: difference in AUC ({d.ci} CI) and Holm-adjusted p-value of "
            "DeLong's test, per cohort.")
    w.p("@tbl-comparison compares the signature with the other models; every pairwise "
        "comparison is in @sec-comparisons-all.")
    for line in T.undefined_comparisons(d):
        w.p(line)
    return w.section()


def calibration(ctx: SectionContext) -> Section | None:
    """Calibration of the signature and the nomogram."""
    d = ctx.data
    w = ctx.writer()
    w.h(2, "Calibration", "sec-calibration")
    drew = w.figure("fig-calibration", "Calibration: observed against predicted risk "
                    f"(risk groups with {d.ci} CIs and a smoothed curve); intercept, slope, "
                    "Brier score and ICI on each panel.", width="85%")
    cal = d.calibration
    sig = cal[cal["model"] == d.signature_model]
    parts = [f"slope {T.fmt_num(x['slope'])} in {md_text(d.labels.cohort(x['cohort']))}"
             for x in sig.to_dict(orient="records") if T._finite(x["slope"])]
    if not drew and not parts:
        return None
    text = "@fig-calibration shows the calibration curves." if drew else ""
    if parts:
        text += (f" The {md_text(d.labels.model(d.signature_model))} had a calibration "
                 + ", ".join(parts) + "; every model's calibration is in @tbl-calibration.")
    w.p(text)
    return w.section()


def utility(ctx: SectionContext) -> Section | None:
    """Decision curves."""
    w = ctx.writer()
    w.h(2, "Clinical utility", "sec-dca")
    if not w.figure("fig-dca", "Decision curves: net benefit against threshold probability, "
                    "with treat all and treat none."):
        return None
    w.p("@fig-dca shows the net benefit of each model across threshold probabilities.")
    return w.section()


def survival(ctx: SectionContext) -> Section | None:
    """The secondary time-to-event endpoint: Kaplan-Meier curves and hazard ratios."""
    d, surv = ctx.data, ctx.results.survival
    if surv is None:
        return None
    w = ctx.writer()
    w.h(1, "Secondary endpoint: time to event", "sec-survival")
    drew_f = w.figure("fig-km", "Kaplan-Meier curves by risk group (cut-off frozen on the "
                      "development cohort) with numbers at risk.")
    drew_t = w.table(T.survival_table(d), "tbl-survival",
                     f"The {d.labels.model(surv.model)} as a prognostic marker: hazard ratio "
                     f"per {surv.hr_per} (Cox), log-rank test of the risk groups and "
                     "Harrell's C-index.")
    if not (drew_f or drew_t):
        return None
    w.p(" ".join(x for x, ok in (("@fig-km shows the survival curves.", drew_f),
                                 ("@tbl-survival gives the hazard ratios.", drew_t)) if ok))
    return w.section()


def references(ctx: SectionContext) -> Section | None:
    """The numbered references of the methods."""
    w = ctx.writer()
    w.p("# References {.unnumbered}")
    w.p(references_markdown())
    return w.section()


SECTIONS = (
    SectionSpec(key="summary", build=summary, placement="main", order=10),
    SectionSpec(key="methods", build=methods, placement="main", order=15),
    SectionSpec(key="participants", build=participants, placement="main", order=20),
    SectionSpec(key="model", build=model, placement="main", order=30),
    SectionSpec(key="performance", build=performance, placement="main", order=40),
    SectionSpec(key="comparison", build=comparison, placement="main", order=45),
    SectionSpec(key="calibration", build=calibration, placement="main", order=50),
    SectionSpec(key="utility", build=utility, placement="main", order=60),
    SectionSpec(key="survival", build=survival, placement="main", order=70),
    SectionSpec(key="references", build=references, placement="main", order=95),
)
