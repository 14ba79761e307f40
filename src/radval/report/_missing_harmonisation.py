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

The tables and figures are built in :mod:`radval.report._missing_harmonisation_parts`
(figures drawn with the primitives of :mod:`radval.report._plots`, saved here with
:func:`radval.report.figures.save`).  Every text that comes from an input file
(variable, batch, cohort, model and feature names) goes through
:func:`radval.report._escape.md_text` (markdown; the writer's tables and captions do it)
or :func:`radval.report._escape.mpl_text` (figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radval.report._data import ReportData, in_sentence
from radval.report._escape import md_text
from radval.report._missing_harmonisation_parts import (
    batch_pca_figure,
    batches_table,
    development_cohort,
    draws_patterns,
    finite,
    imputed_table,
    missing_data_table,
    missing_patterns_figure,
    missing_patterns_table,
    pca_scope,
    percent_text,
    plot_batch_pca,
    plot_missing_patterns,
    plot_shift_before_after,
    pooled_coefficients_table,
    pooled_performance_table,
    scope_name,
    separability_table,
    shift_harmonisation_figure,
    shift_harmonisation_table,
    shift_merged,
    site_imputation_table,
    site_missing_table,
)
from radval.report._sections import Section, SectionContext, SectionSpec, SectionWriter
from radval.report.methods import cite
from radval.report.tables import fmt_num, fmt_p

__all__ = ["DETAIL_SECTION", "SECTION", "SECTIONS", "batch_pca_figure", "batches_table",
           "build", "build_detail", "flow_note", "imputed_table", "methods_text",
           "missing_data_table", "missing_patterns_figure", "missing_patterns_table",
           "plot_batch_pca", "plot_missing_patterns", "plot_shift_before_after",
           "pooled_coefficients_table", "pooled_performance_table", "separability_table",
           "shift_harmonisation_figure", "shift_harmonisation_table",
           "site_imputation_table", "site_missing_table"]

#: Batches listed by name in the main text; more are counted (the list is a table).
_MAX_LISTED = 6


# ------------------------------------------------------------------------ helpers
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


def _drawer(ctx: SectionContext, label: str, make: Any) -> Any:
    """``draw`` of :meth:`SectionWriter.figure`: the figure of ``make(ctx.data)`` saved
    as ``label`` (``None`` when there is nothing to draw)."""
    def draw() -> Path | None:
        fig = make(ctx.data)
        return None if fig is None else ctx.save(fig, label)
    return draw


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
                 ("fig-missing-patterns", draws_patterns(d)))
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
        fig = draws_patterns(d)
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
               f"and on the imputed patients (DeLong {d.ci} CI of the AUC; calibration "
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
        dev = b[b["cohort"] == development_cohort(d)]
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
                 else f"in {md_text(scope_name(d, scope, article=True))}")
        aucs.append(f"from {fmt_num(s.at['before', 'auc'], 3)} before to "
                    f"{fmt_num(s.at['after', 'auc'], 3)} after harmonisation {where}")
        shares.append(f"from {percent_text(s.at['before', 'fraction_significant'])} to "
                      f"{percent_text(s.at['after', 'fraction_significant'])}")
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
    pca, scope = pca_scope(d)
    refs = _refs(("tbl-separability", not sep.empty), ("fig-batch-pca", not pca.empty))
    w.p(" ".join(x for x in (
        "@tbl-batches lists the batches of every cohort." if not batches.empty else "",
        f"{refs} show how far the features identify the batch before and after "
        "harmonisation." if refs else "") if x))
    wrote = w.table(batches, "tbl-batches", _CAP_BATCHES)
    wrote |= w.table(sep, "tbl-separability", _CAP_SEP)
    who = scope_name(d, scope, article=True)
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
    if finite(site.auc_unharmonised):
        perf = d.performance
        sig = perf[perf["model"] == d.signature_model]
        after = sig["auc"].iloc[0] if len(sig) and finite(sig["auc"].iloc[0]) else None
        w.p(f"AUC of the {md_text(in_sentence(d.labels.model(d.signature_model)))} on the "
            f"unharmonised features {fmt_num(site.auc_unharmonised, 3)}"
            + (f", on the harmonised features {fmt_num(after, 3)}." if after is not None
               else "."))
    m = shift_merged(d)
    # "5-95%": the development quantiles of the shift check, not a confidence level
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
            f"imputation by chained equations {cite('vanbuuren')} with {md.n_imputations} "
            f"imputations and {md.max_iter} iterations"
            + (f" ({how}; pmm = predictive mean matching)" if how else "")
            + ". The development imputation model contained the outcome and the signature's "
            f"linear predictor {cite('moons_mi')}. Feature selection used only the complete "
            "imaging features and the outcome, so it was the same in every completed data "
            "set; the clinical model and the nomogram were fitted on each completed data set "
            f"and their coefficients pooled by Rubin's rules {cite('rubin')} with Barnard-Rubin "
            f"degrees of freedom {cite('barnard_rubin')}. Predictions are the average linear "
            "predictor over the completed data sets; AUCs were pooled on the logit scale and "
            "calibration intercepts and slopes by Rubin's rules. Validation cohorts were "
            "completed by the development imputation models with their own outcome. In the "
            "internal validation each "
            f"bootstrap resample was imputed again (bootstrap, then impute {cite('wahl')}). "
            "For use in new patients the bundle carries an imputation model fitted without "
            "the outcome. Imaging features were never imputed.")
    elif md is not None and md.site is None:
        paras.append("**Missing data.** Complete-case analysis: patients with a missing "
                     "outcome, a missing predictor of a model or failed imaging features were "
                     "excluded.")
    if hm is not None and hm.site is None:
        paras.append(
            "**Harmonisation.** Scanner and protocol effects on the imaging features were "
            f"removed with ComBat {cite('johnson_combat', 'fortin_combat')} using "
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
