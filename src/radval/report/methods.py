"""Methods text a biostatistician can paste: software, settings, statistics, references.

Built from the typed results only (provenance versions, the study file as recorded, the
selection and internal validation), with the study file's display names for the outcome
and the predictors; nothing is computed here.
"""

from __future__ import annotations

import re

from radval.report._data import ReportData, in_sentence
from radval.report._escape import md_text
from radval.report.tables import fmt_num

__all__ = ["REFERENCES", "cite", "methods_markdown", "references_markdown",
           "resolve_citations", "sample_size_markdown"]

#: Numbered references cited in the methods text.
REFERENCES: dict[str, str] = {
    "vanbuuren": "van Buuren S, Groothuis-Oudshoorn K. mice: Multivariate Imputation by Chained "
                 "Equations in R. J Stat Softw 2011;45(3):1-67.",
    "moons_mi": "Moons KGM, Donders RART, Stijnen T, Harrell FE Jr. Using the outcome for "
                "imputation of missing predictor values was preferred. J Clin Epidemiol "
                "2006;59:1092-1101.",
    "rubin": "Rubin DB. Multiple Imputation for Nonresponse in Surveys. New York: Wiley; 1987.",
    "barnard_rubin": "Barnard J, Rubin DB. Small-sample degrees of freedom with multiple "
                     "imputation. Biometrika 1999;86:948-955.",
    "wahl": "Wahl S, Boulesteix AL, Zierer A, Thorand B, van de Wiel MA. Assessment of "
            "predictive performance in incomplete data by combining internal validation and "
            "multiple imputation. BMC Med Res Methodol 2016;16:144.",
    "johnson_combat": "Johnson WE, Li C, Rabinovic A. Adjusting batch effects in microarray "
                      "expression data using empirical Bayes methods. Biostatistics "
                      "2007;8:118-127.",
    "fortin_combat": "Fortin JP, Cullen N, Sheline YI, et al. Harmonization of cortical "
                     "thickness measurements across scanners and sites. NeuroImage "
                     "2018;167:104-120.",
    "delong": "DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more "
              "correlated receiver operating characteristic curves: a nonparametric approach. "
              "Biometrics 1988;44:837-845.",
    "sunxu": "Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas "
             "under correlated receiver operating characteristic curves. IEEE Signal Process "
             "Lett 2014;21:1389-1393.",
    "proc": "Robin X, Turck N, Hainard A, et al. pROC: an open-source package for R and S+ to "
            "analyze and compare ROC curves. BMC Bioinformatics 2011;12:77.",
    "holm": "Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat "
            "1979;6:65-70.",
    "wilson": "Wilson EB. Probable inference, the law of succession, and statistical inference. "
              "J Am Stat Assoc 1927;22:209-212.",
    "youden": "Youden WJ. Index for rating diagnostic tests. Cancer 1950;3:32-35.",
    "vancalster": "Van Calster B, Nieboer D, Vergouwe Y, et al. A calibration hierarchy for risk "
                  "models was defined: from utopia to empirical data. J Clin Epidemiol "
                  "2016;74:167-176.",
    "austin": "Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI) and related "
              "metrics for quantifying the calibration of logistic regression models. Stat Med "
              "2019;38:4051-4065.",
    "hl": "Hosmer DW, Lemeshow S. Goodness of fit tests for the multiple logistic regression "
          "model. Commun Stat Theory Methods 1980;9:1043-1069.",
    "vickers": "Vickers AJ, Elkin EB. Decision curve analysis: a novel method for evaluating "
               "prediction models. Med Decis Making 2006;26:565-574.",
    "harrell": "Harrell FE, Lee KL, Mark DB. Multivariable prognostic models: issues in "
               "developing models, evaluating assumptions and adequacy, and measuring and "
               "reducing errors. Stat Med 1996;15:361-387.",
    "icc": "Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability. "
           "Psychol Bull 1979;86:420-428.",
    "koo": "Koo TK, Li MY. A guideline of selecting and reporting intraclass correlation "
           "coefficients for reliability research. J Chiropr Med 2016;15:155-163.",
    "glmnet": "Friedman J, Hastie T, Tibshirani R. Regularization paths for generalized linear "
              "models via coordinate descent. J Stat Softw 2010;33:1-22.",
    "riley": "Riley RD, Ensor J, Snell KIE, et al. Calculating the sample size required for "
             "developing a clinical prediction model. BMJ 2020;368:m441.",
    "pyradiomics": "van Griethuysen JJM, Fedorov A, Parmar C, et al. Computational radiomics "
                   "system to decode the radiographic phenotype. Cancer Res 2017;77:e104-e107.",
    "ibsi": "Zwanenburg A, Vallières M, Abdalah MA, et al. The Image Biomarker Standardization "
            "Initiative. Radiology 2020;295:328-338.",
    "tripod": "Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated guidance "
              "for reporting clinical prediction models that use regression or machine "
              "learning methods. BMJ 2024;385:e078378.",
    "rqs": "Lambin P, Leijenaar RTH, Deist TM, et al. Radiomics: the bridge between medical "
           "imaging and personalized medicine. Nat Rev Clin Oncol 2017;14:749-762.",
    "welch": "Welch BL. The generalization of 'Student's' problem when several different "
             "population variances are involved. Biometrika 1947;34:28-35.",
    "km": "Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. J Am Stat "
          "Assoc 1958;53:457-481.",
    "uno": "Uno H, Cai T, Pencina MJ, D'Agostino RB, Wei LJ. On the C-statistics for "
           "evaluating overall adequacy of risk prediction procedures with censored survival "
           "data. Stat Med 2011;30:1105-1117.",
    "blanche": "Blanche P, Dartigues JF, Jacqmin-Gadda H. Estimating and comparing "
               "time-dependent areas under receiver operating characteristic curves for "
               "censored event times with competing risks. Stat Med 2013;32:5381-5397.",
    "ipa": "Kattan MW, Gerds TA. The index of prediction accuracy: an intuitive measure "
           "useful for evaluating risk prediction models. Diagn Progn Res 2018;2:7.",
    "austin_surv": "Austin PC, Harrell FE Jr, van Klaveren D. Graphical calibration curves "
                   "and the integrated calibration index (ICI) for survival models. Stat Med "
                   "2020;39:2714-2742.",
    "clear": "Kocak B, Baessler B, Bakas S, et al. CheckList for EvaluAtion of Radiomics "
             "research (CLEAR): a step-by-step reporting guideline for authors and reviewers "
             "endorsed by ESR and EuSoMII. Insights Imaging 2023;14:75.",
    "metrics": "Kocak B, Akinci D'Antonoli T, Mercaldo N, et al. METhodological RadiomICs "
               "Score (METRICS): a quality scoring tool for radiomics research endorsed by "
               "EuSoMII. Insights Imaging 2024;15:8.",
    "riley_validation": "Riley RD, Debray TPA, Collins GS, et al. Minimum sample size for "
                        "external validation of a clinical prediction model with a binary "
                        "outcome. Stat Med 2021;40:4230-4251.",
    "riley_instability": "Riley RD, Collins GS. Stability of clinical prediction models "
                         "developed using statistical or machine learning methods. Biom J "
                         "2023;65:e2200302.",
}


