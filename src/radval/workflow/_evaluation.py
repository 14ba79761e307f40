"""Evaluation of every cohort x model (x subgroup): the tables of ``results.json``.

Input is the predictions table (``patient_id, cohort, model, score, probability,
y_true``) plus the frozen cutoffs; output is a dict of tidy tables whose columns
are fixed by ``data-dictionary/results.yaml``:

* ``performance``: AUC with DeLong SE/CI (pROC ``ci.auc(method="delong")``) and
  stratified percentile bootstrap CI; one row per cohort x model x subgroup level
  (``subgroup="all"`` for the whole cohort);
* ``threshold_metrics``: sensitivity, specificity, PPV, NPV, accuracy with Wilson
  CIs at the cutoff frozen on the development cohort (positive iff
  ``probability >= cutoff``);
* ``comparisons``: pairwise DeLong tests within each cohort, Holm-adjusted;
* ``calibration``: intercept, slope, CITL, Brier, ICI, E50/E90/Emax, Spiegelhalter,
  O/E and Hosmer-Lemeshow (``df = g - 2`` in the development cohort, ``df = g`` in
  validation cohorts, where no parameter is estimated);
* ``curves``: ROC (+ pointwise bootstrap band of the TPR at a fixed FPR grid),
  calibration (grouped and smoothed), decision curves;
* ``threshold_metrics`` also has the rows ``lr_positive``, ``lr_negative`` and ``dor``
  (epiR ``epi.tests`` intervals; no numerator or denominator);
* ``subgroups`` and ``heterogeneity``: AUC per subgroup level and a test of equal
  AUCs across the (independent) levels,

  .. math:: Q = \\sum_i w_i(\\hat A_i - \\bar A)^2,\\quad
            w_i = 1/\\widehat{\\mathrm{Var}}_{DeLong}(\\hat A_i),\\quad
            \\bar A = \\sum_i w_i \\hat A_i / \\sum_i w_i,

  referred to :math:`\\chi^2_{k-1}` (fixed-effect Cochran Q on DeLong variances;
  for two levels it equals the squared z of the unpaired DeLong-variance test).

Calibration of the score models is assessed after their logistic recalibration frozen
on the development cohort, flexible calibration curves with bootstrap bands, calibration
and net benefit per subgroup level with their heterogeneity tests, differences in net
benefit between models and the partial AUC come from :mod:`radval.workflow._calibration`
and :mod:`radval.workflow._utility` (``EvaluationTables.extra_results``).

Undefined metrics (one outcome class, too few events) are kept as rows with
``undefined_reason`` and NaN values; the evaluation goes on.
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

from radval._results import Result
from radval._rng import stable_rng
from radval.exceptions import InputError, RadvalWarning
from radval.workflow._calibration import (
    BAND_COLUMNS,
    HET_COLUMNS,
    SUBGROUP_CAL_COLUMNS,
    SUBGROUP_CURVE_COLUMNS,
)
from radval.workflow._utility import DIFF_COLUMNS, NB_COLUMNS, PAUC_COLUMNS

__all__ = [
    "PERFORMANCE_COLUMNS",
    "THRESHOLD_COLUMNS",
    "EvaluationTables",
    "HeterogeneityResult",
    "evaluate_predictions",
    "heterogeneity_test",
    "roc_band",
]

PERFORMANCE_COLUMNS = ["cohort", "model", "subgroup", "n", "events", "auc", "auc_se",
                       "auc_ci_low", "auc_ci_high", "auc_boot_ci_low", "auc_boot_ci_high",
                       "cutoff", "undefined_reason"]
THRESHOLD_COLUMNS = ["cohort", "model", "subgroup", "metric", "estimate", "ci_low", "ci_high",
                     "numerator", "denominator", "undefined_reason"]
CALIBRATION_COLUMNS = ["cohort", "model", "intercept", "slope", "citl", "brier", "emax", "e90",
                       "eavg", "ici", "spiegelhalter_z", "spiegelhalter_p", "o_e_ratio",
                       "hl_statistic", "hl_df", "hl_p_value", "undefined_reason"]
#: Added by the calibration workflow (radval.workflow._calibration).
CALIBRATION_EXTRA = ["risk_scale", "recalibration_intercept", "recalibration_slope",
                     "curve_method", "curve_ici", "curve_e50", "curve_e90", "curve_emax",
                     "curve_n_resamples", "curve_undefined_reason"]
COMPARISON_COLUMNS = ["cohort", "model_a", "model_b", "auc_a", "auc_b", "difference",
                      "statistic", "p_value", "p_adjusted", "ci_low", "ci_high",
                      "undefined_reason"]
SUBGROUP_COLUMNS = ["cohort", "model", "subgroup", "level", "n", "events", "auc", "ci_low",
                    "ci_high", "undefined_reason"]
HETEROGENEITY_COLUMNS = ["cohort", "model", "subgroup", "statistic", "df", "p_value",
                         "undefined_reason"]
FPR_GRID = np.round(np.linspace(0.0, 1.0, 51), 10)
#: Rows of the threshold-metrics table per cohort x model x subgroup.
RATIO_METRICS = ("lr_positive", "lr_negative", "dor")
THRESHOLD_METRICS = ("sensitivity", "specificity", "ppv", "npv", "accuracy", *RATIO_METRICS)




def _undefined(y: npt.NDArray[np.int64]) -> str | None:
    n1 = int(y.sum())
    n0 = int(y.size - n1)
    if y.size == 0:
        return "no patients"
    if n1 == 0:
        return f"only one outcome class: no events among {y.size} patients"
    if n0 == 0:
        return f"only one outcome class: all {y.size} patients have the event"
    return None


@dataclass(frozen=True, kw_only=True)
class HeterogeneityResult(Result):
    """Cochran's Q test of equal AUCs across independent subgroups.

    Attributes
    ----------
    statistic : float
        Q.
    df : int
        k - 1.
    p_value : float
        Upper tail of the chi-square distribution.
    pooled : float
        Inverse-variance weighted AUC.
    """

    statistic: float
    df: int
    p_value: float
    pooled: float


@dataclass(frozen=True, kw_only=True)
class EvaluationTables(Result):
    """Every cohort x model (x subgroup) evaluation: the tables of ``results.json``.

    Attributes
    ----------
    performance, threshold_metrics, comparisons, calibration, subgroups, heterogeneity :
        DataFrame
        Tidy tables, columns fixed by :class:`radval.contracts.ResultsFile`.
    curves : dict of str to DataFrame
        ``roc, roc_band, calibration_grouped, calibration_smooth, decision,
        calibration_band, calibration_subgroup``.
    subgroup_calibration, subgroup_net_benefit, subgroup_heterogeneity,
    net_benefit_difference, partial_auc : DataFrame
        Calibration and net benefit per subgroup level, Cochran's Q of each measure
        across the levels, differences in net benefit between model pairs, partial AUC.
    """

    performance: pd.DataFrame = field(repr=False, compare=False)
    threshold_metrics: pd.DataFrame = field(repr=False, compare=False)
    comparisons: pd.DataFrame = field(repr=False, compare=False)
    calibration: pd.DataFrame = field(repr=False, compare=False)
    subgroups: pd.DataFrame = field(repr=False, compare=False)
    heterogeneity: pd.DataFrame = field(repr=False, compare=False)
    curves: dict[str, pd.DataFrame] = field(repr=False, compare=False)
    subgroup_calibration: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False,
                                               compare=False)
    subgroup_net_benefit: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False,
                                               compare=False)
    subgroup_heterogeneity: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False,
                                                 compare=False)
    net_benefit_difference: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False,
                                                 compare=False)
    partial_auc: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The performance table (AUC of every cohort x model x subgroup)."""
        return self.performance

    def extra_results(self) -> dict[str, pd.DataFrame]:
        """The calibration and utility tables of ``results.json`` beyond the core ones."""
        out = {"subgroup_calibration": self.subgroup_calibration,
               "subgroup_net_benefit": self.subgroup_net_benefit,
               "subgroup_heterogeneity": self.subgroup_heterogeneity,
               "net_benefit_difference": self.net_benefit_difference}
        if self.partial_auc is not None:
            out["partial_auc"] = self.partial_auc
        return out


