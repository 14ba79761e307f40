"""Metrics at a decision threshold (2x2 table) and the Youden-optimal threshold.

A patient is test-positive iff ``y_prob >= threshold`` (pROC's rule for
direction "<").  Proportions carry binomial confidence intervals:

* Wilson score interval without continuity correction (epiR
  ``epi.tests(method="wilson")``, R ``prop.test(correct=FALSE)``):

  .. math::

      \\frac{x + z^2/2}{n + z^2} \\pm \\frac{z}{n + z^2}\\sqrt{\\frac{x(n-x)}{n} + \\frac{z^2}{4}}

* Clopper-Pearson exact interval (R ``binom.test``, epiR ``method="exact"``):
  :math:`[B(\\alpha/2; x, n-x+1),\\ B(1-\\alpha/2; x+1, n-x)]` with :math:`B` the beta
  quantile, 0 when :math:`x = 0` and 1 when :math:`x = n`.

Likelihood ratios and the diagnostic odds ratio, as epiR 2.0.57 ``epi.tests``
(a = TP, b = FP, c = FN, d = TN, :math:`M_1 = a + c`, :math:`M_0 = b + d`,
Se = a/M1, Sp = d/M0), with log-scale Wald intervals:

.. math::

    LR^+ = \\frac{Se}{1 - Sp},\\ \\operatorname{SE}(\\log LR^+) =
        \\sqrt{\\frac{1 - Se}{M_1 Se} + \\frac{Sp}{M_0 (1 - Sp)}};\\quad
    LR^- = \\frac{1 - Se}{Sp},\\ \\operatorname{SE}(\\log LR^-) =
        \\sqrt{\\frac{Se}{M_1 (1 - Se)} + \\frac{1 - Sp}{M_0 Sp}};

.. math::

    DOR = \\frac{ad}{bc},\\ \\operatorname{SE}(\\log DOR) =
        \\sqrt{1/a + 1/b + 1/c + 1/d}.

A zero cell gives 0, infinite or NaN values and limits exactly as epiR (IEEE
arithmetic, no continuity correction).

References
----------
Wilson EB. Probable inference, the law of succession, and statistical inference.
JASA 1927;22:209-212.
Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in
the case of the binomial. Biometrika 1934;26:404-413.
Youden WJ. Index for rating diagnostic tests. Cancer 1950;3:32-35.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special

from radval._results import Result
from radval._validation import (
    check_binary,
    check_choice,
    check_confidence_level,
    check_consistent_length,
    check_scores,
    param_error,
)
from radval.exceptions import UndefinedMetricWarning
from radval.stats._kernels import wilson_interval

__all__ = [
    "ThresholdMetricsResult",
    "binomial_ci",
    "threshold_metrics",
    "youden_threshold",
]

_METRICS = ("sensitivity", "specificity", "ppv", "npv", "accuracy")
_RATIOS = ("lr_positive", "lr_negative", "dor")


def _ratio(num: float, den: float) -> float:
    """IEEE division (x/0 = +-inf, 0/0 = NaN), as R."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(num) / np.float64(den))


def _likelihood_ratios(tp: int, fp: int, tn: int, fn: int, level: float
                       ) -> dict[str, tuple[float, float, float]]:
    """LR+, LR-, DOR with epiR 2.0.57 ``epi.tests`` intervals: name -> (est, low, high)."""
    z = float(special.ndtri(1.0 - (1.0 - level) / 2.0))
    a, b, c, d = (np.float64(v) for v in (tp, fp, fn, tn))
    m1, m0 = a + c, b + d
    out: dict[str, tuple[float, float, float]] = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        se, sp = a / m1, d / m0
        lrp = (a / m1) / (1.0 - d / m0)
        h = z * np.sqrt((1.0 - se) / (m1 * se) + sp / (m0 * (1.0 - sp)))
        out["lr_positive"] = (float(lrp), float(np.exp(np.log(lrp) - h)),
                              float(np.exp(np.log(lrp) + h)))
        lrn = (1.0 - a / m1) / (d / m0)
        h = z * np.sqrt(se / (m1 * (1.0 - se)) + (1.0 - sp) / (m0 * sp))
        out["lr_negative"] = (float(lrn), float(np.exp(np.log(lrn) - h)),
                              float(np.exp(np.log(lrn) + h)))
        dor = (a * d) / (b * c)
        h = z * np.sqrt(1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d)
        out["dor"] = (float(dor), float(np.exp(np.log(dor) - h)),
                      float(np.exp(np.log(dor) + h)))
    return out


