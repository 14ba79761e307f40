"""Multiple imputation of missing clinical predictors inside the study workflow.

With ``missing_data: {method: multiple_imputation, n_imputations: m, max_iter: k}`` a
patient missing a clinical predictor is analysed instead of excluded.  What is done,
and why:

* **What is imputed.**  The clinical predictors of the clinical model and of the
  nomogram (categorical ones by logistic / multinomial regression, numeric ones by
  predictive mean matching: :class:`radval.impute.ChainedImputer`, mice's algorithm).
  The imputation model of development contains the outcome (Moons et al. 2006) and the
  signature's linear predictor as an auxiliary variable, so that it holds every
  variable of the nomogram (a congenial imputation model).  Imaging features are never
  imputed: a patient whose features failed stays excluded with its reason.
* **Validation cohorts of the development run** are completed by the development
  chains (``ChainedImputer.transform``, chain ``j`` for completed set ``j``) with their
  own outcome, as the outcome is known where performance is estimated.
* **Feature selection and imputation.**  The LASSO selection works per feature family
  on the (complete) imaging features and the outcome; no imputed variable enters it.
  It is therefore identical in every completed data set and runs once (no majority
  rule across imputations, Wood et al. 2008, and no stacking is needed).  The clinical
  predictors of the models are fixed by the study file, not selected.
* **Models.**  The clinical model and the nomogram are fitted on each completed
  development set; their coefficients and covariance matrices are pooled by Rubin's
  rules (``T = U + (1 + 1/m) B``), each coefficient with Barnard-Rubin degrees of
  freedom (complete-data df ``n - p``, mice's ``pool``).  The pooled coefficients are
  the frozen models of the bundle.
* **Predictions.**  Each patient's prediction is the average over the ``m`` completed
  data sets of the linear predictor of the model fitted on that set; the probability is
  its logistic transform.  For a patient with complete predictors this equals the
  prediction of the pooled model (the average of ``x'beta_j`` is ``x'`` times the average
  ``beta_j``), so ``predictions.parquet`` and the bundle agree for such patients.
  The evaluation tables use these averaged predictions; in addition the AUC (logit
  scale, :func:`radval.stats.pool_auc`) and the calibration intercept and slope
  (:func:`radval.stats.rubin_pool`) of the ``m`` per-imputation predictions are pooled
  by Rubin's rules (``pooled_performance``).
* **Internal validation.**  Each optimism resample is drawn from the *incomplete*
  development data and imputed again (bootstrap, then impute: Wahl et al. 2016), the
  models fitted on its completed sets; the resample's models are tested on the
  completed development sets of the main analysis, their predictions averaged as
  above, so that the optimism includes the imputation step.
* **Deployment.**  The bundle carries a :class:`radval.impute.DeploymentImputer`
  fitted on the development predictors and the signature *without* the outcome; a site
  imputes a patient's missing predictor from it (``m`` draws, linear predictors
  averaged) and reports how many patients that concerned
  (:func:`site_imputation`).

References
----------
Moons KGM, Donders RART, Stijnen T, Harrell FE. Using the outcome for imputation of
missing predictor values was preferred. J Clin Epidemiol 2006;59:1092-1101.
Wood AM, White IR, Royston P. How should variable selection be performed with multiply
imputed data? Stat Med 2008;27:3227-3246.
Wahl S, Boulesteix AL, Zierer A, Thorand B, van de Wiel MA. Assessment of predictive
performance in incomplete data by combining internal validation and multiple
imputation. BMC Med Res Methodol 2016;16:144.
Hoogland J, van Barreveld M, Debray TPA, et al. Handling missing predictor values when
validating and applying a prediction model to new patients. Stat Med 2020;39:3591-3607.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import jsonable
from radval.exceptions import RadvalWarning
from radval.workflow._coding import LABELS
from radval.workflow._study import ClinicalPredictor, StudyConfig

__all__ = ["AUX_COLUMN", "ImputedData", "deployment_spec",
           "imputation_predictors", "impute_patients", "missing_record", "needs_imputation",
           "pool_fits", "pooled_coefficients", "pooled_performance", "site_imputation"]

logger = logging.getLogger("radval.pipeline")

#: Name of the auxiliary column (the signature's linear predictor) in the imputation
#: models; parentheses keep it apart from any clinical column name.
AUX_COLUMN = "(signature)"

#: The texts of results.json ``missing_data`` (the report's methods section says more).
SELECTION_TEXT = ("feature selection (ICC, Mann-Whitney U, redundancy, LASSO per family) "
                  "uses the complete imaging features and the outcome only; no imputed "
                  "variable enters it, so it is the same in every completed data set and "
                  "is run once")
PREDICTIONS_TEXT = ("average over the completed data sets of the linear predictor of the "
                    "model fitted on each set, probability = its logistic transform (equal "
                    "to the pooled model's prediction for complete patients)")
INTERNAL_TEXT = ("bootstrap, then impute: every optimism resample is drawn from the "
                 "incomplete development data and multiply imputed again; its models are "
                 "tested on the completed development data sets of the main analysis")


def imputation_predictors(study: StudyConfig) -> list[ClinicalPredictor]:
    """The clinical predictors the models use (clinical model and nomogram), in order."""
    out: list[ClinicalPredictor] = []
    if study.models.clinical:
        out += study.clinical_model_predictors()
    if study.models.nomogram:
        out += study.nomogram_model_predictors()
    seen: set[str] = set()
    return [p for p in out if not (p.name in seen or seen.add(p.name))]  # type: ignore[func-returns-value]


def needs_imputation(study: StudyConfig, patients: pd.DataFrame) -> bool:
    """Multiple imputation is configured and some predictor of a model is missing."""
    if study.missing_data.method != "multiple_imputation":
        return False
    names = [p.name for p in imputation_predictors(study) if p.name in patients.columns]
    return bool(names) and bool(patients[names].isna().to_numpy().any())


def _level_text(v: Any) -> Any:
    from radval.models.logistic import _isna, _level

    return None if _isna(v) else _level(v)


def imputation_frame(study: StudyConfig, patients: pd.DataFrame,
                     aux: pd.Series | None) -> pd.DataFrame:
    """The table the imputers see: the models' predictors (categorical ones as the text
    of their level, so that they are imputed as categories and coded as in development)
    and, when given, the signature's linear predictor."""
    cols: dict[str, Any] = {}
    for p in imputation_predictors(study):
        col = patients[p.name]
        if p.kind == "categorical":
            cols[p.name] = col.map(_level_text).astype(object)
        else:
            cols[p.name] = pd.to_numeric(col, errors="coerce").astype(float)
    frame = pd.DataFrame(cols, index=patients.index)
    if aux is not None:
        frame[AUX_COLUMN] = np.asarray(aux, dtype=float)
    return frame


