"""Decision curve analysis: net benefit across threshold probabilities.

At threshold probability :math:`p_t` a patient is treated iff the predicted
risk is at least :math:`p_t`.  With prevalence :math:`\\pi` and N patients

.. math::

    \\mathrm{NB}(p_t) = \\frac{TP}{N} - \\frac{FP}{N}\\,\\frac{p_t}{1-p_t} - \\mathrm{harm},
    \\qquad
    \\mathrm{NB}_{all}(p_t) = \\pi - (1-\\pi)\\frac{p_t}{1-p_t},
    \\qquad \\mathrm{NB}_{none} = 0,

and net interventions avoided per ``nper`` patients
:math:`(\\mathrm{NB} - \\mathrm{NB}_{all}) / (p_t/(1-p_t)) \\cdot nper`.
As R ``dcurves::dca`` (``R/dca.r``, ``R/test_consequences.R``): true- and
false-positive rates are ``mean(risk[y] >= pt) * pi`` and
``mean(risk[!y] >= pt) * (1 - pi)``; risks equal to 0 are moved to
``-.Machine$double.eps`` and risks equal to 1 to ``1 + eps``, so a risk of 0 is
never treated (even at :math:`p_t = 0`) and a risk of 1 always is.  Default
thresholds ``seq(0, 0.99, by = 0.01)``.

References
----------
Vickers AJ, Elkin EB. Decision curve analysis: a novel method for evaluating
prediction models. Med Decis Making 2006;26:565-574.
Vickers AJ, van Calster B, Steyerberg EW. A simple, step-by-step guide to
interpreting decision curve analysis. Diagn Progn Res 2019;3:18.
Sjoberg DD. dcurves: Decision Curve Analysis for Model Evaluation (R package).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._validation import (
    check_binary,
    check_confidence_level,
    check_consistent_length,
    check_probabilities,
    param_error,
)

__all__ = ["decision_curve", "decision_curve_difference", "optimism_corrected_net_benefit",
           "survival_decision_curve"]

FloatArray = npt.NDArray[np.float64]
_EPS = float(np.finfo(np.float64).eps)


def _check_thresholds(thresholds: Any, caller: str) -> FloatArray:
    if thresholds is None:
        # R seq(0, 0.99, by = 0.01) is 0 + (0:99) * 0.01: the same doubles as here
        return np.arange(100, dtype=np.float64) * 0.01
    try:
        t = np.asarray(thresholds, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error("thresholds", caller, "an array of numbers in [0, 1)",
                          thresholds) from exc
    if t.size == 0 or not np.isfinite(t).all() or (t < 0).any() or (t >= 1).any():
        raise param_error("thresholds", caller, "a non-empty array of numbers in [0, 1)",
                          thresholds)
    return t


def _dca_risk(p: FloatArray) -> FloatArray:
    """dcurves' boundary rule: 0 -> -eps, 1 -> 1 + eps."""
    r = p.copy()
    r[r == 0.0] = -_EPS
    r[r == 1.0] = 1.0 + _EPS
    return r


