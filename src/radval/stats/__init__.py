"""Statistics for prediction-model validation, each matching its R reference.

Names are loaded lazily from their modules so that ``import radval.stats`` is
cheap.  To export a new name, add one line to ``_EXPORTS``.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # discrimination (pROC)
    "roc_auc": "discrimination",
    "roc_curve": "discrimination",
    "delong_ci": "discrimination",
    "delong_test": "discrimination",
    "delong_test_unpaired": "discrimination",
    "delong_test_many": "discrimination",
    "bootstrap_auc": "discrimination",
    "bootstrap_auc_test": "discrimination",
    "bootstrap_indices": "discrimination",
    # threshold metrics (epiR / binom)
    "threshold_metrics": "threshold",
    "youden_threshold": "threshold",
    # decision curves (dcurves)
    "decision_curve": "decision_curve",
    # reclassification (Hmisc improveProb)
    "nri": "reclassification",
    "idi": "reclassification",
    # reliability (psych::ICC)
    "icc": "reliability",
    # rank tests (wilcox.test)
    "mann_whitney": "rank",
    "mann_whitney_table": "rank",
    # calibration (rms::val.prob, ResourceSelection::hoslem.test)
    "calibration": "calibration",
    "hosmer_lemeshow": "calibration",
    # multiplicity (p.adjust)
    "adjust_pvalues": "multitest",
    # survival (survival::survfit / survdiff / coxph / concordance)
    "kaplan_meier": "survival",
    "logrank_test": "survival",
    "cox_ph": "survival",
    "concordance_index": "survival",
    # descriptive (Table 1)
    "baseline_table": "descriptive",
}

__all__ = sorted(_EXPORTS)

# Two functions share their module's name.  Importing a submodule binds the
# package attribute to the module, which would shadow a lazily returned
# function after first use; importing these two eagerly (numpy/pandas only)
# binds the names to the functions once and for all.
from radval.stats.calibration import calibration  # noqa: E402, F401
from radval.stats.decision_curve import decision_curve  # noqa: E402, F401

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
