"""``share.json``: the aggregate-only summary a validation site sends back.

It holds aggregates only (its definition is :class:`radval.contracts.ShareFile`,
documented in ``data-dictionary/share.yaml``):
the site label, n, events, discrimination (AUC with its DeLong SE; logit AUC with the
delta-method SE), calibration (calibration-in-the-large, logistic intercept and slope
with SEs; O/E and log O/E with SE; Brier), net benefit at stated thresholds, the
2x2 counts at the frozen cutoff, and dataset-shift summaries.  It never holds a
patient identifier, a per-patient value, a date, a path, a DICOM UID or free text.

Disclosure control
------------------
Hiding a small count is not enough when the count can be computed back from the values
left in the file.  The file is treated as statistical offices treat a published table:
no count of patients below ``min_cell`` (5) that cross-classifies the outcome (events,
non-events, the cells of a 2x2 table, the patients between two thresholds) may be
derivable from it, exactly or to within one patient.  Every value of the file, and how it
gives a count back:

==========================================  =================================================
value                                       derivation of a count (n is in the file)
==========================================  =================================================
``events``, ``non_events``, ``prevalence``  directly; ``prevalence * n``
``net_benefit[].treat_all``                 :math:`\\pi = (NB_{all} + w)/(1 + w)`,
                                            :math:`w = t/(1-t)`; events :math:`= \\pi n`
``o_e``, ``log_o_e``                        :math:`O = (O/E)\\,E`, :math:`E = n \\cdot`
                                            ``shift.predicted_risk.val_mean``
``o_e_se``, ``log_o_e_se``                  :math:`O = n / (n\\,\\mathrm{SE}^2 + 1)`
``citl``, ``intercept`` and SEs             :math:`\\sum \\operatorname{expit}(\\alpha +
                                            \\mathrm{lp}_i) = O`: with rare events
                                            :math:`O \\approx e^{\\alpha} E`;
                                            :math:`\\mathrm{SE}^{-2} \\approx O - \\sum
                                            \\hat p_i^2`
``slope`` and SE                            its information is a weighted count of events
``brier``                                   :math:`n B - \\sum p_i^2 = O - 2 \\sum_{events}
                                            p_i` (:math:`\\sum p^2` from the shift block):
                                            bounds :math:`O`
``auc``, ``logit_auc``, CI                  :math:`AUC = U/(n_1 n_0)`: :math:`2 AUC\\,n_1
                                            (n - n_1)` must be an integer
``auc_se``, ``logit_auc_se``                DeLong variance :math:`\\approx A(1-A)/n_1` for
                                            small :math:`n_1` (Hanley-McNeil); undefined
                                            when :math:`n_1 = 1`
``threshold_metrics`` (counts, sens,        directly; :math:`TP = sens \\cdot events`,
spec, PPV, NPV, accuracy)                   :math:`FP = TP (1 - PPV)/PPV`, ...
``net_benefit[].net_benefit`` at t          :math:`n\\,NB = TP - FP\\,w`: few integer
                                            solutions :math:`(TP, FP)` when a cell is small
``net_benefit[].net_benefit_se``            with the net benefit it gives :math:`TP` and
                                            :math:`FP` of that threshold's table exactly
                                            (released and withheld with the net benefit)
two released tables (any thresholds)        their difference counts the events and
                                            non-events with risk between the thresholds
``shift`` block                             no outcome in it (predicted risk and features
                                            only; development values come from the bundle)
``n``                                       with nothing else, the classes to within one
                                            when :math:`n \\le 4`
``survival`` block                          cases and controls at each horizon and the
                                            events between horizons: its own rule, in
                                            :mod:`radval.pool._survival_share`
==========================================  =================================================

The rule (complementary suppression), unless the site allows small cells
(``allow_small_cells``, recorded as ``suppression.allowed``):

1. *Patients.*  With fewer than ``min_cell`` patients nothing can be shared
   (:class:`~radval.exceptions.DataError`): n alone would give the classes to within one.
2. *Classes.*  With fewer than ``min_cell`` events or non-events, every value that
   depends on the outcome is withheld: ``events``, ``non_events``, ``prevalence``, the
   whole ``discrimination`` and ``calibration`` blocks, ``net_benefit`` and
   ``treat_all`` at every threshold and every ``threshold_metrics`` value.  Left are
   ``n``, the labels, the thresholds and the ``shift`` block.
3. *Tables.*  The 2x2 table at the cutoff (positive iff risk >= cutoff) and at each
   net-benefit threshold (treated iff risk >= t and risk > 0, as ``dcurves``) is released
   only when its four cells are at least ``min_cell``; a withheld table withholds every
   value computed from it (the nine threshold metrics; that threshold's net benefit).
4. *Differences.*  The tables are nested (a higher threshold selects a subset of the
   patients), so two released tables give the events and non-events between their
   thresholds.  Tables are released in order, the cutoff first and then the net-benefit
   thresholds from the lowest, and a table is withheld when the events or the non-events
   between it and its nearest released table on either side would be below ``min_cell``
   (two tables that select the same patients are one table).

Then every count that can be computed from the file (the classes, the cells of every
released table and the counts between released tables: the cells of the finest table
the file determines) is at least ``min_cell``, and a withheld count cannot be narrowed to
fewer than ``min_cell - 1`` values by the arithmetic above
(``tests/pool/test_disclosure.py`` tries each derivation on sites with 1-4 events,
non-events or table cells).  Withheld values are ``null`` and named in
``suppression.suppressed``; ``radval pool`` leaves a site out of a measure it withheld and
says so in the pooled report.

Only ``share.json`` is built for leaving the site: ``results.json``,
``predictions.parquet``, the failures table, the extracted features and the site report
hold per-patient values or unsuppressed counts and stay at the site.

Formulas (Debray et al. 2017, BMJ 356:i6460, and its supplement):

* :math:`\\operatorname{logit}\\hat c` with
  :math:`\\operatorname{SE} = \\operatorname{SE}_{DeLong}(\\hat c)/\\{\\hat c(1-\\hat c)\\}`;
* :math:`O/E = \\sum y_i / \\sum \\hat p_i`,
  :math:`\\operatorname{SE}(\\log O/E) = \\sqrt{(1 - O/n)/O}` (binomial variation of O
  with E fixed), :math:`\\operatorname{SE}(O/E) = (O/E)\\,\\operatorname{SE}(\\log O/E)`;
* calibration intercept/slope/CITL and their SEs from :func:`radval.stats._calibration`
  (inverse Fisher information of the logistic recalibration fits).

References
----------
Hundepool A et al. Statistical Disclosure Control. Wiley 2012 (frequency
tables: threshold rule, secondary suppression, disclosure by differencing).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radval._provenance import atomic_write_json
from radval._results import jsonable
from radval._validation import (
    check_binary,
    check_consistent_length,
    check_positive_int,
    check_probabilities,
)
from radval.contracts._share import SHARE_SCHEMA_VERSION, SITE_LABEL_PATTERN, ShareFile
from radval.exceptions import (
    ContractError,
    DataError,
    InputError,
    RadvalWarning,
)

__all__ = ["MIN_CELL", "SHARE_SCHEMA_VERSION", "build_share", "check_share", "read_share",
           "write_share"]

#: Smallest count of patients that may be derived from a share file (module docstring).
MIN_CELL = 5

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


def _cells(y: npt.NDArray[np.bool_], positive: npt.NDArray[np.bool_]) -> tuple[int, ...]:
    """``(tp, fp, fn, tn)`` of one 2x2 table."""
    return (int(np.sum(positive & y)), int(np.sum(positive & ~y)),
            int(np.sum(~positive & y)), int(np.sum(~positive & ~y)))


def _released_tables(tables: Mapping[str, tuple[int, ...]], order: Sequence[str],
                     min_cell: int) -> set[str]:
    """Rules 3 and 4 of the module docstring: the tables whose values may be released."""
    kept: list[str] = []
    for key in order:
        tp, fp = tables[key][:2]
        if min(tables[key]) < min_cell:
            continue
        positives = tp + fp
        # the tables are nested: the nearest released table selecting more patients and
        # the nearest selecting fewer are its neighbours in the chain
        wider = [k for k in kept if sum(tables[k][:2]) >= positives]
        narrower = [k for k in kept if sum(tables[k][:2]) <= positives]
        neighbours = []
        if wider:
            neighbours.append(min(wider, key=lambda k: sum(tables[k][:2])))
        if narrower:
            neighbours.append(max(narrower, key=lambda k: sum(tables[k][:2])))
        ok = True
        for other in neighbours:
            d_events, d_non = abs(tp - tables[other][0]), abs(fp - tables[other][1])
            if (d_events or d_non) and min(d_events, d_non) < min_cell:
                ok = False
        if ok:
            kept.append(key)
    return set(kept)


def build_share(y_true: Any, y_prob: Any, *, site: str, cutoff: float,
                thresholds: Sequence[float] = (0.1, 0.2, 0.3), outcome: str = "outcome",
                model: str = "signature", signature_sha256: str = "", shift: Any = None,
                allow_small_cells: bool = False, min_cell: int = MIN_CELL,
                survival: Mapping[str, Any] | None = None) -> dict[str, Any]:
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
        Release every value (the site's decision): no disclosure control.
    min_cell : int, default 5
        Smallest count that may be derived from the file (module docstring).
    survival : mapping, optional
        The site's follow-up for the ``survival`` block: ``time, event, marker, risk,
        horizons, time_unit, model`` (:func:`radval.pool._survival_share.survival_block`,
        which applies its own disclosure rule to it).

    Returns
    -------
    dict
        The document (validated against :class:`radval.contracts.ShareFile`).

    Raises
    ------
    DataError
        Fewer than ``min_cell`` patients (and small cells not allowed).
    """
    from radval import __version__

    # import the functions from their modules: `radval.stats._calibration` and
    # `radval.stats._decision_curve` are also submodule names, so the package attribute
    # can be the module once it has been imported
    from radval.stats._calibration import calibration as calibration_fn
    from radval.stats._decision_curve import _net_benefit_se, decision_curve
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
    min_cell = check_positive_int(min_cell, caller=caller, param="min_cell")
    y = check_binary(y_true, caller=caller)
    p = check_probabilities(y_prob, caller=caller, param="y_prob")
    check_consistent_length(caller, y_true=y, y_prob=p)
    thr = [float(t) for t in thresholds]
    if any(not 0 <= t < 1 for t in thr):
        raise InputError(f"{caller}: thresholds must be in [0, 1).")
    n, events = int(y.size), int(y.sum())
    non_events = n - events
    control = not allow_small_cells
    if control and n < min_cell:
        raise DataError(f"site {site}: only {n} analysed patient(s), fewer than {min_cell}: "
                        "the number of events could be told from n alone, so no share.json "
                        "can be written (unless the site allows small cells).")
    small_class = control and min(events, non_events) < min_cell
    yb = y.astype(bool)
    # the 2x2 tables behind every released value: the cutoff (threshold_metrics) and each
    # net-benefit threshold (treated iff risk >= t and risk > 0, dcurves' rule)
    tables = {"cutoff": _cells(yb, p >= float(cutoff))}
    tables.update({f"nb{i}": _cells(yb, (p >= t) & (p > 0)) for i, t in enumerate(thr)})
    if not control:
        released = set(tables)
    elif small_class:
        released = set()
    else:
        # the cutoff's table first, then the net-benefit thresholds from the lowest
        order = ["cutoff", *(f"nb{i}" for i in sorted(range(len(thr)), key=thr.__getitem__))]
        released = _released_tables(tables, order, min_cell)

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

    suppressed: list[str] = []

    def withhold(block: dict[str, Any], keys: Sequence[str], prefix: str) -> None:
        for k in keys:
            block[k] = None
            suppressed.append(f"{prefix}{k}")

    top: dict[str, Any] = {"events": events, "non_events": non_events,
                           "prevalence": events / n}
    discrimination = {"auc": _f(auc), "auc_se": _f(auc_se), "auc_ci_low": _f(d.ci_low),
                      "auc_ci_high": _f(d.ci_high), "logit_auc": _f(logit_auc),
                      "logit_auc_se": _f(logit_se)}
    calibration = {"citl": _f(cal.citl), "citl_se": _f(cal.citl_se),
                   "intercept": _f(cal.intercept), "intercept_se": _f(cal.intercept_se),
                   "slope": _f(cal.slope), "slope_se": _f(cal.slope_se), "o_e": _f(o_e),
                   "o_e_se": _f(o_e_se), "log_o_e": _f(log_oe), "log_o_e_se": _f(log_oe_se),
                   "brier": _f(cal.brier)}
    if not cal.converged:
        # separation: no maximum-likelihood recalibration exists (not an estimate to pool)
        for k in ("citl", "citl_se", "intercept", "intercept_se", "slope", "slope_se"):
            calibration[k] = None
    if small_class:
        withhold(top, list(top), "")
        withhold(discrimination, list(discrimination), "discrimination.")
        withhold(calibration, list(calibration), "calibration.")
    nb: list[dict[str, Any]] = []
    if dca is not None:
        for i, rec in enumerate(dca.to_dict(orient="records")):
            entry = {"threshold": float(rec["threshold"]),
                     "net_benefit": _f(rec["net_benefit"]), "treat_all": _f(rec["treat_all"]),
                     "net_benefit_se": _f(_net_benefit_se(rec["tp_rate"], rec["fp_rate"],
                                                          rec["threshold"], n))}
            label = f"net_benefit[{i}]."
            if small_class:
                withhold(entry, ["net_benefit", "treat_all", "net_benefit_se"], label)
            elif f"nb{i}" not in released:
                withhold(entry, ["net_benefit", "net_benefit_se"], label)
            nb.append(entry)
    tmd: dict[str, Any] = {"cutoff": float(cutoff), "tp": int(tm.tp), "fp": int(tm.fp),
                           "tn": int(tm.tn), "fn": int(tm.fn),
                           "sensitivity": _f(tm.sensitivity), "specificity": _f(tm.specificity),
                           "ppv": _f(tm.ppv), "npv": _f(tm.npv), "accuracy": _f(tm.accuracy)}
    if "cutoff" not in released:
        withhold(tmd, [k for k in tmd if k != "cutoff"], "threshold_metrics.")
    doc: dict[str, Any] = {
        "schema_version": SHARE_SCHEMA_VERSION, "kind": "radval-share",
        "radval_version": str(__version__), "site": site,
        "signature_sha256": signature_sha256, "outcome": outcome, "model": model,
        "n": n, **top,
        "suppression": {"min_cell": int(min_cell), "allowed": bool(allow_small_cells),
                        "suppressed": suppressed},
        "discrimination": discrimination, "calibration": calibration, "net_benefit": nb,
        "threshold_metrics": tmd, "shift": _shift_block(shift),
    }
    if survival is not None:
        from radval.pool._survival_share import survival_block

        doc["survival"], withheld = survival_block(
            **survival, allow_small_cells=bool(allow_small_cells), min_cell=min_cell)
        suppressed.extend(withheld)
    check_share(doc)
    return doc


