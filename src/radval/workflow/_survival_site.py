"""The time-to-event validation of a frozen bundle at an external site (``radval validate``).

When the site's clinical table has follow-up (``--time COL --event COL``, default the
bundle's column names), :func:`site_survival` computes what the development run computes
in each cohort (:func:`radval.workflow._survival.cohort_survival`) with the bundle's
frozen survival model (:class:`radval.models.survival.SurvivalModel`): the marker (the
signature's linear predictor, or the frozen Cox model's), the absolute risks at the
bundle's horizons, and the risk groups at the frozen cut-off.  A bundle without a survival
model (radval < 0.3) still gives the description and the C statistics of the signature,
when the columns are named.  ``results.json`` gets the ``survival`` block; ``share.json``
the aggregates of :mod:`radval.pool._survival_share`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from radval.exceptions import InputError, RadvalWarning

__all__ = ["SiteSurvival", "site_survival"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SiteSurvival:
    """What :func:`site_survival` computed.

    Attributes
    ----------
    record : dict
        The ``survival`` block of the site's results.json.
    share : dict or None
        Keyword arguments of :func:`radval.pool._survival_share.survival_block`
        (per-patient arrays: in memory only); None when no patient has follow-up.
    flags : list of dict
        Warnings for the ``warnings`` table.
    n_excluded : int
        Site patients left out of the endpoint (no follow-up or predictor values).
    """

    record: dict[str, Any] = field(repr=False)
    share: dict[str, Any] | None = field(repr=False)
    flags: list[dict[str, Any]] = field(default_factory=list)
    n_excluded: int = 0


def site_survival(signature: Any, clinical: pd.DataFrame, predictions: pd.DataFrame, *,
                  site: str, time: str | None = None, event: str | None = None,
                  thresholds: Sequence[float] | None = None,
                  confidence_level: float = 0.95) -> SiteSurvival | None:
    """Time-to-event validation of the bundle at one site, or ``None`` without follow-up.

    Parameters
    ----------
    signature : Signature
        The bundle's signature (its ``survival`` model, if any).
    clinical : DataFrame
        The site's clinical table (column ``patient_id``).
    predictions : DataFrame
        :meth:`Signature.predict` of the analysed patients (``patient_id,
        linear_predictor, probability``).
    site : str
        Site label (the cohort name).
    time, event : str, optional
        Follow-up columns (default: the bundle's column names).  Naming a column the table
        lacks is an error; without names and without the bundle's columns, no survival
        validation.
    thresholds : sequence of float, optional
        Threshold probabilities of the decision curves (default 0.01 .. 0.99).
    confidence_level : float

    Returns
    -------
    SiteSurvival or None

    Raises
    ------
    InputError
        A named column is absent, or invalid follow-up values (negative times, events not
        0/1).
    """
    from radval.models.survival import SurvivalModel
    from radval.workflow._survival import SurvivalValidation, cohort_survival, follow_up

    sm = SurvivalModel.from_dict(signature.survival) if signature.survival else None
    explicit = time is not None or event is not None
    tcol = time or (sm.time if sm is not None else None)
    ecol = event or (sm.event if sm is not None else None)
    if tcol is None or ecol is None:
        if explicit:
            raise InputError("radval validate: give both --time and --event (the bundle has "
                             "no survival model naming the other).")
        return None
    missing = [c for c in (tcol, ecol) if c not in clinical.columns]
    if missing:
        if explicit:
            raise InputError(f"{clinical.attrs.get('label', 'clinical table')} has no "
                             f"follow-up column(s) {missing} (--time / --event).")
        logger.info("no follow-up columns %s in the clinical table: no time-to-event "
                    "validation", missing)
        return None
    absent = [p for p, _k in (sm.predictors if sm is not None else [])
              if p not in clinical.columns]
    if absent:
        msg = (f"{clinical.attrs.get('label', 'clinical table')} lacks the predictor(s) "
               f"{absent} of the bundle's time-to-event model")
        if explicit:
            raise InputError(msg + ".")
        logger.warning("%s: no time-to-event validation", msg)
        return None
    clin = clinical.set_index("patient_id")
    ids = predictions["patient_id"].astype(str).to_numpy()
    rows = clin.reindex(ids)
    t, e, ok = follow_up(rows, tcol, ecol, source=str(clinical.attrs.get("label", "clinical "
                                                                          "table")))
    lp = predictions["linear_predictor"].to_numpy(dtype=np.float64)
    prob = predictions["probability"].to_numpy(dtype=np.float64)
    marker, risk = lp, None
    horizons: list[float] = []
    cutoff = float(signature.cutoff)
    if sm is not None:
        x = sm.design(lp, rows)
        ok &= np.isfinite(x.to_numpy()).all(axis=1)
        xv = x.fillna(0.0).to_numpy()
        risk = sm.risk(xv)
        if sm.kind == "cox":
            marker = sm.linear_predictor(xv)
        horizons, cutoff = list(sm.horizons), sm.cutoff
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        res = cohort_survival(site, t[ok], e[ok], marker=marker[ok],
                              high_risk=prob[ok] >= cutoff,
                              risk=risk[ok] if risk is not None else None, horizons=horizons,
                              thresholds=thresholds, confidence_level=confidence_level,
                              model="signature", n_excluded=int((~ok).sum()))
    validated = "cox" if sm is not None and sm.kind == "cox" else "signature"
    val = SurvivalValidation(
        model="signature", cutoff=cutoff, validated=validated,
        marker="Cox linear predictor" if validated == "cox" else "signature score",
        time=tcol, event=ecol, time_unit=sm.time_unit if sm is not None else "",
        horizons=horizons, survival_model=sm.to_dict() if sm is not None else None,
        cohorts=[res], flags=res.flags)
    share = None if not ok.any() else {
             "time": t[ok], "event": e[ok], "marker": marker[ok],
             "risk": risk[ok] if risk is not None else None, "horizons": horizons,
             "time_unit": sm.time_unit if sm is not None else "unknown", "model": validated}
    return SiteSurvival(record=val.to_record(), share=share, flags=res.flags,
                        n_excluded=int((~ok).sum()))
