"""Methods text a biostatistician can paste: software, settings, statistics, references.

Built from results.json only (provenance versions, the study block, selection
settings); nothing is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from radval.report._escape import md_text
from radval.report.tables import as_mapping as _m
from radval.report.tables import fmt_num

__all__ = ["REFERENCES", "methods_markdown"]

#: Numbered references cited in the methods text.
REFERENCES: dict[str, str] = {
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


def _cite(*keys: str) -> str:
    order = list(REFERENCES)
    return "[" + ", ".join(str(order.index(k) + 1) for k in keys) + "]"


def _setting(results: Mapping[str, Any], *path: str, default: Any = None) -> Any:
    node: Any = results.get("provenance", {}).get("study") if isinstance(
        results.get("provenance"), Mapping) else None
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def methods_markdown(results: Mapping[str, Any]) -> tuple[str, str]:
    """Return (methods paragraphs, numbered reference list) as Markdown.

    Every value read from ``results`` (which echoes the study file) is escaped
    with :func:`radval.report._escape.md_text` where it enters the text.
    """
    prov = _m(results.get("provenance"))
    versions = _m(prov.get("versions"))
    soft = md_text(", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v)
                   or "not recorded")
    radval_v = md_text(results.get("radval_version") or versions.get("radval") or "unknown")
    icc_thr = md_text(_setting(results, "selection", "icc_threshold", default=0.75))
    p_thr = md_text(_setting(results, "selection", "p_threshold", default=0.05))
    corr = md_text(_setting(results, "selection", "corr_threshold", default=0.9))
    folds = md_text(_setting(results, "selection", "n_folds", default=10))
    rule = md_text(_setting(results, "selection", "lasso_rule", default="1se"))
    icc_form = _ICC_FORMS.get(str(_setting(results, "selection", "icc_type", default="ICC2")),
                              _ICC_FORMS["ICC2"])
    screen = ("Benjamini-Hochberg q" if _setting(results, "selection", "fdr", default=False)
              else "p")
    n_boot = _setting(results, "evaluation", "bootstrap_ci", default=None)
    n_boot = md_text(n_boot) if n_boot else n_boot
    opt = results.get("optimism") or []
    opt = opt if isinstance(opt, list) else []
    n_opt = next((r.get("n_resamples") for r in opt if isinstance(r, Mapping)), None)
    n_opt = md_text(n_opt) if n_opt is not None else None
    seed = md_text(prov.get("seed")) if prov.get("seed") is not None else None
    paras = []
    paras.append(
        f"**Software.** Analyses used radval {radval_v} (Python) with {soft}. Radiomic "
        f"features were extracted with PyRadiomics {_cite('pyradiomics')} following the IBSI "
        f"{_cite('ibsi')} where PyRadiomics allows (see @sec-ibsi). The random seed was "
        f"{seed if seed is not None else 'not recorded'}; every input file is identified by "
        "its SHA-256 in results.json.")
    if results.get("selection"):
        paras.append(
            "**Feature selection** used the development cohort only. Features with an "
            f"intraclass correlation coefficient ({icc_form}) not above {icc_thr} between "
            f"segmentations were removed {_cite('icc', 'koo')}; the remaining features were "
            f"screened with the Mann-Whitney U test ({screen} < {p_thr}), redundant features "
            f"(|Spearman ρ| > {corr}) were removed keeping the more significant one, and LASSO "
            f"logistic regression with {folds}-fold cross-validation chose the penalty (λ rule "
            f"{rule}) {_cite('glmnet')}. The rad-score and the DL-score are the LASSO linear "
            "predictors on the original feature scale.")
    paras.append(
        "**Discrimination** was measured by the area under the ROC curve (AUC) with DeLong "
        f"95% confidence intervals {_cite('delong', 'sunxu', 'proc')}"
        + (f" and stratified percentile bootstrap intervals ({n_boot} resamples)"
           if n_boot else " and stratified percentile bootstrap intervals")
        + f"; correlated AUCs within a cohort were compared with DeLong's test and the p-values "
        f"adjusted with Holm's method {_cite('holm')}. The probability cutoff was chosen on "
        f"the development cohort by the Youden index {_cite('youden')} and carried frozen to "
        "the validation cohorts; sensitivity, specificity, predictive values and accuracy are "
        f"given with Wilson score intervals {_cite('wilson')}.")
    paras.append(
        "**Calibration** was assessed by calibration-in-the-large, the calibration intercept "
        f"and slope {_cite('vancalster')}, the Brier score, the integrated calibration index "
        f"(ICI), E50/E90/Emax from a loess calibration curve {_cite('austin')}, and the "
        f"Hosmer-Lemeshow test with 10 groups {_cite('hl')}. **Clinical utility** was "
        f"assessed by decision-curve analysis {_cite('vickers')}.")
    if opt:
        iv = _m(results.get("internal_validation"))
        refitted = [str(x) for x in iv.get("refitted") or []]
        skipped = [str(x) for x in iv.get("not_refitted") or []]
        text = ("**Internal validation** used Harrell's bootstrap optimism correction "
                f"{_cite('harrell')} with "
                f"{n_opt if n_opt is not None else 'the stated number of'} resamples, "
                "repeating the whole selection and fitting inside each resample")
        if any(x.startswith("deep network") for x in refitted):
            text += ("; the deep network was trained again on each resample and the deep "
                     "features of the resample and of the original cohort were taken from it")
        if any("comparison classifiers" in x for x in refitted):
            text += "; the machine-learning comparison classifiers were refitted as well"
        text += "."
        if skipped:
            text += (" Taken as given, not refitted: " + "; ".join(md_text(x) for x in skipped)
                     + ". Where such "
                     "a step was fitted on the development cohort, the correction misses its "
                     "optimism.")
        paras.append(text)
    if results.get("sample_size"):
        paras.append(
            f"**Sample size** was checked against the criteria of Riley et al. {_cite('riley')} "
            "and by events per candidate predictor (see @sec-sample-size).")
    paras.append(
        f"**Baseline characteristics** are mean ± SD (compared with Welch's t-test or Welch's "
        f"ANOVA {_cite('welch')}) or median [IQR] (Mann-Whitney U or Kruskal-Wallis tests), "
        "and n (%) (chi-square test, or Fisher's exact test for 2 × 2 tables with an expected "
        "count below 5). Missing values are counted and excluded (complete-case analysis).")
    if results.get("survival"):
        paras.append(
            f"**Survival** by risk group was described with Kaplan-Meier curves {_cite('km')}, "
            "compared with the log-rank test, and summarised by the Cox hazard ratio and "
            "Harrell's C-index."
            + (f" At each horizon the time-to-event marker was validated by Uno's C "
               f"{_cite('uno')} and the cumulative/dynamic AUC(t) with inverse probability of "
               f"censoring weights {_cite('blanche')}, the absolute risks of the Cox model "
               f"frozen on the development cohort by the Brier score and IPA {_cite('ipa')}, "
               f"calibration (O/E, slope, flexible curve {_cite('austin_surv')}) and decision "
               "curves; the optimism of C and AUC(t) came from the bootstrap resamples of "
               "the binary endpoint (see @sec-survival-validation)."
               if (results.get("survival") or {}).get("horizons") else ""))
    paras.append(
        f"Reporting follows TRIPOD+AI {_cite('tripod')}; the Radiomics Quality Score "
        f"{_cite('rqs')} items that follow from the analysis are listed in @sec-checklists.")
    refs = "\n".join(f"{i}. {text}" for i, text in enumerate(REFERENCES.values(), start=1))
    return "\n\n".join(paras), refs


def sample_size_markdown(results: Mapping[str, Any]) -> str:
    """Short text on the development sample size (EPP, Riley criteria)."""
    ss = results.get("sample_size")
    if not isinstance(ss, Mapping):
        return "The sample-size check is not part of this run."
    parts = [f"The development cohort had {md_text(ss.get('n', '?'))} patients and "
             f"{md_text(ss.get('events', '?'))} events for "
             f"{md_text(ss.get('candidate_predictors', '?'))} candidate "
             f"predictors ({fmt_num(ss.get('epp'), 1)} events per candidate predictor)."]
    riley = ss.get("riley")
    if isinstance(riley, Mapping):
        req = riley.get("n_required") or riley.get("n")
        if req is not None:
            parts.append(f"The minimum sample size by Riley et al. (2020) is {md_text(req)}.")
    ok = ss.get("ok")
    if ok is not None:
        parts.append("The sample size is sufficient." if ok else
                     "**The development sample is smaller than required**; expect optimism "
                     "and interpret the internal validation accordingly.")
    return " ".join(parts)
