"""Records of the time-to-event endpoint: the frozen survival model (``signature.json``,
``models.json``) and the validation tables of ``results.json`` (``survival`` block).

Written by :mod:`radval.workflow._survival` (development runs) and
:mod:`radval.workflow._survival_site` (``radval validate``).  Horizons are in the unit
named by ``time_unit``.
"""

from __future__ import annotations

from typing import Literal

from radval.contracts._base import Num, OptNum, OptStr, Record, described

__all__ = ["RiskGroupRow", "SurvivalBrierRow", "SurvivalCalibrationGroup",
           "SurvivalCalibrationPoint", "SurvivalCalibrationRow", "SurvivalDecisionPoint",
           "SurvivalModelSpec", "SurvivalOptimismRow", "TdAucRow"]

_f = described


class SurvivalModelSpec(Record):
    """The Cox model of the time-to-event endpoint, frozen with its baseline survival at the
    horizons (radval.models.survival.SurvivalModel)."""

    kind: Literal["cox", "score"] = _f("cox: signature + clinical predictors; score: the "
                                       "signature's score alone (its calibration into "
                                       "absolute risks)")
    time: str = _f("follow-up time column in development")
    event: str = _f("event indicator column in development (1 = event)")
    time_unit: str = _f("unit of the times and horizons")
    inputs: list[str] = _f("design columns in coefficient order (first: signature, the "
                           "signature's linear predictor)")
    predictors: list[list[str]] = _f("[name, numeric|categorical] of the clinical "
                                     "predictors")
    levels: dict[str, list[str]] = _f("categorical predictor -> development levels (first = "
                                      "reference)")
    coef: list[Num] = _f("log hazard ratios")
    se: list[Num | None] = _f("their standard errors")
    means: list[Num] = _f("development means of the inputs (centre of the baseline)")
    horizons: list[Num] = _f("time horizons")
    baseline_survival: list[Num | None] = _f("baseline survival S0(t) at the means at each "
                                             "horizon (null beyond the development "
                                             "follow-up); risk = 1 - S0(t)^exp((x - "
                                             "means) coef)")
    cutoff: Num = _f("signature probability cut-off of the risk groups (frozen on "
                     "development)")
    n: int = _f("development patients the model was fitted on")
    events: int = _f("their events")
    ties: str = _f("tie handling (efron)")


class TdAucRow(Record):
    """Cumulative/dynamic AUC at a horizon (IPCW, riskRegression::Score)."""

    cohort: str = _f("cohort")
    horizon: Num = _f("time horizon")
    auc: OptNum = _f("AUC(t)")
    se: OptNum = _f("influence-function standard error")
    ci_low: OptNum = _f("Wald interval, lower (clipped to [0, 1])")
    ci_high: OptNum = _f("Wald interval, upper")
    n_cases: int = _f("patients with the event at or before the horizon")
    n_controls: int = _f("patients followed beyond the horizon")
    undefined_reason: OptStr = _f("why undefined", None)


class SurvivalBrierRow(Record):
    """IPCW Brier score of the absolute risks at a horizon."""

    cohort: str = _f("cohort")
    horizon: Num = _f("time horizon")
    brier: OptNum = _f("Brier score")
    se: OptNum = _f("its standard error (influence function)")
    ci_low: OptNum = _f("interval, lower")
    ci_high: OptNum = _f("interval, upper")
    brier_null: OptNum = _f("Brier score of the null (Kaplan-Meier) model")
    ipa: OptNum = _f("index of prediction accuracy, 1 - brier / brier_null")


