"""Partial area under the ROC curve (pROC) and the Hanley-McNeil standard error.

``partial_auc`` equals pROC's ``auc(roc(y, s, direction = "<"), partial.auc =
c(high, low), partial.auc.focus = , partial.auc.correct = )``: the area under the
empirical ROC path over a specificity (or sensitivity) range, with McClish's
standardisation on request, and a stratified bootstrap percentile interval
(pROC ``ci.auc(method = "bootstrap")``).

References
----------
McClish DK. Analyzing a portion of the ROC curve. Med Decis Making 1989;9:190-195.
Robin X et al. pROC: an open-source package for R and S+ to analyze and compare
ROC curves. BMC Bioinformatics 2011;12:77.
Hanley JA, McNeil BJ. The meaning and use of the area under a receiver operating
characteristic (ROC) curve. Radiology 1982;143:29-36.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from radval._results import Result
from radval._validation import check_confidence_level, param_error
from radval.exceptions import DegenerateBootstrapWarning, UndefinedMetricWarning

__all__ = ["PartialAUCResult", "hanley_mcneil_se", "partial_auc"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class PartialAUCResult(Result):
    """Partial AUC (see :func:`partial_auc`).

    Attributes
    ----------
    estimate : float
        Partial area (raw, at most ``high - low``), or McClish's standardised
        value in [0.5, 1] when ``correct`` (NaN below the diagonal, as pROC).
    ci_low, ci_high : float
        Stratified bootstrap percentile interval (NaN without resamples).
    focus : str
        ``"specificity"`` or ``"sensitivity"``: the axis the range is on.
    high, low : float
        The range, as pROC's ``partial.auc = c(high, low)``.
    correct : bool
        McClish correction applied.
    n_bootstrap : int
        Resamples used for the interval (those with a defined value).
    confidence_level : float
    n_pos, n_neg : int
        Events and non-events.
    """

    estimate: float
    ci_low: float
    ci_high: float
    focus: str
    high: float
    low: float
    correct: bool
    n_bootstrap: int
    confidence_level: float
    n_pos: int
    n_neg: int


def _check_bounds(value: Any, name: str, caller: str) -> tuple[float, float]:
    try:
        arr = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error(name, caller, "a pair (high, low) of numbers in [0, 1]",
                          value) from exc
    if arr.size != 2 or not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
        raise param_error(name, caller, "a pair (high, low) of numbers in [0, 1]", value)
    high, low = float(arr[0]), float(arr[1])
    if high == low:
        raise param_error(name, caller, "a non-empty range (high > low)", value)
    if high < low:
        raise param_error(name, caller, "given as (high, low), as pROC's partial.auc, "
                          f"e.g. ({low}, {high})", value)
    return high, low


def _path_area(x: FloatArray, y: FloatArray, high: float, low: float) -> FloatArray:
    """Area under the piecewise-linear path (x ascending along the last axis) on [low, high].

    pROC sums trapezoids between the points inside the range and adds the two
    border pieces with linearly interpolated heights; that is the exact integral
    of the path over the range, computed here segment by segment (vertical
    segments, where x repeats, have no width).
    """
    x0, x1 = x[..., :-1], x[..., 1:]
    y0, y1 = y[..., :-1], y[..., 1:]
    a = np.maximum(x0, low)
    b = np.minimum(x1, high)
    width = x1 - x0
    use = (b > a) & (width > 0)
    safe = np.where(width > 0, width, 1.0)
    ya = y0 + (a - x0) / safe * (y1 - y0)
    yb = y0 + (b - x0) / safe * (y1 - y0)
    return np.asarray(np.where(use, (b - a) * (ya + yb) / 2.0, 0.0).sum(axis=-1),
                      dtype=np.float64)


def _mcclish(area: FloatArray, high: float, low: float) -> FloatArray:
    """pROC ``(1 + (auc - min)/(max - min))/2``; NaN below the diagonal (auc < min)."""
    lo_area = ((1.0 - high) + (1.0 - low)) * abs(high - low) / 2.0
    hi_area = abs(high - low)
    out = (1.0 + (area - lo_area) / (hi_area - lo_area)) / 2.0
    return np.where(area < lo_area, np.nan, out)


def _areas(se: FloatArray, sp: FloatArray, focus: str, high: float, low: float) -> FloatArray:
    """se, sp at increasing thresholds (sp ascending), as pROC's sorted roc object."""
    if focus == "sensitivity":
        return _path_area(se[..., ::-1], sp[..., ::-1], high, low)
    return _path_area(sp, se, high, low)


