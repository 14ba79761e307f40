"""Flexible calibration curves with bootstrap bands, and the optimism-corrected curve.

``calibration_curve`` estimates the calibration curve :math:`c(p) = P(Y = 1 \\mid
\\hat p = p)` on a grid of predicted risks, as CalibrationCurves ``val.prob.ci.2``
and pmcalibration draw it:

* ``"loess"``: R ``loess(y ~ p)`` with the defaults ``val.prob.ci.2`` uses (span 0.75,
  degree 2, gaussian family, ``surface = "interpolate"``), ported exactly
  (:mod:`radval.stats._loess`);
* ``"spline"``: logistic regression on a restricted cubic spline of
  :math:`\\operatorname{logit}(p)` with knots at Harrell's default quantiles
  (``glm(y ~ rms::rcs(qlogis(p), k), binomial)``);
* ``"lowess"``: R ``lowess(p, y, iter = 0)`` read off with ``approx`` (the smoother of
  ``rms::val.prob`` and ``rms::calibrate``);
* ``"grouped"``: observed proportion against mean predicted risk in quantile groups.

The band is pointwise: patients are resampled with replacement, the smoother is
refitted and evaluated on the same grid, and the band is the
:math:`\\alpha/2` and :math:`1-\\alpha/2` type-7 quantiles over resamples, as
``val.prob.ci.2(CL.BT = TRUE)``.  A loess or lowess refit is undefined outside the
range of its resample; at each grid point the band uses the resamples in which the
curve is defined there (``val.prob.ci.2``'s ``BT.samples`` instead draws a resample
again until it covers the whole grid, which conditions every point on resamples
that contain the extreme risks).

``optimism_corrected_curve`` is the building block of ``rms::calibrate``: given the
apparent curve and, for each bootstrap resample, the curve of the refitted model
in the resample (train) and in the original data (test), on the same grid, the
corrected curve is the apparent curve minus the mean optimism (train - test) at
every grid point.

References
----------
Van Calster B, Nieboer D, Vergouwe Y, De Cock B, Pencina MJ, Steyerberg EW. A
calibration hierarchy for risk models was defined: from utopia to empirical data.
J Clin Epidemiol 2016;74:167-176.
Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI) and related metrics
for quantifying the calibration of logistic regression models. Stat Med
2019;38:4051-4065.
Harrell FE. Regression Modeling Strategies, 2nd ed. Springer, 2015 (``rms::calibrate``).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval._validation import (
    check_binary,
    check_choice,
    check_confidence_level,
    check_consistent_length,
    check_positive_int,
    check_probabilities,
    param_error,
)
from radval.exceptions import DataError, DegenerateBootstrapWarning, UndefinedMetricWarning
from radval.stats._kernels import expit, logistic_newton, logit, wilson_interval

__all__ = [
    "CalibrationCurveResult",
    "CorrectedCurveResult",
    "calibration_curve",
    "optimism_corrected_curve",
    "r_seq",
    "rcs_knots",
]

FloatArray = npt.NDArray[np.float64]
_METHODS = ("loess", "spline", "lowess", "grouped")


def r_seq(start: float, stop: float, length: int) -> FloatArray:
    """R's ``seq(start, stop, length.out = length)``, with R's arithmetic.

    ``c(from, from + (1:(n-2)) * ((to - from)/(n - 1)), to)``.
    """
    if length == 1:
        return np.array([start], dtype=np.float64)
    if start == stop:
        return np.full(length, start, dtype=np.float64)
    by = (stop - start) / (length - 1)
    out = start + np.arange(length, dtype=np.float64) * by
    out[-1] = stop
    return out


# ------------------------------------------------------------------------ spline
def rcs_knots(x: Any, n_knots: int = 5) -> FloatArray:
    """Knots of ``rms::rcs(x, n_knots)``: Hmisc ``rcspline.eval`` defaults.

    Quantiles (type 7) of ``x`` at ``seq(outer, 1 - outer, length = k)`` with
    ``outer`` 0.1 for 3 knots, 0.05 for 4-6 and 0.025 for 7 or more; with fewer
    than 100 observations the outer knots are the 5th smallest and 5th largest
    values; a value holding at least 5% of the observations at either end (and
    none in between) becomes its own knot (``fractied = 0.05``); with
    ``unique - 2 <= k`` distinct values the interior unique values are the knots.
    """
    from radval.stats._calibration import quantile_type7

    xx = np.asarray(x, dtype=np.float64)
    xx = xx[~np.isnan(xx)]
    n = xx.size
    nk = n_knots
    if n < 6:
        msg = f"rcs_knots: need at least 6 non-missing observations for knots; got {n}."
        raise DataError(msg)
    xu = np.unique(xx)
    if xu.size - 2 <= nk:
        knots = xu[1:-1]
    else:
        outer = 0.1 if nk == 3 else (0.025 if nk > 6 else 0.05)
        nke = nk
        first: list[float] = []
        last: list[float] = []
        override_first = override_last = False
        vals, counts = np.unique(xx, return_counts=True)
        freq = counts / n
        if freq.size > 2 and freq[1:-1].max() < 0.05:
            if freq[0] >= 0.05:
                first = [float(xx[xx > xx.min()].min())]
                xx = xx[xx > first[0]]
                nke -= 1
                override_first = True
            if freq[-1] >= 0.05:
                last = [float(xx[xx < xx.max()].max())]
                xx = xx[xx < last[0]]
                nke -= 1
                override_last = True
        if nke == 1:
            core = np.array([float(np.median(xx))])
        elif xu.size <= nke:
            core = xu.copy()
        else:
            probs = r_seq(0.5, 1 - outer, nke) if nke == 2 else r_seq(outer, 1 - outer, nke)
            core = quantile_type7(xx, probs)
            if np.unique(core).size < min(nke, 3):
                core = quantile_type7(xx, r_seq(outer, 1 - outer, 2 * nke))
                if np.unique(core).size < 3:
                    msg = "rcs_knots: fewer than 3 distinct knots could be placed."
                    raise DataError(msg)
            if xx.size < 100:
                srt = np.sort(xx)
                if not override_first:
                    core[0] = srt[4]
                if not override_last:
                    core[nke - 1] = srt[srt.size - 5]
        knots = np.concatenate([first, core, last])
    knots = np.unique(knots)
    if knots.size < 3:
        msg = f"rcs_knots: fewer than 3 distinct knots ({knots.tolist()}); too few distinct values."
        raise DataError(msg)
    return knots


def _rcs_basis(x: FloatArray, knots: FloatArray) -> FloatArray:
    """``rcspline.eval(x, knots, inclx = TRUE)`` (norm 2): columns x and the k - 2 terms."""
    k = knots.size
    kd = (knots[-1] - knots[0]) ** (2.0 / 3.0)
    t1, tk = knots[-2], knots[-1]
    cols = [x]
    for j in range(k - 2):
        kj = knots[j]
        cols.append(np.maximum((x - kj) / kd, 0.0) ** 3
                    + ((t1 - kj) * np.maximum((x - tk) / kd, 0.0) ** 3
                       - (tk - kj) * np.maximum((x - t1) / kd, 0.0) ** 3) / (tk - t1))
    return np.column_stack(cols)


def _spline_curve(p: FloatArray, y: FloatArray, points: FloatArray, n_knots: int
                  ) -> FloatArray | None:
    """Fitted risk of ``glm(y ~ rcs(qlogis(p), n_knots))`` at ``points`` (None if no fit)."""


    lp = logit(p)
    try:
        knots = rcs_knots(lp, n_knots)
    except DataError:
        return None
    design = np.column_stack([np.ones(lp.size), _rcs_basis(lp, knots)])
    fit = logistic_newton(design, y, start=np.zeros(design.shape[1]))
    if not fit.converged or not np.all(np.isfinite(fit.coef)):
        return None
    new = np.column_stack([np.ones(points.size), _rcs_basis(logit(points), knots)])
    return np.asarray(expit(new @ fit.coef), dtype=np.float64)


# ------------------------------------------------------------------------ smoothers
def _lowess_curve(p: FloatArray, y: FloatArray, points: FloatArray) -> FloatArray:
    """``approx(lowess(p, y, iter = 0), xout = points, ties = first)$y`` (NaN outside)."""
    from radval.stats._lowess import lowess

    xs, fit = lowess(p, y, iter=0)
    uniq, first = np.unique(xs, return_index=True)
    vals = fit[first]
    if uniq.size == 1:
        return np.where(points == uniq[0], vals[0], np.nan)
    out = np.interp(points, uniq, vals)
    return np.where((points < uniq[0]) | (points > uniq[-1]), np.nan, out)


def _smoother(method: str, span: float, degree: int, n_knots: int
              ) -> Callable[[FloatArray, FloatArray, FloatArray], FloatArray | None]:
    """Function (p, y, points) -> curve at points (NaN outside its support, None: no fit)."""
    if method == "loess":
        from radval.stats._loess import loess_fit

        return lambda p, y, pts: loess_fit(p, y, span=span, degree=degree).predict(pts)
    if method == "lowess":
        return _lowess_curve
    return lambda p, y, pts: _spline_curve(p, y, pts, n_knots)


def _groups(p: FloatArray, n_groups: int) -> npt.NDArray[np.int64]:
    from radval.stats._calibration import _risk_groups

    breaks, bins = _risk_groups(p, n_groups)
    if breaks.size == 1:
        return np.zeros(p.size, dtype=np.int64)
    return np.unique(bins, return_inverse=True)[1].astype(np.int64)


# ------------------------------------------------------------------------ result
@dataclass(frozen=True, kw_only=True)
class CalibrationCurveResult(Result):
    """A flexible calibration curve with a pointwise bootstrap band.

    Attributes
    ----------
    method : str
        ``"loess"``, ``"spline"``, ``"lowess"`` or ``"grouped"``.
    ici, e50, e90, emax : float
        Mean, median, 90th percentile (type 7) and maximum of
        :math:`|p_i - \\hat c(p_i)|` over the patients, with :math:`\\hat c` the
        chosen smoother (Austin & Steyerberg 2019; for ``"loess"`` these are the
        ICI, E50, E90 and Emax of that paper; ``ici`` equals val.prob.ci.2's Eavg).
    n, events : int
        Patients and events.
    n_bootstrap : int
        Resamples used for the band (0: no band).
    n_failed : int
        Resamples in which the curve could not be refitted at all (one outcome
        class, separation); they are left out of the band.
    confidence_level : float
    span, degree, n_knots, n_groups : float or int
        Smoother settings (loess; spline; grouped).
    curve : pandas.DataFrame
        One row per grid point (per risk group for ``"grouped"``): ``predicted,
        observed, ci_low, ci_high, n_resamples`` (resamples in which the refitted
        curve is defined at that point; ``n`` patients instead for groups).
        ``observed`` is NaN where the smoother is not defined (loess/lowess outside
        the data range).
    fitted : numpy.ndarray
        :math:`\\hat c(p_i)` for every patient (input order).
    """

    method: str
    ici: float
    e50: float
    e90: float
    emax: float
    n: int
    events: int
    n_bootstrap: int
    n_failed: int
    confidence_level: float
    span: float
    degree: int
    n_knots: int
    n_groups: int
    curve: pd.DataFrame = field(repr=False, compare=False)
    fitted: FloatArray = field(repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The curve, long format: ``method, predicted, observed, ci_low, ci_high,
        n_resamples`` (``n`` instead of ``n_resamples`` for groups)."""
        out = self.curve.copy()
        out.insert(0, "method", self.method)
        return out

    def summary_frame(self) -> pd.DataFrame:
        """The scalar fields (ICI, E50, E90, Emax, n, ...) as one row."""
        return pd.DataFrame([self._scalar_fields()])


def _check_grid(grid: Any, p: FloatArray, caller: str) -> FloatArray:
    if grid is None:
        return r_seq(float(p.min()), float(p.max()), 200)
    try:
        g = np.asarray(grid, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error("grid", caller, "an array of probabilities in [0, 1]", grid) from exc
    if g.size == 0 or not np.isfinite(g).all() or (g < 0).any() or (g > 1).any():
        raise param_error("grid", caller, "a non-empty array of probabilities in [0, 1]", grid)
    return g


def _summary(p: FloatArray, fitted: FloatArray) -> tuple[float, float, float, float]:
    from radval.stats._calibration import quantile_type7

    err = np.abs(p - fitted)
    err = err[np.isfinite(err)]
    if err.size == 0:
        return (math.nan,) * 4
    q = quantile_type7(err, [0.5, 0.9])
    return float(err.mean()), float(q[0]), float(q[1]), float(err.max())


def calibration_curve(y_true: Any, y_prob: Any, *, method: str = "loess",
                      n_bootstrap: int = 2000, confidence_level: float = 0.95,
                      rng: int | np.random.Generator | None = None, grid: Any = None,
                      span: float = 0.75, degree: int = 2, n_knots: int = 5,
                      n_groups: int = 10) -> CalibrationCurveResult:
    r"""Flexible calibration curve of predicted risks with a pointwise bootstrap band.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        0/1 outcome (1 = event), both classes present.
    y_prob : array-like of shape (n_samples,)
        Predicted risks in [0, 1] (strictly inside for ``"spline"``).
    method : {"loess", "spline", "lowess", "grouped"}, optional
        Smoother (see the module docstring).  Default ``"loess"`` as
        ``val.prob.ci.2``; the authors suggest ``"spline"`` above ~5000 patients.
    n_bootstrap : int, optional
        Bootstrap resamples for the band (default 2000, as ``val.prob.ci.2``);
        0 gives no band (``ci_low``/``ci_high`` NaN; Wilson intervals for
        ``"grouped"``).  loess and spline refits are batched (loess: about
        0.15 s for 2000 resamples of 500 patients); lowess refits run one by one
        (about 4 ms each at n = 300).
    confidence_level : float, optional
        Level of the pointwise band.
    rng : int, numpy.random.Generator or None, optional
        Seed or generator for the resamples.
    grid : array-like, optional
        Predicted risks at which to evaluate the curve; default 200 equally
        spaced points from ``min(y_prob)`` to ``max(y_prob)`` (``val.prob.ci.2``).
        Ignored by ``"grouped"`` (one row per risk group).
    span, degree : float, int, optional
        loess span (0.75) and degree (2), R's defaults.
    n_knots : int, optional
        Knots of the restricted cubic spline (default 5, ``val.prob.ci.2``'s
        ``nr.knots``).
    n_groups : int, optional
        Quantile groups for ``"grouped"`` (R ``cut`` on type-7 quantile breaks, as
        ``hosmer_lemeshow``).

    Returns
    -------
    CalibrationCurveResult
        ``to_frame()`` is the curve with its band, ``summary_frame()`` the ICI,
        E50, E90 and Emax.

    Raises
    ------
    InputError
        Invalid outcome, probabilities outside [0, 1] (or exactly 0/1 for
        ``"spline"``), a grid outside [0, 1], bad options.
    DataError
        Too few observations for the smoother (loess ``span too small``, fewer
        than 3 distinct spline knots).

    Warns
    -----
    DegenerateBootstrapWarning
        The curve could not be refitted in some resamples (count in
        ``n_failed``).

    Notes
    -----
    ``"loess"`` equals R ``loess(y ~ p, span = 0.75, degree = 2)`` (val.prob.ci.2's
    ``argzLoess = alist(degree = 2)`` plus R's defaults ``family = "gaussian"``,
    ``surface = "interpolate"``, ``cell = 0.2``), its fitted values and its
    ``predict`` on the grid to about 1e-14.  ``"spline"`` equals
    ``glm(y ~ rms::rcs(qlogis(p), n_knots), family = binomial)`` predictions.
    Summary measures use :math:`\hat c` at the patients' own risks.

    For ``"grouped"``: rows are risk groups at their mean predicted risk; the
    band is the bootstrap percentile interval of the observed proportion with the
    group boundaries held fixed, or the Wilson interval when ``n_bootstrap = 0``;
    :math:`\hat c(p_i)` is the observed proportion of the patient's group.

    References
    ----------
    Van Calster B et al. J Clin Epidemiol 2016;74:167-176 (CalibrationCurves).
    Austin PC, Steyerberg EW. Stat Med 2019;38:4051-4065.

    Examples
    --------
    >>> import numpy as np
    >>> from radval.stats import calibration_curve
    >>> rng = np.random.default_rng(1)
    >>> p = rng.uniform(0.05, 0.9, 300)
    >>> y = (rng.uniform(size=300) < p).astype(int)
    >>> res = calibration_curve(y, p, n_bootstrap=50, rng=2)
    >>> list(res.to_frame().columns)
    ['method', 'predicted', 'observed', 'ci_low', 'ci_high', 'n_resamples']
    >>> bool(res.ici < 0.1)
    True
    """
    from radval.stats._discrimination import _check_rng

    caller = "calibration_curve"
    method = check_choice(method, _METHODS, caller=caller, param="method")
    y = check_binary(y_true, caller=caller).astype(np.float64)
    p = check_probabilities(y_prob, caller=caller, open_interval=method == "spline")
    check_consistent_length(caller, y_true=y, y_prob=p)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) \
            or n_bootstrap < 0:
        raise param_error("n_bootstrap", caller, "an integer >= 0", n_bootstrap)
    level = check_confidence_level(confidence_level, caller=caller)
    if isinstance(span, bool) or not isinstance(span, int | float) or not 0.0 < span <= 1.0:
        raise param_error("span", caller, "a number in (0, 1]", span)
    if degree not in (0, 1, 2) or isinstance(degree, bool):
        raise param_error("degree", caller, "one of {0, 1, 2}", degree)
    n_knots = check_positive_int(n_knots, caller=caller, param="n_knots", minimum=3)
    n_groups = check_positive_int(n_groups, caller=caller, param="n_groups", minimum=2)
    gen = _check_rng(rng, caller) if n_bootstrap > 0 else None
    alpha = 1.0 - level

    common = dict(method=method, n=int(y.size), events=int(y.sum()),
                  n_bootstrap=int(n_bootstrap), confidence_level=level, span=float(span),
                  degree=int(degree), n_knots=n_knots, n_groups=n_groups)
    if method == "grouped":
        return _grouped_curve(y, p, n_groups, int(n_bootstrap), alpha, gen, common)

    g = _check_grid(grid, p, caller)
    smooth = _smoother(method, float(span), int(degree), n_knots)
    pts = np.concatenate([g, p])
    both = smooth(p, y, pts)
    if both is None:
        msg = (f"calibration_curve: the {method} calibration model could not be fitted "
               "(separation or too few distinct risks).")
        raise DataError(msg)
    observed, fitted = both[:g.size], both[g.size:]
    lo = hi = np.full(g.size, np.nan)
    used = np.zeros(g.size, dtype=np.int64)
    failed = 0
    if n_bootstrap > 0 and gen is not None:
        boot = _bootstrap_curves(y, p, g, method, float(span), int(degree), n_knots,
                                 int(n_bootstrap), gen)
        failed = int(np.all(np.isnan(boot), axis=1).sum())
        used = np.isfinite(boot).sum(axis=0)
        probs = [alpha / 2.0, 1.0 - alpha / 2.0]
        # nanquantile sorts column by column; the columns without NaN (usually
        # most) go through one vectorised quantile, which gives the same numbers
        full = used == boot.shape[0]
        q = np.empty((2, g.size))
        q[:, full] = np.quantile(boot[:, full], probs, axis=0, method="linear")
        if not full.all():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                q[:, ~full] = np.nanquantile(boot[:, ~full], probs, axis=0,
                                             method="linear")
        lo, hi = q[0], q[1]
    if failed:
        warnings.warn(f"calibration_curve: the {method} curve could not be refitted in "
                      f"{failed} of {n_bootstrap} bootstrap resamples (one outcome class, "
                      "separation, too few distinct risks); the band uses the others.",
                      DegenerateBootstrapWarning, stacklevel=2)
    ici, e50, e90, emax = _summary(p, fitted)
    curve = pd.DataFrame({"predicted": g, "observed": observed, "ci_low": lo, "ci_high": hi,
                          "n_resamples": used})
    return CalibrationCurveResult(ici=ici, e50=e50, e90=e90, emax=emax, n_failed=failed,
                                  curve=curve, fitted=np.asarray(fitted, dtype=np.float64),
                                  **common)  # type: ignore[arg-type]


def _newton_many(x: FloatArray, y: FloatArray, max_iter: int = 50) -> FloatArray:
    """Logistic MLE of every design ``x`` (B, n, k) with outcomes ``y`` (B, n).

    Plain Newton-Raphson from 0 on all rows at once, stopping a row when its
    largest relative step is below 1e-12 (the criterion of the single fit);
    rows that do not converge (separation) or are singular come back NaN.
    """

    beta = np.zeros((x.shape[0], x.shape[2]))
    conv = np.zeros(x.shape[0], dtype=bool)
    bad = np.zeros(x.shape[0], dtype=bool)
    for _ in range(max_iter):
        live = np.flatnonzero(~conv & ~bad)
        if live.size == 0:
            break
        xl = x[live]
        mu = expit(np.einsum("bnk,bk->bn", xl, beta[live]))
        score = np.einsum("bnk,bn->bk", xl, y[live] - mu)
        info = np.einsum("bnk,bn,bnl->bkl", xl, mu * (1.0 - mu), xl)
        try:
            step = np.linalg.solve(info, score[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = np.stack([_solve_or_nan(a, v) for a, v in zip(info, score, strict=True)])
        new = beta[live] + step
        beta[live] = new
        fine = np.all(np.isfinite(new), axis=1)
        bad[live[~fine]] = True
        with np.errstate(invalid="ignore"):
            done = np.max(np.abs(step) / (1.0 + np.abs(new)), axis=1) < 1e-12
        conv[live[done & fine]] = True
    beta[~conv] = np.nan
    return beta


def _solve_or_nan(a: FloatArray, v: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.linalg.solve(a, v), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.full(v.shape, np.nan)


def _spline_many(p: FloatArray, y: FloatArray, g: FloatArray, n_knots: int) -> FloatArray:
    """Spline calibration curves of every row of ``p``/``y`` (B, n) on ``g`` (B, G).

    Knots are placed in each resample, as a refit of ``rcs`` does; resamples with
    the same number of knots are fitted together.  A resample whose knots cannot
    be placed or whose fit fails is NaN.
    """

    lp = logit(p)
    lg = logit(g)
    out = np.full((p.shape[0], g.size), np.nan)
    knots: dict[int, list[tuple[int, FloatArray]]] = {}
    for i in range(p.shape[0]):
        try:
            k = rcs_knots(lp[i], n_knots)
        except DataError:
            continue
        knots.setdefault(k.size, []).append((i, k))
    ones_n, ones_g = np.ones(p.shape[1]), np.ones(g.size)
    for group in knots.values():
        rows = [i for i, _ in group]
        x = np.stack([np.column_stack([ones_n, _rcs_basis(lp[i], k)]) for i, k in group])
        xg = np.stack([np.column_stack([ones_g, _rcs_basis(lg, k)]) for _, k in group])
        beta = _newton_many(x, y[rows])
        out[rows] = expit(np.einsum("bgk,bk->bg", xg, beta))
    return out


def _bootstrap_curves(y: FloatArray, p: FloatArray, g: FloatArray, method: str, span: float,
                      degree: int, n_knots: int, n_bootstrap: int,
                      gen: np.random.Generator) -> FloatArray:
    """(B, grid) curves of patient resamples; NaN where a refit is undefined."""
    n = y.size
    out = np.full((n_bootstrap, g.size), np.nan)
    chunk = max(1, 2_000_000 // max(1, n))
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        idx = gen.integers(0, n, size=(b, n))
        pb, yb = p[idx], y[idx]
        both = yb.min(axis=1) != yb.max(axis=1)
        rows = np.flatnonzero(both)
        if method == "loess":
            from radval.stats._loess import loess_predict_many

            # a zero-radius neighbourhood in any resample stops the whole batch, as
            # it stops R's loess; all rows of this chunk then stay NaN (failed)
            with contextlib.suppress(DataError):
                out[start + rows] = loess_predict_many(p, y, g, span=span, degree=degree,
                                                       idx=idx[rows])
        elif method == "spline":
            out[start + rows] = _spline_many(pb[rows], yb[rows], g, n_knots)
        else:
            for r in rows:
                out[start + r] = _lowess_curve(pb[r], yb[r], g)
    return out


def _grouped_curve(y: FloatArray, p: FloatArray, n_groups: int, n_bootstrap: int,
                   alpha: float, gen: np.random.Generator | None,
                   common: dict[str, Any]) -> CalibrationCurveResult:
    from radval.stats._discrimination import _weights_from_indices

    grp = _groups(p, n_groups)
    k = int(grp.max()) + 1
    cnt = np.bincount(grp, minlength=k).astype(np.float64)
    obs = np.asarray(np.bincount(grp, weights=y, minlength=k), dtype=np.float64)
    pred = np.bincount(grp, weights=p, minlength=k) / cnt
    observed = obs / cnt
    if n_bootstrap > 0 and gen is not None:
        onehot = np.zeros((y.size, k))
        onehot[np.arange(y.size), grp] = 1.0
        w = _weights_from_indices(gen.integers(0, y.size, size=(n_bootstrap, y.size)), y.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            props = (w @ (onehot * y[:, None])) / (w @ onehot)
        lo = np.nanquantile(props, alpha / 2.0, axis=0, method="linear")
        hi = np.nanquantile(props, 1.0 - alpha / 2.0, axis=0, method="linear")
    else:
        lo, hi = wilson_interval(obs, cnt, confidence_level=1.0 - alpha)
    fitted = observed[grp]
    ici, e50, e90, emax = _summary(p, fitted)
    curve = pd.DataFrame({"predicted": pred, "observed": observed, "ci_low": lo, "ci_high": hi,
                          "n": cnt.astype(np.int64)})
    return CalibrationCurveResult(ici=ici, e50=e50, e90=e90, emax=emax, n_failed=0,
                                  curve=curve, fitted=fitted, **common)


# ------------------------------------------------------------------------ optimism
def _optimism(apparent: Any, train: Any, test: Any, *, caller: str, n_points: int,
              names: tuple[str, str, str]) -> tuple[FloatArray, FloatArray, FloatArray,
                                                    npt.NDArray[np.int64]]:
    """Apparent, mean optimism, corrected and resamples used per point.

    A resample counts at a point only where both its train and test values are
    finite (``rms::predab.resample``: ``na <- is.na(train + test)``).
    """
    app = np.asarray(apparent, dtype=np.float64).ravel()
    tr = np.asarray(train, dtype=np.float64)
    te = np.asarray(test, dtype=np.float64)
    if app.size != n_points:
        raise param_error(names[0], caller, f"of length {n_points} (one value per point)",
                          f"length {app.size}")
    for name, arr in ((names[1], tr), (names[2], te)):
        if arr.ndim != 2 or arr.shape[1] != n_points:
            raise param_error(name, caller, f"a 2-d array (resamples, {n_points})",
                              f"an array of shape {arr.shape}")
    if tr.shape != te.shape:
        raise param_error(names[2], caller, f"of the shape of {names[1]!r}, {tr.shape}",
                          f"shape {te.shape}")
    ok = np.isfinite(tr) & np.isfinite(te)
    used = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        opt = np.where(ok, tr - te, 0.0).sum(axis=0) / used
    return app, opt, app - opt, used.astype(np.int64)


@dataclass(frozen=True, kw_only=True)
class CorrectedCurveResult(Result):
    """Optimism-corrected calibration curve (``rms::calibrate``).

    Attributes
    ----------
    mean_abs_error, mean_squared_error, q90_abs_error : float
        Over the patients: mean, mean square and 0.9 quantile (type 7) of
        :math:`p_i - \\tilde c(p_i)`, with :math:`\\tilde c` the corrected curve
        linearly interpolated (patients outside the grid range are left out), as
        ``print.calibrate``.
    n_resamples : int
        Resamples supplied.
    n_used : int
        Patients inside the grid range (those counted in the errors).
    curve : pandas.DataFrame
        ``predicted, apparent, optimism, corrected, n_resamples`` (resamples with
        finite train and test values at that point).
    """

    mean_abs_error: float
    mean_squared_error: float
    q90_abs_error: float
    n_resamples: int
    n_used: int
    curve: pd.DataFrame = field(repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The corrected curve, one row per grid point."""
        return self.curve.copy()


def optimism_corrected_curve(y_prob: Any, grid: Any, apparent: Any, train: Any,
                             test: Any) -> CorrectedCurveResult:
    r"""Bias-corrected calibration curve from bootstrap train/test curves (rms ``calibrate``).

    Parameters
    ----------
    y_prob : array-like of shape (n_samples,)
        The apparent model's predicted risks for the development patients.
    grid : array-like of shape (n_points,)
        Predicted risks at which the curves are evaluated, increasing (rms
        ``calibrate`` uses ``seq(p[5], p[n - 4], length = 50)`` of the sorted
        risks: :func:`r_seq`).
    apparent : array-like of shape (n_points,)
        Calibration curve of the model on the data it was fitted on.
    train, test : array-like of shape (n_resamples, n_points)
        For every bootstrap resample: the curve of the model refitted on the
        resample, evaluated in the resample (train) and in the original data
        (test), with the same smoother and grid (e.g. :func:`calibration_curve`
        with ``n_bootstrap=0``; ``rms::calibrate`` uses ``"lowess"``).  NaN marks a
        point where a curve is undefined.

    Returns
    -------
    CorrectedCurveResult

    Notes
    -----
    At every grid point :math:`g`: optimism
    :math:`o(g) = \overline{c_{train}(g)} - \overline{c_{test}(g)}` over the
    resamples with both values defined, and corrected curve
    :math:`\tilde c(g) = c_{app}(g) - o(g)` (``rms::predab.resample`` and
    ``calibrate.default``, which work on :math:`c(g) - g`; the difference cancels).
    The errors are :math:`e_i = p_i - \tilde c(p_i)` with :math:`\tilde c`
    interpolated linearly between grid points (``approx(ties = mean)``).
    """
    caller = "optimism_corrected_curve"
    p = check_probabilities(y_prob, caller=caller)
    g = _check_grid(grid, p, caller)
    if g.size < 2 or np.any(np.diff(g) <= 0):
        raise param_error("grid", caller, "strictly increasing with at least 2 points", grid)
    app, opt, corrected, used = _optimism(apparent, train, test, caller=caller,
                                          n_points=g.size, names=("apparent", "train", "test"))
    n_res = int(np.asarray(train).shape[0])
    ok = np.isfinite(corrected)
    if ok.sum() < 2:
        warnings.warn("optimism_corrected_curve: fewer than 2 grid points have a corrected "
                      "value; the error summaries are NaN.", UndefinedMetricWarning,
                      stacklevel=2)
        mae = mse = q90 = math.nan
        n_used = 0
    else:
        gx, cy = g[ok], corrected[ok]
        inside = (p >= gx[0]) & (p <= gx[-1])
        err = p[inside] - np.interp(p[inside], gx, cy)
        n_used = int(inside.sum())
        from radval.stats._calibration import quantile_type7

        mae = float(np.mean(np.abs(err))) if err.size else math.nan
        mse = float(np.mean(err**2)) if err.size else math.nan
        q90 = float(quantile_type7(np.abs(err), 0.9)[0]) if err.size else math.nan
    curve = pd.DataFrame({"predicted": g, "apparent": app, "optimism": opt,
                          "corrected": corrected, "n_resamples": used})
    return CorrectedCurveResult(mean_abs_error=mae, mean_squared_error=mse, q90_abs_error=q90,
                                n_resamples=n_res, n_used=n_used, curve=curve)