def heterogeneity_test(aucs: Sequence[float], variances: Sequence[float]
                       ) -> HeterogeneityResult:
    """Cochran's Q test of equal AUCs across independent subgroups (DeLong variances).

    Parameters
    ----------
    aucs, variances : sequence of float
        AUC and its DeLong variance per subgroup level (k >= 2).

    Returns
    -------
    HeterogeneityResult
    """
    from radval.workflow._calibration import cochran_q

    a = np.asarray(aucs, dtype=float)
    v = np.asarray(variances, dtype=float)
    if a.size < 2 or a.size != v.size:
        raise InputError("heterogeneity_test: needs AUCs and variances of at least two "
                         "subgroups (same length).")
    if not (np.isfinite(a).all() and np.isfinite(v).all()) or np.any(v <= 0):
        raise InputError("heterogeneity_test: AUCs must be finite and variances positive.")
    q, df, p, pooled = cochran_q(a, v)
    return HeterogeneityResult(statistic=q, df=df, p_value=p, pooled=pooled)


def roc_band(y: npt.NDArray[np.int64], prob: npt.NDArray[np.float64], *, n_resamples: int,
             rng: np.random.Generator, confidence_level: float = 0.95,
             fpr_grid: npt.NDArray[np.float64] = FPR_GRID) -> pd.DataFrame:
    """Pointwise stratified-bootstrap band of the ROC curve's TPR on a fixed FPR grid.

    In each resample (cases and controls resampled separately) the empirical ROC
    curve is computed and its TPR read at each grid FPR (step function: the largest
    TPR reachable with FPR <= grid value, as pROC ``ci.se`` at given specificities);
    the band is the percentile interval.
    """
    pos = prob[y == 1]
    neg = prob[y == 0]
    if pos.size < 2 or neg.size < 2 or n_resamples < 10:
        return pd.DataFrame(columns=["fpr", "tpr_low", "tpr_high"])
    b = int(n_resamples)
    ip = rng.integers(0, pos.size, size=(b, pos.size))
    ineg = rng.integers(0, neg.size, size=(b, neg.size))
    out = np.empty((b, fpr_grid.size))
    # sensitivity at the threshold giving specificity >= 1 - fpr:
    # threshold t_k = (k-th largest control) ; tpr = P(pos > t) with ties counted as positive
    for r in range(b):
        pr = np.sort(pos[ip[r]])
        nr = np.sort(neg[ineg[r]])[::-1]
        m = nr.size
        # number of controls allowed above threshold = floor(fpr * m)
        k = np.floor(fpr_grid * m + 1e-12).astype(int)
        tpr = np.empty(fpr_grid.size)
        for j, kk in enumerate(k):
            if kk >= m:
                tpr[j] = 1.0
                continue
            thr = nr[kk]  # threshold strictly above this control
            tpr[j] = (pr.size - np.searchsorted(pr, thr, side="right")) / pr.size
        out[r] = tpr
    alpha = 1.0 - confidence_level
    lo = np.quantile(out, alpha / 2, axis=0)
    hi = np.quantile(out, 1 - alpha / 2, axis=0)
    return pd.DataFrame({"fpr": fpr_grid, "tpr_low": lo, "tpr_high": hi})