def partial_auc(y_true: Any, y_score: Any, *, specificity: Any = None, sensitivity: Any = None,
                correct: bool = False, n_bootstrap: int = 0, confidence_level: float = 0.95,
                rng: int | np.random.Generator | None = None) -> PartialAUCResult:
    r"""Partial area under the ROC curve over a specificity or sensitivity range.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event, both classes present.
    y_score : array-like of shape (n_samples,)
        Finite scores, higher = event more likely (pROC ``direction = "<"``).
    specificity, sensitivity : tuple of float, optional
        The range as ``(high, low)``, exactly pROC's ``partial.auc = c(high,
        low)``; give one of them.  Default ``specificity=(1.0, 0.8)``.
    correct : bool, optional
        McClish's standardisation (pROC ``partial.auc.correct``):
        :math:`\tfrac12\bigl(1 + \tfrac{A - A_{min}}{A_{max} - A_{min}}\bigr)` with
        :math:`A_{max}` = the width of the range and :math:`A_{min}` the area
        under the diagonal over it; NaN (with a warning) when :math:`A < A_{min}`.
    n_bootstrap : int, optional
        Stratified bootstrap resamples for the percentile interval (pROC uses
        2000); 0 (default) for none.
    confidence_level : float, optional
    rng : int, numpy.random.Generator or None, optional

    Returns
    -------
    PartialAUCResult

    Raises
    ------
    InputError
        Both or neither range given wrongly, bounds outside [0, 1], an empty
        range (high == low), or reversed bounds (low first): pROC sorts them
        silently; radval asks for ``(high, low)``.

    Notes
    -----
    With specificity focus the area is
    :math:`\int_{low}^{high} \mathrm{Se}(\mathrm{Sp})\,d\mathrm{Sp}` under the
    empirical ROC path through pROC's thresholds (test-positive iff score
    :math:`\ge` threshold), linear between points; with sensitivity focus the
    roles are swapped.  Equal to pROC 1.18's ``auc.roc`` (which sums trapezoids
    and interpolates the borders) to rounding.  The bootstrap resamples cases and
    controls separately (pROC's ``stratified = TRUE``) and takes type-7
    quantiles; resamples with an undefined corrected value are dropped.

    Examples
    --------
    >>> from radval.stats import partial_auc
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> s = [0.1, 0.3, 0.35, 0.6, 0.4, 0.7, 0.8, 0.9]
    >>> round(partial_auc(y, s, specificity=(1.0, 0.5)).estimate, 4)
    0.4375
    """
    from radval.stats._discrimination import _check_pair, _check_rng, _chunk_weights, _roc_counts

    caller = "partial_auc"
    if specificity is not None and sensitivity is not None:
        raise param_error("sensitivity", caller, "None when 'specificity' is given",
                          sensitivity)
    focus = "sensitivity" if sensitivity is not None else "specificity"
    bounds = sensitivity if sensitivity is not None else (
        (1.0, 0.8) if specificity is None else specificity)
    high, low = _check_bounds(bounds, focus, caller)
    if not isinstance(correct, bool | np.bool_):
        raise param_error("correct", caller, "a bool", correct)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) \
            or n_bootstrap < 0:
        raise param_error("n_bootstrap", caller, "an integer >= 0", n_bootstrap)
    level = check_confidence_level(confidence_level, caller=caller)
    y, s = _check_pair(y_true, y_score, caller=caller)
    t, tp, tn = _roc_counts(y, s)
    m, n = int(y.sum()), int((~y).sum())
    area = _areas(tp / m, tn / n, focus, high, low)
    est = float(_mcclish(area, high, low)) if correct else float(area)
    if correct and math.isnan(est):
        warnings.warn("partial_auc: McClish's correction is not defined for a ROC curve "
                      "below the diagonal (as pROC); the estimate is NaN.",
                      UndefinedMetricWarning, stacklevel=2)
    lo = hi = math.nan
    used = 0
    if n_bootstrap > 0:
        gen = _check_rng(rng, caller)
        cs = np.sort(s[y])
        ct = np.sort(s[~y])
        case_order = np.argsort(s[y], kind="stable")
        ctrl_order = np.argsort(s[~y], kind="stable")
        # index of the first case / control with score >= threshold
        i_case = np.searchsorted(cs, t, "left")
        i_ctrl = np.searchsorted(ct, t, "left")
        vals = np.empty(n_bootstrap)
        chunk = max(1, 2_000_000 // max(1, t.size))
        for start in range(0, n_bootstrap, chunk):
            b = min(chunk, n_bootstrap - start)
            wx, wc = _chunk_weights(y, b, True, gen, None, start)
            cum_x = np.zeros((b, m + 1))
            np.cumsum(wx[:, case_order], axis=1, out=cum_x[:, 1:])
            cum_c = np.zeros((b, n + 1))
            np.cumsum(wc[:, ctrl_order], axis=1, out=cum_c[:, 1:])
            se_b = (m - cum_x[:, i_case]) / m
            sp_b = cum_c[:, i_ctrl] / n
            a_b = _areas(se_b, sp_b, focus, high, low)
            vals[start:start + b] = _mcclish(a_b, high, low) if correct else a_b
        ok = np.isfinite(vals)
        used = int(ok.sum())
        if used < n_bootstrap:
            warnings.warn(f"partial_auc: {n_bootstrap - used} bootstrap resample(s) had an "
                          "undefined corrected partial AUC (below the diagonal) and were "
                          "dropped.", DegenerateBootstrapWarning, stacklevel=2)
        if used:
            alpha = 1.0 - level
            q = np.quantile(vals[ok], [alpha / 2.0, 1.0 - alpha / 2.0], method="linear")
            lo, hi = float(q[0]), float(q[1])
    return PartialAUCResult(estimate=est, ci_low=lo, ci_high=hi, focus=focus, high=high,
                            low=low, correct=bool(correct), n_bootstrap=used,
                            confidence_level=level, n_pos=m, n_neg=n)


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    r"""Standard error of an AUC by Hanley & McNeil (1982).

    .. math::

        \mathrm{SE}(A) = \sqrt{\frac{A(1-A) + (n_1 - 1)(Q_1 - A^2) + (n_0 - 1)(Q_2 - A^2)}
                               {n_1 n_0}},\quad Q_1 = \frac{A}{2 - A},\
        Q_2 = \frac{2A^2}{1 + A}

    with :math:`n_1` diseased (events) and :math:`n_0` non-diseased patients.
    For comparison with published work that reports it; for your own data prefer
    DeLong's (:func:`radval.stats.delong_ci`).

    Parameters
    ----------
    auc : float
        AUC in [0, 1].
    n_pos, n_neg : int
        Numbers of events and non-events (each >= 1).

    Returns
    -------
    float

    Examples
    --------
    >>> round(hanley_mcneil_se(0.893, 51, 58), 7)
    0.0325116
    """
    caller = "hanley_mcneil_se"
    if isinstance(auc, bool) or not isinstance(auc, int | float | np.floating) \
            or not 0.0 <= float(auc) <= 1.0:
        raise param_error("auc", caller, "a number in [0, 1]", auc)
    for name, v in (("n_pos", n_pos), ("n_neg", n_neg)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise param_error(name, caller, "an integer >= 1", v)
    a = float(auc)
    q1 = a / (2.0 - a)
    q2 = 2.0 * a * a / (1.0 + a)
    var = (a * (1.0 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (
        n_pos * n_neg)
    return math.sqrt(max(var, 0.0))
