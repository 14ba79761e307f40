"""Model updating at a validation site, reported beside the original model.

With the frozen linear predictor :math:`\\eta_i = \\operatorname{logit} \\hat p_i`:

* recalibration-in-the-large (update the intercept only):
  :math:`\\operatorname{logit} P(y_i = 1) = a + \\eta_i` (``eta`` as offset);
* logistic recalibration (intercept and slope):
  :math:`\\operatorname{logit} P(y_i = 1) = a + b\\,\\eta_i`.

Both are maximum-likelihood logistic fits (Newton-Raphson, standard errors from the
inverse Fisher information, as R ``glm(..., family = binomial)``).  The updated
probabilities :math:`\\operatorname{expit}(\\hat a + \\hat b\\eta_i)` are then
re-evaluated (discrimination is unchanged by a monotone update; calibration is
re-estimated in the same data, so it is *apparent*: the logistic update has
intercept 0 and slope 1 there by construction).  The original model is never
replaced: the updated models are extra rows.

References
----------
Steyerberg EW. Clinical Prediction Models, 2nd ed. Springer 2019, ch. 20.
Janssen KJM et al. Updating methods improved the performance of a clinical prediction
model in new patients. J Clin Epidemiol 2008;61:76-86.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval._validation import check_binary, check_consistent_length, check_scores
from radval.exceptions import ConvergenceWarning, RadvalWarning
from radval.stats._kernels import expit, logistic_newton

__all__ = ["RecalibrationResult", "recalibrate"]

_CALLER = "recalibrate"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecalibrationResult(Result):
    """Result of :func:`recalibrate`.

    Attributes
    ----------
    citl_intercept, citl_intercept_se : float
        :math:`\\hat a` of recalibration-in-the-large and its SE.
    logistic_intercept, logistic_intercept_se, logistic_slope, logistic_slope_se : float
        :math:`\\hat a, \\hat b` of logistic recalibration and their SEs.
    comparison : DataFrame
        One row per model (``original``, ``recalibrated_citl``, ``recalibrated_logistic``):
        ``model, n, events, auc, brier, citl, citl_se, intercept, intercept_se, slope,
        slope_se, o_e_ratio, apparent``.
    probabilities : dict of str to ndarray
        Updated probabilities per update (local only; never shared).
    """

    citl_intercept: float
    citl_intercept_se: float
    logistic_intercept: float
    logistic_intercept_se: float
    logistic_slope: float
    logistic_slope_se: float
    comparison: pd.DataFrame = dataclasses.field(repr=False, compare=False)
    probabilities: dict[str, npt.NDArray[np.float64]] = dataclasses.field(repr=False,
                                                                          compare=False)


def _row(model: str, y: npt.NDArray[np.int64], p: npt.NDArray[np.float64],
         apparent: bool) -> dict[str, Any]:
    # imported from the modules: `radval.stats._calibration` is also a submodule name
    from radval.stats._calibration import calibration
    from radval.stats._discrimination import roc_auc

    row: dict[str, Any] = {"model": model, "n": int(y.size), "events": int(y.sum()),
                           "apparent": apparent}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        row["auc"] = float(roc_auc(y, p))
        c = calibration(y, p)
    for k in ("brier", "citl", "citl_se", "intercept", "intercept_se", "slope", "slope_se",
              "o_e_ratio"):
        row[k] = float(getattr(c, k))
    return row


def recalibrate(y_true: Any, linear_predictor: Any) -> RecalibrationResult:
    """Recalibration-in-the-large and logistic recalibration of a frozen model.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        Validation outcomes (both classes required).
    linear_predictor : array-like of float
        The frozen model's linear predictor (logit of its predicted risk).

    Returns
    -------
    RecalibrationResult
    """
    y = check_binary(y_true, caller=_CALLER)
    eta = check_scores(linear_predictor, caller=_CALLER, param="linear_predictor")
    check_consistent_length(_CALLER, y_true=y, linear_predictor=eta)
    yf = y.astype(np.float64)
    ones = np.ones((y.size, 1))
    citl = logistic_newton(ones, yf, offset=eta)
    both = logistic_newton(np.column_stack([np.ones(y.size), eta]), yf)
    a, cov_a, ok1 = citl.coef, citl.cov, citl.converged
    ab, cov_ab, ok2 = both.coef, both.cov, both.converged
    if not (ok1 and ok2):
        warnings.warn("recalibrate: a recalibration fit did not converge (separation?).",
                      ConvergenceWarning, stacklevel=2)
    p0 = expit(eta)
    p1 = expit(a[0] + eta)
    p2 = expit(ab[0] + ab[1] * eta)
    comparison = pd.DataFrame([_row("original", y, p0, False),
                               _row("recalibrated_citl", y, p1, True),
                               _row("recalibrated_logistic", y, p2, True)])
    return RecalibrationResult(
        citl_intercept=float(a[0]), citl_intercept_se=float(math.sqrt(cov_a[0, 0])),
        logistic_intercept=float(ab[0]), logistic_intercept_se=float(math.sqrt(cov_ab[0, 0])),
        logistic_slope=float(ab[1]), logistic_slope_se=float(math.sqrt(cov_ab[1, 1])),
        comparison=comparison,
        probabilities={"recalibrated_citl": p1, "recalibrated_logistic": p2},
    )
