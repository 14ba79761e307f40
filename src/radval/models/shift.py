"""Dataset-shift diagnostics: validation features against the development summaries.

For each selected feature :math:`x` with development mean and SD :math:`(\\bar x_d, s_d)`
(from ``signature.development_summary``) and validation values :math:`x_1..x_n`:

* standardised mean difference (Cohen's d with the pooled SD, Austin 2009),

  .. math:: \\mathrm{SMD} = \\frac{\\bar x_v - \\bar x_d}{\\sqrt{(s_v^2 + s_d^2)/2}} ;

* share of validation values below the development 5% quantile, above the 95%
  quantile, and outside the development 5-95% range :math:`[\\tilde Q_d(0.05),
  \\tilde Q_d(0.95)]` (the local-mean quantiles of
  :func:`radval.models.signature.development_summary_from`: averages of 5 development
  patients, never one patient's value).  Without a shift about 10 % of the values fall
  outside.

A feature is flagged, with a :class:`~radval.exceptions.DatasetShiftWarning`, when
:math:`|\\mathrm{SMD}| >` ``smd_threshold`` (0.5, a "medium" effect) or more than
``out_of_range_threshold`` (25 %, 2.5 times the share expected without shift) of the
validation values fall outside the development 5-95% range: the pattern of a different
scanner or protocol (slice thickness, reconstruction kernel, contrast timing) rather
than a different case mix.

Bundles of radval < 0.2 carry the development minimum and maximum (and type-7 1%/99%
quantiles) instead of q05/q95.  They are ignored: for such a bundle the range shares
are undefined (``NaN``) and a feature is flagged by its SMD alone.

The outcome prevalence and the predicted-risk distribution (mean, SD, SMD) are
compared as well: a shift in predicted risk with no shift in prevalence points at
the features; a shift in prevalence alone is case mix and mostly affects
calibration-in-the-large.

References
----------
Austin PC. Balance diagnostics for comparing the distribution of baseline covariates
between treatment groups in propensity-score matched samples. Stat Med 2009;28:3083-107.
Debray TPA et al. A new framework to enhance the interpretation of external validation
studies of clinical prediction models. J Clin Epidemiol 2015;68:279-89.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from radval._results import Result
from radval.exceptions import DatasetShiftWarning, InputError
from radval.models.signature import Signature

__all__ = ["ShiftResult", "dataset_shift"]


def _smd(mean_v: float, sd_v: float, mean_d: float, sd_d: float) -> float:
    pooled = math.sqrt((sd_v**2 + sd_d**2) / 2.0)
    if not math.isfinite(pooled) or pooled == 0.0:
        return 0.0 if mean_v == mean_d else math.copysign(math.inf, mean_v - mean_d)
    return (mean_v - mean_d) / pooled


def _num(d: dict[str, Any], key: str) -> float:
    v = d.get(key)
    return math.nan if v is None else float(v)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShiftResult(Result):
    """Result of :func:`dataset_shift`.

    Attributes
    ----------
    features : DataFrame
        One row per selected feature: ``feature, score, n, dev_mean, dev_sd, val_mean,
        val_sd, smd, share_below_q05, share_above_q95, share_outside_q05_q95, flagged,
        reason``.
    flagged : list of str
        Flagged features.
    prevalence : dict
        ``development, validation, difference``.
    predicted_risk : dict
        ``dev_mean, dev_sd, val_mean, val_sd, smd, share_outside_q05_q95``.
    smd_threshold, out_of_range_threshold : float
    """

    features: pd.DataFrame = dataclasses.field(repr=False, compare=False)
    flagged: list[str]
    prevalence: dict[str, Any]
    predicted_risk: dict[str, Any]
    smd_threshold: float
    out_of_range_threshold: float


def dataset_shift(features_df: pd.DataFrame, signature: Signature, *,
                  probabilities: Any = None, y_true: Any = None, smd_threshold: float = 0.5,
                  out_of_range_threshold: float = 0.25, warn: bool = True) -> ShiftResult:
    """Compare a validation cohort with the development summaries of a signature.

    Parameters
    ----------
    features_df : DataFrame
        Validation features (one row per patient) with every selected feature.
    signature : Signature
        The frozen signature (its ``development_summary`` is the reference).
    probabilities : array-like, optional
        Predicted risks in the validation cohort.
    y_true : array-like of {0, 1}, optional
        Validation outcomes (for the prevalence comparison).
    smd_threshold : float, default 0.5
        Flag a feature when ``|SMD|`` exceeds it.
    out_of_range_threshold : float, default 0.25
        Flag a feature when more than this share lies outside the development 5-95%
        range (about 0.10 is expected without shift).
    warn : bool, default True
        Emit one :class:`DatasetShiftWarning` listing the flagged features.

    Returns
    -------
    ShiftResult
    """
    if not isinstance(features_df, pd.DataFrame):
        raise InputError("dataset_shift: features_df must be a pandas DataFrame.")
    if not (smd_threshold > 0 and 0 < out_of_range_threshold < 1):
        raise InputError("dataset_shift: smd_threshold must be > 0 and out_of_range_threshold "
                         "in (0, 1).")
    summary = signature.development_summary
    dev_features: dict[str, Any] = dict(summary.get("features") or {})
    rows: list[dict[str, Any]] = []
    flagged: list[str] = []
    for score_name, score in signature.scores.items():
        for j, feat in enumerate(score.features):
            if feat not in features_df.columns:
                raise InputError(f"dataset_shift: the features table lacks {feat!r}.")
            x = pd.to_numeric(features_df[feat], errors="coerce").to_numpy(dtype=np.float64)
            x = x[np.isfinite(x)]
            dev = dev_features.get(feat) or {}
            d_mean = _num(dev, "mean") if dev else score.means[j]
            d_sd = _num(dev, "sd") if dev else score.sds[j]
            # min/max of old bundles are single patients' values: never used
            lo, hi = _num(dev, "q05"), _num(dev, "q95")
            n = int(x.size)
            v_mean = float(x.mean()) if n else math.nan
            v_sd = float(x.std(ddof=1)) if n > 1 else math.nan
            smd = _smd(v_mean, v_sd if n > 1 else 0.0, d_mean, d_sd) if n else math.nan
            ranged = n > 0 and math.isfinite(lo) and math.isfinite(hi)
            below = float(np.mean(x < lo)) if ranged else math.nan
            above = float(np.mean(x > hi)) if ranged else math.nan
            out = below + above
            reasons = []
            if math.isfinite(smd) and abs(smd) > smd_threshold or math.isinf(smd):
                reasons.append(f"|SMD| = {abs(smd):.2f} > {smd_threshold:g}")
            if math.isfinite(out) and out > out_of_range_threshold:
                reasons.append(f"{100 * out:.0f}% outside the development 5-95% range")
            if reasons and feat not in flagged:
                flagged.append(feat)
            rows.append({"feature": feat, "score": score_name, "n": n, "dev_mean": d_mean,
                         "dev_sd": d_sd, "val_mean": v_mean, "val_sd": v_sd, "smd": smd,
                         "share_below_q05": below, "share_above_q95": above,
                         "share_outside_q05_q95": out, "flagged": bool(reasons),
                         "reason": "; ".join(reasons) or None})
    prev: dict[str, Any] = {"development": summary.get("prevalence"), "validation": None,
                            "difference": None}
    if y_true is not None:
        y = np.asarray(y_true, dtype=np.float64).ravel()
        if y.size:
            prev["validation"] = float(y.mean())
            if prev["development"] is not None:
                prev["difference"] = prev["validation"] - float(prev["development"])
    risk: dict[str, Any] = {}
    dev_risk = dict(summary.get("predicted_risk") or {})
    if dev_risk:
        risk.update(dev_mean=_num(dev_risk, "mean"), dev_sd=_num(dev_risk, "sd"))
    if probabilities is not None:
        p = np.asarray(probabilities, dtype=np.float64).ravel()
        p = p[np.isfinite(p)]
        if p.size:
            risk.update(val_mean=float(p.mean()),
                        val_sd=float(p.std(ddof=1)) if p.size > 1 else math.nan)
            if dev_risk:
                risk["smd"] = _smd(risk["val_mean"], risk["val_sd"] if p.size > 1 else 0.0,
                                   risk["dev_mean"], risk["dev_sd"])
                lo, hi = _num(dev_risk, "q05"), _num(dev_risk, "q95")
                if math.isfinite(lo) and math.isfinite(hi):
                    risk["share_outside_q05_q95"] = float(np.mean((p < lo) | (p > hi)))
    if flagged and warn:
        shown = ", ".join(flagged[:5]) + (" ..." if len(flagged) > 5 else "")
        warnings.warn(f"{len(flagged)} selected feature(s) look unlike the development data "
                      f"(a different scanner or protocol?): {shown}. Check the shift table "
                      "before trusting the validation.", DatasetShiftWarning, stacklevel=2)
    return ShiftResult(features=pd.DataFrame(rows, columns=[
        "feature", "score", "n", "dev_mean", "dev_sd", "val_mean", "val_sd", "smd",
        "share_below_q05", "share_above_q95", "share_outside_q05_q95", "flagged",
        "reason"]), flagged=flagged, prevalence=prev, predicted_risk=risk,
        smd_threshold=float(smd_threshold), out_of_range_threshold=float(out_of_range_threshold))