def binomial_ci(x: int, n: int, *, method: Literal["wilson", "clopper-pearson"] = "wilson",
                confidence_level: float = 0.95) -> tuple[float, float]:
    """Two-sided confidence interval of a binomial proportion ``x / n``.

    Parameters
    ----------
    x : int
        Number of successes, ``0 <= x <= n``.
    n : int
        Number of trials; ``n = 0`` gives ``(nan, nan)``.
    method : {"wilson", "clopper-pearson"}, optional
        Wilson score interval without continuity correction, or the exact
        Clopper-Pearson interval (R ``binom.test``).
    confidence_level : float, optional

    Returns
    -------
    tuple of float
        ``(ci_low, ci_high)``.
    """
    caller = "binomial_ci"
    level = check_confidence_level(confidence_level, caller=caller)
    method = check_choice(method, ("wilson", "clopper-pearson"), caller=caller,  # type: ignore[assignment]
                          param="method")
    if n < 0 or x < 0 or x > n:
        raise param_error("x", caller, "an integer in [0, n]", (x, n))
    if n == 0:
        return math.nan, math.nan
    alpha = 1.0 - level
    if method == "wilson":
        lo_w, hi_w = wilson_interval(x, n, confidence_level=level)
        return float(lo_w), float(hi_w)
    lo = 0.0 if x == 0 else float(special.betaincinv(x, n - x + 1, alpha / 2.0))
    hi = 1.0 if x == n else float(special.betaincinv(x + 1, n - x, 1.0 - alpha / 2.0))
    return lo, hi


