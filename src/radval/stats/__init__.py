"""Statistics for prediction-model validation, each matching its R reference.

Names are loaded lazily from their modules so that ``import radval.stats`` is
cheap.  To export a new name, add one line to ``_EXPORTS``.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # discrimination (pROC)
    "roc_auc": "_discrimination",
    "roc_curve": "_discrimination",
    "delong_ci": "_discrimination",
    "delong_test": "_discrimination",
    "delong_test_unpaired": "_discrimination",
    "delong_test_many": "_discrimination",
    "bootstrap_auc": "_discrimination",
    "bootstrap_auc_test": "_discrimination",
    "bootstrap_indices": "_discrimination",
    # partial AUC (pROC), Hanley-McNeil SE
    "partial_auc": "_partial_auc",
    "hanley_mcneil_se": "_partial_auc",
    # threshold metrics (epiR / binom)
    "threshold_metrics": "_threshold",
    "youden_threshold": "_threshold",
    # decision curves (dcurves)
    "decision_curve": "_decision_curve",
    "decision_curve_difference": "_decision_curve",
    "optimism_corrected_net_benefit": "_decision_curve",
    "survival_decision_curve": "_decision_curve",
    # reclassification (Hmisc improveProb)
    "nri": "_reclassification",
    "idi": "_reclassification",
    # reliability (psych::ICC)
    "icc": "_reliability",
    # rank tests (wilcox.test)
    "mann_whitney": "_rank",
    "mann_whitney_table": "_rank",
    # calibration (rms::val.prob, ResourceSelection::hoslem.test)
    "calibration": "_calibration",
    "hosmer_lemeshow": "_calibration",
    # calibration curves (loess / rcs / lowess, rms::calibrate correction)
    "calibration_curve": "_calibration_curve",
    "optimism_corrected_curve": "_calibration_curve",
    # multiplicity (p.adjust)
    "adjust_pvalues": "_multitest",
    # survival (survival::survfit / survdiff / coxph / concordance)
    "kaplan_meier": "_survival",
    "logrank_test": "_survival",
    "cox_ph": "_survival",
    "concordance_index": "_survival",
    "median_survival": "_survival",
    # time-dependent validation (riskRegression::Score, survival::concordance n/G2)
    "time_dependent_auc": "_timedep",
    "uno_c": "_timedep",
    "survival_brier": "_timedep",
    "survival_calibration": "_survival_calibration",
    # multiple imputation (mice::pool.scalar / pool)
    "rubin_pool": "_rubin",
    "rubin_pool_many": "_rubin",
    "pool_auc": "_rubin",
    "RubinResult": "_rubin",
    "RubinPoolTable": "_rubin",
    "PooledAUCResult": "_rubin",
    # external-validation sample size (Riley et al. 2021, pmvalsampsize)
    "external_validation_sample_size": "_sample_size",
    "check_validation_sample_size": "_sample_size",
    # descriptive (Table 1)
    "baseline_table": "_descriptive",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
