"""``results.json``: every number of a run, written by ``radval run`` / ``radval evaluate``
and, for one site, by ``radval validate``; the report reads only this file.

Tables are lists of flat records ("tidy"): one row per cohort x model (x subgroup ...);
NaN is written as ``null``; an undefined metric keeps its row with ``undefined_reason``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from radval.contracts._base import Document, Num, OptNum, OptStr, Record, described
from radval.contracts._results_multicentre import (
    Harmonisation,
    MissingData,
)
from radval.contracts._results_site import (
    BundleRef,
    Shift,
    Updating,
)
from radval.contracts._results_utility import (
    CalibrationBandPoint,
    CorrectedCalibrationPoint,
    CorrectedCalibrationSummary,
    CorrectedNetBenefitPoint,
    NetBenefitDifferenceRow,
    PartialAucRow,
    SubgroupCalibrationPoint,
    SubgroupCalibrationRow,
    SubgroupHeterogeneityRow,
    SubgroupNetBenefitRow,
    ValidationSampleSize,
)
from radval.contracts._survival import (
    RiskGroupRow,
    SurvivalBrierRow,
    SurvivalCalibrationGroup,
    SurvivalCalibrationPoint,
    SurvivalCalibrationRow,
    SurvivalDecisionPoint,
    SurvivalModelSpec,
    SurvivalOptimismRow,
    TdAucRow,
)

__all__ = ["RESULTS_SCHEMA_VERSION", "ResultsFile"]

RESULTS_SCHEMA_VERSION = "1"

Role = Literal["development", "internal_validation", "external_validation"]
#: A confidence level, strictly between 0 and 1 (0.95, not 95).
Level = Annotated[float, Field(gt=0.0, lt=1.0)]


_f = described


# ------------------------------------------------------------------------- run-level
class Provenance(Record):
    """How the run was made: versions, seed, input hashes, the study file."""

    versions: dict[str, str | None] = _f("package -> version (python, numpy, pyradiomics, "
                                         "torch, ...)")
    seed: int = _f("the study seed (every random step derives its stream from it)")
    input_sha256: dict[str, str] = _f("input label (clinical, manifest, features, "
                                      "radiomics_params, study_file) -> SHA-256")
    study: dict[str, Any] | None = _f("the parsed study file (development runs)", None)
    study_file_text: str | None = _f("the study file as written", None)
    bundle_sha256: dict[str, str] | None = _f("bundle file -> SHA-256 (site runs)", None)
    bundle_radval_version: str | None = _f("radval version that wrote the bundle (site runs)",
                                           None)
    input_paths: dict[str, str] | None = _f("input label (as in input_sha256) -> its path "
                                            "relative to the run folder, for `radval report "
                                            "--check`", None)


class StudyInfo(Record):
    """What was studied."""

    name: str = _f("study name")
    outcome: str = _f("outcome column")
    positive_label: int | str | bool = _f("label of the event in the outcome column")
    definition: str | None = _f("outcome definition")
    question: str = _f("the study question (intended use of the signature)")
    prediction_moment: str = _f("pre-operative or post-operative")
    development_cohort: str | None = _f("name of the development cohort (null at a site)")
    signature_model: str = _f("the model that is the signature: combined, or the single "
                              "score's model")
    confidence_level: Level = _f("level of the run's confidence intervals and bands (the "
                                 "study file's evaluation.confidence_level; radval validate: "
                                 "0.95); absent in files written before radval recorded it",
                                 0.95)


class CohortRow(Record):
    """One analysed cohort."""

    name: str = _f("cohort name")
    role: Role = _f("development, internal_validation or external_validation")
    n: int = _f("patients analysed")
    events: int = _f("patients with the event")
    prevalence: OptNum = _f("events / n")
    n_excluded: int = _f("patients of the clinical table not analysed (see patient_flow)")


class FlowRow(Record):
    """One stage of the patient flow of a cohort."""

    cohort: str = _f("cohort")
    stage: str = _f("clinical_table, manifest, extraction_failed, no_features, "
                    "missing_outcome, missing_clinical, missing_features, imputed (kept: "
                    "missing predictors multiply imputed), analysed")
    n: int = _f("patients at or removed by this stage")
    reason: OptStr = _f("why")


class WarningRow(Record):
    """A flag raised during the run."""

    code: str = _f("POSTOP_PREDICTOR, SMALL_SAMPLE, UNDEFINED_METRIC, MISSING_VALUES, "
                   "FEATURES_DROPPED, EMPTY_COHORT, NO_SECOND_READER, SELECTION_NOTE, "
                   "FEW_RESAMPLES, BOOTSTRAP_FAILED, DEEP_NOT_RETRAINED, DATASET_SHIFT, ...")
    message: str = _f("what happened, in one sentence")
    context: dict[str, Any] = _f("the numbers behind the message")


class MissingRow(Record):
    """Missing values of one clinical variable in one cohort (before any exclusion)."""

    variable: str = _f("clinical variable")
    cohort: str = _f("cohort")
    n: int = _f("patients of the cohort in the clinical table")
    missing: int = _f("patients without a value")
    fraction: OptNum = _f("missing / n")


class BaselineRow(Record):
    """One cell group of Table 1 (a variable, or a level of it, in one cohort)."""

    variable: str = _f("clinical variable")
    level: str = _f("level of a categorical variable ('' for numeric)")
    cohort: str = _f("cohort ('overall' included)")
    summary: str = _f("formatted summary: mean (SD), median [IQR] or n (%)")
    n: int = _f("patients with a value")
    missing: int = _f("patients without a value")
    test: str = _f("test comparing the cohorts")
    p_value: OptNum = _f("p-value of the test (on the variable's first row)")
    kind: Literal["numeric", "categorical"] = _f("numeric or categorical")
    stat_1: OptNum = _f("mean / median / count")
    stat_2: OptNum = _f("SD / lower quartile / denominator")
    stat_3: OptNum = _f("upper quartile (median summaries)")
    percent: OptNum = _f("percentage (categorical)")
    normal: bool = _f("summarised as normal (mean, SD)")


class SampleSize(Record):
    """Development sample size against the candidate predictors (Riley et al. 2020)."""

    n: int = _f("development patients")
    events: int = _f("development events")
    candidate_predictors: int = _f("features of every family + clinical predictors")
    epp: OptNum = _f("events per candidate predictor")
    riley: dict[str, Any] | None = _f("radval.models.samplesize.riley_sample_size result",
                                      None)
    ok: bool = _f("the Riley criteria are met")
    final_model: dict[str, Any] | None = _f("the same for the nomogram's parameters", None)


# ----------------------------------------------------------------------- selection
class SelectionCoefficient(Record):
    """A LASSO coefficient on the original scale."""

    feature: str = _f("feature, or '(Intercept)'")
    coef: Num = _f("coefficient")
    mean: OptNum = _f("development mean of the feature (standardisation)")
    sd: OptNum = _f("development SD of the feature (1/n, as glmnet)")


class FunnelRow(Record):
    """One step of the selection funnel."""

    step: str = _f("candidates, checks, icc, mann_whitney, redundancy, lasso")
    n_in: int = _f("features entering the step")
    n_out: int = _f("features kept")
    status: str = _f("done, skipped, ...")
    note: str = _f("what the step did")


class FeatureStepRow(Record):
    """One feature's fate at one selection step."""

    feature: str = _f("feature")
    step: str = _f("selection step")
    kept: bool = _f("kept by the step")
    reason: str = _f("why")
    value: OptNum = _f("ICC / p-value / correlation / coefficient at the step")