#: psych::ICC forms (Shrout & Fleiss 1979) as written in the methods text.
_ICC_FORMS = {
    "ICC1": "one-way random effects, single rater, ICC(1,1)",
    "ICC2": "two-way random effects, absolute agreement, single rater, ICC(2,1)",
    "ICC3": "two-way mixed effects, consistency, single rater, ICC(3,1)",
    "ICC1k": "one-way random effects, mean of k raters, ICC(1,k)",
    "ICC2k": "two-way random effects, absolute agreement, mean of k raters, ICC(2,k)",
    "ICC3k": "two-way mixed effects, consistency, mean of k raters, ICC(3,k)",
}


_CITE = re.compile(r"\[\[cite:([a-z_,]+)\]\]")
_REFS = "[[references]]"


def cite(*keys: str) -> str:
    """A citation of the references ``keys`` of :data:`REFERENCES`: a placeholder that
    :func:`resolve_citations` numbers in the order of first citation (``[1, 4]``)."""
    unknown = [k for k in keys if k not in REFERENCES]
    if unknown:
        raise ValueError(f"unknown reference(s) {unknown}; known: {sorted(REFERENCES)}")
    return "[[cite:" + ",".join(keys) + "]]"


def references_markdown() -> str:
    """The place of the numbered reference list (filled by :func:`resolve_citations`)."""
    return _REFS


