"""``share.json``: the aggregate-only summary a validation site sends back.

It holds aggregates only (its definition is :class:`radval.contracts.ShareFile`,
documented in ``data-dictionary/share.yaml``):
the site label, n, events, discrimination (AUC with its DeLong SE; logit AUC with the
delta-method SE), calibration (calibration-in-the-large, logistic intercept and slope
with SEs; O/E and log O/E with SE; Brier), net benefit at stated thresholds, the
2x2 counts at the frozen cutoff, and dataset-shift summaries.  It never holds a
patient identifier, a per-patient value, a date, a path, a DICOM UID or free text.

Small cells: any 2x2 count below ``min_cell`` (5) is suppressed with every measure it
determines (sensitivity, specificity, PPV, NPV, accuracy) unless the site allows it;
events or non-events below ``min_cell`` suppress ``events``, ``non_events``,
``prevalence`` and the O/E block.  Suppressed values are ``null`` and listed in
``suppression.suppressed``.

Formulas (Debray et al. 2017, BMJ 356:i6460, and its supplement):

* :math:`\\operatorname{logit}\\hat c` with
  :math:`\\operatorname{SE} = \\operatorname{SE}_{DeLong}(\\hat c)/\\{\\hat c(1-\\hat c)\\}`;
* :math:`O/E = \\sum y_i / \\sum \\hat p_i`,
  :math:`\\operatorname{SE}(\\log O/E) = \\sqrt{(1 - O/n)/O}` (binomial variation of O
  with E fixed), :math:`\\operatorname{SE}(O/E) = (O/E)\\,\\operatorname{SE}(\\log O/E)`;
* calibration intercept/slope/CITL and their SEs from :func:`radval.stats._calibration`
  (inverse Fisher information of the logistic recalibration fits).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from radval._provenance import atomic_write_json
from radval._results import jsonable
from radval._validation import check_binary, check_consistent_length, check_probabilities
from radval.contracts._share import SHARE_SCHEMA_VERSION, SITE_LABEL_PATTERN, ShareFile
from radval.exceptions import InputError, RadvalWarning

__all__ = ["SHARE_SCHEMA_VERSION", "build_share", "check_share", "read_share",
           "write_share"]

#: Allowed site labels (no spaces, slashes or free text).
SITE_LABEL_RE = re.compile(SITE_LABEL_PATTERN)
_SITE_RE = SITE_LABEL_RE
_NAME_RE = r"^[A-Za-z0-9_.-]{1,128}$"

def _f(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _safe_name(value: str, what: str) -> str:
    if not re.match(_NAME_RE, value):
        raise InputError(f"build_share: {what} {value!r} must be letters, digits, '_', '-' or "
                         "'.' (no spaces, slashes or free text).")
    return value


def build_share(y_true: Any, y_prob: Any, *, site: str, cutoff: float,
                thresholds: Sequence[float] = (0.1, 0.2, 0.3), outcome: str = "outcome",
                model: str = "signature", signature_sha256: str = "", shift: Any = None,
                allow_small_cells: bool = False, min_cell: int = 5) -> dict[str, Any]:
    """Compute the aggregate-only share document of one validation cohort.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        Outcomes.
    y_prob : array-like of float
        Predicted risks of the frozen model.
    site : str
        Site label (letters, digits, ``_ . -``; at most 40 characters).
    cutoff : float
        Frozen probability cutoff (positive iff ``y_prob >= cutoff``).
    thresholds : sequence of float
        Threshold probabilities for the net benefit.
    outcome, model : str
        Outcome column and model names (identifiers, not free text).
    signature_sha256 : str
        SHA-256 of the bundle's ``signature.json`` (ties the share to the model).
    shift : ShiftResult, optional
        From :func:`radval.models.shift.dataset_shift`.
    allow_small_cells : bool, default False
        Keep counts below ``min_cell``.
    min_cell : int, default 5

    Returns
    -------
    dict
        The document (validated against :class:`radval.contracts.ShareFile`).
    """
    from radval import __version__

    # import the functions from their modules: `radval.stats._calibration` and
    # `radval.stats._decision_curve` are also submodule names, so the package attribute
    # can be the module once it has been imported
    from radval.stats._calibration import calibration as calibration_fn
    from radval.stats._decision_curve import decision_curve
    from radval.stats._discrimination import delong_ci
    from radval.stats._threshold import threshold_metrics

    caller = "build_share"
    if not isinstance(site, str) or not _SITE_RE.match(site):
        raise InputError(f"{caller}: site label {site!r} must be 1-40 letters, digits, '_', "
                         "'.' or '-', starting with a letter or digit.")
    _safe_name(outcome, "outcome")
    _safe_name(model, "model")
    if signature_sha256 and not re.match(r"^[0-9a-f]{64}$", signature_sha256):
        raise InputError(f"{caller}: signature_sha256 must be a hex SHA-256.")
    y = check_binary(y_true, caller=caller)
    p = check_probabilities(y_prob, caller=caller, param="y_prob")
    check_consistent_length(caller, y_true=y, y_prob=p)
    thr = [float(t) for t in thresholds]
    if any(not 0 <= t < 1 for t in thr):
        raise InputError(f"{caller}: thresholds must be in [0, 1).")
    n, events = int(y.size), int(y.sum())
    non_events = n - events
    suppressed: list[str] = []
    small_class = min(events, non_events) < min_cell and not allow_small_cells

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        d = delong_ci(y, p)
        cal = calibration_fn(y, p)
        dca = decision_curve(y, p, thresholds=thr) if thr else None
        tm = threshold_metrics(y, p, threshold=float(cutoff))
    auc = float(d.estimate)
    auc_se = float(d.se)
    if 0 < auc < 1 and math.isfinite(auc_se):
        logit_auc, logit_se = math.log(auc / (1 - auc)), auc_se / (auc * (1 - auc))
    else:
        logit_auc = logit_se = math.nan
    expected = float(p.sum())
    if events > 0 and expected > 0:
        o_e = events / expected
        log_oe_se = math.sqrt((1 - events / n) / events)
        log_oe, o_e_se = math.log(o_e), o_e * log_oe_se
    else:
        o_e = log_oe = o_e_se = log_oe_se = math.nan

    calibration = {"citl": _f(cal.citl), "citl_se": _f(cal.citl_se),
                   "intercept": _f(cal.intercept), "intercept_se": _f(cal.intercept_se),
                   "slope": _f(cal.slope), "slope_se": _f(cal.slope_se), "o_e": _f(o_e),
                   "o_e_se": _f(o_e_se), "log_o_e": _f(log_oe), "log_o_e_se": _f(log_oe_se),
                   "brier": _f(cal.brier)}
    doc: dict[str, Any] = {
        "schema_version": SHARE_SCHEMA_VERSION, "kind": "radval-share",
        "radval_version": str(__version__), "site": site,
        "signature_sha256": signature_sha256, "outcome": outcome, "model": model,
        "n": n, "events": events, "non_events": non_events, "prevalence": events / n,
    }
    if small_class:
        for k in ("events", "non_events", "prevalence"):
            doc[k] = None
            suppressed.append(k)
        for k in ("o_e", "o_e_se", "log_o_e", "log_o_e_se"):
            calibration[k] = None
            suppressed.append(f"calibration.{k}")
    counts = {"tp": int(tm.tp), "fp": int(tm.fp), "tn": int(tm.tn), "fn": int(tm.fn)}
    tmd: dict[str, Any] = {"cutoff": float(cutoff), **counts,
                           "sensitivity": _f(tm.sensitivity), "specificity": _f(tm.specificity),
                           "ppv": _f(tm.ppv), "npv": _f(tm.npv), "accuracy": _f(tm.accuracy)}
    if not allow_small_cells and (min(counts.values()) < min_cell or small_class):
        for k in ("tp", "fp", "tn", "fn", "sensitivity", "specificity", "ppv", "npv",
                  "accuracy"):
            tmd[k] = None
            suppressed.append(f"threshold_metrics.{k}")
    nb: list[dict[str, Any]] = []
    if dca is not None:
        for rec in dca.to_dict(orient="records"):
            nb.append({"threshold": float(rec["threshold"]), "net_benefit": _f(rec["net_benefit"]),
                       "treat_all": _f(rec["treat_all"])})
    doc.update(
        suppression={"min_cell": int(min_cell), "allowed": bool(allow_small_cells),
                     "suppressed": suppressed},
        discrimination={"auc": _f(auc), "auc_se": _f(auc_se), "auc_ci_low": _f(d.ci_low),
                        "auc_ci_high": _f(d.ci_high), "logit_auc": _f(logit_auc),
                        "logit_auc_se": _f(logit_se)},
        calibration=calibration, net_benefit=nb, threshold_metrics=tmd,
        shift=_shift_block(shift),
    )
    check_share(doc)
    return doc


def _shift_block(shift: Any) -> dict[str, Any]:
    empty: dict[str, Any] = {"smd_threshold": None, "out_of_range_threshold": None,
                             "n_flagged": 0, "features": [], "prevalence_development": None,
                             "predicted_risk": {"dev_mean": None, "val_mean": None,
                                                "val_sd": None, "smd": None,
                                                "share_out_of_range": None}}
    if shift is None:
        return empty
    feats = []
    for rec in shift.features.to_dict(orient="records"):
        feats.append({"feature": _safe_name(str(rec["feature"]), "feature"),
                      "smd": _f(rec["smd"]), "share_out_of_range": _f(rec["share_out_of_range"]),
                      "share_outside_q01_q99": _f(rec["share_outside_q01_q99"]),
                      "flagged": bool(rec["flagged"])})
    risk = dict(shift.predicted_risk)
    return {"smd_threshold": float(shift.smd_threshold),
            "out_of_range_threshold": float(shift.out_of_range_threshold),
            "n_flagged": len(shift.flagged), "features": feats,
            "prevalence_development": _f(shift.prevalence.get("development")),
            "predicted_risk": {k: _f(risk.get(k)) for k in ("dev_mean", "val_mean", "val_sd",
                                                              "smd", "share_out_of_range")}}


def check_share(doc: Any, *, source: str = "share.json") -> None:
    """Validate a share document against its definition (:class:`radval.contracts.ShareFile`:
    closed objects, plain labels, counts and proportions in range).

    Raises
    ------
    ContractError
        Naming every offending field.
    """
    ShareFile.from_data(doc, source=source)


def write_share(path: str | os.PathLike[str], doc: Mapping[str, Any]) -> Path:
    """Validate and write a share document (strict JSON, sorted keys)."""
    check_share(jsonable(dict(doc)))
    out = Path(path)
    atomic_write_json(out, dict(doc))
    return out


def read_share(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a ``share.json`` (:meth:`radval.contracts.ShareFile.read`)."""
    from radval._paths import require_file

    p = require_file(path, "share file")
    return ShareFile.read(p).to_data()
