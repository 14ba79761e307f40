"""Clinical utility in the study workflow: net benefit per subgroup, differences in net
benefit between models, partial AUC, and a site's minimum sample size.

**Net benefit with a standard error.**  At threshold :math:`t` (treated iff risk
:math:`\\ge t`, dcurves' rule), with :math:`a = TP/n`, :math:`b = FP/n` and
:math:`w = t/(1-t)`, :math:`\\mathrm{NB} = a - w b`.  The counts of treated events and
treated non-events are multinomial, so

.. math:: \\operatorname{Var}(\\mathrm{NB}) = \\{a(1-a) + w^2 b(1-b) + 2 w a b\\} / n,

and the Wald interval is :math:`\\mathrm{NB} \\pm z\\,\\mathrm{SE}`.  Per subgroup level
the net benefit and its SE give Cochran's Q test of equal net benefit across the levels
(:func:`radval.workflow._calibration.cochran_q`).  Net benefit depends on the prevalence,
so a difference between levels can reflect different event rates as much as the model.

**Difference in net benefit** between two models on the same patients
(:func:`radval.stats.decision_curve_difference`): paired, stratified bootstrap CI at
every threshold of the decision curves.  Pairs default to the signature and the
nomogram against the clinical model, when those exist.

**Site sample size** (Riley et al. 2021; :func:`radval.stats.check_validation_sample_size`):
the criteria are computed at the site's prevalence with the *development* C-statistic and
the *development* distribution of the linear predictor (normal with the mean and SD
carried by the bundle's ``development_summary``: aggregates, never a patient's value), and
the net-benefit criterion at the frozen cutoff.  Bundles of radval < 0.3 carry neither:
the C-statistic-based distribution of the LP at the site's observed C is used instead,
and the record says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval.exceptions import InputError, RadvalWarning
from radval.workflow._calibration import undefined_reason as _undefined

__all__ = [
    "default_nb_pairs",
    "net_benefit_differences",
    "net_benefit_with_se",
    "partial_auc_row",
    "site_sample_size",
    "subgroup_net_benefit",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NB_COLUMNS = ["cohort", "model", "subgroup", "level", "threshold", "n", "events",
              "net_benefit", "se", "ci_low", "ci_high", "treat_all", "undefined_reason"]
DIFF_COLUMNS = ["cohort", "model_a", "model_b", "threshold", "nb_a", "nb_b", "difference",
                "ci_low", "ci_high", "n_resamples", "undefined_reason"]
PAUC_COLUMNS = ["cohort", "model", "focus", "high", "low", "correct", "estimate", "ci_low",
                "ci_high", "n_resamples", "undefined_reason"]


def net_benefit_with_se(y: npt.ArrayLike, prob: npt.ArrayLike, thresholds: Sequence[float], *,
                        confidence_level: float = 0.95) -> pd.DataFrame:
    """Net benefit, its multinomial SE and Wald CI at each threshold (module docstring).

    Returns
    -------
    DataFrame
        ``threshold, net_benefit, se, ci_low, ci_high, treat_all``.
    """
    from scipy.stats import norm

    from radval.stats._decision_curve import _dca_risk, _net_benefit_se

    yy = np.asarray(y, dtype=np.int64).astype(bool)
    p = np.asarray(prob, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    n = yy.size
    treated = _dca_risk(p)[:, None] >= t[None, :]
    a = treated[yy].sum(axis=0) / n
    b = treated[~yy].sum(axis=0) / n
    w = t / (1.0 - t)
    nb = a - w * b
    se = _net_benefit_se(a, b, t, n)
    z = float(norm.ppf(0.5 + confidence_level / 2.0))
    prev = yy.mean()
    return pd.DataFrame({"threshold": t, "net_benefit": nb, "se": se, "ci_low": nb - z * se,
                         "ci_high": nb + z * se, "treat_all": prev - (1.0 - prev) * w})


def subgroup_net_benefit(y: IntArray, prob: FloatArray, ids: npt.NDArray[Any], *,
                         key: Mapping[str, Any], thresholds: Sequence[float],
                         subgroup_ids: Mapping[str, Mapping[str, set[str]]],
                         confidence_level: float = 0.95
                         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Net benefit (with SE) of one cohort x model in every subgroup level at each
    threshold, and Cochran's Q of equal net benefit across the levels per threshold."""
    from radval.workflow._calibration import heterogeneity_rows

    rows: list[dict[str, Any]] = []
    het: list[dict[str, Any]] = []
    if not thresholds:
        return rows, het
    for name, levels in subgroup_ids.items():
        by_t: dict[float, list[dict[str, Any]]] = {float(t): [] for t in thresholds}
        for lvl, members in levels.items():
            m = np.isin(ids, list(members))
            ys, ps = y[m], prob[m]
            reason = _undefined(ys)
            base = {**key, "subgroup": name, "level": lvl, "n": int(ys.size),
                    "events": int(ys.sum())}
            if reason is not None:
                for t in thresholds:
                    rec = {**base, "threshold": float(t), "net_benefit": math.nan,
                           "se": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                           "treat_all": math.nan, "undefined_reason": reason}
                    rows.append(rec)
                    by_t[float(t)].append(rec)
                continue
            tab = net_benefit_with_se(ys, ps, thresholds, confidence_level=confidence_level)
            for rec0 in tab.to_dict(orient="records"):
                rec = {**base, **{str(k): v for k, v in rec0.items()},
                       "undefined_reason": None}
                if not rec["se"] > 0:
                    rec["undefined_reason"] = ("no patient at or above the threshold: net "
                                               "benefit 0 without sampling variance")
                rows.append(rec)
                by_t[float(rec["threshold"])].append(rec)
        for t, recs in by_t.items():
            het += heterogeneity_rows(recs, {**key, "subgroup": name},
                                      [("net_benefit", "net_benefit", "se")], threshold=t)
    return rows, het