@dataclass
class ImputedData:
    """The ``m`` completed versions of the analysed patients.

    Attributes
    ----------
    completed : list of DataFrame
        Copies of ``patients`` with the missing predictors filled (every row).
    record : dict
        How it was done: ``n_imputations, max_iter, variables, imputed_variables,
        imputation_methods, auxiliary``.
    """

    completed: list[pd.DataFrame]
    record: dict[str, Any] = field(default_factory=dict)


def impute_patients(study: StudyConfig, patients: pd.DataFrame, dev: npt.NDArray[np.bool_],
                    aux: pd.Series | None, *, seed: int) -> ImputedData:
    """Multiply impute the models' predictors of ``patients``.

    The chains are fitted on the development rows ``dev`` with their outcome
    (``patients["y"]``) and the auxiliary signature; other rows are completed by the
    fitted chains with their own outcome (:meth:`radval.impute.ChainedImputer.transform`).
    """
    from radval.impute import ChainedImputer

    cfg = study.missing_data
    frame = imputation_frame(study, patients, aux)
    names = [p.name for p in imputation_predictors(study)]
    y = patients["y"].to_numpy(dtype=float)
    imp = ChainedImputer(n_imputations=cfg.n_imputations, max_iter=cfg.max_iter, rng=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        dev_done = imp.fit_transform(frame.loc[dev], outcome=y[dev])
        other = frame.loc[~dev]
        if len(other) and other[names].isna().to_numpy().any():
            other_done = imp.transform(other, outcome=y[~dev])
        else:
            other_done = [other] * cfg.n_imputations
    completed = []
    for d, o in zip(dev_done, other_done, strict=True):
        c = patients.copy()
        filled = pd.concat([d, o]).loc[patients.index]
        for n in names:
            c[n] = filled[n].to_numpy()
        completed.append(c)
    record = {"n_imputations": cfg.n_imputations, "max_iter": cfg.max_iter,
              "variables": names, "imputed_variables": [n for n in names
                                                        if frame[n].isna().any()],
              "imputation_methods": {n: imp.method_[n] for n in names},
              "auxiliary": ["outcome (development imputation model only)",
                            "signature linear predictor"] if aux is not None else
              ["outcome (development imputation model only)"]}
    return ImputedData(completed=completed, record=record)


# --------------------------------------------------------------------------- pooling
def pool_fits(fits: Sequence[Any]) -> Any:
    """A :class:`~radval.models.logistic.LogisticFit` pooled by Rubin's rules.

    Coefficients are the mean over the completed data sets; the covariance is
    :math:`\\bar U + (1 + 1/m) B` (within-imputation covariance plus inflated
    between-imputation covariance); deviance and log-likelihood are averaged.
    """
    from radval.models.logistic import LogisticFit

    m = len(fits)
    q = np.vstack([f.coef for f in fits])
    qbar = q.mean(axis=0)
    ubar = np.mean([f.cov for f in fits], axis=0)
    dq = q - qbar
    b = dq.T @ dq / (m - 1) if m > 1 else np.zeros_like(ubar)
    t = ubar + (1.0 + 1.0 / m) * b
    f0 = fits[0]
    return LogisticFit(names=list(f0.names), coef=qbar, se=np.sqrt(np.diag(t)), cov=t,
                       deviance=float(np.mean([f.deviance for f in fits])),
                       null_deviance=float(f0.null_deviance),
                       loglik=float(np.mean([f.loglik for f in fits])), n=f0.n,
                       events=f0.events, n_iter=max(f.n_iter for f in fits),
                       converged=all(f.converged for f in fits))


def pooled_coefficients(model: str, fits: Sequence[Any], *,
                        confidence_level: float = 0.95) -> pd.DataFrame:
    """Rubin's rules for every coefficient (mice ``pool``: complete-data df ``n - p``), with
    t intervals at ``confidence_level``.

    Returns
    -------
    DataFrame
        ``model, term, estimate, within, between, total, se, df, dfcom, riv, lambda_,
        fmi, statistic, p_value, ci_low, ci_high, m``.
    """
    from radval.stats import rubin_pool_many

    q = np.vstack([f.coef for f in fits])
    u = np.stack([f.cov for f in fits])
    n, k = int(fits[0].n), q.shape[1]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RadvalWarning)
        ok = np.isfinite(u).all() and np.isfinite(q).all()
        if ok:
            tab = rubin_pool_many(q, u, names=list(fits[0].names), dfcom=max(n - k, 1),
                                  confidence_level=confidence_level)
            out = tab.to_frame().drop(columns=["variance", "confidence_level"],
                                      errors="ignore")
        else:  # a coefficient not estimable in some completed set
            out = pd.DataFrame({"term": list(fits[0].names), "estimate": q.mean(axis=0)})
    out.insert(0, "model", model)
    out["m"] = len(fits)
    return out