def _net_benefit_se(tp_rate: Any, fp_rate: Any, thresholds: Any, n: int) -> FloatArray:
    r"""Standard error of the net benefit from the treated-event and treated-non-event rates.

    With :math:`a = TP/n`, :math:`b = FP/n` (multinomial counts) and :math:`w = t/(1-t)`,
    :math:`\mathrm{NB} = a - w b` and

    .. math:: \operatorname{Var}(\mathrm{NB}) = \{a(1-a) + w^2 b(1-b) + 2 w a b\}/n

    (:math:`\operatorname{Cov}(a, b) = -ab/n`).  Zero when nobody is treated.
    """
    a = np.asarray(tp_rate, dtype=np.float64)
    b = np.asarray(fp_rate, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    w = t / (1.0 - t)
    var = (a * (1.0 - a) + w**2 * b * (1.0 - b) + 2.0 * w * a * b) / float(n)
    return np.asarray(np.sqrt(np.maximum(var, 0.0)), dtype=np.float64)


def decision_curve(y_true: Any, y_prob: Any, *, thresholds: Any = None, harm: float = 0.0,
                   prevalence: float | None = None, nper: float = 1.0,
                   n_resamples: int = 0, confidence_level: float = 0.95,
                   rng: int | np.random.Generator | None = None) -> pd.DataFrame:
    """Net benefit of a model, treat-all and treat-none across thresholds.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event.
    y_prob : array-like of shape (n_samples,)
        Predicted risks in [0, 1].
    thresholds : array-like, optional
        Threshold probabilities in [0, 1); default ``0, 0.01, ..., 0.99``
        (dcurves).
    harm : float, optional
        Harm of the test/model, subtracted from the model's net benefit.
    prevalence : float, optional
        Outcome prevalence to use instead of ``mean(y_true)`` (case-control
        designs, dcurves ``prevalence=``).
    nper : float, optional
        Net interventions avoided are per ``nper`` patients (dcurves default 1).
    n_resamples : int, optional
        When positive, bootstrap (patients resampled with replacement) the
        model's net benefit and add percentile (type-7) bands ``nb_ci_low``,
        ``nb_ci_high``.
    confidence_level : float, optional
        Level of the bootstrap bands.
    rng : int, numpy.random.Generator or None, optional
        Seed or generator for the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per threshold with columns ``threshold, net_benefit,
        treat_all, treat_none, net_interventions_avoided, pos_rate, tp_rate,
        fp_rate`` (+ ``nb_ci_low, nb_ci_high``).  ``net_interventions_avoided``
        is NaN at threshold 0, where :math:`p_t/(1-p_t) = 0` (R returns
        ``Inf``/``NaN`` there).
    """
    caller = "decision_curve"
    y = check_binary(y_true, caller=caller).astype(bool)
    p = check_probabilities(y_prob, caller=caller, param="y_prob")
    check_consistent_length(caller, y_true=y, y_prob=p)
    t = _check_thresholds(thresholds, caller)
    try:
        harm = float(harm)
        nper = float(nper)
    except (TypeError, ValueError) as exc:
        raise param_error("harm", caller, "a number", harm) from exc
    if not math.isfinite(harm):
        raise param_error("harm", caller, "a finite number", harm)
    if not (math.isfinite(nper) and nper > 0):
        raise param_error("nper", caller, "a positive number", nper)
    if prevalence is None:
        pi = float(y.mean())
    else:
        pi = float(prevalence)
        if not 0.0 < pi < 1.0:
            raise param_error("prevalence", caller, "a number in (0, 1)", prevalence)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) \
            or n_resamples < 0:
        raise param_error("n_resamples", caller, "an integer >= 0", n_resamples)
    level = check_confidence_level(confidence_level, caller=caller)

    r = _dca_risk(p)
    odds = t / (1.0 - t)
    ev = np.sort(r[y])
    ne = np.sort(r[~y])
    # fraction of events / non-events with risk >= t
    f_ev = (ev.size - np.searchsorted(ev, t, "left")) / ev.size
    f_ne = (ne.size - np.searchsorted(ne, t, "left")) / ne.size
    tp_rate = f_ev * pi
    fp_rate = f_ne * (1.0 - pi)
    nb = tp_rate - fp_rate * odds - harm
    nb_all = pi - (1.0 - pi) * odds
    with np.errstate(divide="ignore", invalid="ignore"):
        nia = np.where(odds > 0, (nb - nb_all) / np.where(odds > 0, odds, 1.0) * nper, np.nan)
    out = pd.DataFrame({
        "threshold": t,
        "net_benefit": nb,
        "treat_all": nb_all,
        "treat_none": np.zeros_like(t),
        "net_interventions_avoided": nia,
        "pos_rate": tp_rate + fp_rate,
        "tp_rate": tp_rate,
        "fp_rate": fp_rate,
    })
    if n_resamples > 0:
        lo, hi = _bootstrap_nb(y, r, t, odds, harm, prevalence, int(n_resamples), level, rng,
                               caller)
        out["nb_ci_low"] = lo
        out["nb_ci_high"] = hi
    return out


