"""Reclassification: net reclassification improvement (NRI) and IDI.

As Hmisc ``improveProb(x1 = p_old, x2 = p_new, y)``.  With
:math:`d = p_{new} - p_{old}`, among :math:`n_e` events and :math:`n_n`
non-events, "up" = :math:`d > 0`, "down" = :math:`d < 0`:

.. math::

    \\mathrm{NRI}_e = \\frac{u_e - w_e}{n_e},\\quad
    \\mathrm{NRI}_n = \\frac{w_n - u_n}{n_n},\\quad
    \\mathrm{NRI} = \\mathrm{NRI}_e + \\mathrm{NRI}_n,

    \\widehat{\\mathrm{Var}}(\\mathrm{NRI}_e) = \\frac{u_e + w_e}{n_e^2}
      - \\frac{(u_e - w_e)^2}{n_e^3}\\ \\text{(likewise for non-events)},

with :math:`u` up- and :math:`w` down-movers, and

.. math::

    \\mathrm{IDI} = \\bar d_e - \\bar d_n,\\qquad
    \\mathrm{SE} = \\sqrt{s^2_{d,e}/n_e + s^2_{d,n}/n_n}.

CIs are :math:`\\hat\\theta \\pm z_{(1+c)/2}\\,\\mathrm{SE}` and p-values
:math:`2\\Phi(-|\\hat\\theta/\\mathrm{SE}|)` (Hmisc ``print.improveProb``).
The categorical NRI applies the same formulas to risk categories
``[0, c_1), [c_1, c_2), ..., [c_K, 1]`` (PredictABEL ``reclassification``:
``cut(right = FALSE, include.lowest = TRUE)``), so only moves between
categories count.

References
----------
Pencina MJ, D'Agostino RB Sr, D'Agostino RB Jr, Vasan RS. Evaluating the added
predictive ability of a new marker. Stat Med 2008;27:157-172.
Pencina MJ, D'Agostino RB Sr, Steyerberg EW. Extensions of net reclassification
improvement calculations. Stat Med 2011;30:11-21.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from radval._results import Result
from radval._validation import (
    check_binary,
    check_confidence_level,
    check_consistent_length,
    check_probabilities,
    param_error,
)
from radval.exceptions import UndefinedMetricWarning

__all__ = ["IDIResult", "NRIResult", "idi", "nri"]

FloatArray = npt.NDArray[np.float64]


def _inputs(y_true: Any, p_old: Any, p_new: Any, caller: str
            ) -> tuple[npt.NDArray[np.bool_], FloatArray, FloatArray]:
    y = check_binary(y_true, caller=caller).astype(bool)
    a = check_probabilities(p_old, caller=caller, param="p_old")
    b = check_probabilities(p_new, caller=caller, param="p_new")
    check_consistent_length(caller, y_true=y, p_old=a, p_new=b)
    return y, a, b


def _z_p_ci(est: float, se: float, level: float) -> tuple[float, float, float, float]:
    z = float(special.ndtri((1.0 + level) / 2.0))
    if se > 0 and math.isfinite(se):
        stat = est / se
        p = float(2.0 * special.ndtr(-abs(stat)))
    else:
        stat = p = math.nan
    return stat, p, est - z * se, est + z * se


@dataclass(frozen=True, kw_only=True)
class NRIResult(Result):
    """Net reclassification improvement with its components.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, statistic, p_value : float
        Overall NRI (Hmisc ``nri``, ``se.nri``, ``z.nri``).
    nri_events, se_events, ci_low_events, ci_high_events, p_value_events : float
        Events component :math:`(u_e - w_e)/n_e`.
    nri_nonevents, se_nonevents, ci_low_nonevents, ci_high_nonevents, p_value_nonevents : float
        Non-events component :math:`(w_n - u_n)/n_n`.
    up_events, down_events, up_nonevents, down_nonevents : int
        Numbers moving up / down.
    n_events, n_nonevents : int
    kind : str
        ``"continuous"`` or ``"categorical"``.
    cutoffs : tuple of float
        Category cut-offs (empty for the continuous NRI).
    confidence_level : float
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    nri_events: float
    se_events: float
    ci_low_events: float
    ci_high_events: float
    p_value_events: float
    nri_nonevents: float
    se_nonevents: float
    ci_low_nonevents: float
    ci_high_nonevents: float
    p_value_nonevents: float
    up_events: int
    down_events: int
    up_nonevents: int
    down_nonevents: int
    n_events: int
    n_nonevents: int
    kind: str
    cutoffs: tuple[float, ...]
    confidence_level: float