def default_nb_pairs(models: Sequence[str], signature_model: str | None
                     ) -> list[tuple[str, str]]:
    """The signature and the nomogram against the clinical model, when they exist."""
    out = []
    if "clinical" in models:
        if signature_model and signature_model in models and signature_model != "clinical":
            out.append((signature_model, "clinical"))
        if "nomogram" in models and signature_model != "nomogram":
            out.append(("nomogram", "clinical"))
    return out


def resolve_pairs(pairs: Sequence[Sequence[str]] | None, models: Sequence[str],
                  signature_model: str | None) -> list[tuple[str, str]]:
    """Pairs with ``signature`` replaced by the signature model; defaults when None."""
    if pairs is None:
        return default_nb_pairs(models, signature_model)
    out = []
    for a, b in pairs:
        a2 = signature_model if a == "signature" and signature_model else a
        b2 = signature_model if b == "signature" and signature_model else b
        if a2 != b2 and (a2, b2) not in out:
            out.append((a2, b2))
    return out


def net_benefit_differences(predictions: pd.DataFrame, cohort: str,
                            pairs: Sequence[tuple[str, str]], *, thresholds: Sequence[float],
                            n_bootstrap: int, confidence_level: float, seed: int
                            ) -> list[pd.DataFrame]:
    """:func:`radval.stats.decision_curve_difference` of each pair in one cohort (patients
    aligned by ``patient_id``); a missing model or one outcome class gives rows with
    ``undefined_reason``."""
    from radval._rng import stable_rng
    from radval.stats._decision_curve import decision_curve_difference

    pc = predictions[predictions["cohort"] == cohort]
    out: list[pd.DataFrame] = []
    t = np.asarray(thresholds, dtype=float)
    for a, b in pairs:
        pa = pc[pc["model"] == a].set_index("patient_id")
        pb = pc[pc["model"] == b].set_index("patient_id")
        reason = None
        if pa.empty or pb.empty:
            reason = f"model {a if pa.empty else b} has no predictions in this cohort"
        else:
            common = pa.index.intersection(pb.index).sort_values()
            y = pa.loc[common, "y_true"].to_numpy(dtype=np.int64)
            reason = _undefined(y)
        if reason is not None:
            out.append(pd.DataFrame({"threshold": t, "nb_a": math.nan, "nb_b": math.nan,
                                     "difference": math.nan, "ci_low": math.nan,
                                     "ci_high": math.nan, "n_resamples": 0,
                                     "undefined_reason": reason}
                                    ).assign(cohort=cohort, model_a=a, model_b=b))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            d = decision_curve_difference(
                y, pa.loc[common, "probability"].to_numpy(dtype=float),
                pb.loc[common, "probability"].to_numpy(dtype=float), thresholds=t,
                n_bootstrap=n_bootstrap, confidence_level=confidence_level,
                rng=stable_rng(seed, "nbdiff", cohort, a, b))
        out.append(d.assign(cohort=cohort, model_a=a, model_b=b, n_resamples=n_bootstrap,
                            undefined_reason=None))
    return out