def _perf_row(y: npt.NDArray[np.int64], prob: npt.NDArray[np.float64], *, n_boot: int,
              rng: np.random.Generator, level: float) -> dict[str, Any]:
    from radval import stats

    row: dict[str, Any] = {"n": int(y.size), "events": int(y.sum()), "auc": math.nan,
                           "auc_se": math.nan, "auc_variance": math.nan,
                           "auc_ci_low": math.nan, "auc_ci_high": math.nan,
                           "auc_boot_ci_low": math.nan, "auc_boot_ci_high": math.nan,
                           "undefined_reason": _undefined(y)}
    if row["undefined_reason"] is not None:
        return row
    n1 = int(y.sum())
    n0 = int(y.size - n1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        row["auc"] = float(stats.roc_auc(y, prob))
        if min(n0, n1) < 2:
            row["undefined_reason"] = (f"too few patients in one outcome class for a CI "
                                       f"({n1} events, {n0} non-events)")
            return row
        d = stats.delong_ci(y, prob, confidence_level=level)
        row.update(auc_se=float(d.se), auc_variance=float(d.variance),
                   auc_ci_low=float(d.ci_low), auc_ci_high=float(d.ci_high))
        if n_boot > 0:
            bt = stats.bootstrap_auc(y, prob, n_resamples=n_boot, confidence_level=level,
                                     stratified=True, rng=rng)
            row.update(auc_boot_ci_low=float(bt.ci_low), auc_boot_ci_high=float(bt.ci_high))
    return row


def _threshold_rows(y: npt.NDArray[np.int64], prob: npt.NDArray[np.float64],
                    cutoff: float, level: float) -> list[dict[str, Any]]:
    from radval import stats

    if not math.isfinite(cutoff):
        return [{"metric": m, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                 "numerator": None, "denominator": None,
                 "undefined_reason": "no cutoff (undefined in the development cohort)"}
                for m in THRESHOLD_METRICS]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            tm = stats.threshold_metrics(y, prob, threshold=cutoff,
                                         confidence_level=level).to_frame()
    except InputError as exc:
        return [{"metric": m, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                 "numerator": None, "denominator": None, "undefined_reason": str(exc)}
                for m in THRESHOLD_METRICS]
    rows = []
    for rec in tm.to_dict(orient="records"):
        den = rec.get("denominator")
        reason = None
        if den is not None and not (isinstance(den, float) and math.isnan(den)) and den == 0:
            reason = "zero denominator"
        if rec["metric"] in RATIO_METRICS:
            # ratios have no counts of their own; undefined when a cell makes them 0/0 or x/0
            den = None
            est = rec["estimate"]
            if est is None or not math.isfinite(float(est)):
                reason = "undefined: a zero cell of the 2x2 table"
            # an infinite ratio or limit (a zero cell) is not a number results.json can hold
            rec = {**rec, **{k: math.nan for k in ("estimate", "ci_low", "ci_high")
                             if rec[k] is None or not math.isfinite(float(rec[k]))}}
        rows.append({"metric": rec["metric"], "estimate": rec["estimate"],
                     "ci_low": rec["ci_low"], "ci_high": rec["ci_high"],
                     "numerator": rec.get("numerator"), "denominator": den,
                     "undefined_reason": reason})
    return rows


def _calibration(y: npt.NDArray[np.int64], prob: npt.NDArray[np.float64], *, hl_groups: int,
                 development: bool, level: float
                 ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    # imported from the modules: radval.stats._calibration is also a submodule name
    from radval.stats._calibration import calibration, grouped_calibration, hosmer_lemeshow

    row: dict[str, Any] = dict.fromkeys(CALIBRATION_COLUMNS[2:], math.nan)
    row["undefined_reason"] = _undefined(y)
    empty_g = pd.DataFrame(columns=["group", "mean_predicted", "observed", "ci_low",
                                    "ci_high", "n"])
    empty_s = pd.DataFrame(columns=["predicted", "observed"])
    if row["undefined_reason"] is not None:
        return row, empty_g, empty_s
    p = np.clip(prob, 1e-10, 1 - 1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        try:
            cal = calibration(y, p, n_groups=hl_groups, confidence_level=level)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            # InputError is a ValueError; other ValueErrors come from degenerate fits
            # (e.g. perfectly separated development predictions)
            row["undefined_reason"] = f"calibration undefined: {exc}"
            return row, grouped_calibration(y.astype(float), p, n_groups=hl_groups,
                                            confidence_level=level), empty_s
        for key in ("intercept", "slope", "citl", "brier", "emax", "e90", "eavg", "ici",
                    "spiegelhalter_z", "spiegelhalter_p", "o_e_ratio"):
            row[key] = float(getattr(cal, key))
        if not cal.converged:
            # separation: no maximum-likelihood intercept or slope exists; the values where
            # the iteration stopped are not estimates and are not reported as such
            row.update(intercept=math.nan, slope=math.nan, citl=math.nan)
            row["undefined_reason"] = ("calibration intercept, slope and CITL undefined: the "
                                       "predictions separate the outcomes (no maximum-"
                                       "likelihood recalibration exists)")
        df = hl_groups - 2 if development else hl_groups
        try:
            hl = hosmer_lemeshow(y, p, n_groups=hl_groups, df=df)
            row.update(hl_statistic=float(hl.statistic), hl_df=float(hl.df),
                       hl_p_value=float(hl.p_value))
        except (ValueError, ArithmeticError) as exc:
            row["undefined_reason"] = f"Hosmer-Lemeshow: {exc}"
    return row, cal.grouped.copy(), cal.smooth.copy()


def evaluate_predictions(predictions: pd.DataFrame, *, cutoffs: Mapping[str, float],
                         roles: Mapping[str, str],
                         subgroup_ids: Mapping[str, Mapping[str, set[str]]] | None = None,
                         n_bootstrap: int = 2000, confidence_level: float = 0.95,
                         dca_thresholds: Sequence[float] | None = None, hl_groups: int = 10,
                         roc_band_resamples: int = 200, seed: int = 0,
                         calibration_method: str = "loess", calibration_band: int = 500,
                         score_models: Sequence[str] = ("radiomics", "deep"),
                         raw_score_models: Sequence[str] = (),
                         net_benefit_thresholds: Sequence[float] = (0.1, 0.2, 0.3),
                         net_benefit_pairs: Sequence[Sequence[str]] | None = None,
                         signature_model: str | None = None, net_benefit_bootstrap: int = 1000,
                         partial_auc: Any = None) -> EvaluationTables:
    """Evaluate every cohort x model (x subgroup).

    Parameters
    ----------
    predictions : DataFrame
        ``patient_id, cohort, model, score, probability, y_true``.
    cutoffs : mapping
        Model -> probability cutoff frozen on the development cohort.
    roles : mapping
        Cohort -> role (the development cohort gets HL ``df = g - 2``).
    subgroup_ids : mapping, optional
        Subgroup name -> level label -> set of patient IDs in that level.
    n_bootstrap : int
        Resamples of the bootstrap AUC CI (0 skips).
    confidence_level : float
        Level of every interval and band computed here (DeLong and bootstrap AUC, Wilson
        intervals at the cut-off, risk-group calibration, DeLong differences, ROC and
        calibration bands, net benefit, partial AUC).
    dca_thresholds : sequence of float, optional
        Thresholds of the decision curves.
    seed : int
        Seeds every bootstrap through :func:`stable_rng` (cohort, model, subgroup keys).
    calibration_method, calibration_band : str, int
        Smoother and bootstrap resamples of the flexible calibration curves.
    score_models : sequence of str
        Models whose probability is expit(a shrunken score): their calibration is
        assessed after a logistic recalibration fitted on the development cohort
        (``risk_scale = "recalibrated_score"``).
    raw_score_models : sequence of str
        Score models that cannot be recalibrated here (a site's single-score
        signature): calibrated as they are, labelled ``risk_scale = "raw_score"``.
    net_benefit_thresholds : sequence of float
        Thresholds of the per-subgroup net benefit.
    net_benefit_pairs : sequence of (str, str), optional
        Model pairs of the net-benefit differences (``"signature"`` =
        ``signature_model``); default :func:`radval.workflow._utility.default_nb_pairs`.
    signature_model : str, optional
        The signature's model (default ``combined``, else the first score model).
    net_benefit_bootstrap : int
        Resamples of the net-benefit difference CIs.
    partial_auc : PartialAucConfig, optional
        Range of the partial AUC (none without it).

    Returns
    -------
    EvaluationTables
    """
    from radval import stats
    from radval._rng import stable_rng as _rng
    from radval.stats._decision_curve import decision_curve
    from radval.workflow._calibration import (
        calibration_curves,
        risk_for_calibration,
        score_recalibration,
        subgroup_calibration,
    )
    from radval.workflow._utility import (
        net_benefit_differences,
        partial_auc_row,
        resolve_pairs,
        subgroup_net_benefit,
    )

    need = {"patient_id", "cohort", "model", "probability", "y_true"}
    missing = need - set(predictions.columns)
    if missing:
        raise InputError(f"evaluate_predictions: predictions lack columns {sorted(missing)}.")
    perf: list[dict[str, Any]] = []
    thr: list[dict[str, Any]] = []
    cal_rows: list[dict[str, Any]] = []
    comps: list[pd.DataFrame] = []
    roc_rows: list[pd.DataFrame] = []
    band_rows: list[pd.DataFrame] = []
    cal_g: list[pd.DataFrame] = []
    cal_s: list[pd.DataFrame] = []
    dca_rows: list[pd.DataFrame] = []
    sub_rows: list[dict[str, Any]] = []
    het_rows: list[dict[str, Any]] = []
    cohorts = [c for c in roles if c in set(predictions["cohort"])]
    models = list(dict.fromkeys(predictions["model"].tolist()))
    thresholds = list(dca_thresholds) if dca_thresholds is not None else None
    # calibration and utility (radval.workflow._calibration, _utility)
    development = next((c for c, r in roles.items() if r == "development"), None)
    recal = score_recalibration(predictions, development=development,
                                score_models=[m for m in score_models if m in models])
    if signature_model is None:
        signature_model = "combined" if "combined" in models else next(
            (m for m in score_models if m in models), None)
    pairs = resolve_pairs(net_benefit_pairs, models, signature_model)
    diff_thresholds = thresholds if thresholds is not None else \
        [round(0.01 * i, 2) for i in range(1, 100)]
    band_curves: list[pd.DataFrame] = []
    sub_curves: list[pd.DataFrame] = []
    sub_cal: list[dict[str, Any]] = []
    sub_nb: list[dict[str, Any]] = []
    sub_het: list[dict[str, Any]] = []
    diffs: list[pd.DataFrame] = []
    pauc: list[dict[str, Any]] = []
    for cohort in cohorts:
        dev = roles.get(cohort) == "development"
        pc = predictions[predictions["cohort"] == cohort]
        scores: dict[str, npt.NDArray[np.float64]] = {}
        y_ref: npt.NDArray[np.int64] | None = None
        for model in models:
            pm = pc[pc["model"] == model].sort_values("patient_id", kind="mergesort")
            if pm.empty:
                continue
            y = pm["y_true"].to_numpy(dtype=np.int64)
            prob = pm["probability"].to_numpy(dtype=np.float64)
            ids = pm["patient_id"].astype(str).to_numpy()
            cut = float(cutoffs.get(model, math.nan))
            key = dict(cohort=cohort, model=model)
            # whole cohort
            row = _perf_row(y, prob, n_boot=n_bootstrap, level=confidence_level,
                            rng=stable_rng(seed, "auc", cohort, model, "all"))
            perf.append({**key, "subgroup": "all", **row, "cutoff": cut})
            thr.extend({**key, "subgroup": "all", **r}
                       for r in _threshold_rows(y, prob, cut, confidence_level))
            # score models: calibration of the score recalibrated on development
            p_cal, scale, ra, rb, cal_reason = risk_for_calibration(model, prob, recal,
                                                                    raw_score_models)
            scale_fields = {"risk_scale": scale, "recalibration_intercept": ra,
                            "recalibration_slope": rb}
            if cal_reason is None:
                c_row, g_df, s_df = _calibration(y, p_cal, hl_groups=hl_groups,
                                                 development=dev, level=confidence_level)
                curve, summary = calibration_curves(
                    y, p_cal, key=key, method=calibration_method, band=calibration_band,
                    level=confidence_level, rng=_rng(seed, "calband", cohort, model))
                if not curve.empty:
                    band_curves.append(curve)
                cal_rows.append({**key, **c_row, **scale_fields,
                                 **{k: v for k, v in summary.items() if k not in key}})
                if not g_df.empty:
                    cal_g.append(g_df.assign(**key))
                if not s_df.empty:
                    cal_s.append(s_df.assign(**key))
                if subgroup_ids:
                    r1, c1, h1 = subgroup_calibration(
                        y, p_cal, ids, key=key, risk_scale=scale, subgroup_ids=subgroup_ids,
                        method=calibration_method, band=calibration_band,
                        level=confidence_level, seed=seed, curves=model == signature_model)
                    sub_cal += r1
                    sub_curves += c1
                    sub_het += h1
            else:
                cal_rows.append({**key, **dict.fromkeys(CALIBRATION_COLUMNS[2:], math.nan),
                                 **scale_fields, "undefined_reason": cal_reason})
            if subgroup_ids:
                r2, h2 = subgroup_net_benefit(y, prob, ids, key=key,
                                              thresholds=list(net_benefit_thresholds),
                                              subgroup_ids=subgroup_ids,
                                              confidence_level=confidence_level)
                sub_nb += r2
                sub_het += h2
            if partial_auc is not None:
                pauc.append(partial_auc_row(y, prob, key=key, config=partial_auc,
                                            n_bootstrap=n_bootstrap,
                                            confidence_level=confidence_level,
                                            rng=_rng(seed, "pauc", cohort, model)))
            if _undefined(y) is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RadvalWarning)
                    roc = stats.roc_curve(y, prob)
                    roc_rows.append(roc.assign(**key))
                    band = roc_band(y, prob, n_resamples=roc_band_resamples,
                                    rng=stable_rng(seed, "band", cohort, model),
                                    confidence_level=confidence_level)
                    if not band.empty:
                        band_rows.append(band.assign(**key))
                    dca = decision_curve(y, prob, thresholds=thresholds)
                    dca_rows.append(dca.assign(**key))
                scores[model] = prob
                y_ref = y
            # subgroups
            for sg_name, levels in (subgroup_ids or {}).items():
                lv_stats: list[tuple[str, float, float]] = []
                for level, members in levels.items():
                    m = np.isin(ids, list(members))
                    ys, ps = y[m], prob[m]
                    srow = _perf_row(ys, ps, n_boot=n_bootstrap, level=confidence_level,
                                     rng=stable_rng(seed, "auc", cohort, model, level))
                    perf.append({**key, "subgroup": level, **srow, "cutoff": cut})
                    if ys.size:
                        thr.extend({**key, "subgroup": level, **r}
                                   for r in _threshold_rows(ys, ps, cut, confidence_level))
                    sub_rows.append({**key, "subgroup": sg_name, "level": level,
                                     "n": srow["n"], "events": srow["events"],
                                     "auc": srow["auc"], "ci_low": srow["auc_ci_low"],
                                     "ci_high": srow["auc_ci_high"],
                                     "variance": srow["auc_variance"],
                                     "undefined_reason": srow["undefined_reason"]})
                    if math.isfinite(srow["auc_variance"]) and srow["auc_variance"] > 0:
                        lv_stats.append((level, srow["auc"], srow["auc_variance"]))
                if len(lv_stats) >= 2 and len(lv_stats) == len(levels):
                    h = heterogeneity_test([s[1] for s in lv_stats], [s[2] for s in lv_stats])
                    het_rows.append({**key, "subgroup": sg_name, "statistic": h.statistic,
                                     "df": h.df, "p_value": h.p_value,
                                     "pooled_auc": h.pooled, "undefined_reason": None})
                else:
                    het_rows.append({**key, "subgroup": sg_name, "statistic": math.nan,
                                     "df": math.nan, "p_value": math.nan, "pooled_auc": math.nan,
                                     "undefined_reason": "a subgroup level has an undefined AUC "
                                     "or variance (one outcome class or too few events)"})
        diffs += net_benefit_differences(predictions, cohort, pairs,
                                         thresholds=diff_thresholds,
                                         n_bootstrap=net_benefit_bootstrap,
                                         confidence_level=confidence_level, seed=seed)
        if len(scores) >= 2 and y_ref is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RadvalWarning)
                    tab = stats.delong_test_many(y_ref, scores, adjust="holm",
                                                 confidence_level=confidence_level)
                comps.append(tab.assign(cohort=cohort, undefined_reason=None))
            except InputError as exc:
                names = list(scores)
                comps.append(pd.DataFrame([
                    {"cohort": cohort, "model_a": a, "model_b": b, "undefined_reason": str(exc)}
                    for i, a in enumerate(names) for b in names[i + 1:]]))

    def frame(rows: list[dict[str, Any]] | list[pd.DataFrame], cols: list[str],
              extra_first: bool = True) -> pd.DataFrame:
        if rows and isinstance(rows[0], pd.DataFrame):
            df = pd.concat(rows, ignore_index=True)  # type: ignore[arg-type]
        else:
            df = pd.DataFrame(rows)
        for c in cols:
            if c not in df.columns:
                df[c] = np.nan
        rest = [c for c in df.columns if c not in cols]
        return df[cols + rest] if extra_first else df

    curves = {
        "roc": frame(roc_rows, ["cohort", "model", "fpr", "tpr", "threshold"]),
        "roc_band": frame(band_rows, ["cohort", "model", "fpr", "tpr_low", "tpr_high"]),
        "calibration_grouped": frame(cal_g, ["cohort", "model", "group", "mean_predicted",
                                             "observed", "ci_low", "ci_high", "n"]),
        "calibration_smooth": frame(cal_s, ["cohort", "model", "predicted", "observed"]),
        "decision": frame(dca_rows, ["cohort", "model", "threshold", "net_benefit", "treat_all",
                                     "treat_none", "net_interventions_avoided"]),
        "calibration_band": frame(band_curves, BAND_COLUMNS),
        "calibration_subgroup": frame(sub_curves, SUBGROUP_CURVE_COLUMNS),
    }
    thr_df = frame(thr, THRESHOLD_COLUMNS)
    for col in ("numerator", "denominator"):
        # counts stay integers beside the ratio rows' nulls (pandas would make them floats)
        thr_df[col] = pd.Series([None if v is None or pd.isna(v) else int(v)
                                 for v in thr_df[col]], index=thr_df.index, dtype=object)
    return EvaluationTables(
        performance=frame(perf, PERFORMANCE_COLUMNS),
        threshold_metrics=thr_df,
        comparisons=frame(comps, COMPARISON_COLUMNS),
        calibration=frame(cal_rows, CALIBRATION_COLUMNS),
        subgroups=frame(sub_rows, SUBGROUP_COLUMNS),
        heterogeneity=frame(het_rows, HETEROGENEITY_COLUMNS),
        curves=curves,
        subgroup_calibration=frame(sub_cal, SUBGROUP_CAL_COLUMNS),
        subgroup_net_benefit=frame(sub_nb, NB_COLUMNS),
        subgroup_heterogeneity=frame(sub_het, HET_COLUMNS),
        net_benefit_difference=frame(diffs, DIFF_COLUMNS),
        partial_auc=frame(pauc, PAUC_COLUMNS) if partial_auc is not None else None,
    )
