"""radval.models: study file, signature models, evaluation, internal validation, pipeline.

* :func:`load_study` / :class:`StudyConfig`: the validated study file;
* :func:`run_study`: extraction -> selection -> models -> evaluation -> outputs
  (``radval run``), and its steps :func:`run_select`, :func:`run_fit`, :func:`run_evaluate`;
* :func:`evaluate_predictions`, :func:`heterogeneity_test`: the evaluation tables;
* :func:`optimism_bootstrap`: Harrell's bootstrap with the whole selection repeated;
* :func:`riley_sample_size`: minimum sample size (Riley et al. 2020);
* :func:`fit_logistic`, :class:`DesignSpec`: IRLS logistic regression and clinical designs;
* :class:`Signature`, :func:`write_bundle`, :func:`load_bundle`: the frozen signature.

Names are loaded lazily, so ``import radval.models`` imports neither scikit-learn nor
torch.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "StudyConfig": "study",
    "load_study": "study",
    "parse_subgroup": "study",
    "study_from_dict": "study",
    "run_study": "pipeline",
    "run_select": "pipeline",
    "run_fit": "pipeline",
    "run_evaluate": "pipeline",
    "prepare_data": "pipeline",
    "nomogram_points": "pipeline",
    "evaluate_predictions": "evaluation",
    "heterogeneity_test": "evaluation",
    "optimism_bootstrap": "internal",
    "performance_indexes": "internal",
    "riley_sample_size": "samplesize",
    "fit_logistic": "logistic",
    "DesignSpec": "logistic",
    "fit_classifier": "classifiers",
    "Signature": "signature",
    "LinearScore": "signature",
    "LogisticModel": "signature",
    "write_bundle": "bundle",
    "load_bundle": "bundle",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