def partial_auc_row(y: IntArray, prob: FloatArray, *, key: Mapping[str, Any],
                    config: Any, n_bootstrap: int, confidence_level: float,
                    rng: np.random.Generator) -> dict[str, Any]:
    """Partial AUC of one cohort x model (:func:`radval.stats.partial_auc`)."""
    from radval.stats._partial_auc import partial_auc

    focus = "specificity" if config.specificity is not None else "sensitivity"
    high, low = getattr(config, focus)
    row: dict[str, Any] = {**key, "focus": focus, "high": float(high), "low": float(low),
                           "correct": bool(config.correct), "estimate": math.nan,
                           "ci_low": math.nan, "ci_high": math.nan, "n_resamples": 0,
                           "undefined_reason": _undefined(y)}
    if row["undefined_reason"] is not None:
        return row
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            res = partial_auc(y, prob, **{focus: (high, low)}, correct=bool(config.correct),
                              n_bootstrap=n_bootstrap, confidence_level=confidence_level,
                              rng=rng)
    except InputError as exc:
        row["undefined_reason"] = str(exc)
        return row
    row.update(estimate=float(res.estimate), ci_low=float(res.ci_low),
               ci_high=float(res.ci_high), n_resamples=int(res.n_bootstrap))
    if not math.isfinite(row["estimate"]):
        row["undefined_reason"] = ("McClish-corrected partial AUC undefined: the area is "
                                   "below the diagonal's")
    return row


def site_sample_size(y: IntArray, prob: FloatArray, *, summary: Mapping[str, Any] | None,
                     cutoff: float | None, observed_auc: float) -> dict[str, Any]:
    """Does the site meet Riley et al.'s (2021) minimum sample size for external validation?

    Parameters
    ----------
    y, prob : array
        The site's outcomes and predicted risks (only n and events enter).
    summary : mapping or None
        The bundle's ``development_summary`` (``cstatistic`` and ``linear_predictor``
        mean/SD when the bundle has them).
    cutoff : float or None
        Frozen cutoff: threshold of the net-benefit criterion.
    observed_auc : float
        The site's AUC (used only when the bundle has no development C-statistic).

    Returns
    -------
    dict
        The ``validation_sample_size`` record of results.json.
    """
    from radval.stats._sample_size import check_validation_sample_size

    n, events = int(y.size), int(y.sum())
    dev = dict(summary or {})
    c_dev = dev.get("cstatistic")
    lp = dev.get("linear_predictor") or {}
    lp_mean, lp_sd = lp.get("mean"), lp.get("sd")
    rec: dict[str, Any] = {"n": n, "events": events,
                           "prevalence": events / n if n else None,
                           "cstatistic": None, "cstatistic_source": None,
                           "lp_distribution": None, "lp_mean": None, "lp_sd": None,
                           "threshold": None, "required": None, "meets": None,
                           "n_oe": None, "n_cslope": None, "n_cstatistic": None,
                           "n_net_benefit": None, "meets_oe": None, "meets_cslope": None,
                           "meets_cstatistic": None, "meets_net_benefit": None,
                           "undefined_reason": None}
    if not 0 < events < n:
        rec["undefined_reason"] = "only one outcome class at the site"
        return rec
    if c_dev is not None and math.isfinite(float(c_dev)) and 0.5 < float(c_dev) < 1.0:
        c, source = float(c_dev), "development (bundle)"
    elif math.isfinite(observed_auc) and 0.5 < observed_auc < 1.0:
        c, source = float(observed_auc), "this site (the bundle has no development C)"
    else:
        rec["undefined_reason"] = ("no C-statistic in (0.5, 1) to anticipate (neither the "
                                   "bundle's development C nor the site's AUC)")
        return rec
    normal = None
    if lp_mean is not None and lp_sd is not None and float(lp_sd) > 0:
        normal = (float(lp_mean), float(lp_sd))
    thr = float(cutoff) if cutoff is not None and 0.0 < float(cutoff) < 1.0 else None
    try:
        res = check_validation_sample_size(n, events, cstatistic=c, lp_normal=normal,
                                           threshold=thr)
    except InputError as exc:
        rec["undefined_reason"] = str(exc)
        return rec
    crit = res.criteria
    rec.update(cstatistic=c, cstatistic_source=source, lp_distribution=crit.lp_distribution,
               lp_mean=None if normal is None else normal[0],
               lp_sd=None if normal is None else normal[1], threshold=thr,
               required=int(res.required), meets=bool(res.meets), n_oe=int(crit.n_oe),
               n_cslope=int(crit.n_cslope), n_cstatistic=int(crit.n_cstatistic),
               n_net_benefit=None if crit.n_net_benefit is None else int(crit.n_net_benefit),
               meets_oe=res.meets_oe, meets_cslope=res.meets_cslope,
               meets_cstatistic=res.meets_cstatistic,
               meets_net_benefit=res.meets_net_benefit)
    return rec