def resolve_citations(docs: list[str]) -> list[str]:
    """Number the citations of ``docs`` (in order: main report, then supplement) by first
    appearance, and put the list of the cited references where
    :func:`references_markdown` stands."""
    order: list[str] = []
    for text in docs:
        for m in _CITE.finditer(text):
            for k in m.group(1).split(","):
                if k not in order:
                    order.append(k)
    number = {k: i for i, k in enumerate(order, start=1)}

    def repl(m: re.Match[str]) -> str:
        return "[" + ", ".join(str(n) for n in sorted(number[k] for k in
                                                      m.group(1).split(","))) + "]"

    listing = "\n".join(f"{number[k]}. {md_text(REFERENCES[k])}" for k in order) \
        or "No references cited."
    return [_CITE.sub(repl, text).replace(_REFS, listing) for text in docs]


def _predictors_paragraph(d: ReportData) -> str:
    study = d.study
    if study is None or not study.clinical_predictors:
        return ""
    timing = {"pre-operative": "known before surgery", "post-operative": "known after surgery"}
    items = [f"{md_text(d.labels.variable(p.name))} ({md_text(p.kind)}, "
             f"{md_text(timing.get(p.timing, p.timing))})" for p in study.clinical_predictors]
    outcome = d.labels.variable(study.outcome.column, unit=False)
    pos = d.labels.level(study.outcome.column, study.outcome.positive_label)
    text = (f"**Outcome and predictors.** The outcome was {md_text(in_sentence(outcome))} "
            f"(event: {md_text(pos)})")
    if study.outcome.definition:
        text += f", defined as {md_text(study.outcome.definition)}"
    text += (f". The prediction is made {md_text(study.prediction_moment)}ly. Clinical "
             f"candidate predictors were {'; '.join(items)}.")
    if study.clinical_model_predictors():
        text += (" The clinical model used " + ", ".join(
            md_text(in_sentence(d.labels.variable(p.name, unit=False)))
            for p in study.clinical_model_predictors()) + ".")
    if study.subgroups:
        text += (" Pre-specified subgroups: " + "; ".join(
            md_text(d.labels.subgroup(s.name)) for s in study.subgroups) + ".")
    return text


