"""Calibration in the study workflow: flexible curves with bands, scores recalibrated on
development, calibration per subgroup, and the bias-corrected curve of internal validation.

**Which risk is calibrated.**  The rad-score and the DL-score are shrunken linear predictors
(LASSO), and :math:`\\operatorname{expit}(\\text{score})` is not a calibrated probability:
their raw calibration slopes in development are typically 2-3 by construction, which says
nothing about the signature.  radval therefore assesses the calibration of a score model
(``radiomics``, ``deep``) only after a logistic recalibration frozen on the development
cohort,

.. math:: p^* = \\operatorname{expit}\\{a + b\\,\\operatorname{logit}(p)\\},\\qquad
          (a, b) = \\arg\\max \\text{likelihood of } y \\text{ in development},

the recalibration the combined models already apply to the scores.  In development the
recalibrated score has intercept 0 and slope 1 by construction; in validation cohorts its
calibration is a genuine finding.  Every calibration row says which risk it assesses
(``risk_scale``): ``model`` (a model's own probability), ``recalibrated_score`` (with the
frozen ``recalibration_intercept`` and ``recalibration_slope``) or, at a site whose
signature is a single score, ``raw_score`` (no development data to recalibrate on; the
report labels it as not a calibrated probability).  Discrimination, threshold metrics and
decision curves are unchanged (the recalibration is monotone; net benefit of a score
model stays that of its own probability, as the decision curves show it).

**Flexible curves** (:func:`radval.stats.calibration_curve`): per cohort x model the
curve on 100 equally spaced risks between the smallest and the largest predicted risk,
with a pointwise bootstrap percentile band; the same per subgroup level for the signature
model (the other models' subgroup calibration is in the tables).

**Per subgroup level**: calibration-in-the-large, calibration slope (with their
inverse-information SEs) and log O/E (:math:`\\operatorname{SE} = \\sqrt{(1-O/n)/O}`), each
tested for heterogeneity across the levels with Cochran's Q (:func:`cochran_q`).

**Bias-corrected curve** (``rms::calibrate``): the apparent lowess curve
(``lowess(p, y, iter = 0)``, rms's smoother: local linear, so a resample's curve stays
near [0, 1] where a local quadratic loess on a small resample can run off) on a fixed
grid (``seq(p[5], p[n-4], length = 50)`` of the sorted apparent risks), minus the mean
optimism ``train - test`` of the curves of the models refitted in the optimism
resamples (:func:`resample_curves` runs inside each resample, so selection, fitting and a
re-trained network are inside the correction; a score model is recalibrated on each
resample's training data).  The same resamples give the optimism-corrected decision curve.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval.exceptions import DataError, InputError, RadvalWarning

__all__ = [
    "SCORE_MODELS",
    "CurveSpec",
    "apply_recalibration",
    "calibration_curves",
    "cochran_q",
    "corrected_tables",
    "curve_spec",
    "evaluation_options",
    "fit_recalibration",
    "recalibrated_indexes",
    "resample_curves",
    "score_recalibration",
    "subgroup_calibration",
    "undefined_reason",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Models whose probability is expit(shrunken linear predictor).
SCORE_MODELS = ("radiomics", "deep")
#: Grid points of the flexible curves in results.json.
GRID_POINTS = 100
#: Grid points of the bias-corrected curve (rms::calibrate).
CORRECTED_POINTS = 50

BAND_COLUMNS = ["cohort", "model", "method", "predicted", "observed", "ci_low", "ci_high",
                "n_resamples"]
SUBGROUP_CURVE_COLUMNS = ["cohort", "model", "subgroup", "level", "method", "predicted",
                          "observed", "ci_low", "ci_high", "n_resamples"]
SUMMARY_COLUMNS = ["cohort", "model", "curve_method", "curve_ici", "curve_e50", "curve_e90",
                   "curve_emax", "curve_n_resamples", "curve_undefined_reason"]
SUBGROUP_CAL_COLUMNS = ["cohort", "model", "subgroup", "level", "n", "events", "risk_scale",
                        "citl", "citl_se", "slope", "slope_se", "o_e", "log_o_e",
                        "log_o_e_se", "ici", "undefined_reason"]
HET_COLUMNS = ["cohort", "model", "subgroup", "measure", "threshold", "k", "statistic", "df",
               "p_value", "pooled", "undefined_reason"]


# ------------------------------------------------------------------------- kernels
def cochran_q(estimates: npt.ArrayLike, variances: npt.ArrayLike
              ) -> tuple[float, int, float, float]:
    """Cochran's Q test of equal estimates across independent groups.

    .. math:: Q = \\sum_i w_i(\\hat\\theta_i - \\bar\\theta)^2,\\quad w_i = 1/v_i,\\quad
              \\bar\\theta = \\sum_i w_i\\hat\\theta_i / \\sum_i w_i,

    referred to :math:`\\chi^2_{k-1}`.

    Returns
    -------
    (Q, k - 1, p-value, inverse-variance weighted mean)

    Raises
    ------
    InputError
        Fewer than two groups, lengths differ, non-finite estimates or variances <= 0.
    """
    from scipy.stats import chi2

    a = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    if a.size < 2 or a.size != v.size:
        raise InputError("cochran_q: needs estimates and variances of at least two groups "
                         "(same length).")
    if not (np.isfinite(a).all() and np.isfinite(v).all()) or np.any(v <= 0):
        raise InputError("cochran_q: estimates must be finite and variances positive.")
    w = 1.0 / v
    pooled = float(np.sum(w * a) / np.sum(w))
    q = float(np.sum(w * (a - pooled) ** 2))
    df = int(a.size - 1)
    return q, df, float(chi2.sf(q, df)), pooled


def fit_recalibration(y: npt.ArrayLike, prob: npt.ArrayLike) -> tuple[float, float, bool]:
    """Logistic recalibration ``glm(y ~ logit(p), binomial)``: ``(a, b, converged)``.

    NaN coefficients when it cannot be fitted (one outcome class, constant risk).
    """
    from radval.models.logistic import fit_logistic
    from radval.stats._kernels import logit

    yy = np.asarray(y, dtype=np.int64)
    lp = logit(np.clip(np.asarray(prob, dtype=float), 1e-10, 1 - 1e-10))
    if yy.size < 3 or yy.min() == yy.max() or not np.ptp(lp) > 0:
        return math.nan, math.nan, False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        fit = fit_logistic(lp.reshape(-1, 1), yy)
    return float(fit.coef[0]), float(fit.coef[1]), bool(fit.converged)


def apply_recalibration(prob: npt.ArrayLike, intercept: float, slope: float) -> FloatArray:
    """:math:`\\operatorname{expit}\\{a + b\\,\\operatorname{logit}(p)\\}`."""
    from radval.stats._kernels import expit, logit

    p = np.clip(np.asarray(prob, dtype=float), 1e-10, 1 - 1e-10)
    return np.asarray(expit(intercept + slope * logit(p)), dtype=np.float64)


def score_recalibration(predictions: pd.DataFrame, *, development: str | None,
                        score_models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The frozen recalibration of each score model, fitted on the development cohort.

    Returns
    -------
    dict
        Model -> ``{"intercept", "slope", "converged"}`` (models absent from the
        development cohort are left out).
    """
    out: dict[str, dict[str, Any]] = {}
    if development is None:
        return out
    dev = predictions[predictions["cohort"] == development]
    for model in score_models:
        pm = dev[dev["model"] == model]
        if pm.empty:
            continue
        a, b, ok = fit_recalibration(pm["y_true"].to_numpy(dtype=np.int64),
                                     pm["probability"].to_numpy(dtype=float))
        out[model] = {"intercept": a, "slope": b, "converged": ok}
    return out


