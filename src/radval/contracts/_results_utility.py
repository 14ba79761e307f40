"""Records of ``results.json`` added by calibration and clinical utility
(:mod:`radval.workflow._calibration`, :mod:`radval.workflow._utility`): flexible
calibration curves with bands, calibration and net benefit per subgroup level with their
heterogeneity tests, net-benefit differences, partial AUC, the bias-corrected calibration
curve and decision curve of internal validation, and a site's minimum sample size.
Every field of :class:`radval.contracts.ResultsFile` that holds them is optional.
"""

from __future__ import annotations

from radval.contracts._base import Num, OptNum, OptStr, Record, described

_f = described


class CalibrationBandPoint(Record):
    """A point of a flexible calibration curve with its pointwise bootstrap band."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    method: str = _f("loess (R loess, as CalibrationCurves val.prob.ci.2), spline, lowess "
                     "or grouped")
    predicted: Num = _f("predicted risk (grid point; mean risk of the group for grouped)")
    observed: OptNum = _f("estimated observed risk c(predicted)")
    ci_low: OptNum = _f("pointwise bootstrap percentile band, lower")
    ci_high: OptNum = _f("pointwise bootstrap percentile band, upper")
    n_resamples: OptNum = _f("resamples in which the refitted curve is defined at the point "
                             "(patients of the group for grouped)")


class SubgroupCalibrationPoint(CalibrationBandPoint):
    """A point of the flexible calibration curve of a subgroup level."""

    subgroup: str = _f("subgroup name")
    level: str = _f("the rule or its complement")


class SubgroupCalibrationRow(Record):
    """Calibration of one model in one subgroup level."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    subgroup: str = _f("subgroup name")
    level: str = _f("the rule or its complement")
    n: int = _f("patients")
    events: int = _f("events")
    risk_scale: str = _f("model, recalibrated_score or raw_score (as the calibration rows)")
    citl: OptNum = _f("calibration-in-the-large (ideal 0)")
    citl_se: OptNum = _f("its SE (inverse Fisher information)")
    slope: OptNum = _f("calibration slope (ideal 1)")
    slope_se: OptNum = _f("its SE")
    o_e: OptNum = _f("observed / expected events")
    log_o_e: OptNum = _f("log O/E")
    log_o_e_se: OptNum = _f("its SE, sqrt((1 - O/n) / O)")
    ici: OptNum = _f("integrated calibration index (lowess)")
    undefined_reason: OptStr = _f("why undefined (one outcome class, separation)")


class SubgroupNetBenefitRow(Record):
    """Net benefit of one model in one subgroup level at one threshold."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    subgroup: str = _f("subgroup name")
    level: str = _f("the rule or its complement")
    threshold: Num = _f("threshold probability (treated iff risk >= threshold)")
    n: int = _f("patients")
    events: int = _f("events")
    net_benefit: OptNum = _f("TP/n - FP/n * t/(1-t)")
    se: OptNum = _f("multinomial SE: sqrt((a(1-a) + w^2 b(1-b) + 2wab)/n), a = TP/n, "
                    "b = FP/n, w = t/(1-t)")
    ci_low: OptNum = _f("Wald CI, lower")
    ci_high: OptNum = _f("Wald CI, upper")
    treat_all: OptNum = _f("net benefit of treating everyone in the level")
    undefined_reason: OptStr = _f("why undefined")


class SubgroupHeterogeneityRow(Record):
    """Cochran's Q test of equal calibration or net benefit across the levels of a
    subgroup (inverse-variance weights, chi-square with k - 1 df)."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    subgroup: str = _f("subgroup name")
    measure: str = _f("citl, slope, log_o_e or net_benefit")
    threshold: OptNum = _f("threshold (net_benefit only)")
    k: int = _f("levels")
    statistic: OptNum = _f("Q")
    df: OptNum = _f("k - 1")
    p_value: OptNum = _f("upper tail of chi-square")
    pooled: OptNum = _f("inverse-variance weighted mean")
    undefined_reason: OptStr = _f("why undefined")