class SurvivalCalibrationRow(Record):
    """Calibration of the absolute risks at a horizon."""

    cohort: str = _f("cohort")
    horizon: Num = _f("time horizon")
    observed_risk: OptNum = _f("Kaplan-Meier risk 1 - S(t)")
    mean_predicted: OptNum = _f("mean predicted risk")
    o_e_ratio: OptNum = _f("observed / expected")
    o_e_ci_low: OptNum = _f("its interval, lower (Greenwood, delta method)")
    o_e_ci_high: OptNum = _f("its interval, upper")
    slope: OptNum = _f("calibration slope: Cox coefficient of cloglog(risk)")
    slope_se: OptNum = _f("its standard error")
    slope_ci_low: OptNum = _f("Wald interval, lower")
    slope_ci_high: OptNum = _f("Wald interval, upper")
    ici: OptNum = _f("integrated calibration index (flexible curve)")
    e50: OptNum = _f("median |observed - predicted|")
    e90: OptNum = _f("90th percentile of |observed - predicted|")
    emax: OptNum = _f("maximum |observed - predicted|")
    n: int = _f("patients")
    events: int = _f("events at or before the horizon")
    undefined_reason: OptStr = _f("why undefined", None)


class SurvivalCalibrationGroup(Record):
    """A risk group of the grouped calibration at a horizon."""

    cohort: str = _f("cohort")
    horizon: Num = _f("time horizon")
    group: int = _f("quantile group of the predicted risk")
    n: int = _f("patients")
    events: int = _f("events at or before the horizon")
    mean_predicted: Num = _f("mean predicted risk")
    observed: OptNum = _f("Kaplan-Meier risk at the horizon")
    ci_low: OptNum = _f("its interval, lower (log-transformed Greenwood)")
    ci_high: OptNum = _f("its interval, upper")


class SurvivalCalibrationPoint(Record):
    """A point of the flexible calibration curve at a horizon."""

    cohort: str = _f("cohort")
    horizon: Num = _f("time horizon")
    predicted: Num = _f("predicted risk")
    observed: OptNum = _f("observed risk of patients with that predicted risk (Cox on a "
                          "spline of cloglog(risk))")


class SurvivalDecisionPoint(Record):
    """Net benefit at a threshold and horizon (Kaplan-Meier event rates, dcurves)."""

    cohort: str = _f("cohort")
    horizon: Num = _f("time horizon")
    threshold: Num = _f("threshold probability")
    net_benefit: OptNum = _f("net benefit of the model")
    treat_all: OptNum = _f("net benefit of treating all")
    treat_none: Num = _f("net benefit of treating none (0)")
    net_interventions_avoided: OptNum = _f("net interventions avoided per patient")
    pos_rate: OptNum = _f("share test-positive")
    tp_rate: OptNum = _f("true positives / n")
    fp_rate: OptNum = _f("false positives / n")
    risk_among_test_pos: OptNum = _f("Kaplan-Meier risk among the test positives")


class RiskGroupRow(Record):
    """A risk group (signature probability >= the frozen cut-off: high risk)."""

    cohort: str = _f("cohort")
    group: str = _f("low risk or high risk")
    n: int = _f("patients")
    events: int = _f("events")
    hr: OptNum = _f("hazard ratio against the low-risk group (Cox; 1 for the reference)")
    hr_ci_low: OptNum = _f("Wald interval, lower")
    hr_ci_high: OptNum = _f("Wald interval, upper")
    hr_p: OptNum = _f("Wald p-value (null for the reference)")
    median: OptNum = _f("median event-free time (null when not reached)")
    median_ci_low: OptNum = _f("its interval, lower (log transform)")
    median_ci_high: OptNum = _f("its interval, upper")


class SurvivalOptimismRow(Record):
    """Harrell bootstrap optimism of a time-to-event discrimination index."""

    metric: Literal["c_harrell", "c_uno", "auc"] = _f("Harrell's C, Uno's C or AUC(t)")
    horizon: OptNum = _f("time horizon (AUC only)")
    apparent: OptNum = _f("value in the development cohort")
    optimism: OptNum = _f("mean(train - test) over the resamples")
    corrected: OptNum = _f("apparent - optimism")
    n_resamples: int = _f("resamples where the index was defined")