class IccRow(Record):
    """ICC of one feature between the two readers."""

    feature: str = _f("feature")
    type: str = _f("ICC form (ICC1, ICC2, ...)")
    icc: OptNum = _f("intraclass correlation")
    F: OptNum = _f("F statistic")
    df1: int = _f("numerator degrees of freedom")
    df2: int = _f("denominator degrees of freedom")
    p_value: OptNum = _f("p-value of the F test")
    ci_low: OptNum = _f("lower confidence limit")
    ci_high: OptNum = _f("upper confidence limit")


class LassoCvRow(Record):
    """Cross-validated deviance at one lambda."""

    lambda_: Num = Field(alias="lambda", description="penalty")
    cvm: OptNum = _f("mean cross-validated deviance")
    cvsd: OptNum = _f("its standard error")
    cvup: OptNum = _f("cvm + cvsd")
    cvlo: OptNum = _f("cvm - cvsd")
    nzero: int = _f("non-zero coefficients")


class LassoPathRow(Record):
    """A coefficient on the LASSO path."""

    lambda_: Num = Field(alias="lambda", description="penalty")
    feature: str = _f("feature (only features that enter the path)")
    coef: Num = _f("coefficient on the original scale")


class FamilySelection(Record):
    """The selection of one feature family (radiomics or deep)."""

    family: str = _f("radiomics or deep")
    selected: list[str] = _f("features in the score")
    intercept: Num = _f("intercept of the score")
    coefficients: list[SelectionCoefficient] = _f("intercept and coefficients")
    lambda_used: OptNum = _f("the penalty used")
    lambda_min: OptNum = _f("penalty at the minimum cross-validated deviance")
    lambda_1se: OptNum = _f("largest penalty within one SE of the minimum")
    formula: str = _f("the score as a formula")
    funnel: list[FunnelRow] | None = _f("features left after each step", None)
    features: list[FeatureStepRow] | None = _f("each feature at each step", None)
    icc: list[IccRow] | None = _f("ICC of every feature", None)
    lasso_cv: list[LassoCvRow] | None = _f("cross-validation curve", None)
    lasso_path: list[LassoPathRow] | None = _f("coefficient paths", None)
    warnings: list[str] | None = _f("notes of the selection (fallbacks)", None)