class NetBenefitDifferenceRow(Record):
    """Difference in net benefit between two models in one cohort at one threshold."""

    cohort: str = _f("cohort")
    model_a: str = _f("first model")
    model_b: str = _f("second model")
    threshold: Num = _f("threshold probability")
    nb_a: OptNum = _f("net benefit of model_a")
    nb_b: OptNum = _f("net benefit of model_b")
    difference: OptNum = _f("nb_a - nb_b")
    ci_low: OptNum = _f("paired stratified bootstrap percentile CI, lower")
    ci_high: OptNum = _f("upper")
    n_resamples: OptNum = _f("bootstrap resamples")
    undefined_reason: OptStr = _f("why undefined")


class PartialAucRow(Record):
    """Partial AUC of one model in one cohort (pROC auc(partial.auc=...))."""

    cohort: str = _f("cohort")
    model: str = _f("model")
    focus: str = _f("specificity or sensitivity")
    high: Num = _f("upper bound of the range")
    low: Num = _f("lower bound")
    correct: bool = _f("McClish standardisation")
    estimate: OptNum = _f("partial AUC")
    ci_low: OptNum = _f("stratified bootstrap percentile CI, lower")
    ci_high: OptNum = _f("upper")
    n_resamples: OptNum = _f("bootstrap resamples")
    undefined_reason: OptStr = _f("why undefined")


class CorrectedCalibrationPoint(Record):
    """A point of the bias-corrected calibration curve (rms calibrate), development."""

    model: str = _f("model")
    risk_scale: str = _f("model or recalibrated_score (recalibrated in every resample)")
    method: str = _f("smoother")
    predicted: Num = _f("predicted risk (grid of rms calibrate: p[5] .. p[n-4], 50 points)")
    apparent: OptNum = _f("apparent curve")
    optimism: OptNum = _f("mean over the resamples of train curve - test curve")
    corrected: OptNum = _f("apparent - optimism")
    n_resamples: int = _f("resamples with both curves defined at the point")


class CorrectedCalibrationSummary(Record):
    """Errors of the bias-corrected calibration curve (rms print.calibrate)."""

    model: str = _f("model")
    risk_scale: str = _f("model or recalibrated_score")
    method: str = _f("smoother")
    mean_abs_error: OptNum = _f("mean |p - corrected(p)| over the development patients")
    q90_abs_error: OptNum = _f("0.9 quantile of |p - corrected(p)|")
    mean_squared_error: OptNum = _f("mean (p - corrected(p))^2")
    n_resamples: int = _f("resamples")
    n_used: int = _f("patients inside the grid range")


class CorrectedNetBenefitPoint(Record):
    """Optimism-corrected net benefit at one threshold (development)."""

    model: str = _f("model")
    threshold: Num = _f("threshold probability")
    apparent: OptNum = _f("apparent net benefit")
    optimism: OptNum = _f("mean over the resamples of train - test net benefit")
    corrected: OptNum = _f("apparent - optimism")
    n_resamples: int = _f("resamples")


class ValidationSampleSize(Record):
    """Does a site meet the minimum sample size for external validation (Riley et al.
    2021, pmvalsampsize criteria at the site's prevalence)?"""

    n: int = _f("site patients")
    events: int = _f("site events")
    prevalence: OptNum = _f("events / n")
    cstatistic: OptNum = _f("anticipated C-statistic")
    cstatistic_source: OptStr = _f("development (bundle), or this site when the bundle has "
                                   "none")
    lp_distribution: OptStr = _f("distribution of the linear predictor used")
    lp_mean: OptNum = _f("development mean of the linear predictor (bundle)")
    lp_sd: OptNum = _f("its development SD")
    threshold: OptNum = _f("threshold of the net-benefit criterion (the frozen cutoff)")
    required: int | None = _f("minimum sample size (largest criterion)")
    meets: bool | None = _f("n >= required")
    n_oe: int | None = _f("criterion 1: O/E CI width 0.2")
    n_cslope: int | None = _f("criterion 2: calibration slope CI width 0.2")
    n_cstatistic: int | None = _f("criterion 3: C-statistic CI width 0.1")
    n_net_benefit: int | None = _f("criterion 4: standardised net benefit CI width 0.2")
    meets_oe: bool | None = _f("n >= n_oe")
    meets_cslope: bool | None = _f("n >= n_cslope")
    meets_cstatistic: bool | None = _f("n >= n_cstatistic")
    meets_net_benefit: bool | None = _f("n >= n_net_benefit")
    undefined_reason: OptStr = _f("why not computed")
