"""radval.workflow: the study, from manifest to results, one module per stage.

=====================  =============================================================
module                 stage
=====================  =============================================================
``_study``             the study file (:func:`load_study`, :class:`StudyConfig`)
``_coding``            the study's readers of the clinical and features tables; the coding
                       rules of outcome, reader and cohort they apply are
                       :mod:`radval.io.coding`, shared with external validation
``_cohort``            cohort assembly: features + clinical table, guards, patient flow
                       (:func:`prepare_data`, :class:`AnalysisData`)
``_extraction``        PyRadiomics (cached) and the deep network (:func:`extract_features`)
``_selection``         ICC -> Mann-Whitney -> redundancy -> LASSO per family
                       (:func:`run_selection`)
``_fitting``           scores, combined signature, clinical model, nomogram, comparison
                       classifiers, frozen cutoffs (:func:`fit_models`)
``_nomogram``          points scales of the nomogram (:func:`nomogram_points`)
``_bundle``            the frozen signature bundle written after fitting
``_evaluation``        every cohort x model x subgroup (:func:`evaluate_predictions`)
``_internal``          Harrell's bootstrap optimism with the whole development repeated
                       (:func:`optimism_bootstrap`)
``_survival``          the time-to-event endpoint: the Cox model frozen on development,
                       its validation in every cohort (:func:`evaluate_survival`)
``_survival_optimism`` the optimism of C and AUC(t) from the bootstrap resamples
``_survival_site``     the time-to-event validation of a bundle at a site
``_imputation``        multiple imputation of missing clinical predictors: pooling,
                       averaged predictions, the deployment imputer, site scoring
``_harmonisation``     ComBat on the imaging features: fitted on development before
                       selection, refitted in resamples, frozen into the bundle, applied
                       at sites
``_multicentre``       the multicentre demonstration (:func:`run_multicentre`)
``_external``          external validation of a frozen bundle at one site
                       (:func:`validate_bundle`, ``radval validate``)
``_run``               the step runners ``select``, ``fit``, ``evaluate`` and
                       :func:`run_study` (``radval run``)
``_demo``              the built-in study (:func:`prepare_demo`, ``radval demo``)
=====================  =============================================================

Data flow one way: manifest -> features -> selection -> signature -> predictions ->
results -> report.  Names are loaded lazily, so ``import radval.workflow`` imports
neither scikit-learn nor torch.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "StudyConfig": "_study",
    "load_study": "_study",
    "parse_subgroup": "_study",
    "study_from_dict": "_study",
    "AnalysisData": "_cohort",
    "prepare_data": "_cohort",
    "extract_features": "_extraction",
    "run_selection": "_selection",
    "FittedModels": "_fitting",
    "fit_models": "_fitting",
    "predictions_table": "_fitting",
    "nomogram_points": "_nomogram",
    "evaluate_predictions": "_evaluation",
    "heterogeneity_test": "_evaluation",
    "optimism_bootstrap": "_internal",
    "performance_indexes": "_internal",
    "validate_bundle": "_external",
    "SurvivalValidation": "_survival",
    "evaluate_survival": "_survival",
    "fit_study_survival_model": "_survival",
    "RunResult": "_run",
    "run_study": "_run",
    "run_select": "_run",
    "run_fit": "_run",
    "run_evaluate": "_run",
    "prepare_demo": "_demo",
    "prepare_multicentre": "_multicentre",
    "run_multicentre": "_multicentre",
    "remove_at_random": "_multicentre",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