def imputation_view(fm: Any, j: int) -> Any:
    """The fitted models of completed data set ``j`` (the per-imputation fits in place of
    the pooled ones)."""
    logistic = dict(fm.logistic)
    for name, fits in fm.imputed.items():
        logistic[name] = (logistic[name][0], fits[j])
    return dataclasses.replace(fm, logistic=logistic, imputed={})


def pooled_performance(study: StudyConfig, data: Any, fm: Any, *,
                       confidence_level: float = 0.95) -> pd.DataFrame:
    """AUC (logit scale) and calibration intercept and slope of each multiply imputed
    model, pooled by Rubin's rules over the per-imputation predictions, per cohort.

    Returns
    -------
    DataFrame
        ``cohort, model, metric, estimate, se, ci_low, ci_high, within, between, total,
        df, riv, fmi, m, n, scale, undefined_reason`` (``metric`` in ``auc,
        calibration_intercept, calibration_slope``; the AUC's ``se`` and variances are on
        the logit scale).
    """
    from radval import stats
    from radval.models.logistic import fit_logistic, logit

    if not fm.imputed or data.completed is None:
        return pd.DataFrame()
    models = [m for m in fm.model_names if m in fm.imputed]
    per: list[dict[str, npt.NDArray[np.float64]]] = []
    for j, comp in enumerate(data.completed):
        pred = imputation_view(fm, j).predict(comp, data.features)
        per.append({m: pred[m][1] for m in models})
    y_all = data.patients["y"].to_numpy(dtype=np.int64)
    rows: list[dict[str, Any]] = []
    for c in study.cohorts:
        mask = data.cohort_mask(c.name)
        y = y_all[mask]
        n = int(mask.sum())
        for model in models:
            base = {"cohort": c.name, "model": model, "m": len(per), "n": n}
            if n == 0 or y.min() == y.max():
                for metric in ("auc", "calibration_intercept", "calibration_slope"):
                    rows.append({**base, "metric": metric,
                                 "undefined_reason": "one outcome class" if n else
                                 "no patients"})
                continue
            aucs, avar, a, a_u, b, b_u = [], [], [], [], [], []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RadvalWarning)
                for p in per:
                    prob = np.clip(p[model][mask], 1e-10, 1 - 1e-10)
                    d = stats.delong_ci(y, prob)
                    aucs.append(d.estimate)
                    avar.append(d.variance)
                    fit = fit_logistic(logit(prob).reshape(-1, 1), y)
                    a.append(fit.coef[0])
                    a_u.append(fit.cov[0, 0])
                    b.append(fit.coef[1])
                    b_u.append(fit.cov[1, 1])
            rows.append({**base, **_pool_auc_row(aucs, avar, n, confidence_level)})
            for metric, q, u in (("calibration_intercept", a, a_u),
                                 ("calibration_slope", b, b_u)):
                rows.append({**base, **_pool_row(metric, q, u, n, confidence_level)})
    return pd.DataFrame(rows)