def _bootstrap_nb(y: npt.NDArray[np.bool_], r: FloatArray, t: FloatArray, odds: FloatArray,
                  harm: float, prevalence: float | None, n_resamples: int, level: float,
                  rng: Any, caller: str) -> tuple[FloatArray, FloatArray]:
    """Percentile bands of the model's net benefit over patient resamples."""
    from radval.stats._discrimination import _check_rng, _weights_from_indices

    gen = _check_rng(rng, caller)
    n_total = y.size
    # indicator of "treated" per patient and threshold (N, T)
    treated = (r[:, None] >= t[None, :]).astype(np.float64)
    ind_ev = treated[y]
    ind_ne = treated[~y]
    out = np.empty((n_resamples, t.size))
    chunk = max(1, 2_000_000 // max(1, n_total))
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        w = _weights_from_indices(gen.integers(0, n_total, size=(b, n_total)), n_total)
        w_ev, w_ne = w[:, y], w[:, ~y]
        if prevalence is None:
            tp_rate = (w_ev @ ind_ev) / n_total
            fp_rate = (w_ne @ ind_ne) / n_total
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                tp_rate = (w_ev @ ind_ev) / w_ev.sum(axis=1, keepdims=True) * prevalence
                fp_rate = ((w_ne @ ind_ne) / w_ne.sum(axis=1, keepdims=True)
                           * (1.0 - prevalence))
        out[start:start + b] = tp_rate - fp_rate * odds[None, :] - harm
    ok = np.isfinite(out).all(axis=1)
    alpha = 1.0 - level
    q = np.quantile(out[ok], [alpha / 2, 1 - alpha / 2], axis=0, method="linear")
    return np.asarray(q[0]), np.asarray(q[1])


def _km_risk_at(t: FloatArray, e: FloatArray, horizon: float) -> float:
    """Kaplan-Meier risk ``1 - S(horizon)``; NaN when the follow-up ends before it."""
    if t.size == 0:
        return 0.0
    if t.max() < horizon:
        return float("nan")
    utime, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=utime.size)
    y = np.bincount(inv, minlength=utime.size)[::-1].cumsum()[::-1]
    keep = utime <= horizon
    return float(1.0 - np.prod(1.0 - d[keep] / y[keep]))


def survival_decision_curve(time: Any, event: Any, risk: Any, horizon: float, *,
                            thresholds: Any = None, harm: float = 0.0,
                            nper: float = 1.0) -> pd.DataFrame:
    r"""Net benefit at a time horizon with Kaplan-Meier event rates (survival DCA).

    Parameters
    ----------
    time, event : array-like of shape (n,)
        Follow-up time (>= 0) and event indicator (1/True = event).
    risk : array-like of shape (n,)
        Predicted probability of the event by ``horizon``, in [0, 1].
    horizon : float
        Time horizon (> 0), in the unit of ``time``.
    thresholds : array-like, optional
        Threshold probabilities in [0, 1); default ``0, 0.01, ..., 0.99``.
    harm : float, optional
        Harm of the test, subtracted from the model's net benefit.
    nper : float, optional
        Net interventions avoided are per ``nper`` patients.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold, net_benefit, treat_all, treat_none,
        net_interventions_avoided, pos_rate, tp_rate, fp_rate,
        risk_among_test_pos`` (``pos_rate`` is the test-positive rate
        :math:`tp + fp`, as in :func:`decision_curve`).  ``attrs["event_rate"]``
        is the Kaplan-Meier risk at the horizon.

    Warns
    -----
    HorizonWarning
        The horizon exceeds the maximum follow-up (all NaN; dcurves stops with an
        error there) or lies beyond the last event.

    Notes
    -----
    As R ``dcurves::dca(Surv(time, event) ~ risk, time = horizon)``
    (``.calculate_test_consequences``): with :math:`\pi = 1 - \hat S(t)` the
    Kaplan-Meier risk of everyone, and among the test positives
    (:math:`\hat r \ge p_t`, risks 0 and 1 moved to :math:`-\epsilon` and
    :math:`1+\epsilon`) the test-positive rate :math:`q` and Kaplan-Meier risk
    :math:`\rho = 1 - \hat S_+(t)`:

    .. math::

        tp = \rho\, q, \quad fp = (1 - \rho)\, q, \quad
        NB = tp - fp \frac{p_t}{1 - p_t} - \mathrm{harm}, \quad
        NB_{all} = \pi - (1 - \pi)\frac{p_t}{1 - p_t}.

    With no test positive, :math:`tp = fp = 0`.  When the test positives' follow-up
    ends before the horizon, :math:`\rho` is NaN (dcurves: NA).  One difference
    from dcurves: when every test positive is followed beyond the horizon without
    an event before it, :math:`\rho` is the Kaplan-Meier value 0 (dcurves
    returns NA there).

    References
    ----------
    Vickers AJ, Cronin AM, Elkin EB, Gonen M. Extensions to decision curve
    analysis, a novel method for evaluating diagnostic tests, prediction models
    and molecular markers. BMC Med Inform Decis Mak 2008;8:53.
    """
    import warnings

    from radval.exceptions import DataError, HorizonWarning
    from radval.stats._survival import _check_surv

    caller = "survival_decision_curve"
    t, e = _check_surv(time, event, caller)
    p = check_probabilities(risk, caller=caller, param="risk")
    check_consistent_length(caller, time=t, risk=p)
    if isinstance(horizon, bool) or not isinstance(horizon, int | float | np.integer
                                                   | np.floating) \
            or not math.isfinite(float(horizon)) or horizon <= 0:
        raise param_error("horizon", caller, "a positive number", horizon)
    h = float(horizon)
    thr = _check_thresholds(thresholds, caller)
    try:
        harm = float(harm)
        nper = float(nper)
    except (TypeError, ValueError) as exc:
        raise param_error("harm", caller, "a number", harm) from exc
    if not math.isfinite(harm):
        raise param_error("harm", caller, "a finite number", harm)
    if not (math.isfinite(nper) and nper > 0):
        raise param_error("nper", caller, "a positive number", nper)
    if e.sum() == 0:
        msg = (f"{caller}: every observation is censored (no events); the event rates are "
               "undefined.")
        raise DataError(msg)
    if h > t.max():
        warnings.warn(f"{caller}: horizon {h:g} exceeds the maximum follow-up "
                      f"({t.max():g}); net benefit is NaN. Are the times in days when the "
                      "study says months?", HorizonWarning, stacklevel=2)
    elif h > t[e == 1].max():
        warnings.warn(f"{caller}: horizon {h:g} lies beyond the last event (time "
                      f"{t[e == 1].max():g}).", HorizonWarning, stacklevel=2)
    r = _dca_risk(p)
    pi = _km_risk_at(t, e, h)
    odds = thr / (1.0 - thr)
    q = np.empty(thr.size)
    rho = np.empty(thr.size)
    for k, pt in enumerate(thr):
        pos = r >= pt
        q[k] = pos.mean()
        rho[k] = _km_risk_at(t[pos], e[pos], h)
    tp_rate = rho * q
    fp_rate = (1.0 - rho) * q
    nb = tp_rate - fp_rate * odds - harm
    nb_all = pi - (1.0 - pi) * odds
    with np.errstate(divide="ignore", invalid="ignore"):
        nia = np.where(odds > 0, (nb - nb_all) / np.where(odds > 0, odds, 1.0) * nper, np.nan)
    out = pd.DataFrame({"threshold": thr, "net_benefit": nb, "treat_all": nb_all,
                        "treat_none": np.zeros_like(thr), "net_interventions_avoided": nia,
                        "pos_rate": q, "tp_rate": tp_rate, "fp_rate": fp_rate,
                        "risk_among_test_pos": rho})
    out.attrs["event_rate"] = pi
    out.attrs["horizon"] = h
    return out