# -------------------------------------------------------------------------- models
class ModelRow(Record):
    """A fitted model."""

    name: str = _f("model name (radiomics, deep, combined, clinical, nomogram, or a "
                   "scikit-learn classifier)")
    label: str = _f("display label")
    kind: str = _f("radiomics, deep, combined, clinical, nomogram or sklearn")
    predictors: list[str] = _f("inputs of the model")
    cutoff: OptNum = _f("probability cutoff frozen on the development cohort")
    coefficients: list[dict[str, Any]] = _f("coefficient table, one record per term: feature "
                                            "('(Intercept)' first) and coef; logistic models "
                                            "add se, z, p_value, odds_ratio, or_ci_low, "
                                            "or_ci_high; scores add mean and sd")
    formula: str | None = _f("the score as a formula (scores)", None)
    converged: bool | None = _f("the logistic fit converged", None)
    settings: dict[str, Any] | None = _f("hyper-parameters (scikit-learn models)", None)


class NomogramTick(Record):
    """A tick of a nomogram scale."""

    value: Num | str = _f("predictor value (or level)")
    points: Num = _f("points")


class NomogramPredictor(Record):
    """One scale of the nomogram."""

    name: str = _f("display name")
    column: str = _f("input column")
    kind: Literal["numeric", "categorical"] = _f("numeric or categorical")
    coef: OptNum = _f("coefficient (numeric inputs)")
    ticks: list[NomogramTick] = _f("ticks of the scale")
    max_points: Num = _f("largest points of the scale")


class TotalPoints(Record):
    """Total points giving a probability."""

    points: Num = _f("total points")
    probability: Num = _f("predicted probability")


class Nomogram(Record):
    """Points scales of an rms-style nomogram."""

    predictors: list[NomogramPredictor] = _f("one scale per predictor")
    points_per_unit_lp: Num = _f("points per unit of linear predictor")
    lp_at_zero_points: Num = _f("linear predictor at 0 total points")
    total_points_max: Num = _f("largest total")
    total_points: list[TotalPoints] = _f("total points -> probability")
    intercept: Num = _f("model intercept")
    formula: str = _f("probability from total points")


