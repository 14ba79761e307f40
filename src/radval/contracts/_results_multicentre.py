"""Records of ``results.json`` for multicentre data: missing clinical predictors handled by
multiple imputation (:mod:`radval.workflow._imputation`: missingness tables and patterns,
Rubin-pooled coefficients and performance, a site's deployment imputation) and ComBat
harmonisation of the imaging features (:mod:`radval.workflow._harmonisation`: batches,
separability before and after, the batch-outcome guard, a site's shift before
harmonisation).  Every field of :class:`radval.contracts.ResultsFile` that holds them is
optional.
"""

from __future__ import annotations

from typing import Any

from radval.contracts._base import Num, OptNum, OptStr, Record, described
from radval.contracts._results_site import Shift

_f = described


class MissingDataRow(Record):
    """Missing values of one predictor of the models among the analysed patients of a
    cohort."""

    cohort: str = _f("cohort")
    variable: str = _f("clinical predictor")
    n: int = _f("analysed patients")
    n_missing: int = _f("patients without a value")
    percent_missing: Num = _f("100 n_missing / n")


class MissingPatternRow(Record):
    """One missing-data pattern of a cohort (mice md.pattern)."""

    cohort: str = _f("cohort")
    pattern: dict[str, int] = _f("predictor -> 1 observed, 0 missing")
    n_rows: int = _f("patients with the pattern")
    n_missing_variables: int = _f("predictors missing in the pattern")


class ImputedCountRow(Record):
    """Patients of a cohort kept with imputed predictors."""

    cohort: str = _f("cohort")
    n: int = _f("analysed patients")
    n_imputed: int = _f("of them with at least one imputed predictor (0 in a complete-case "
                        "analysis)")


class PooledCoefficientRow(Record):
    """A coefficient pooled over the completed data sets by Rubin's rules (mice pool)."""

    model: str = _f("clinical or nomogram")
    term: str = _f("coefficient")
    estimate: OptNum = _f("mean over the completed data sets")
    within: OptNum = _f("within-imputation variance U")
    between: OptNum = _f("between-imputation variance B")
    total: OptNum = _f("T = U + (1 + 1/m) B")
    se: OptNum = _f("sqrt(T)")
    df: OptNum = _f("Barnard-Rubin degrees of freedom")
    dfcom: OptNum = _f("complete-data df n - p")
    riv: OptNum = _f("relative increase in variance")
    lambda_: OptNum = _f("share of the variance due to missingness")
    fmi: OptNum = _f("fraction of missing information")
    statistic: OptNum = _f("estimate / se")
    p_value: OptNum = _f("two-sided, t with df")
    ci_low: OptNum = _f("lower confidence limit")
    ci_high: OptNum = _f("upper confidence limit")
    m: int = _f("completed data sets")


class PooledPerformanceRow(Record):
    """Performance of a multiply imputed model in one cohort, pooled over the per-imputation
    predictions by Rubin's rules."""

    cohort: str = _f("cohort")
    model: str = _f("clinical or nomogram")
    metric: str = _f("auc (pooled on the logit scale), calibration_intercept, "
                     "calibration_slope")
    estimate: OptNum = _f("pooled estimate (AUC back-transformed)", None)
    se: OptNum = _f("sqrt(T) (logit scale for the AUC)", None)
    ci_low: OptNum = _f("lower confidence limit", None)
    ci_high: OptNum = _f("upper confidence limit", None)
    within: OptNum = _f("within-imputation variance", None)
    between: OptNum = _f("between-imputation variance", None)
    total: OptNum = _f("total variance", None)
    df: OptNum = _f("Barnard-Rubin df (complete-data df n - 1)", None)
    riv: OptNum = _f("relative increase in variance", None)
    fmi: OptNum = _f("fraction of missing information", None)
    m: int = _f("completed data sets")
    n: int = _f("patients")
    scale: OptStr = _f("logit or identity", None)
    undefined_reason: OptStr = _f("why undefined", None)


class SiteImputationRow(Record):
    """A clinical model of the bundle at a site, on all patients, on the complete cases and
    on the patients with an imputed predictor."""

    model: str = _f("clinical or nomogram")
    label: OptStr = _f("display name of the model (the development run's)", None)
    subset: str = _f("all, complete_cases, imputed")
    n: int = _f("patients")
    events: int = _f("events")
    auc: OptNum = _f("AUC")
    auc_ci_low: OptNum = _f("DeLong lower limit")
    auc_ci_high: OptNum = _f("DeLong upper limit")
    calibration_intercept: OptNum = _f("intercept of logit(y) ~ a + b logit(p)")
    calibration_slope: OptNum = _f("slope b")
    brier: OptNum = _f("Brier score")
    undefined_reason: OptStr = _f("why undefined")


class SiteMissingVariableRow(Record):
    """Missing values of one predictor at a site."""

    variable: str = _f("clinical predictor")
    n: int = _f("analysed site patients")
    n_missing: int = _f("without a value")
    percent_missing: Num = _f("100 n_missing / n")


class SiteImputation(Record):
    """The bundle's clinical models at a site with the deployment imputer."""

    method: str = _f("deployment_imputer, or complete_case when the bundle has no imputer")
    n_draws: int = _f("imputation draws per patient (linear predictors averaged)")
    variables: list[str] = _f("clinical predictors of the models")
    n_imputed: int = _f("site patients with at least one imputed predictor")
    table: list[SiteMissingVariableRow] = _f("missing values per predictor")
    models: list[SiteImputationRow] = _f("performance with and without the imputed patients")