def methods_markdown(d: ReportData) -> str:
    """The methods paragraphs as markdown, citing :data:`REFERENCES` by number.

    Every value from the results (which echo the study file) is escaped with
    :func:`radval.report._escape.md_text` where it enters the text.
    """
    r = d.results
    prov = r.provenance
    versions = prov.versions
    soft = md_text(", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v)
                   or "not recorded")
    radval_v = md_text(r.radval_version)
    study = d.study
    sel = study.selection if study is not None else None
    ev = study.evaluation if study is not None else None
    n_opt = next((row.n_resamples for row in r.optimism or []), None)
    paras = []
    paras.append(
        f"**Software.** Analyses used radval {radval_v} (Python) with {soft}. Radiomic "
        f"features were extracted with PyRadiomics {cite('pyradiomics')} following the IBSI "
        f"{cite('ibsi')} where PyRadiomics allows (@sec-ibsi). The random seed was "
        f"{prov.seed}; every input file is identified by its SHA-256 (@sec-provenance).")
    pred = _predictors_paragraph(d)
    if pred:
        paras.append(pred)
    if r.selection:
        icc_form = _ICC_FORMS.get(sel.icc_type if sel else "ICC2", _ICC_FORMS["ICC2"])
        screen = "Benjamini-Hochberg q" if sel is not None and sel.fdr else "p"
        setting = (f"{sel.icc_threshold:g}", f"{sel.p_threshold:g}", f"{sel.corr_threshold:g}",
                   str(sel.n_folds), sel.lasso_rule) if sel is not None else \
            ("the stated threshold",) * 3 + ("k", "1se")
        paras.append(
            "**Feature selection** used the development cohort only. Features with an "
            f"intraclass correlation coefficient ({icc_form}) not above {setting[0]} between "
            f"segmentations were removed {cite('icc', 'koo')}; the remaining features were "
            f"screened with the Mann-Whitney U test ({screen} < {setting[1]}), redundant "
            f"features (|Spearman ρ| > {setting[2]}) were removed keeping the more "
            f"significant one, and LASSO logistic regression with {setting[3]}-fold "
            f"cross-validation chose the penalty (λ rule {setting[4]}) {cite('glmnet')}. The "
            "rad-score and the DL-score are the LASSO linear predictors on the original "
            "feature scale.")
    n_boot = ev.bootstrap_ci if ev is not None else None
    paras.append(
        "**Discrimination** was measured by the area under the ROC curve (AUC) with DeLong "
        f"{d.ci} confidence intervals {cite('delong', 'sunxu', 'proc')}"
        + (f" and stratified percentile bootstrap intervals ({n_boot} resamples)"
           if n_boot else "")
        + "; correlated AUCs within a cohort were compared with DeLong's test and the "
        f"p-values adjusted with Holm's method {cite('holm')}. The probability cut-off was "
        f"chosen on the development cohort by the Youden index {cite('youden')} and carried "
        "frozen to the validation cohorts; sensitivity, specificity, predictive values and "
        f"accuracy are given with Wilson score intervals {cite('wilson')}.")
    hl = ev.hl_groups if ev is not None else 10
    paras.append(
        "**Calibration** was assessed by calibration-in-the-large, the calibration intercept "
        f"and slope {cite('vancalster')}, the Brier score, the integrated calibration index "
        f"(ICI), E90 and Emax from a smoothed calibration curve {cite('austin')}, and the "
        f"Hosmer-Lemeshow test with {hl} groups {cite('hl')}. **Clinical utility** was "
        f"assessed by decision-curve analysis {cite('vickers')}.")
    iv = r.internal_validation
    if r.optimism:
        text = ("**Internal validation** used Harrell's bootstrap optimism correction "
                f"{cite('harrell')} with {n_opt} resamples, repeating the whole selection "
                "and fitting inside each resample")
        refitted = list(iv.refitted) if iv is not None else []
        skipped = list(iv.not_refitted) if iv is not None else []
        if any(x.startswith("deep network") for x in refitted):
            text += ("; the deep network was trained again on each resample and the deep "
                     "features of the resample and of the original cohort were taken from it")
        if any("comparison classifiers" in x for x in refitted):
            text += "; the machine-learning comparison classifiers were refitted as well"
        text += "."
        if skipped:
            text += (" Taken as given, not refitted: " + "; ".join(md_text(x) for x in skipped)
                     + ". Where such a step was fitted on the development cohort, the "
                     "correction misses its optimism.")
        if r.stability is not None:
            text += (" Selection stability and prediction instability were taken from the "
                     f"same resamples {cite('riley_instability')}.")
        paras.append(text)
    if r.sample_size is not None:
        paras.append(
            f"**Sample size** was checked against the criteria of Riley et al. {cite('riley')} "
            "and by events per candidate predictor (@sec-sample-size).")
    if r.baseline:
        paras.append(
            f"**Baseline characteristics** are mean ± SD (compared with Welch's t-test or "
            f"Welch's ANOVA {cite('welch')}) or median [IQR] (Mann-Whitney U or Kruskal-Wallis "
            "tests), and n (%) (chi-square test, or Fisher's exact test for 2 × 2 tables with "
            "an expected count below 5). Missing values are counted and excluded "
            "(complete-case analysis).")
    if r.survival is not None:
        paras.append(
            f"**Survival** by risk group was described with Kaplan-Meier curves {cite('km')}, "
            "compared with the log-rank test, and summarised by the Cox hazard ratio and "
            "Harrell's C-index."
            + (f" At each horizon the time-to-event marker was validated by Uno's C "
               f"{cite('uno')} and the cumulative/dynamic AUC(t) with inverse probability of "
               f"censoring weights {cite('blanche')}, the absolute risks of the Cox model "
               f"frozen on the development cohort by the Brier score and IPA {cite('ipa')}, "
               f"calibration (O/E, slope, flexible curve {cite('austin_surv')}) and decision "
               "curves; the optimism of C and AUC(t) came from the bootstrap resamples of "
               "the binary endpoint (see @sec-survival-validation)."
               if r.survival.horizons else ""))
    paras.append(
        f"Reporting follows TRIPOD+AI {cite('tripod')} and CLEAR {cite('clear')}; the "
        f"METRICS {cite('metrics')} and Radiomics Quality Score {cite('rqs')} items that "
        "follow from the analysis are listed in @sec-checklists.")
    return "\n\n".join(paras)


def sample_size_markdown(d: ReportData) -> str:
    """Short text on the development sample size (EPP, Riley criteria)."""
    ss = d.results.sample_size
    if ss is None:
        return "The sample-size check is not part of this run."
    parts = [f"The development cohort had {ss.n} patients and {ss.events} events for "
             f"{ss.candidate_predictors} candidate predictors ({fmt_num(ss.epp, 2)} events "
             "per candidate predictor)."]
    req = ss.riley.get("n_required") if ss.riley is not None else None
    if req is not None:
        parts.append(f"The minimum sample size by the criteria of Riley et al. {cite('riley')} "
                     f"is {md_text(req)}.")
    parts.append("The sample size is sufficient." if ss.ok else
                 "**The development sample is smaller than required**; expect optimism "
                 "and interpret the internal validation accordingly.")
    return " ".join(parts)