@dataclass(frozen=True, kw_only=True)
class ThresholdMetricsResult(Result):
    """2x2 table at a threshold and the derived proportions with CIs.

    Attributes
    ----------
    threshold : float
        Positive iff ``y_prob >= threshold``.
    tp, fp, tn, fn : int
        Counts of true/false positives/negatives.
    sensitivity, specificity, ppv, npv, accuracy : float
        Point estimates (NaN when the denominator is 0).
    lr_positive, lr_negative, dor : float
        Positive and negative likelihood ratios and the diagnostic odds ratio
        (epiR ``epi.tests``; infinite or NaN with a zero cell).
    ci_method : str
        ``"wilson"`` or ``"clopper-pearson"``.
    confidence_level : float
    """

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    accuracy: float
    lr_positive: float
    lr_negative: float
    dor: float
    ci_method: str
    confidence_level: float

    def _fractions(self) -> list[tuple[str, int, int]]:
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        return [("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp),
                ("ppv", tp, tp + fp), ("npv", tn, tn + fn),
                ("accuracy", tp + tn, tp + fp + tn + fn)]

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: ``metric, estimate, ci_low, ci_high, numerator, denominator``.

        Rows sensitivity, specificity, ppv, npv, accuracy (binomial intervals of
        ``ci_method``), then lr_positive, lr_negative, dor (log-scale Wald
        intervals, epiR); ``numerator``/``denominator`` are the counts of the
        proportions and ``None`` for the three ratios (object columns, so that
        the counts stay integers).
        """
        rows: list[dict[str, Any]] = []
        for name, x, n in self._fractions():
            lo, hi = binomial_ci(x, n, method=self.ci_method,  # type: ignore[arg-type]
                                 confidence_level=self.confidence_level)
            rows.append({"metric": name, "estimate": x / n if n else math.nan,
                         "ci_low": lo, "ci_high": hi, "numerator": x, "denominator": n})
        ratios = _likelihood_ratios(self.tp, self.fp, self.tn, self.fn, self.confidence_level)
        for name in _RATIOS:
            est, lo, hi = ratios[name]
            rows.append({"metric": name, "estimate": est, "ci_low": lo, "ci_high": hi,
                         "numerator": None, "denominator": None})
        frame = pd.DataFrame(rows)
        for col in ("numerator", "denominator"):
            frame[col] = pd.Series([r[col] for r in rows], dtype=object)
        return frame

    def _repr_html_(self) -> str:
        return str(self.to_frame().to_html(index=False))


def threshold_metrics(y_true: Any, y_prob: Any, *, threshold: float,
                      ci_method: Literal["wilson", "clopper-pearson"] = "wilson",
                      confidence_level: float = 0.95) -> ThresholdMetricsResult:
    """Sensitivity, specificity, PPV, NPV and accuracy at a threshold, with CIs.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome, 1 = event.  A single class is allowed (the metrics whose
        denominator is then 0 are NaN with a warning).
    y_prob : array-like of shape (n_samples,)
        Predicted probabilities, or any finite score on the scale of
        ``threshold`` (e.g. a threshold from :func:`youden_threshold`).
    threshold : float
        Test-positive iff ``y_prob >= threshold``.
    ci_method : {"wilson", "clopper-pearson"}, optional
        Binomial interval (see module docstring): Wilson without continuity
        correction (epiR ``"wilson"``) or Clopper-Pearson (R ``binom.test``).
    confidence_level : float, optional

    Returns
    -------
    ThresholdMetricsResult
        ``to_frame()`` has rows sensitivity = TP/(TP+FN), specificity =
        TN/(TN+FP), ppv = TP/(TP+FP), npv = TN/(TN+FN), accuracy =
        (TP+TN)/N, then lr_positive = Se/(1-Sp), lr_negative = (1-Se)/Sp and
        dor = TP TN/(FP FN) with epiR ``epi.tests`` intervals (module
        docstring).

    Warns
    -----
    radval.exceptions.UndefinedMetricWarning
        When a denominator is 0 (e.g. no test-positive patients: PPV is NaN).
    """
    caller = "threshold_metrics"
    level = check_confidence_level(confidence_level, caller=caller)
    ci_method = check_choice(ci_method, ("wilson", "clopper-pearson"),  # type: ignore[assignment]
                             caller=caller, param="ci_method")
    try:
        thr = float(threshold)
    except (TypeError, ValueError) as exc:
        raise param_error("threshold", caller, "a number", threshold) from exc
    if math.isnan(thr):
        raise param_error("threshold", caller, "a number (not NaN)", threshold)
    y = check_binary(y_true, caller=caller, require_both=False).astype(bool)
    p = check_scores(y_prob, caller=caller, param="y_prob")
    check_consistent_length(caller, y_true=y, y_prob=p)
    pos = p >= thr
    tp = int(np.sum(pos & y))
    fp = int(np.sum(pos & ~y))
    tn = int(np.sum(~pos & ~y))
    fn = int(np.sum(~pos & y))
    est: dict[str, float] = {}
    undefined = []
    for name, x, n in (("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp),
                       ("ppv", tp, tp + fp), ("npv", tn, tn + fn),
                       ("accuracy", tp + tn, y.size)):
        est[name] = x / n if n else math.nan
        if n == 0:
            undefined.append(name)
    if undefined:
        msg = (f"threshold_metrics at threshold {thr!r}: {', '.join(undefined)} undefined "
               f"(zero denominator; TP={tp}, FP={fp}, TN={tn}, FN={fn}); returned as NaN.")
        warnings.warn(msg, UndefinedMetricWarning, stacklevel=2)
    ratios = _likelihood_ratios(tp, fp, tn, fn, level)
    return ThresholdMetricsResult(threshold=thr, tp=tp, fp=fp, tn=tn, fn=fn,
                                  ci_method=ci_method, confidence_level=level,
                                  lr_positive=ratios["lr_positive"][0],
                                  lr_negative=ratios["lr_negative"][0],
                                  dor=ratios["dor"][0], **est)


def youden_threshold(y_true: Any, y_score: Any) -> float:
    """Threshold maximising Youden's J = sensitivity + specificity - 1.

    As pROC ``coords(roc, x="best", best.method="youden")`` with direction "<":
    candidate thresholds are pROC's (``-inf``, midpoints of consecutive unique
    scores, ``+inf``), sensitivity = TP/m and specificity = TN/n with
    test-positive iff ``score >= threshold``; the maximum of ``se + sp`` is
    found by exact floating-point comparison as in pROC.

    Tie rule: pROC returns every threshold attaining the maximum, in increasing
    order; this function returns the **first (lowest)** of them, i.e. the most
    sensitive of the optimal cut-offs.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome with both classes.
    y_score : array-like of shape (n_samples,)
        Finite scores.

    Returns
    -------
    float
        The threshold (may be ``-inf`` when no cut-off beats "everyone
        positive"; then J = 0).
    """
    from radval.stats._discrimination import _check_pair, _roc_counts

    caller = "youden_threshold"
    y, s = _check_pair(y_true, y_score, caller=caller)
    t, tp, tn = _roc_counts(y, s)
    m, n = int(y.sum()), int((~y).sum())
    crit = tp / m + tn / n
    best = int(np.flatnonzero(crit == crit.max())[0])
    return float(t[best])
