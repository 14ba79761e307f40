r"""The time-to-event block of ``share.json`` and its disclosure control.

A site that has follow-up shares, for the frozen model's time-to-event marker and
absolute risks (:mod:`radval.workflow._survival_site`): the number of events, Harrell's
and Uno's C with their standard errors, and at each of the bundle's horizons AUC(t) with
its standard error, the Brier score, IPA and O/E with the SE of log O/E.  No time, no
per-patient value and no count per horizon is written.

Which counts the values give back
---------------------------------
At a horizon :math:`t` the protected counts are the *cases* :math:`d(t) = \#\{T_i \le t,
\delta_i = 1\}` and the *controls* :math:`c(t) = \#\{T_i > t\}` (the analogue of the
events and non-events of a binary outcome), and between two horizons the events
:math:`d(t_2) - d(t_1)` and the patients leaving follow-up :math:`c(t_1) - c(t_2)`.
Without censoring before :math:`t` (the worst case), the Kaplan-Meier risk is
:math:`d(t)/n`, and

==============================  ============================================================
value                           derivation of :math:`d(t)`
==============================  ============================================================
``o_e``                         :math:`O = (O/E)\,E` with :math:`E` the mean predicted risk
                                (known to whoever knows the site's risk distribution)
``log_o_e_se``                  Greenwood: :math:`\mathrm{SE}^2 = S/\{n(1 - S)\}`, so
                                :math:`S = n\mathrm{SE}^2/(1 + n\mathrm{SE}^2)`
``brier``, ``ipa``              null Brier :math:`B_0 = B/(1 - IPA) = S(1 - S)`
``auc``                         :math:`2\,AUC\,d\,(n - d)` is an integer
two horizons                    the events between them; ``events`` and the last horizon:
                                the events after it
``c_harrell``, ``c_uno`` (SE)   with very few events, the pair counts are small
==============================  ============================================================

The rule (unless the site allows small cells), with ``min_cell`` :math:`m` (5):

1. *Events.*  With fewer than :math:`m` events or event-free patients, the whole block
   is withheld (``events``, both C, every horizon).
2. *Horizons.*  A horizon's values are released only when :math:`d(t) \ge m` and
   :math:`c(t) \ge m`.
3. *Differences.*  The horizons are nested (a later horizon has more cases, fewer
   controls), and the overall follow-up (``events``) is the last node of the chain.
   Horizons are released from the earliest, after the overall node; a horizon is withheld
   when the cases (or, against another horizon, the controls) between it and its nearest
   released node on either side would be between 1 and :math:`m - 1`.
4. *Uno's C* is truncated at the last horizon :math:`\tau`; it is withheld unless
   :math:`d(\tau) \ge m` and :math:`c(\tau) \ge m`.

Then every count the block determines (events, event-free, the cases and controls at a
released horizon, and the counts between released nodes, sums of the counts between
consecutive ones) is 0 or at least :math:`m`; ``tests/pool/test_disclosure.py`` tries the
derivations above on sites with 1-4 events in an interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from radval._validation import check_positive_int
from radval.exceptions import InputError, RadvalWarning

__all__ = ["released_horizons", "survival_block"]

FloatArray = npt.NDArray[np.float64]
_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)
_HORIZON_KEYS = ("auc", "auc_se", "brier", "ipa", "o_e", "log_o_e_se")


def _f(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def released_horizons(cases: Sequence[int], controls: Sequence[int], events: int,
                      min_cell: int) -> list[bool]:
    """Rules 2 and 3 of the module docstring: which horizons (increasing) may be released.

    Parameters
    ----------
    cases, controls : sequence of int
        :math:`d(t_k)` and :math:`c(t_k)` per horizon.
    events : int
        Events over the whole follow-up (the last node, released).
    min_cell : int

    Returns
    -------
    list of bool
    """
    released: list[int] = []
    out = []
    for k, (d, c) in enumerate(zip(cases, controls)):
        ok = min(d, c) >= min_cell
        if ok and released:
            j = released[-1]  # nearest released earlier horizon
            dd, dc = d - cases[j], controls[j] - c
            ok = not (0 < dd < min_cell) and not (0 < dc < min_cell)
        if ok:
            # the overall node (every event) is the nearest released node after it
            ok = not 0 < events - d < min_cell
        if ok:
            released.append(k)
        out.append(ok)
    return out


def survival_block(time: Any, event: Any, marker: Any, risk: Any, horizons: Sequence[float],
                   *, time_unit: str = "months", model: str = "signature",
                   allow_small_cells: bool = False, min_cell: int = 5
                   ) -> tuple[dict[str, Any], list[str]]:
    """The ``survival`` block of ``share.json`` and the names of what was withheld.

    Parameters
    ----------
    time, event : array-like of shape (n,)
        The site's follow-up and event indicator (never written).
    marker : array-like of shape (n,)
        The frozen model's time-to-event marker (higher = higher risk).
    risk : array-like of shape (n, len(horizons)) or None
        Absolute risks at the horizons (NaN columns: no risk there).
    horizons : sequence of float
        The bundle's horizons, increasing.
    time_unit, model : str
        Recorded (``model``: ``signature`` or ``cox``).
    allow_small_cells : bool
        Release everything (the site's decision).
    min_cell : int

    Returns
    -------
    block : dict
        Follows :class:`radval.contracts._share.SurvivalShare`.
    suppressed : list of str
        ``survival.<field>`` / ``survival.horizons[k].<field>`` withheld (null).
    """
    from radval.stats._survival import _check_surv, concordance_index
    from radval.stats._timedep import time_dependent_auc, uno_c

    caller = "survival_block"
    t, e = _check_surv(time, event, caller)
    s = np.asarray(marker, dtype=np.float64).ravel()
    if s.size != t.size or not np.isfinite(s).all():
        raise InputError(f"{caller}: the marker must hold one finite value per patient.")
    h = np.asarray([float(v) for v in horizons], dtype=np.float64)
    if h.size and (np.any(h <= 0) or np.any(np.diff(h) <= 0)):
        raise InputError(f"{caller}: horizons must be positive and increasing.")
    if model not in ("signature", "cox"):
        raise InputError(f"{caller}: model must be 'signature' or 'cox'.")
    min_cell = check_positive_int(min_cell, caller=caller, param="min_cell")
    r = None if risk is None else np.asarray(risk, dtype=np.float64).reshape(t.size, h.size)
    n, events = int(t.size), int(e.sum())
    tau = float(h[-1]) if h.size else None
    block: dict[str, Any] = {"model": model, "time_unit": time_unit, "events": events,
                             "c_harrell": None, "c_harrell_se": None, "c_uno": None,
                             "c_uno_se": None, "tau": tau, "horizons": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        if events:
            try:
                ci = concordance_index(t, e, s)
                block["c_harrell"], block["c_harrell_se"] = _f(ci.estimate), _f(ci.se)
                uc = uno_c(t, e, s, tau=tau)
                block["c_uno"], block["c_uno_se"] = _f(uc.estimate), _f(uc.se)
            except _ERRORS:
                pass
        rows = [{"horizon": float(hz), **dict.fromkeys(_HORIZON_KEYS)} for hz in h]
        if events and h.size:
            try:
                auc = time_dependent_auc(t, e, s, h)
                for row, a, se in zip(rows, auc["auc"], auc["se"]):
                    row["auc"], row["auc_se"] = _f(a), _f(se)
            except _ERRORS:
                pass
            if r is not None:
                _absolute(t, e, r, h, rows)
    block["horizons"] = rows
    suppressed: list[str] = []
    if allow_small_cells:
        return block, suppressed

    def withhold(where: dict[str, Any], keys: Sequence[str], prefix: str) -> None:
        for key in keys:
            where[key] = None
            suppressed.append(f"{prefix}{key}")

    cases = [int(((t <= hz) & (e == 1)).sum()) for hz in h]
    controls = [int((t > hz).sum()) for hz in h]
    if min(events, n - events) < min_cell:
        withhold(block, ["events", "c_harrell", "c_harrell_se", "c_uno", "c_uno_se"],
                 "survival.")
        for k, row in enumerate(rows):
            withhold(row, _HORIZON_KEYS, f"survival.horizons[{k}].")
        return block, suppressed
    ok = released_horizons(cases, controls, events, min_cell)
    for k, row in enumerate(rows):
        if not ok[k]:
            withhold(row, _HORIZON_KEYS, f"survival.horizons[{k}].")
    if h.size and min(cases[-1], controls[-1]) < min_cell:
        withhold(block, ["c_uno", "c_uno_se"], "survival.")
    return block, suppressed


def _absolute(t: FloatArray, e: FloatArray, r: FloatArray, h: FloatArray,
              rows: list[dict[str, Any]]) -> None:
    """Brier score, IPA, O/E and SE(log O/E) at the horizons with finite risks."""
    from radval.stats._survival_calibration import survival_calibration
    from radval.stats._timedep import survival_brier

    usable = np.isfinite(r).all(axis=0)
    if not usable.any():
        return
    try:
        bs = survival_brier(t, e, 1.0 - r[:, usable], h[usable]).table
        for k, b, ipa in zip(np.flatnonzero(usable), bs["brier"], bs["ipa"]):
            rows[k]["brier"], rows[k]["ipa"] = _f(b), _f(ipa)
    except _ERRORS:
        pass
    for k in np.flatnonzero(usable):
        try:
            # O/E is Kaplan-Meier over the mean risk; the Cox fits of the slope (not
            # shared) may overflow on a tiny site
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                cal = survival_calibration(t, e, r[:, k], float(h[k]))
        except _ERRORS:
            continue
        rows[k]["o_e"] = _f(cal.o_e_ratio)
        # SE of log O/E: the half-width of the delta-method interval on the log scale
        if cal.o_e_ratio and math.isfinite(cal.o_e_ci_high) and cal.o_e_ci_high > 0:
            rows[k]["log_o_e_se"] = _f(math.log(cal.o_e_ci_high / cal.o_e_ratio)
                                       / _z(cal.confidence_level))


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2.0))