def _pool_auc_row(aucs: list[float], var: list[float], n: int, level: float
                  ) -> dict[str, Any]:
    from radval.stats import pool_auc

    q = np.asarray(aucs, dtype=float)
    if not ((q > 0) & (q < 1)).all() or not np.isfinite(var).all():
        return {"metric": "auc", "estimate": float(np.mean(q)), "scale": "logit",
                "undefined_reason": "an AUC of 0 or 1, or no variance, in some completed set"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        r = pool_auc(q, var, n_obs=n, confidence_level=level)
    lg = r.logit
    return {"metric": "auc", "estimate": r.estimate, "se": lg.se, "ci_low": r.ci_low,
            "ci_high": r.ci_high, "within": lg.within, "between": lg.between,
            "total": lg.total, "df": lg.df, "riv": lg.riv, "fmi": lg.fmi, "scale": "logit"}


def _pool_row(metric: str, q: list[float], u: list[float], n: int, level: float
              ) -> dict[str, Any]:
    from radval.stats import rubin_pool

    if not (np.isfinite(q).all() and np.isfinite(u).all()):
        return {"metric": metric, "scale": "identity",
                "undefined_reason": "not estimable in some completed set"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        r = rubin_pool(q, u, n_obs=n, confidence_level=level)
    return {"metric": metric, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
            "ci_high": r.ci_high, "within": r.within, "between": r.between,
            "total": r.total, "df": r.df, "riv": r.riv, "fmi": r.fmi, "scale": "identity"}


# ------------------------------------------------------------------ workflow glue
def missing_tables(study: StudyConfig, data: Any
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Missing values of the models' predictors among the analysed patients.

    Returns
    -------
    table : DataFrame
        ``cohort, variable, n, n_missing, percent_missing`` (every cohort and variable).
    patterns : DataFrame
        ``cohort, pattern (variable -> 1 observed / 0 missing), n_rows,
        n_missing_variables`` (mice ``md.pattern``, most frequent first per cohort).
    imputed : DataFrame
        ``cohort, n, n_imputed`` (patients with at least one missing predictor).
    """
    from radval.impute import missing_patterns, missing_summary

    names = [p.name for p in imputation_predictors(study) if p.name in data.patients]
    rows, pats, imp = [], [], []
    for c in study.cohorts:
        sub = data.patients.loc[data.cohort_mask(c.name), names]
        n_imp = int(sub.isna().any(axis=1).sum()) if names else 0
        imp.append({"cohort": c.name, "n": int(len(sub)), "n_imputed": n_imp})
        if not names or sub.empty:
            continue
        t = missing_summary(sub)
        t.insert(0, "cohort", c.name)
        rows.append(t)
        p = missing_patterns(sub)
        for r in p.to_dict(orient="records"):
            pats.append({"cohort": c.name, "pattern": {v: int(r[v]) for v in names},
                         "n_rows": int(r["n_rows"]),
                         "n_missing_variables": int(r["n_missing_variables"])})
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["cohort", "variable", "n", "n_missing", "percent_missing"])
    return table, pd.DataFrame(pats), pd.DataFrame(imp)


def fit_record(study: StudyConfig, data: Any, fm: Any) -> dict[str, Any] | None:
    """The ``missing_data`` entry of models.json: pooled coefficients and performance."""
    if study.missing_data.method != "multiple_imputation":
        return None
    out: dict[str, Any] = {"method": "multiple_imputation",
                           "n_imputations": study.missing_data.n_imputations,
                           "max_iter": study.missing_data.max_iter,
                           "variables": [p.name for p in imputation_predictors(study)]}
    out.update(fm.imputation or {})
    level = study.evaluation.confidence_level
    coefs = [pooled_coefficients(name, fits, confidence_level=level)
             for name, fits in fm.imputed.items()]
    out["pooled_coefficients"] = pd.concat(coefs, ignore_index=True) if coefs else []
    perf = pooled_performance(study, data, fm, confidence_level=level)
    out["pooled_performance"] = perf if len(perf) else []
    if fm.designs:
        # what the bundle's deployment imputer (deployment_spec) holds
        out["deployment"] = {
            "method": "deployment_imputer", "fitted_without_outcome": True,
            "variables": [p.name for p in imputation_predictors(study)],
            "auxiliary": ["signature linear predictor"],
            "n_fit_rows": int(data.cohort_mask(study.development).sum()),
            "n_draws": study.missing_data.n_imputations}
    return dict(jsonable(out))


def missing_record(study: StudyConfig, data: Any, models: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """The ``missing_data`` block of results.json (development runs)."""
    table, patterns, imputed = missing_tables(study, data)
    mi = study.missing_data.method == "multiple_imputation"
    fitted = dict(models.get("missing_data") or {})
    out: dict[str, Any] = {
        "method": study.missing_data.method,
        "n_imputations": study.missing_data.n_imputations if mi else None,
        "max_iter": study.missing_data.max_iter if mi else None,
        "variables": [p.name for p in imputation_predictors(study)],
        "imputed_variables": fitted.get("imputed_variables", []),
        "imputation_methods": fitted.get("imputation_methods", {}),
        "auxiliary": fitted.get("auxiliary", []),
        "table": table, "patterns": patterns,
        "imputed": imputed if mi else imputed.assign(n_imputed=0),
        "pooled_coefficients": fitted.get("pooled_coefficients", []),
        "pooled_performance": fitted.get("pooled_performance", []),
        "selection": SELECTION_TEXT if mi else None,
        "predictions": PREDICTIONS_TEXT if mi else None,
        "internal_validation": INTERNAL_TEXT if mi else None,
        "deployment": fitted.get("deployment"),
    }
    return out


def methods_sentence(study: StudyConfig) -> str:
    """``methods.missing_data`` of results.json."""
    cfg = study.missing_data
    if cfg.method != "multiple_imputation":
        return "complete-case analysis"
    return (f"multiple imputation by chained equations (m = {cfg.n_imputations}, "
            f"{cfg.max_iter} iterations; predictive mean matching / logistic / multinomial "
            "regression) with the outcome and the signature in the development imputation "
            "model; models pooled by Rubin's rules, predictions averaged on the logit "
            "scale; imputation repeated in every optimism resample")


# ---------------------------------------------------------------------- deployment
def deployment_spec(study: StudyConfig, data: Any, fm: Any) -> dict[str, Any] | None:
    """The bundle's imputation entry: a :class:`radval.impute.DeploymentImputer` fitted on
    the development predictors and the signature's linear predictor, without the
    outcome (None unless multiple imputation is configured)."""
    if study.missing_data.method != "multiple_imputation" or not fm.designs:
        return None
    from radval._rng import stable_rng
    from radval.impute import DeploymentImputer

    dev = data.cohort_mask(study.development)
    pats = data.patients.loc[dev]
    feats = {k: v.loc[dev] for k, v in data.features.items()}
    aux = fm.frame(pats, feats)[fm.signature_input]
    frame = imputation_frame(study, pats, aux)
    seed = int(stable_rng(study.seed, "deployment-imputer").integers(0, 2**31 - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        imp = DeploymentImputer(max_iter=study.missing_data.max_iter, rng=seed).fit(frame)
    return {"method": "deployment_imputer", "n_draws": study.missing_data.n_imputations,
            "variables": [p.name for p in imputation_predictors(study)],
            "kinds": {p.name: p.kind for p in imputation_predictors(study)},
            "auxiliary": AUX_COLUMN, "imputer": imp.to_dict()}


def site_imputation(signature: Any, features: pd.DataFrame, clinical: pd.DataFrame,
                    y: npt.ArrayLike, *, seed: int = 0,
                    confidence_level: float = 0.95) -> dict[str, Any] | None:
    """Score the bundle's clinical models at a site, imputing missing predictors.

    Parameters
    ----------
    signature : Signature
        The frozen signature (its ``models``, designs and ``imputation`` entry).
    features : DataFrame
        The analysed site patients (``patient_id`` and the, harmonised, features).
    clinical : DataFrame
        The site's clinical table (``patient_id`` and the predictors).
    y : array-like of {0, 1}
        Outcomes of ``features``' patients.
    seed : int
        Seed of the imputation draws.
    confidence_level : float
        Level of the DeLong interval of the AUC.

    Returns
    -------
    dict or None
        ``method, n_draws, variables, table (missing per variable), models`` (one row per
        model and subset ``all`` / ``complete_cases`` / ``imputed``: ``n, events, auc,
        auc_ci_low, auc_ci_high, calibration_intercept, calibration_slope, brier,
        undefined_reason``) and ``predictions`` (``patient_id, model, probability,
        imputed``; kept at the site).  None when the bundle has no clinical model or the
        site's table lacks their predictors.
    """
    from radval.models.logistic import DesignSpec, expit

    extra = signature.extra or {}
    designs = {k: DesignSpec.from_dict(v) for k, v in (extra.get("designs") or {}).items()}
    models = {k: m for k, m in signature.models.items() if k in designs}
    if not models:
        return None
    spec = signature.imputation
    variables = list(dict.fromkeys(p for d in designs.values() for p, _k in d.predictors))
    absent = [v for v in variables if v not in clinical.columns]
    if absent:
        logger.info("site: clinical models not evaluated, the clinical table lacks %s", absent)
        return None
    ids = features["patient_id"].astype(str).to_numpy()
    clin = clinical.set_index("patient_id").reindex(ids)
    y_arr = np.asarray(y, dtype=np.int64)
    pred = signature.predict(features)
    aux = pred["linear_predictor"].to_numpy(dtype=float)
    incomplete = clin[variables].isna().any(axis=1).to_numpy()
    frames = [clin]
    n_draws = 0
    if incomplete.any() and spec:
        from radval.impute import DeploymentImputer

        imp = DeploymentImputer.from_dict(spec["imputer"])
        kinds = dict(spec.get("kinds") or {})
        frame = pd.DataFrame(index=clin.index)
        for v in imp.columns_:
            if v == spec.get("auxiliary", AUX_COLUMN):
                frame[v] = aux
            elif kinds.get(v) == "categorical":
                frame[v] = clin[v].map(_level_text).astype(object)
            else:
                frame[v] = pd.to_numeric(clin[v], errors="coerce").astype(float)
        n_draws = int(spec.get("n_draws", 20))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            done = imp.transform(frame, n_imputations=n_draws, rng=seed)
        frames = []
        for d in done:
            c = clin.copy()
            for v in variables:
                c[v] = d[v].to_numpy() if v in d.columns else c[v]
            frames.append(c)
    # the model inputs that are not clinical: the scores and the signature's linear
    # predictor (the nomogram's "signature" input when there is a combined model)
    scores = {c: pred[c].to_numpy(dtype=float) for c in signature.scores}
    scores["signature"] = aux
    rows: list[dict[str, Any]] = []
    preds: list[pd.DataFrame] = []
    for name, model in models.items():
        lps = []
        for c in frames:
            x = designs[name].transform(c)
            for col, v in scores.items():
                if col in model.inputs and col not in x.columns:
                    x[col] = v
            # NaN (a predictor still missing) propagates instead of raising
            z = x.loc[:, list(model.inputs)].to_numpy(dtype=float)
            lps.append(model.intercept + z @ np.asarray(model.coef, dtype=float))
        lp = np.mean(lps, axis=0)
        prob = expit(lp)
        usable = np.isfinite(prob)
        if not spec:
            usable &= ~incomplete  # no imputer: complete cases only
        preds.append(pd.DataFrame({"patient_id": ids, "model": name, "probability": prob,
                                   "imputed": incomplete & usable}))
        for subset, mask in (("all", usable), ("complete_cases", usable & ~incomplete),
                             ("imputed", usable & incomplete)):
            rows.append({"model": name, "label": LABELS.get(name), "subset": subset,
                         **_site_metrics(y_arr[mask], prob[mask], confidence_level)})
    table = []
    for v in variables:
        n_miss = int(clin[v].isna().sum())
        table.append({"variable": v, "n": int(len(clin)), "n_missing": n_miss,
                      "percent_missing": 100.0 * n_miss / max(len(clin), 1)})
    return {"method": "deployment_imputer" if spec else "complete_case",
            "n_draws": n_draws, "variables": variables, "n_imputed": int(incomplete.sum())
            if spec else 0, "table": table, "models": rows,
            "predictions": pd.concat(preds, ignore_index=True)}


def _site_metrics(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64],
                  level: float) -> dict[str, Any]:
    from radval import stats
    from radval.models.logistic import fit_logistic, logit

    out: dict[str, Any] = {"n": int(y.size), "events": int(y.sum()), "auc": None,
                           "auc_ci_low": None, "auc_ci_high": None,
                           "calibration_intercept": None, "calibration_slope": None,
                           "brier": float(np.mean((p - y) ** 2)) if y.size else None,
                           "undefined_reason": None}
    if y.size == 0 or y.min() == y.max():
        out["undefined_reason"] = "no patients" if y.size == 0 else "one outcome class"
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        d = stats.delong_ci(y, p, confidence_level=level)
        out.update(auc=d.estimate, auc_ci_low=d.ci_low, auc_ci_high=d.ci_high)
        fit = fit_logistic(logit(p).reshape(-1, 1), y)
    if fit.converged and all(math.isfinite(v) for v in fit.coef):
        out.update(calibration_intercept=float(fit.coef[0]),
                   calibration_slope=float(fit.coef[1]))
    return out


def write_extra_tables(out_dir: Any, results: Mapping[str, Any]) -> None:
    """The missing-data and harmonisation tables of results.json as CSV (``tables/``)."""
    from pathlib import Path

    from radval.workflow._outputs import write_csv

    tdir = Path(out_dir) / "tables"
    md = results.get("missing_data") or {}
    for key, name in (("table", "missing_data"), ("imputed", "imputed_patients"),
                      ("pooled_coefficients", "pooled_coefficients"),
                      ("pooled_performance", "pooled_performance")):
        val = md.get(key)
        df = val if isinstance(val, pd.DataFrame) else pd.DataFrame(jsonable(val or []))
        if len(df):
            write_csv(tdir / f"{name}.csv", df)
    pats = md.get("patterns")
    pats = pats if isinstance(pats, pd.DataFrame) else pd.DataFrame(jsonable(pats or []))
    if len(pats):
        flat = pd.concat([pats.drop(columns=["pattern"]),
                          pd.DataFrame(list(pats["pattern"]))], axis=1)
        write_csv(tdir / "missing_patterns.csv", flat)
    hm = results.get("harmonisation") or {}
    if hm.get("separability"):
        write_csv(tdir / "batch_separability.csv", pd.DataFrame(jsonable(hm["separability"])))


def site_results(signature: Any, raw_features: pd.DataFrame, features: pd.DataFrame,
                 clinical: pd.DataFrame, y: npt.ArrayLike, harmonised: Any, *, seed: int,
                 methods: Mapping[str, str], confidence_level: float = 0.95
                 ) -> dict[str, Any]:
    """The ``missing_data``, ``harmonisation`` and ``methods`` entries of a site's
    results.json (``radval validate``).

    ``raw_features`` / ``features`` are the analysed patients before / after the bundle's
    ComBat (the same table without harmonisation); ``harmonised`` is what
    :func:`radval.workflow._harmonisation.harmonise_site` returned, or None.
    """
    from radval import stats
    from radval.models.shift import dataset_shift

    y_arr = np.asarray(y, dtype=np.int64)
    out: dict[str, Any] = {}
    meth = dict(methods)
    site = site_imputation(signature, features, clinical, y_arr, seed=seed,
                           confidence_level=confidence_level)
    if site is not None:
        site.pop("predictions")
        out["missing_data"] = {"method": site["method"], "variables": site["variables"],
                               "site": site}
        if site["method"] == "deployment_imputer":
            meth["missing_data"] = (
                "signature: complete-case (imaging features are not imputed); clinical "
                "models: a missing predictor imputed by the bundle's deployment imputer "
                f"(fitted without the outcome; {site['n_draws']} draws, linear predictors "
                "averaged), performance reported with and without these patients")
    if harmonised is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            prob_raw = signature.predict(raw_features)["probability"].to_numpy(dtype=float)
            before = dataset_shift(raw_features, signature, probabilities=prob_raw,
                                   y_true=y_arr, warn=False)
            auc_raw = float(stats.roc_auc(y_arr, prob_raw)) \
                if y_arr.size and 0 < y_arr.sum() < y_arr.size else None
        spec = signature.harmonisation or {}
        out["harmonisation"] = {
            "method": "combat", "batch": spec.get("batch_column"),
            "covariates": list(spec.get("covariates") or []),
            "reference": spec.get("reference"),
            "site": {**harmonised.record, "auc_unharmonised": auc_raw,
                     "shift_before": {"features": before.features, "flagged": before.flagged,
                                      "prevalence": before.prevalence,
                                      "predicted_risk": before.predicted_risk,
                                      "smd_threshold": before.smd_threshold,
                                      "out_of_range_threshold":
                                          before.out_of_range_threshold}}}
        meth["harmonisation"] = (
            "the bundle's frozen ComBat: patients of a development batch get its "
            "parameters, a new batch is estimated from the site's own features with the "
            "development model (no outcome used); shift diagnostics before and after")
    out["methods"] = meth
    return out
