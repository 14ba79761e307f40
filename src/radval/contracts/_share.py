"""``share.json``: the aggregate-only summary a validation site sends back
(:mod:`radval.pool.share` writes it, ``radval pool`` reads it).

Every object is closed: a file with any other field is refused, so nothing unexpected
can travel.  Identifiers are plain labels (letters, digits, ``_ . -``), never free text.
Which values are withheld (``null``) is decided by the disclosure-control rule of
:mod:`radval.pool.share`.

Layout 2 (radval 0.2): disclosure control; the shift block reports the share outside
the development 5-95% range instead of the min-max range.  Layout 1 files are refused
(their suppression could be undone by arithmetic).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from radval.contracts._base import Document, Num, Record

__all__ = ["SHARE_SCHEMA_VERSION", "SITE_LABEL_PATTERN", "ShareFile"]

SHARE_SCHEMA_VERSION = "2"
#: A site label: no spaces, slashes or free text.
SITE_LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"

Prob = Annotated[Num, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
Plain = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]


class Suppression(Record):
    """Disclosure control applied before the file was written (radval.pool.share)."""

    min_cell: Annotated[int, Field(ge=1)] = Field(description="smallest count that may be "
                                                  "derived from the file")
    allowed: bool = Field(description="the site allowed small cells (nothing withheld)")
    suppressed: list[str] = Field(description="fields withheld (set to null) because a "
                                  "count below min_cell could be derived from them")


class Discrimination(Record):
    """AUC with its DeLong SE, and on the logit scale (for pooling)."""

    auc: Prob | None = Field(description="AUC")
    auc_se: Num | None = Field(description="DeLong SE")
    auc_ci_low: Prob | None = Field(description="DeLong CI, lower")
    auc_ci_high: Prob | None = Field(description="DeLong CI, upper")
    logit_auc: Num | None = Field(description="logit(AUC)")
    logit_auc_se: Num | None = Field(description="SE of logit(AUC) (delta method)")


class Calibration(Record):
    """Calibration aggregates (Debray et al. 2017)."""

    citl: Num | None = Field(description="calibration-in-the-large")
    citl_se: Num | None = Field(description="its SE")
    intercept: Num | None = Field(description="logistic recalibration intercept")
    intercept_se: Num | None = Field(description="its SE")
    slope: Num | None = Field(description="calibration slope")
    slope_se: Num | None = Field(description="its SE")
    o_e: Num | None = Field(description="observed / expected events")
    o_e_se: Num | None = Field(description="its SE")
    log_o_e: Num | None = Field(description="log O/E")
    log_o_e_se: Num | None = Field(description="its SE")
    brier: Num | None = Field(description="Brier score")


class NetBenefit(Record):
    """Net benefit at one threshold."""

    threshold: Prob | None = Field(description="threshold probability")
    net_benefit: Num | None = Field(description="net benefit of the model")
    treat_all: Num | None = Field(description="net benefit of treating all")
    net_benefit_se: Num | None = Field(None, description="SE of the net benefit "
                                       "(multinomial: sqrt((a(1-a) + w^2 b(1-b) + 2wab)/n), "
                                       "a = TP/n, b = FP/n, w = t/(1-t)); withheld with the "
                                       "net benefit; absent from files of radval < 0.3")


class ThresholdMetrics(Record):
    """The 2x2 table at the frozen cutoff."""

    cutoff: Prob | None = Field(description="frozen cutoff")
    tp: Count | None = Field(description="true positives")
    fp: Count | None = Field(description="false positives")
    tn: Count | None = Field(description="true negatives")
    fn: Count | None = Field(description="false negatives")
    sensitivity: Prob | None = Field(description="sensitivity")
    specificity: Prob | None = Field(description="specificity")
    ppv: Prob | None = Field(description="positive predictive value")
    npv: Prob | None = Field(description="negative predictive value")
    accuracy: Prob | None = Field(description="accuracy")


class ShiftFeature(Record):
    """Shift of one selected feature."""

    feature: Plain = Field(description="feature")
    smd: Num | None = Field(description="standardised mean difference")
    share_outside_q05_q95: Prob | None = Field(description="share outside the development "
                                               "5-95% range (about 0.10 without shift)")
    flagged: bool = Field(description="flagged as shifted")


class PredictedRisk(Record):
    """Shift of the predicted risk."""

    dev_mean: Prob | None = Field(description="development mean risk")
    val_mean: Prob | None = Field(description="site mean risk")
    val_sd: Num | None = Field(description="site SD")
    smd: Num | None = Field(description="standardised mean difference")
    share_outside_q05_q95: Prob | None = Field(description="share outside the development "
                                               "5-95% range")


class ShiftSummary(Record):
    """Dataset-shift aggregates."""

    smd_threshold: Num | None = Field(description="|SMD| flag threshold")
    out_of_range_threshold: Num | None = Field(description="flag threshold of the share "
                                               "outside the development 5-95% range")
    n_flagged: Count = Field(description="flagged features")
    features: list[ShiftFeature] = Field(description="per feature")
    prevalence_development: Prob | None = Field(description="development prevalence")
    predicted_risk: PredictedRisk = Field(description="predicted risk")


class SurvivalShareHorizon(Record):
    """Time-to-event aggregates at one horizon (radval.pool._survival_share)."""

    horizon: Annotated[Num, Field(gt=0)] = Field(description="time horizon")
    auc: Prob | None = Field(description="cumulative/dynamic AUC(t) (IPCW)")
    auc_se: Num | None = Field(description="its standard error (influence function)")
    brier: Prob | None = Field(description="IPCW Brier score of the absolute risks")
    ipa: Num | None = Field(description="index of prediction accuracy")
    o_e: Num | None = Field(description="observed (Kaplan-Meier) / expected risk")
    log_o_e_se: Num | None = Field(description="SE of log O/E (Greenwood, delta method)")


class SurvivalShare(Record):
    """Time-to-event aggregates of the site: no time, no count per horizon; values from which
    fewer than min_cell cases, controls or events between horizons could be derived are
    withheld."""

    model: Literal["signature", "cox"] = Field(description="what is validated")
    time_unit: Plain = Field(description="unit of the horizons")
    events: Count | None = Field(description="events over the whole follow-up")
    c_harrell: Prob | None = Field(description="Harrell's C of the marker")
    c_harrell_se: Num | None = Field(description="its SE (infinitesimal jackknife)")
    c_uno: Prob | None = Field(description="Uno's C, truncated at tau")
    c_uno_se: Num | None = Field(description="its SE")
    tau: Num | None = Field(description="truncation time of Uno's C (the last horizon)")
    horizons: list[SurvivalShareHorizon] = Field(description="per horizon of the bundle")


class ShareFile(Document):
    """Aggregates of one validation site: no identifier, per-patient value, date, path or
    free text; every value from which a count below min_cell could be derived is withheld
    (null)."""

    FILE: ClassVar[str] = "share.json"
    TITLE: ClassVar[str] = "radval share"

    schema_version: Literal["2"] = Field(description="layout version")
    kind: Literal["radval-share"] = Field(description="file kind")
    radval_version: str = Field(description="radval version")
    site: Annotated[str, StringConstraints(pattern=SITE_LABEL_PATTERN)] = Field(
        description="site label")
    signature_sha256: Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{64})?$")] = \
        Field(description="SHA-256 of the bundle's signature.json")
    outcome: Plain = Field(description="outcome name")
    model: Plain = Field(description="model name")
    n: Annotated[int, Field(ge=1)] = Field(description="patients")
    events: Count | None = Field(description="events")
    non_events: Count | None = Field(description="non-events")
    prevalence: Prob | None = Field(description="events / n")
    suppression: Suppression = Field(description="small-cell suppression")
    discrimination: Discrimination = Field(description="discrimination")
    calibration: Calibration = Field(description="calibration")
    net_benefit: list[NetBenefit] = Field(description="net benefit at the thresholds")
    threshold_metrics: ThresholdMetrics = Field(description="2x2 table at the cutoff")
    shift: ShiftSummary = Field(description="dataset shift")
    survival: SurvivalShare | None = Field(None, description="time-to-event aggregates "
                                           "(sites with follow-up)")