class MissingData(Record):
    """How missing clinical predictors were handled (TRIPOD+AI 11)."""

    method: str = _f("complete_case or multiple_imputation")
    n_imputations: int | None = _f("completed data sets m", None)
    max_iter: int | None = _f("sweeps of the chained equations", None)
    variables: list[str] = _f("predictors of the models", [])
    imputed_variables: list[str] = _f("predictors with missing values in development", [])
    imputation_methods: dict[str, str] = _f("predictor -> pmm, norm, logreg, polyreg", {})
    auxiliary: list[str] = _f("further variables of the development imputation model", [])
    table: list[MissingDataRow] = _f("missing values per cohort and predictor (analysed "
                                     "patients)", [])
    patterns: list[MissingPatternRow] = _f("missing-data patterns per cohort", [])
    imputed: list[ImputedCountRow] = _f("patients kept with imputed predictors", [])
    pooled_coefficients: list[PooledCoefficientRow] = _f("Rubin's rules per coefficient", [])
    pooled_performance: list[PooledPerformanceRow] = _f("Rubin's rules per cohort x model x "
                                                        "metric", [])
    selection: OptStr = _f("how feature selection and imputation interact", None)
    predictions: OptStr = _f("how predictions are combined across imputations", None)
    internal_validation: OptStr = _f("how the optimism bootstrap repeats the imputation",
                                     None)
    deployment: dict[str, Any] | None = _f("the deployment imputer of the bundle", None)
    site: SiteImputation | None = _f("the bundle's clinical models at a site (site runs)",
                                     None)


class BatchRow(Record):
    """Patients of one batch in one cohort."""

    cohort: str = _f("cohort")
    batch: str = _f("batch label")
    n: int = _f("analysed patients")
    in_development: bool = _f("the batch is a development batch (else harmonised as a new "
                              "site from its own features)")


class SeparabilityRow(Record):
    """How well the features identify the batch (radval.harmonize.batch_separability)."""

    scope: str = _f("development or all_cohorts")
    stage: str = _f("before or after harmonisation")
    auc: OptNum = _f("cross-validated AUC of predicting the batch (0.5 = indistinguishable)")
    fraction_significant: OptNum = _f("share of features differing between batches "
                                      "(Kruskal-Wallis, BH q < 0.05)")
    median_kruskal_h: OptNum = _f("median Kruskal-Wallis H")
    n_samples: int = _f("patients")
    n_features: int = _f("features")
    n_batches: int = _f("batches")


class PcaRow(Record):
    """A patient on the first two principal components (plot coloured by batch)."""

    scope: str = _f("development or all_cohorts")
    stage: str = _f("before or after")
    batch: str = _f("batch")
    cohort: str = _f("cohort")
    pc1: Num = _f("first component")
    pc2: OptNum = _f("second component")


class BatchOutcome(Record):
    """Association of batch and outcome in development (the ComBat guard)."""

    method: str = _f("pearson_chi2 or fisher_exact")
    statistic: OptNum = _f("chi-square (odds ratio for Fisher's test)")
    df: int = _f("degrees of freedom")
    p_value: OptNum = _f("p-value")
    cramers_v: OptNum = _f("Cramer's V")
    min_expected: OptNum = _f("smallest expected count")
    associated: bool = _f("p < alpha: ComBat would remove real signal (flagged)")
    alpha: Num = _f("level")
    table: list[dict[str, Any]] = _f("counts per batch and outcome, event rate")


class SiteBatchRow(Record):
    """A batch at a site."""

    batch: str = _f("batch label")
    n: int = _f("patients")
    seen: bool = _f("a development batch (frozen parameters) or new (estimated from the "
                    "site's features)")


class SiteHarmonisation(Record):
    """The frozen ComBat applied at a site, and the shift before it."""

    batch_column: OptStr = _f("batch column of the bundle")
    label_source: str = _f("clinical table, manifest, or site label")
    batches: list[SiteBatchRow] = _f("batches at the site")
    n_harmonised: int = _f("patients harmonised")
    n_features: int = _f("features harmonised")
    n_features_bundle: int = _f("features the bundle harmonises")
    auc_unharmonised: OptNum = _f("AUC of the signature on the raw (unharmonised) features",
                                  None)
    shift_before: Shift | None = _f("dataset-shift diagnostics of the raw features (the "
                                    "results' shift is after harmonisation)", None)


class Harmonisation(Record):
    """ComBat harmonisation of the imaging features."""

    method: str = _f("combat")
    batch: OptStr = _f("batch column", None)
    batch_source: OptStr = _f("clinical table or manifest", None)
    covariates: list[str] = _f("covariates preserved", [])
    reference: OptStr = _f("reference batch", None)
    parametric: bool | None = _f("parametric priors", None)
    empirical_bayes: bool | None = _f("empirical-Bayes shrinkage", None)
    mean_only: bool | None = _f("location only", None)
    n_features: int | None = _f("features harmonised", None)
    n_not_adjusted: int | None = _f("features constant within a batch (passed through)", None)
    batches: list[BatchRow] = _f("batches per cohort", [])
    separability: list[SeparabilityRow] = _f("batch separability before/after", [])
    pca: list[PcaRow] = _f("principal components before/after", [])
    batch_outcome: BatchOutcome | None = _f("batch-outcome association in development", None)
    site: SiteHarmonisation | None = _f("the frozen ComBat at a site (site runs)", None)