# ------------------------------------------------------------------------ evaluation
class PerformanceRow(Record):
    """Discrimination of one model in one cohort (and subgroup level)."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    subgroup: str = _f("'all', or a subgroup level (its rule)")
    n: int = _f("patients")
    events: int = _f("events")
    auc: OptNum = _f("AUC (= C statistic)")
    auc_se: OptNum = _f("DeLong standard error")
    auc_variance: OptNum = _f("DeLong variance")
    auc_ci_low: OptNum = _f("DeLong CI, lower (pROC ci.auc)")
    auc_ci_high: OptNum = _f("DeLong CI, upper")
    auc_boot_ci_low: OptNum = _f("stratified percentile bootstrap CI, lower")
    auc_boot_ci_high: OptNum = _f("stratified percentile bootstrap CI, upper")
    cutoff: OptNum = _f("frozen cutoff of the model")
    undefined_reason: OptStr = _f("why a value is undefined (one class, too few events)")


class ThresholdRow(Record):
    """A classification metric at the frozen cutoff (positive iff probability >= cutoff)."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    subgroup: str = _f("'all' or a subgroup level")
    metric: str = _f("sensitivity, specificity, ppv, npv, accuracy; lr_positive, "
                     "lr_negative, dor (likelihood ratios and diagnostic odds ratio, epiR "
                     "epi.tests intervals)")
    estimate: OptNum = _f("proportion (a ratio for lr_positive, lr_negative, dor)")
    ci_low: OptNum = _f("Wilson interval, lower (epiR interval for the ratios)")
    ci_high: OptNum = _f("Wilson interval, upper")
    numerator: int | None = _f("numerator count (null for the ratios)")
    denominator: int | None = _f("denominator count (null for the ratios)")
    undefined_reason: OptStr = _f("why undefined")


class ComparisonRow(Record):
    """Paired DeLong test of two models in one cohort (Holm-adjusted)."""

    cohort: str = _f("cohort")
    model_a: str = _f("first model")
    model_b: str = _f("second model")
    auc_a: OptNum = _f("AUC of model_a")
    auc_b: OptNum = _f("AUC of model_b")
    difference: OptNum = _f("auc_a - auc_b")
    statistic: OptNum = _f("DeLong z")
    p_value: OptNum = _f("two-sided p-value")
    p_adjusted: OptNum = _f("Holm-adjusted p-value within the cohort")
    ci_low: OptNum = _f("CI of the difference, lower")
    ci_high: OptNum = _f("CI of the difference, upper")
    undefined_reason: OptStr = _f("why undefined")


class CalibrationRow(Record):
    """Calibration of one model in one cohort (rms val.prob, Hosmer-Lemeshow)."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    intercept: OptNum = _f("logistic recalibration intercept (ideal 0)")
    slope: OptNum = _f("logistic recalibration slope (ideal 1)")
    citl: OptNum = _f("calibration-in-the-large (ideal 0)")
    brier: OptNum = _f("Brier score")
    emax: OptNum = _f("max |p - lowess|")
    e90: OptNum = _f("90th percentile of |p - lowess|")
    eavg: OptNum = _f("mean |p - lowess|")
    ici: OptNum = _f("integrated calibration index (lowess)")
    spiegelhalter_z: OptNum = _f("Spiegelhalter z")
    spiegelhalter_p: OptNum = _f("its p-value")
    o_e_ratio: OptNum = _f("observed / expected events")
    hl_statistic: OptNum = _f("Hosmer-Lemeshow statistic")
    hl_df: OptNum = _f("its degrees of freedom (g - 2 development, g validation)")
    hl_p_value: OptNum = _f("its p-value")
    undefined_reason: OptStr = _f("why undefined")
    risk_scale: OptStr = _f("which risk is assessed: 'model' (the model's own probability), "
                            "'recalibrated_score' (a rad-score or DL-score, a shrunken linear "
                            "predictor, after the logistic recalibration frozen on the "
                            "development cohort: intercept 0 and slope 1 there by "
                            "construction) or 'raw_score' (expit of a score, not a calibrated "
                            "probability: a site's single-score signature)", None)
    recalibration_intercept: OptNum = _f("intercept a of the frozen recalibration "
                                         "expit(a + b logit(p)) (recalibrated_score)", None)
    recalibration_slope: OptNum = _f("its slope b", None)
    curve_method: OptStr = _f("smoother of the flexible calibration curve "
                              "(curves.calibration_band)", None)
    curve_ici: OptNum = _f("mean |p - c(p)| over the patients, c the flexible curve", None)
    curve_e50: OptNum = _f("median |p - c(p)|", None)
    curve_e90: OptNum = _f("90th percentile |p - c(p)|", None)
    curve_emax: OptNum = _f("maximum |p - c(p)|", None)
    curve_n_resamples: OptNum = _f("bootstrap resamples of the curve's band", None)
    curve_undefined_reason: OptStr = _f("why the flexible curve is undefined", None)


class RocPoint(Record):
    """A point of an empirical ROC curve."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    fpr: Num = _f("1 - specificity")
    tpr: Num = _f("sensitivity")
    threshold: OptNum = _f("probability threshold (null for the infinite ends)")