def _shift_block(shift: Any) -> dict[str, Any]:
    empty: dict[str, Any] = {"smd_threshold": None, "out_of_range_threshold": None,
                             "n_flagged": 0, "features": [], "prevalence_development": None,
                             "predicted_risk": {"dev_mean": None, "val_mean": None,
                                                "val_sd": None, "smd": None,
                                                "share_outside_q05_q95": None}}
    if shift is None:
        return empty
    feats = []
    for rec in shift.features.to_dict(orient="records"):
        feats.append({"feature": _safe_name(str(rec["feature"]), "feature"),
                      "smd": _f(rec["smd"]),
                      "share_outside_q05_q95": _f(rec["share_outside_q05_q95"]),
                      "flagged": bool(rec["flagged"])})
    risk = dict(shift.predicted_risk)
    return {"smd_threshold": float(shift.smd_threshold),
            "out_of_range_threshold": float(shift.out_of_range_threshold),
            "n_flagged": len(shift.flagged), "features": feats,
            "prevalence_development": _f(shift.prevalence.get("development")),
            "predicted_risk": {k: _f(risk.get(k)) for k in ("dev_mean", "val_mean", "val_sd",
                                                              "smd", "share_outside_q05_q95")}}


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
    try:
        return ShareFile.read(p).to_data()
    except ContractError:
        if _layout(p) == "1":
            raise ContractError(f"{p.name} was written by radval < 0.2 (share layout 1), whose "
                                "small-cell suppression could be undone from the file itself; "
                                "ask the site to re-run radval validate with this radval."
                                ) from None
        raise


def _layout(path: Path) -> Any:
    # only called on a file that failed validation: read as little as possible of it
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError):
        return None
    return data.get("schema_version") if isinstance(data, dict) else None
