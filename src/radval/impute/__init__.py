"""Missing predictors: multiple imputation for development, a frozen imputer for deployment.

* :class:`ChainedImputer`: multiple imputation by chained equations (mice's algorithm and
  default methods: predictive mean matching, logistic / multinomial regression), with the
  outcome in the development imputation model, deterministic for a seed;
* :class:`DeploymentImputer`: conditional models fitted on the development predictors
  *without* the outcome, stored as JSON (no patient rows), that impute a missing
  predictor of a patient at an external site;
* :func:`missing_summary`, :func:`missing_patterns`: the missing-data table and patterns.

Pool the analyses of the completed data sets with :func:`radval.stats.rubin_pool`.
Names are loaded lazily so that ``import radval.impute`` stays cheap.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ChainedImputer": "_chained",
    "complete_case_rows": "_chained",
    "DeploymentImputer": "_deployment",
    "missing_summary": "_report",
    "missing_patterns": "_report",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