class RocBandPoint(Record):
    """Pointwise bootstrap band of the TPR at a fixed FPR."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    fpr: Num = _f("FPR grid point")
    tpr_low: Num = _f("band, lower")
    tpr_high: Num = _f("band, upper")


class CalibrationGroup(Record):
    """A risk group of the grouped calibration curve."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    group: int = _f("group number (quantile groups of predicted risk)")
    mean_predicted: Num = _f("mean predicted risk")
    observed: Num = _f("observed proportion")
    ci_low: Num = _f("Wilson interval, lower")
    ci_high: Num = _f("Wilson interval, upper")
    n: int = _f("patients")


class CalibrationSmoothPoint(Record):
    """A point of the lowess calibration curve."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    predicted: Num = _f("predicted risk")
    observed: Num = _f("smoothed observed risk")


class DecisionPoint(Record):
    """Net benefit at one threshold (dcurves)."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    threshold: Num = _f("threshold probability")
    net_benefit: Num = _f("net benefit of the model")
    treat_all: Num = _f("net benefit of treating all")
    treat_none: Num = _f("net benefit of treating none (0)")
    net_interventions_avoided: OptNum = _f("net interventions avoided per patient")
    pos_rate: OptNum = _f("share test-positive")
    tp_rate: OptNum = _f("true positives / n")
    fp_rate: OptNum = _f("false positives / n")


class Curves(Record):
    """Curve data of the figures."""

    roc: list[RocPoint] = _f("ROC curves")
    roc_band: list[RocBandPoint] = _f("bootstrap bands of the ROC curves")
    calibration_grouped: list[CalibrationGroup] = _f("grouped calibration curves")
    calibration_smooth: list[CalibrationSmoothPoint] = _f("lowess calibration curves")
    decision: list[DecisionPoint] = _f("decision curves")
    calibration_band: list[CalibrationBandPoint] | None = _f(
        "flexible calibration curves with pointwise bootstrap bands (risk as in the "
        "calibration rows' risk_scale)", None)
    calibration_subgroup: list[SubgroupCalibrationPoint] | None = _f(
        "flexible calibration curves per subgroup level (the signature model)", None)


class OptimismRow(Record):
    """Harrell's bootstrap optimism of one metric of one model (development cohort)."""

    model: str = _f("model")
    metric: Literal["auc", "slope", "intercept", "brier"] = _f("metric")
    apparent: OptNum = _f("apparent value")
    optimism: OptNum = _f("mean(train - test) over the resamples")
    corrected: OptNum = _f("apparent - optimism")
    n_resamples: int = _f("resamples where the metric was defined")
    risk_scale: OptStr = _f("'recalibrated_score': the calibration index (slope, intercept, "
                            "Brier) of a rad-score or DL-score after its logistic "
                            "recalibration on the data it was developed on (apparent slope 1, "
                            "intercept 0; the optimism is the shrinkage it needs); 'model' "
                            "otherwise", None)


class SubgroupRow(Record):
    """AUC in one level of a subgroup."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    subgroup: str = _f("subgroup name")
    level: str = _f("the rule or its complement")
    n: int = _f("patients")
    events: int = _f("events")
    auc: OptNum = _f("AUC")
    ci_low: OptNum = _f("DeLong CI, lower")
    ci_high: OptNum = _f("DeLong CI, upper")
    variance: OptNum = _f("DeLong variance")
    undefined_reason: OptStr = _f("why undefined")


class HeterogeneityRow(Record):
    """Cochran's Q test of equal AUCs across the levels of a subgroup."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    subgroup: str = _f("subgroup name")
    statistic: OptNum = _f("Q")
    df: OptNum = _f("k - 1")
    p_value: OptNum = _f("upper tail of chi-square")
    pooled_auc: OptNum = _f("inverse-variance weighted AUC")
    undefined_reason: OptStr = _f("why undefined")