def _check_cutoffs(cutoffs: Any, caller: str) -> tuple[float, ...]:
    try:
        c = np.asarray(cutoffs, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error("cutoffs", caller, "increasing numbers in (0, 1)", cutoffs) from exc
    if (c.size == 0 or not np.isfinite(c).all() or (c <= 0).any() or (c >= 1).any()
            or (np.diff(c) <= 0).any()):
        raise param_error("cutoffs", caller, "a non-empty, strictly increasing sequence of "
                          "numbers in (0, 1) (inner category limits)", cutoffs)
    return tuple(float(v) for v in c)


def nri(y_true: Any, p_old: Any, p_new: Any, *, cutoffs: Any = None,
        confidence_level: float = 0.95) -> NRIResult:
    """Net reclassification improvement of ``p_new`` over ``p_old``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event.
    p_old, p_new : array-like of shape (n_samples,)
        Predicted risks in [0, 1] of the old and new model.
    cutoffs : sequence of float, optional
        Inner limits of the risk categories (e.g. ``[0.1, 0.2]`` gives
        ``[0, 0.1), [0.1, 0.2), [0.2, 1]``): categorical NRI.  ``None``
        (default): continuous ("category-free") NRI, any increase counts as up.
    confidence_level : float, optional

    Returns
    -------
    NRIResult
        Equal to Hmisc ``improveProb`` (continuous) and to ``improveProb`` on
        the category indices (categorical, as PredictABEL).

    Warns
    -----
    radval.exceptions.UndefinedMetricWarning
        When no patient is reclassified (SE = 0): statistic and p-value NaN.
    """
    caller = "nri"
    level = check_confidence_level(confidence_level, caller=caller)
    y, a, b = _inputs(y_true, p_old, p_new, caller)
    if cutoffs is None:
        cuts: tuple[float, ...] = ()
        d = b - a
        kind = "continuous"
    else:
        cuts = _check_cutoffs(cutoffs, caller)
        c = np.asarray(cuts)
        d = (np.searchsorted(c, b, "right") - np.searchsorted(c, a, "right")).astype(float)
        kind = "categorical"
    ne, nn = int(y.sum()), int((~y).sum())
    up_e, dn_e = int(np.sum(d[y] > 0)), int(np.sum(d[y] < 0))
    up_n, dn_n = int(np.sum(d[~y] > 0)), int(np.sum(d[~y] < 0))
    nri_e = up_e / ne - dn_e / ne
    nri_n = dn_n / nn - up_n / nn
    v_e = (up_e + dn_e) / ne**2 - (up_e - dn_e) ** 2 / ne**3
    v_n = (dn_n + up_n) / nn**2 - (dn_n - up_n) ** 2 / nn**3
    est = up_e / ne - dn_e / ne - (up_n / nn - dn_n / nn)
    se = math.sqrt(v_e + v_n)
    se_e, se_n = math.sqrt(v_e), math.sqrt(v_n)
    if se == 0.0:
        msg = ("nri: SE is 0 (no patient reclassified, or all events and all non-events "
               "moved the same way); statistic and p-value are NaN.")
        warnings.warn(msg, UndefinedMetricWarning, stacklevel=2)
    stat, p, lo, hi = _z_p_ci(est, se, level)
    _, p_e, lo_e, hi_e = _z_p_ci(nri_e, se_e, level)
    _, p_n, lo_n, hi_n = _z_p_ci(nri_n, se_n, level)
    return NRIResult(estimate=est, se=se, ci_low=lo, ci_high=hi, statistic=stat, p_value=p,
                     nri_events=nri_e, se_events=se_e, ci_low_events=lo_e,
                     ci_high_events=hi_e, p_value_events=p_e, nri_nonevents=nri_n,
                     se_nonevents=se_n, ci_low_nonevents=lo_n, ci_high_nonevents=hi_n,
                     p_value_nonevents=p_n, up_events=up_e, down_events=dn_e,
                     up_nonevents=up_n, down_nonevents=dn_n, n_events=ne, n_nonevents=nn,
                     kind=kind, cutoffs=cuts, confidence_level=level)


@dataclass(frozen=True, kw_only=True)
class IDIResult(Result):
    """Integrated discrimination improvement.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, statistic, p_value : float
        IDI = mean change in risk among events minus among non-events
        (Hmisc ``idi``, ``se.idi``, ``z.idi``).
    idi_events : float
        Mean increase in risk among events (Hmisc ``improveSens``).
    idi_nonevents : float
        Mean decrease in risk among non-events (Hmisc ``improveSpec``).
    discrimination_slope_old, discrimination_slope_new : float
        Yates' discrimination slopes (mean risk in events minus in non-events);
        their difference is the IDI.
    n_events, n_nonevents : int
    confidence_level : float
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    idi_events: float
    idi_nonevents: float
    discrimination_slope_old: float
    discrimination_slope_new: float
    n_events: int
    n_nonevents: int
    confidence_level: float


def idi(y_true: Any, p_old: Any, p_new: Any, *, confidence_level: float = 0.95) -> IDIResult:
    """Integrated discrimination improvement of ``p_new`` over ``p_old``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event; at least 2 events and 2 non-events.
    p_old, p_new : array-like of shape (n_samples,)
        Predicted risks in [0, 1].
    confidence_level : float, optional

    Returns
    -------
    IDIResult
        Equal to Hmisc ``improveProb`` (``idi``, ``se.idi``, ``z.idi``).
    """
    caller = "idi"
    level = check_confidence_level(confidence_level, caller=caller)
    y, a, b = _inputs(y_true, p_old, p_new, caller)
    ne, nn = int(y.sum()), int((~y).sum())
    if ne < 2 or nn < 2:
        raise param_error("y_true", caller, "holding at least 2 events and 2 non-events",
                          f"{ne} event(s) and {nn} non-event(s)")
    d = b - a
    de, dn = d[y], d[~y]
    est = float(de.mean() - dn.mean())
    se = math.sqrt(float(np.var(de, ddof=1)) / ne + float(np.var(dn, ddof=1)) / nn)
    if se == 0.0:
        warnings.warn("idi: the change in risk is constant within events and within "
                      "non-events; SE is 0, statistic and p-value are NaN.",
                      UndefinedMetricWarning, stacklevel=2)
    stat, p, lo, hi = _z_p_ci(est, se, level)
    return IDIResult(estimate=est, se=se, ci_low=lo, ci_high=hi, statistic=stat, p_value=p,
                     idi_events=float(de.sum() / ne), idi_nonevents=float(-dn.sum() / nn),
                     discrimination_slope_old=float(a[y].mean() - a[~y].mean()),
                     discrimination_slope_new=float(b[y].mean() - b[~y].mean()),
                     n_events=ne, n_nonevents=nn, confidence_level=level)