def risk_for_calibration(model: str, prob: FloatArray, recal: Mapping[str, Mapping[str, Any]],
                         raw_score_models: Sequence[str] = ()
                         ) -> tuple[FloatArray, str, float, float, str | None]:
    """The risk whose calibration is assessed, its ``risk_scale`` label, the frozen
    recalibration coefficients and why it is undefined (or None)."""
    if model in recal:
        r = recal[model]
        a, b = float(r["intercept"]), float(r["slope"])
        if not (r.get("converged") and math.isfinite(a) and math.isfinite(b)):
            return prob, "recalibrated_score", a, b, (
                "the logistic recalibration of the score on the development cohort could "
                "not be fitted")
        return apply_recalibration(prob, a, b), "recalibrated_score", a, b, None
    if model in raw_score_models:
        return prob, "raw_score", math.nan, math.nan, None
    return prob, "model", math.nan, math.nan, None


# --------------------------------------------------------------- flexible curves
def undefined_reason(y: IntArray) -> str | None:
    """Why a calibration or utility measure is undefined for outcomes ``y`` (no patients, or
    one outcome class), else None; the one wording of the calibration and utility tables."""
    if y.size == 0:
        return "no patients"
    n1 = int(y.sum())
    if n1 == 0:
        return f"only one outcome class: no events among {y.size} patients"
    if n1 == y.size:
        return f"only one outcome class: all {y.size} patients have the event"
    return None


