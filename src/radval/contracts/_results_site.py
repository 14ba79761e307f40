"""Records of ``results.json`` written by a site run only (``radval validate``): dataset
shift against the development cohort, model updating beside the frozen model, and the
bundle's reference and origin (signature check).
"""

from __future__ import annotations

from radval.contracts._base import Num, OptNum, OptStr, Record, described

_f = described


class ShiftFeatureRow(Record):
    """Dataset-shift diagnostics of one selected feature at a site."""

    feature: str = _f("feature")
    score: OptStr = _f("the score using it")
    n: int = _f("site patients")
    dev_mean: OptNum = _f("development mean")
    dev_sd: OptNum = _f("development SD")
    val_mean: OptNum = _f("site mean")
    val_sd: OptNum = _f("site SD")
    smd: OptNum = _f("standardised mean difference (pooled SD)")
    share_below_q05: OptNum = _f("share below the development 5% quantile (local mean of "
                                 "5 patients; null for a bundle of radval < 0.2)")
    share_above_q95: OptNum = _f("share above the development 95% quantile")
    share_outside_q05_q95: OptNum = _f("share outside the development 5-95% range (about "
                                       "0.10 without shift)")
    flagged: bool = _f("flagged as shifted")
    reason: OptStr = _f("why flagged")


class Shift(Record):
    """Dataset shift of the site against the development cohort."""

    features: list[ShiftFeatureRow] = _f("per feature")
    flagged: list[str] = _f("flagged features")
    prevalence: dict[str, OptNum] = _f("development, validation, difference")
    predicted_risk: dict[str, OptNum] = _f("dev_mean, dev_sd, val_mean, val_sd, smd, "
                                           "share_outside_q05_q95")
    smd_threshold: Num = _f("|SMD| above which a feature is flagged")
    out_of_range_threshold: Num = _f("share outside the development 5-95% range above "
                                     "which a feature is flagged")


class UpdatingRow(Record):
    """The original model and its recalibrated versions at the site."""

    model: str = _f("original, recalibrated_citl, recalibrated_logistic")
    n: int = _f("site patients")
    events: int = _f("site events")
    apparent: bool = _f("estimated in the same data it is evaluated on")
    auc: OptNum = _f("AUC")
    brier: OptNum = _f("Brier score")
    citl: OptNum = _f("calibration-in-the-large")
    citl_se: OptNum = _f("its SE")
    intercept: OptNum = _f("calibration intercept")
    intercept_se: OptNum = _f("its SE")
    slope: OptNum = _f("calibration slope")
    slope_se: OptNum = _f("its SE")
    o_e_ratio: OptNum = _f("observed / expected")


class Updating(Record):
    """Model updating beside the original model (site runs)."""

    citl_intercept: Num = _f("recalibration-in-the-large intercept")
    citl_intercept_se: Num = _f("its SE")
    logistic_intercept: Num = _f("logistic recalibration intercept")
    logistic_intercept_se: Num = _f("its SE")
    logistic_slope: Num = _f("logistic recalibration slope")
    logistic_slope_se: Num = _f("its SE")
    comparison: list[UpdatingRow] = _f("original vs updated")


class BundleOrigin(Record):
    """Who made the bundle, as far as its signature tells (site runs)."""

    verified: bool = _f("SHA256SUMS carries a valid signature by the trusted key")
    signed: bool = _f("the bundle holds SHA256SUMS.sig")
    key_fingerprint: str | None = _f("SHA-256 of the trusted public key that verified it")
    claimed_fingerprint: str | None = _f("key named inside SHA256SUMS.sig (unverified "
                                         "unless verified)")
    message: str = _f("one plain sentence")


class BundleRef(Record):
    """The signature bundle of the run."""

    path: str | None = _f("path relative to the run folder (null at a site)")
    kind: str = _f("bundle, or 'bundle (validated)' at a site")
    signature_sha256: str | None = _f("SHA-256 of signature.json (site runs)", None)
    origin: BundleOrigin | None = _f("signature check of the bundle (site runs)", None)
    key_fingerprint: str | None = _f("SHA-256 of the public key of the team that signed "
                                     "the bundle (development runs with a signing key)", None)