# ------------------------------------------------------------------ internal validation
class SelectionFrequencyRow(Record):
    """How often a feature was selected across the optimism resamples."""

    family: str = _f("feature family")
    feature: str = _f("feature")
    frequency: Num = _f("share of resamples")
    count: int = _f("resamples")


class SelectionSizeRow(Record):
    """Features selected per resample."""

    family: str = _f("feature family")
    mean: Num = _f("mean")
    median: Num = _f("median")
    min: int = _f("minimum")
    max: int = _f("maximum")


class InstabilityRow(Record):
    """Prediction instability of one development patient (Riley & Collins 2023)."""

    model: str = _f("model")
    patient_index: int = _f("position in the development cohort sorted by patient_id")
    apparent: Num = _f("prediction of the final model")
    p_low: Num = _f("2.5% of the bootstrap models' predictions")
    p_high: Num = _f("97.5% of them")
    mape: Num = _f("mean absolute prediction error against the apparent prediction")


class Stability(Record):
    """Selection and prediction stability over the optimism resamples."""

    selection_frequency: list[SelectionFrequencyRow] = _f("selection frequency")
    selection_size: list[SelectionSizeRow] = _f("features selected per resample")
    prediction_instability: list[InstabilityRow] = _f("per-patient instability")
    n_resamples: int = _f("successful resamples")
    n_failed: int = _f("failed resamples")


class InternalValidation(Record):
    """What the optimism bootstrap fitted again in every resample."""

    method: str = _f("method")
    n_resamples: int = _f("successful resamples")
    n_failed: int = _f("failed resamples")
    refitted: list[str] = _f("steps repeated in every resample")
    not_refitted: list[str] = _f("steps taken as given (their optimism is missing)")
    deep_training: dict[str, Any] | None = _f("n_networks and apparent_auc_median of the "
                                              "resamples' networks, when re-trained")


# -------------------------------------------------------------------------- survival
class KmRow(Record):
    """A step of a Kaplan-Meier curve by risk group."""

    cohort: str = _f("cohort")
    group: str = _f("risk group (cut-off frozen on development)")
    time: Num = _f("time")
    survival: Num = _f("survival probability")
    at_risk: int = _f("number at risk")
    n_event: int = _f("events at the time")
    n_censor: int = _f("censored at the time")
    std_err: OptNum = _f("standard error (Greenwood)")
    ci_low: OptNum = _f("lower confidence limit")
    ci_high: OptNum = _f("upper confidence limit")