def _check_open_thresholds(thresholds: Any, caller: str) -> FloatArray:
    """Thresholds strictly between 0 and 1; default 0.01, 0.02, ..., 0.99."""
    if thresholds is None:
        return np.arange(1, 100, dtype=np.float64) * 0.01
    try:
        t = np.asarray(thresholds, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error("thresholds", caller, "an array of numbers in (0, 1)",
                          thresholds) from exc
    bad = ~np.isfinite(t) | (t <= 0) | (t >= 1)
    if t.size == 0 or bad.any():
        shown = t[bad][:3].tolist() if t.size else "an empty array"
        raise param_error("thresholds", caller, "a non-empty array of numbers strictly "
                          "between 0 and 1", f"{shown} outside (0, 1)" if t.size else shown)
    return t


def decision_curve_difference(y_true: Any, prob_a: Any, prob_b: Any, *,
                              thresholds: Any = None, n_bootstrap: int = 2000,
                              confidence_level: float = 0.95,
                              rng: int | np.random.Generator | None = None) -> pd.DataFrame:
    r"""Difference in net benefit between two models with a paired bootstrap CI.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, both classes present.
    prob_a, prob_b : array-like of shape (n_samples,)
        Predicted risks of the two models for the same patients.
    thresholds : array-like, optional
        Threshold probabilities strictly between 0 and 1 (default 0.01, ..., 0.99);
        restrict them to the clinically reasonable range (Vickers et al. 2019).
    n_bootstrap : int, optional
        Paired, stratified resamples (events and non-events resampled separately,
        the same patients for both models), default 2000; 0 for no interval.
    confidence_level : float, optional
    rng : int, numpy.random.Generator or None, optional

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold, nb_a, nb_b, difference, ci_low,
        ci_high`` with ``difference = nb_a - nb_b`` and its percentile (type 7)
        interval.

    Raises
    ------
    InputError
        Thresholds outside (0, 1), probabilities outside [0, 1], one outcome
        class, length mismatch.

    Notes
    -----
    :math:`\mathrm{NB}(p_t) = TP/N - FP/N \cdot p_t/(1 - p_t)` for each model, as
    :func:`decision_curve` (dcurves' rule: treated iff risk :math:`\ge p_t`).
    Stratified resampling keeps the prevalence of every resample equal to the
    sample's, as pROC's bootstrap does for AUC differences; the interval answers
    dcurves issue #18 (a CI for the difference, not two overlapping bands).

    Examples
    --------
    >>> import numpy as np
    >>> from radval.stats import decision_curve_difference
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> a = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.15, 200), 0, 1)
    >>> b = np.clip(0.4 + 0.1 * y + rng.normal(0, 0.15, 200), 0, 1)
    >>> d = decision_curve_difference(y, a, b, thresholds=[0.2, 0.4], n_bootstrap=200, rng=1)
    >>> list(d.columns)
    ['threshold', 'nb_a', 'nb_b', 'difference', 'ci_low', 'ci_high']
    """
    from radval.stats._discrimination import _check_rng, _chunk_weights

    caller = "decision_curve_difference"
    y = check_binary(y_true, caller=caller).astype(bool)
    pa = check_probabilities(prob_a, caller=caller, param="prob_a")
    pb = check_probabilities(prob_b, caller=caller, param="prob_b")
    check_consistent_length(caller, y_true=y, prob_a=pa, prob_b=pb)
    t = _check_open_thresholds(thresholds, caller)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) \
            or n_bootstrap < 0:
        raise param_error("n_bootstrap", caller, "an integer >= 0", n_bootstrap)
    level = check_confidence_level(confidence_level, caller=caller)
    odds = t / (1.0 - t)
    n_total = y.size
    # treated indicators (patients x thresholds) of each model, events and non-events
    ta = (_dca_risk(pa)[:, None] >= t[None, :]).astype(np.float64)
    tb = (_dca_risk(pb)[:, None] >= t[None, :]).astype(np.float64)
    diff_ev = ta[y] - tb[y]
    diff_ne = ta[~y] - tb[~y]

    def nb(ind: FloatArray) -> FloatArray:
        return np.asarray((ind[y].sum(axis=0) - ind[~y].sum(axis=0) * odds) / n_total,
                          dtype=np.float64)

    nb_a, nb_b = nb(ta), nb(tb)
    lo = hi = np.full(t.size, np.nan)
    if n_bootstrap > 0:
        gen = _check_rng(rng, caller)
        out = np.empty((n_bootstrap, t.size))
        chunk = max(1, 2_000_000 // max(1, n_total))
        for start in range(0, n_bootstrap, chunk):
            b = min(chunk, n_bootstrap - start)
            w_ev, w_ne = _chunk_weights(y, b, True, gen, None, start)
            out[start:start + b] = (w_ev @ diff_ev - (w_ne @ diff_ne) * odds) / n_total
        alpha = 1.0 - level
        q = np.quantile(out, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0, method="linear")
        lo, hi = q[0], q[1]
    return pd.DataFrame({"threshold": t, "nb_a": nb_a, "nb_b": nb_b,
                         "difference": nb_a - nb_b, "ci_low": lo, "ci_high": hi})


def optimism_corrected_net_benefit(thresholds: Any, apparent: Any, train: Any,
                                   test: Any) -> pd.DataFrame:
    r"""Optimism-corrected decision curve from bootstrap train/test net benefits.

    Parameters
    ----------
    thresholds : array-like of shape (n_thresholds,)
        Threshold probabilities in (0, 1).
    apparent : array-like of shape (n_thresholds,)
        Net benefit of the model in the data it was developed on.
    train, test : array-like of shape (n_resamples, n_thresholds)
        For every bootstrap resample, the net benefit of the model refitted on the
        resample, evaluated in the resample (train) and in the original data
        (test), e.g. with :func:`decision_curve`.  NaN marks a missing value.

    Returns
    -------
    pandas.DataFrame
        ``threshold, apparent, optimism, corrected, n_resamples``:
        :math:`\mathrm{NB}_{corr}(p_t) = \mathrm{NB}_{app}(p_t) -
        \overline{(\mathrm{NB}_{train} - \mathrm{NB}_{test})}(p_t)` over the
        resamples with both values (Harrell's optimism bootstrap applied at every
        threshold, as for the AUC and, in ``rms::calibrate``, the calibration
        curve).
    """
    from radval.stats._calibration_curve import _optimism

    caller = "optimism_corrected_net_benefit"
    t = _check_open_thresholds(thresholds, caller)
    app, opt, corrected, used = _optimism(apparent, train, test, caller=caller,
                                          n_points=t.size,
                                          names=("apparent", "train", "test"))
    return pd.DataFrame({"threshold": t, "apparent": app, "optimism": opt,
                         "corrected": corrected, "n_resamples": used})