def _curve(y: IntArray, p: FloatArray, *, method: str, band: int, level: float,
           rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One flexible curve with its band; the summary row (ICI...) or why undefined."""
    from radval.stats._calibration_curve import calibration_curve, r_seq

    empty = pd.DataFrame(columns=["method", "predicted", "observed", "ci_low", "ci_high",
                                  "n_resamples"])
    summary: dict[str, Any] = {"curve_method": method, "curve_ici": math.nan,
                               "curve_e50": math.nan, "curve_e90": math.nan,
                               "curve_emax": math.nan, "curve_n_resamples": 0,
                               "curve_undefined_reason": undefined_reason(y)}
    if summary["curve_undefined_reason"] is not None:
        return empty, summary
    if not np.ptp(p) > 0:
        summary["curve_undefined_reason"] = "every patient has the same predicted risk"
        return empty, summary
    pp = np.clip(p, 1e-10, 1 - 1e-10) if method == "spline" else p
    grid = r_seq(float(pp.min()), float(pp.max()), GRID_POINTS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            res = calibration_curve(y, pp, method=method, n_bootstrap=band,
                                    confidence_level=level, rng=rng, grid=grid)
    except (DataError, InputError, np.linalg.LinAlgError) as exc:
        summary["curve_undefined_reason"] = f"calibration curve undefined: {exc}"
        return empty, summary
    curve = res.to_frame()
    if "n" in curve.columns:  # grouped: patients per group instead of resamples
        curve = curve.rename(columns={"n": "n_resamples"})
    summary.update(curve_ici=res.ici, curve_e50=res.e50, curve_e90=res.e90,
                   curve_emax=res.emax, curve_n_resamples=res.n_bootstrap - res.n_failed)
    return curve[["method", "predicted", "observed", "ci_low", "ci_high", "n_resamples"]], \
        summary


def calibration_curves(y: IntArray, p: FloatArray, *, key: Mapping[str, Any], method: str,
                       band: int, level: float, rng: np.random.Generator
                       ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The flexible curve of one cohort x model (records with ``key``) and its summary."""
    curve, summary = _curve(y, p, method=method, band=band, level=level, rng=rng)
    return curve.assign(**key) if not curve.empty else curve, {**key, **summary}


# --------------------------------------------------------------------- subgroups
def _level_calibration(y: IntArray, p: FloatArray) -> dict[str, Any]:
    from radval.stats._calibration import calibration

    row: dict[str, Any] = {"n": int(y.size), "events": int(y.sum()), "citl": math.nan,
                           "citl_se": math.nan, "slope": math.nan, "slope_se": math.nan,
                           "o_e": math.nan, "log_o_e": math.nan, "log_o_e_se": math.nan,
                           "ici": math.nan, "undefined_reason": undefined_reason(y)}
    if row["undefined_reason"] is not None:
        return row
    o, e = float(y.sum()), float(p.sum())
    if e > 0:
        row.update(o_e=o / e, log_o_e=math.log(o / e),
                   log_o_e_se=math.sqrt((1.0 - o / y.size) / o))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            cal = calibration(y, np.clip(p, 1e-10, 1 - 1e-10))
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        row["undefined_reason"] = f"calibration undefined: {exc}"
        return row
    row["ici"] = float(cal.ici)
    if cal.converged:
        row.update(citl=float(cal.citl), citl_se=float(cal.citl_se), slope=float(cal.slope),
                   slope_se=float(cal.slope_se))
    else:
        row["undefined_reason"] = ("calibration slope and CITL undefined: the predictions "
                                   "separate the outcomes")
    return row


def heterogeneity_rows(rows: Sequence[Mapping[str, Any]], key: Mapping[str, Any],
                       measures: Sequence[tuple[str, str, str]],
                       threshold: float | None = None) -> list[dict[str, Any]]:
    """Cochran's Q of each ``(measure, estimate column, SE column)`` across ``rows`` (the
    levels of one subgroup); undefined when a level lacks the estimate or its SE."""
    out = []
    for measure, est, se in measures:
        a = np.array([r.get(est, math.nan) for r in rows], dtype=float)
        s = np.array([r.get(se, math.nan) for r in rows], dtype=float)
        rec: dict[str, Any] = {**key, "measure": measure, "threshold": threshold,
                               "k": int(len(rows)), "statistic": math.nan, "df": math.nan,
                               "p_value": math.nan, "pooled": math.nan,
                               "undefined_reason": None}
        if len(rows) < 2:
            rec["undefined_reason"] = "fewer than two subgroup levels"
        elif not (np.isfinite(a).all() and np.isfinite(s).all() and np.all(s > 0)):
            bad = [str(r.get("level")) for r, ai, si in zip(rows, a, s, strict=True)
                   if not (math.isfinite(ai) and math.isfinite(si) and si > 0)]
            rec["undefined_reason"] = (f"{measure} or its standard error undefined in level(s) "
                                       f"{', '.join(bad)} (one outcome class, too few events "
                                       "or nobody above the threshold)")
        else:
            q, df, p, pooled = cochran_q(a, s**2)
            rec.update(statistic=q, df=df, p_value=p, pooled=pooled)
        out.append(rec)
    return out


def subgroup_calibration(y: IntArray, p: FloatArray, ids: npt.NDArray[Any], *,
                         key: Mapping[str, Any], risk_scale: str,
                         subgroup_ids: Mapping[str, Mapping[str, set[str]]], method: str,
                         band: int, level: float, seed: int, curves: bool = True
                         ) -> tuple[list[dict[str, Any]], list[pd.DataFrame],
                                    list[dict[str, Any]]]:
    """Calibration of one cohort x model in every subgroup level, the level curves (with
    ``curves``) and the heterogeneity tests (CITL, slope, log O/E)."""
    from radval._rng import stable_rng

    rows: list[dict[str, Any]] = []
    out_curves: list[pd.DataFrame] = []
    het: list[dict[str, Any]] = []
    for name, levels in subgroup_ids.items():
        level_rows = []
        for lvl, members in levels.items():
            m = np.isin(ids, list(members))
            ys, ps = y[m], p[m]
            row = {**key, "subgroup": name, "level": lvl, "risk_scale": risk_scale,
                   **_level_calibration(ys, ps)}
            if curves:
                curve, _summary = _curve(ys, ps, method=method, band=band, level=level,
                                         rng=stable_rng(seed, "calband", key["cohort"],
                                                        key["model"], name, lvl))
                if not curve.empty:
                    out_curves.append(curve.assign(**key, subgroup=name, level=lvl))
            rows.append(row)
            level_rows.append(row)
        het += heterogeneity_rows(level_rows, {**key, "subgroup": name},
                                  [("citl", "citl", "citl_se"),
                                   ("slope", "slope", "slope_se"),
                                   ("log_o_e", "log_o_e", "log_o_e_se")])
    return rows, out_curves, het


# ----------------------------------------------------------- internal validation
@dataclass(frozen=True)
class CurveSpec:
    """What every optimism resample evaluates: the smoother, the common grids (one per
    model, fixed from the apparent risks) and the decision-curve thresholds.

    Attributes
    ----------
    method : str
        Smoother of the calibration curves (``lowess`` in the workflow, as
        ``rms::calibrate``; ``grouped`` is replaced by ``lowess``: a corrected curve
        needs a curve on a fixed grid).
    thresholds : ndarray
        Thresholds of the decision curves.
    grids : dict
        Model -> grid of predicted risks.
    score_models : tuple of str
        Models recalibrated (on each resample's training data) before their curves.
    """

    method: str
    thresholds: FloatArray = field(repr=False)
    grids: dict[str, FloatArray] = field(repr=False)
    score_models: tuple[str, ...] = ()


def _corrected_grid(p: FloatArray) -> FloatArray:
    from radval.stats._calibration_curve import r_seq

    s = np.sort(p)
    # rms::calibrate: seq(p[5], p[n - 4], length = 50) of the sorted risks
    lo, hi = (s[4], s[-5]) if s.size >= 10 else (s[0], s[-1])
    if not hi > lo:
        lo, hi = s[0], s[-1]
    return r_seq(float(lo), float(hi), CORRECTED_POINTS)


def curve_spec(*, method: str, thresholds: Sequence[float], y: IntArray,
               apparent: Mapping[str, FloatArray], score_models: Sequence[str] = SCORE_MODELS
               ) -> CurveSpec:
    """The common grids of the resamples, from the apparent development risks (score
    models after their development recalibration)."""
    grids = {}
    for model, prob in apparent.items():
        p = np.asarray(prob, dtype=float)
        if model in score_models:
            a, b, ok = fit_recalibration(y, p)
            if not ok:
                continue
            p = apply_recalibration(p, a, b)
        if np.ptp(p) > 0:
            grids[model] = _corrected_grid(p)
    smoother = "lowess" if method == "grouped" else method
    return CurveSpec(method=smoother, thresholds=np.asarray(thresholds, dtype=float),
                     grids=grids, score_models=tuple(m for m in score_models if m in apparent))


def _curve_on(y: IntArray, p: FloatArray, grid: FloatArray, method: str) -> FloatArray:
    """The curve of :func:`radval.stats.calibration_curve` (default smoother settings) at
    the grid only: its smoother called directly, as every resample needs it twice per
    model (no band, no summary, no table)."""
    from radval.stats._calibration_curve import _smoother

    if y.min() == y.max() or not np.ptp(p) > 0:
        return np.full(grid.size, np.nan)
    pp = np.clip(p, 1e-10, 1 - 1e-10) if method == "spline" else np.asarray(p, dtype=float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            out = _smoother(method, 0.75, 2, 5)(pp, np.asarray(y, dtype=np.float64), grid)
    except (DataError, InputError, np.linalg.LinAlgError, ValueError):
        return np.full(grid.size, np.nan)
    return np.full(grid.size, np.nan) if out is None else np.asarray(out, dtype=float)


def _net_benefit(y: IntArray, p: FloatArray, thresholds: FloatArray) -> FloatArray:
    from radval.stats._decision_curve import _dca_risk

    treated = _dca_risk(np.asarray(p, dtype=float))[:, None] >= thresholds[None, :]
    yb = y.astype(bool)
    odds = thresholds / (1.0 - thresholds)
    return np.asarray((treated[yb].sum(axis=0) - treated[~yb].sum(axis=0) * odds) / y.size,
                      dtype=np.float64)


def resample_curves(spec: CurveSpec, model: str, y_train: IntArray, p_train: FloatArray,
                    y_test: IntArray, p_test: FloatArray) -> dict[str, FloatArray]:
    """Calibration curves (on the model's grid) and net benefit (at the thresholds) of one
    resample's model in its training data and in the original cohort.

    A score model is recalibrated on the training data first (the resample's own
    development), as the apparent one is on the development cohort.  Net benefit uses
    the model's probability as the decision curves do.
    """
    out = {"nb_train": _net_benefit(y_train, p_train, spec.thresholds),
           "nb_test": _net_benefit(y_test, p_test, spec.thresholds)}
    grid = spec.grids.get(model)
    if grid is None:
        return out
    ct, cs = np.asarray(p_train, dtype=float), np.asarray(p_test, dtype=float)
    if model in spec.score_models:
        a, b, ok = fit_recalibration(y_train, ct)
        if not ok:
            out["cal_train"] = out["cal_test"] = np.full(grid.size, np.nan)
            return out
        ct, cs = apply_recalibration(ct, a, b), apply_recalibration(cs, a, b)
    out["cal_train"] = _curve_on(y_train, ct, grid, spec.method)
    out["cal_test"] = _curve_on(y_test, cs, grid, spec.method)
    return out


def corrected_tables(spec: CurveSpec, y: IntArray, apparent: Mapping[str, FloatArray],
                     results: Sequence[Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """Bias-corrected calibration curves, their error summaries and optimism-corrected
    decision curves from the resamples' ``curves`` records.

    Returns
    -------
    dict
        ``calibration`` (``model, risk_scale, method, predicted, apparent, optimism,
        corrected, n_resamples``), ``summary`` (``model, risk_scale, method,
        mean_abs_error, q90_abs_error, mean_squared_error, n_resamples, n_used``) and
        ``net_benefit`` (``model, threshold, apparent, optimism, corrected,
        n_resamples``).
    """
    from radval.stats._calibration_curve import optimism_corrected_curve
    from radval.stats._decision_curve import optimism_corrected_net_benefit

    cal_rows: list[pd.DataFrame] = []
    sum_rows: list[dict[str, Any]] = []
    nb_rows: list[pd.DataFrame] = []
    for model, prob in apparent.items():
        recs = [r["curves"][model] for r in results if model in r.get("curves", {})]
        if not recs:
            continue
        p_raw = np.asarray(prob, dtype=float)
        nb = optimism_corrected_net_benefit(
            spec.thresholds, _net_benefit(y, p_raw, spec.thresholds),
            np.vstack([r["nb_train"] for r in recs]), np.vstack([r["nb_test"] for r in recs]))
        nb_rows.append(nb.assign(model=model))
        grid = spec.grids.get(model)
        cal = [r for r in recs if "cal_train" in r]
        if grid is None or not cal:
            continue
        scale = "model"
        p_app = p_raw
        if model in spec.score_models:
            a, b, _ok = fit_recalibration(y, p_raw)
            p_app, scale = apply_recalibration(p_raw, a, b), "recalibrated_score"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            res = optimism_corrected_curve(
                p_app, grid, _curve_on(y, p_app, grid, spec.method),
                np.vstack([r["cal_train"] for r in cal]),
                np.vstack([r["cal_test"] for r in cal]))
        cal_rows.append(res.to_frame().assign(model=model, risk_scale=scale,
                                              method=spec.method))
        sum_rows.append({"model": model, "risk_scale": scale, "method": spec.method,
                         "mean_abs_error": res.mean_abs_error,
                         "q90_abs_error": res.q90_abs_error,
                         "mean_squared_error": res.mean_squared_error,
                         "n_resamples": res.n_resamples, "n_used": res.n_used})
    cal_cols = ["model", "risk_scale", "method", "predicted", "apparent", "optimism",
                "corrected", "n_resamples"]
    nb_cols = ["model", "threshold", "apparent", "optimism", "corrected", "n_resamples"]
    return {
        "calibration": pd.concat(cal_rows, ignore_index=True)[cal_cols] if cal_rows
        else pd.DataFrame(columns=cal_cols),
        "summary": pd.DataFrame(sum_rows, columns=["model", "risk_scale", "method",
                                                   "mean_abs_error", "q90_abs_error",
                                                   "mean_squared_error", "n_resamples",
                                                   "n_used"]),
        "net_benefit": pd.concat(nb_rows, ignore_index=True)[nb_cols] if nb_rows
        else pd.DataFrame(columns=nb_cols),
    }


def evaluation_options(study: Any, cutoffs: Mapping[str, Any]) -> dict[str, Any]:
    """The calibration and utility keyword arguments of
    :func:`radval.workflow._evaluation.evaluate_predictions` from a study's ``evaluation``
    block (the signature model is ``combined``, else the first score model fitted)."""
    ev = study.evaluation
    signature = "combined" if "combined" in cutoffs else next(
        (m for m in SCORE_MODELS if m in cutoffs), None)
    return {"calibration_method": ev.calibration_curve,
            "calibration_band": ev.calibration_band,
            "net_benefit_thresholds": list(ev.net_benefit_thresholds),
            "net_benefit_pairs": ev.net_benefit_comparisons,
            "signature_model": signature,
            "net_benefit_bootstrap": ev.net_benefit_bootstrap,
            "partial_auc": ev.partial_auc}


def recalibrated_indexes(y_fit: IntArray, p_fit: FloatArray, y_eval: IntArray,
                         p_eval: FloatArray, fit_indexes: Mapping[str, float],
                         eval_indexes: Mapping[str, float]
                         ) -> tuple[dict[str, float], dict[str, float]]:
    """Optimism indexes of a score model after its recalibration.

    The recalibration ``expit(a + b logit p)`` is fitted on ``(y_fit, p_fit)`` (the
    development cohort, or a resample's training data) and applied to both; the
    calibration intercept, slope and Brier score are then those of the recalibrated
    risks (in the fitting data intercept 0 and slope 1 by construction, so the optimism
    is the shrinkage the score needs), while the AUC stays that of the score.  NaN when
    the recalibration cannot be fitted.
    """
    a, b, ok = fit_recalibration(y_fit, p_fit)
    out = []
    for y, p, base in ((y_fit, p_fit, fit_indexes), (y_eval, p_eval, eval_indexes)):
        rec = dict(base)
        rec.update(slope=math.nan, intercept=math.nan, brier=math.nan)
        if ok and math.isfinite(a) and math.isfinite(b):
            # the same indexes as radval.workflow._internal.performance_indexes
            pc = np.clip(apply_recalibration(p, a, b), 1e-10, 1 - 1e-10)
            rec["brier"] = float(np.mean((pc - np.asarray(y, dtype=float)) ** 2))
            ic, sc, conv = fit_recalibration(y, pc)
            if conv:
                rec.update(intercept=ic, slope=sc)
        out.append(rec)
    return out[0], out[1]