class SurvivalSummaryRow(Record):
    """The signature as a prognostic marker in one cohort."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    n: int = _f("patients with follow-up")
    events: int = _f("events")
    logrank_statistic: OptNum = _f("log-rank chi-square, high vs low risk")
    logrank_p: OptNum = _f("its p-value")
    hr: OptNum = _f("hazard ratio per unit of the signature score (Cox)")
    hr_ci_low: OptNum = _f("lower confidence limit")
    hr_ci_high: OptNum = _f("upper confidence limit")
    cox_p: OptNum = _f("Wald p-value")
    c_index: OptNum = _f("Harrell's C")
    undefined_reason: OptStr = _f("why undefined")
    c_index_se: OptNum = _f("its standard error (infinitesimal jackknife)", None)
    c_uno: OptNum = _f("Uno's C (IPCW, truncated at the last horizon)", None)
    c_uno_se: OptNum = _f("its standard error", None)
    c_uno_ci_low: OptNum = _f("its interval, lower", None)
    c_uno_ci_high: OptNum = _f("its interval, upper", None)
    mean_auc: OptNum = _f("AUC(t) weighted by the Kaplan-Meier decrements (scikit-survival)",
                          None)
    integrated_auc: OptNum = _f("trapezoid of AUC(t) over the horizons / their range", None)
    integrated_brier: OptNum = _f("integrated Brier score over the horizons", None)
    integrated_ipa: OptNum = _f("1 - integrated Brier / integrated null Brier", None)
    median_follow_up: OptNum = _f("median follow-up (reverse Kaplan-Meier)", None)
    max_follow_up: OptNum = _f("longest follow-up", None)
    n_excluded: int | None = _f("patients of the cohort without follow-up, event or "
                                "predictor values (left out)", None)


class Survival(Record):
    """The secondary time-to-event endpoint."""

    model: str = _f("the model whose score is assessed")
    cutoff: OptNum = _f("probability cut-off of the risk groups (frozen on development)")
    hr_per: str = _f("unit of the hazard ratio")
    km: list[KmRow] = _f("Kaplan-Meier curves")
    summary: list[SurvivalSummaryRow] = _f("one row per cohort")
    validated: Literal["signature", "cox"] | None = _f(
        "signature: the signature's score as a prognostic marker; cox: the frozen Cox model "
        "(signature + clinical predictors)", None)
    marker: str | None = _f("the score whose discrimination is assessed", None)
    time: str | None = _f("follow-up time column", None)
    event: str | None = _f("event indicator column", None)
    time_unit: str | None = _f("unit of the times and horizons", None)
    horizons: list[Num] | None = _f("time horizons", None)
    survival_model: SurvivalModelSpec | None = _f("the frozen Cox model giving the absolute "
                                                  "risks", None)
    risk_groups: list[RiskGroupRow] | None = _f("hazard ratios and medians per risk group",
                                                None)
    time_dependent_auc: list[TdAucRow] | None = _f("AUC(t) per cohort and horizon", None)
    brier: list[SurvivalBrierRow] | None = _f("Brier score and IPA per cohort and horizon",
                                              None)
    calibration: list[SurvivalCalibrationRow] | None = _f("calibration per cohort and "
                                                          "horizon", None)
    calibration_grouped: list[SurvivalCalibrationGroup] | None = _f(
        "grouped calibration per cohort and horizon", None)
    calibration_curve: list[SurvivalCalibrationPoint] | None = _f(
        "flexible calibration curves per cohort and horizon", None)
    decision: list[SurvivalDecisionPoint] | None = _f("decision curves per cohort and "
                                                      "horizon", None)
    optimism: list[SurvivalOptimismRow] | None = _f("bootstrap optimism of C and AUC(t) "
                                                    "(development)", None)
    methods: dict[str, str] | None = _f("one sentence per method", None)


# --------------------------------------------------------------------------- labels
class VariableLabel(Record):
    """How a variable of the clinical table (a predictor or the outcome) is shown."""

    label: str | None = _f("display name ('Age'); the column name when null")
    unit: str | None = _f("unit ('years'), shown as 'Age, years'")
    levels: dict[str, str] | None = _f("code (as it appears in the data: '0', 'M') -> "
                                       "display text")
    kind: Literal["numeric", "categorical"] = _f("numeric or categorical")


class SubgroupLabel(Record):
    """How a subgroup and its two levels (the rule and its complement) are shown."""

    label: str | None = _f("display name ('Tumour size'); the subgroup name when null")
    column: str = _f("the variable of the rule")
    op: str = _f("the rule's operator (< <= > >= == !=)")
    value: Num | str = _f("the rule's value")
    rule: str = _f("level text of the patients satisfying the rule (as in subgroups.level)")
    complement: str = _f("level text of the other patients with a value")
    levels: dict[str, str] | None = _f("level text (rule or complement) -> display text "
                                       "('< 2 cm')")


class Labels(Record):
    """Display names of the study's variables, subgroups, models and cohorts, from the
    study file; the report falls back to the names where a label is null or absent."""

    variables: dict[str, VariableLabel] = _f("column -> label (clinical predictors and the "
                                             "outcome)")
    subgroups: dict[str, SubgroupLabel] = _f("subgroup name -> label and its rule")
    models: dict[str, str] = _f("model name -> display name (only those the study names)")
    cohorts: dict[str, str] = _f("cohort name -> display name (only those the study names)")


# -------------------------------------------------------------------------- document
class ResultsFile(Document):
    """Every number of a development run (radval run / evaluate) or of one site
    (radval validate). Development runs fill selection, optimism, stability,
    internal_validation, nomogram, survival; site runs fill shift and updating."""

    FILE: ClassVar[str] = "results.json"
    TITLE: ClassVar[str] = "radval results"

    schema_version: Literal["1"] = _f("version of this definition")
    radval_version: str = _f("radval version that wrote the file")
    created: str = _f("UTC timestamp (the only field that differs between identical runs)")
    provenance: Provenance = _f("versions, seed, input hashes")
    study: StudyInfo = _f("what was studied")
    cohorts: list[CohortRow] = _f("analysed cohorts")
    patient_flow: list[FlowRow] = _f("patient flow per cohort")
    warnings: list[WarningRow] = _f("flags raised")
    missing: list[MissingRow] | None = _f("missing clinical values", None)
    sample_size: SampleSize | None = _f("development sample size", None)
    baseline: list[BaselineRow] | None = _f("Table 1", None)
    selection: dict[str, FamilySelection] | None = _f("family -> selection", None)
    models: list[ModelRow] = _f("fitted models")
    cutoffs: dict[str, OptNum] = _f("model -> probability cutoff frozen on development")
    performance: list[PerformanceRow] = _f("AUC per cohort x model x subgroup")
    threshold_metrics: list[ThresholdRow] = _f("metrics at the frozen cutoffs")
    comparisons: list[ComparisonRow] = _f("pairwise DeLong tests")
    calibration: list[CalibrationRow] = _f("calibration per cohort x model")
    curves: Curves = _f("curve data")
    optimism: list[OptimismRow] | None = _f("Harrell bootstrap optimism", None)
    subgroups: list[SubgroupRow] = _f("AUC per subgroup level")
    heterogeneity: list[HeterogeneityRow] = _f("test of equal AUCs across levels")
    stability: Stability | None = _f("selection and prediction stability", None)
    internal_validation: InternalValidation | None = _f("what the resamples refitted", None)
    nomogram: Nomogram | None = _f("nomogram scales (when a nomogram was fitted)", None)
    extraction: dict[str, Any] = _f("radiomics parameter file (text + SHA-256), deep config")
    bundle: BundleRef | None = _f("the signature bundle")
    methods: dict[str, str] = _f("one sentence per method")
    survival: Survival | None = _f("secondary time-to-event endpoint", None)
    shift: Shift | None = _f("dataset shift (site runs)", None)
    updating: Updating | None = _f("model updating (site runs)", None)
    subgroup_calibration: list[SubgroupCalibrationRow] | None = _f(
        "calibration per subgroup level", None)
    subgroup_net_benefit: list[SubgroupNetBenefitRow] | None = _f(
        "net benefit per subgroup level at the net_benefit_thresholds", None)
    subgroup_heterogeneity: list[SubgroupHeterogeneityRow] | None = _f(
        "tests of equal calibration and net benefit across subgroup levels", None)
    net_benefit_difference: list[NetBenefitDifferenceRow] | None = _f(
        "differences in net benefit between model pairs with bootstrap CIs", None)
    partial_auc: list[PartialAucRow] | None = _f("partial AUC per cohort x model", None)
    optimism_calibration: list[CorrectedCalibrationPoint] | None = _f(
        "bias-corrected calibration curves (development, optimism bootstrap)", None)
    optimism_calibration_summary: list[CorrectedCalibrationSummary] | None = _f(
        "mean and 0.9-quantile absolute error of the bias-corrected curves", None)
    optimism_net_benefit: list[CorrectedNetBenefitPoint] | None = _f(
        "optimism-corrected decision curves (development)", None)
    validation_sample_size: ValidationSampleSize | None = _f(
        "minimum sample size for external validation against the site's n (site runs)", None)
    missing_data: MissingData | None = _f("handling of missing clinical predictors: tables, "
                                          "patterns, pooled estimates (Rubin)", None)
    harmonisation: Harmonisation | None = _f("ComBat harmonisation: batches, separability "
                                             "before/after, batch-outcome guard; site: shift "
                                             "before harmonisation", None)
    labels: Labels | None = _f("display names from the study file (development runs)", None)
