"""Internal validation: Harrell's bootstrap optimism, selection and prediction stability.

For ``b = 1..B`` (Harrell 2015, *Regression Modeling Strategies* §5.3; rms
``validate(method="boot")``):

1. draw a bootstrap sample of the development cohort (``n`` patients with
   replacement);
2. repeat the **whole** development in it: feature selection (ICC, Mann-Whitney,
   redundancy, LASSO with its cross-validation) and the fitting of every model;
3. evaluate each model on the bootstrap sample (*training*) and on the original
   development cohort (*test*).

For each index (AUC, calibration intercept and slope from ``logit(y) ~ a + b
logit(p)``, Brier score): ``optimism = mean_b(train_b - test_b)`` and
``corrected = apparent - optimism``.  The resamples run in parallel through
:func:`radval.features.executor.map_cases` (local processes or Dask), in chunks,
each with its own seed derived from the study seed (results do not depend on the
number of workers).

The same resamples give the **selection frequency** of each feature and the
**prediction instability** of Riley & Collins (2023, pminternal): for each
development patient the predictions of the ``B`` bootstrap models on the
original data, summarised by the 2.5 / 97.5 percentiles and the mean absolute
prediction error ``MAPE_i = mean_b |p_ib - p_i|`` against the apparent prediction.

The scikit-learn comparison classifiers are not re-fitted in the resamples; the
deep network is not re-trained (its features are taken as given); both are stated
in ``results.json``.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval.exceptions import DegenerateBootstrapWarning, InputError, RadvalWarning
from radval.models.guards import flag

__all__ = ["OPTIMISM_METRICS", "optimism_bootstrap", "performance_indexes"]

logger = logging.getLogger("radval.internal")

OPTIMISM_METRICS = ("auc", "slope", "intercept", "brier")


def performance_indexes(y: npt.ArrayLike, prob: npt.ArrayLike) -> dict[str, float]:
    """AUC, calibration intercept and slope (joint logistic recalibration), Brier score.

    The intercept and slope are the coefficients of ``glm(y ~ logit(p), binomial)``
    (rms ``val.prob`` / ``validate`` "Intercept" and "Slope"); NaN when undefined.
    """
    from radval import stats
    from radval.models.logistic import fit_logistic, logit

    yy = np.asarray(y, dtype=np.int64)
    raw = np.asarray(prob, dtype=float)
    if not np.isfinite(raw).all():
        raise InputError(f"performance_indexes: {int((~np.isfinite(raw)).sum())} non-finite "
                         "predicted probabilities")
    p = np.clip(raw, 1e-10, 1 - 1e-10)
    out = {"auc": math.nan, "slope": math.nan, "intercept": math.nan,
           "brier": float(np.mean((p - yy) ** 2))}
    if yy.min() == yy.max():
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        out["auc"] = float(stats.roc_auc(yy, p))
        lp = logit(p)
        if np.ptp(lp) > 0:
            fit = fit_logistic(lp.reshape(-1, 1), yy)
            if fit.converged:
                out["intercept"] = float(fit.coef[0])
                out["slope"] = float(fit.coef[1])
    return out


def _resample_chunk(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Worker: run selection + fitting in each resample of the chunk (top-level: picklable).

    A resample that fails is returned as ``{"b", "error"}`` and counted, not fatal.
    """
    study = payload["study"]
    data = payload["data"]
    y0 = data.patients["y"].to_numpy(dtype=np.int64)
    out = []
    for b, idx, seed_b in payload["resamples"]:
        try:
            out.append(_one_resample(study, data, y0, b, idx, seed_b, payload.get("levels")))
        except Exception as exc:  # noqa: BLE001 - a failed resample is counted, not fatal
            out.append({"b": b, "error": f"{type(exc).__name__}: {exc}"})
    return out


def _one_resample(study: Any, data: Any, y0: npt.NDArray[np.int64], b: int,
                  idx: npt.NDArray[np.int64], seed_b: int, levels: Any) -> dict[str, Any]:
    from radval.models.pipeline import AnalysisData, fit_models, run_selection

    pats = data.patients.iloc[idx].copy()
    # unique labels: a patient drawn twice is two rows
    new_index = pd.Index([f"{pid}#{k}" for k, pid in enumerate(pats.index)], name="patient_id")
    pats.index = new_index
    feats = {}
    for fam, f in data.features.items():
        ff = f.iloc[idx].copy()
        ff.index = new_index
        feats[fam] = ff
    boot = AnalysisData(patients=pats, features=feats, reader_features=data.reader_features)
    yb = pats["y"].to_numpy(dtype=np.int64)
    if yb.min() == yb.max():
        raise ValueError(f"resample {b}: one outcome class")
    rec: dict[str, Any] = {"b": b, "metrics": {}, "test_prob": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = run_selection(study, boot, seed=seed_b, detail=False)
        fm = fit_models(study, boot, sel, comparison=False, cutoffs=False, levels=levels)
        train = fm.predict(boot.patients, boot.features)
        test = fm.predict(data.patients, data.features)
        rec["selected"] = {f: list(s["selected"]) for f, s in sel.items()}
        for name in fm.model_names:
            tr = performance_indexes(yb, train[name][1])
            te = performance_indexes(y0, test[name][1])
            rec["metrics"][name] = {m: (tr[m], te[m]) for m in OPTIMISM_METRICS}
            rec["test_prob"][name] = np.asarray(test[name][1], dtype=float)
    return rec


def optimism_bootstrap(study: Any, data: Any, *, n_resamples: int, preds: pd.DataFrame,
                       jobs: int | None = None, scheduler: Any = None,
                       n_chunks: int | None = None, levels: Any = None,
                       icc_dropped: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Harrell's bootstrap optimism of every refittable model in the development cohort.

    Parameters
    ----------
    study : StudyConfig
    data : AnalysisData
        All analysed patients (only the development cohort is used).
    n_resamples : int
        ``B`` (0 skips and returns empty tables; >= 200 recommended).
    preds : DataFrame
        Predictions of the final models (apparent performance on development).
    jobs, scheduler :
        Passed to :func:`radval.features.executor.map_cases`.
    levels : mapping, optional
        Designs of the clinical predictors frozen on the full development cohort (a level
        absent from a resample then gets coefficient 0 instead of failing).
    icc_dropped : dict, optional
        Family -> features the ICC step removed in the main selection.  The ICC step
        depends only on the second-reader data, which the resamples do not change, so
        these features are removed once up front (same result, less work).

    Returns
    -------
    dict
        ``table`` (model, metric, apparent, optimism, corrected, n_resamples),
        ``selection_frequency`` (family, feature, frequency), ``prediction_instability``
        (model, patient_index, apparent, p_low, p_high, mape),
        ``n_resamples``, ``n_failed``, ``flags``.
    """
    from radval.models.evaluation import stable_rng

    empty = {
        "table": pd.DataFrame(columns=["model", "metric", "apparent", "optimism", "corrected",
                                       "n_resamples"]),
        "selection_frequency": pd.DataFrame(columns=["family", "feature", "frequency"]),
        "prediction_instability": pd.DataFrame(columns=["model", "patient_index", "apparent",
                                                        "p_low", "p_high", "mape"]),
        "n_resamples": 0, "n_failed": 0, "flags": [],
    }
    if n_resamples <= 0:
        return empty
    from radval.models.pipeline import AnalysisData

    dev_mask = data.cohort_mask(study.development)
    dev = data.subset(dev_mask)
    if icc_dropped:
        feats = {fam: f.drop(columns=[c for c in icc_dropped.get(fam, []) if c in f.columns])
                 for fam, f in dev.features.items()}
        dev = AnalysisData(patients=dev.patients, features=feats,
                           reader_features=dict.fromkeys(dev.features))
    n = len(dev.patients)
    ids = dev.patients.index.astype(str).to_numpy()
    resamples = []
    for b in range(n_resamples):
        rng = stable_rng(study.seed, "optimism", str(b))
        idx = np.sort(rng.integers(0, n, size=n))
        seed_b = int(rng.integers(0, 2**31 - 1))
        resamples.append((b, idx, seed_b))
    k = n_chunks or max(1, min(n_resamples, 4 * max(1, jobs or 2)))
    chunks = [resamples[i::k] for i in range(k)]
    items = [{"study": study, "data": dev, "resamples": c, "levels": levels}
             for c in chunks if c]
    logger.info("internal validation: %d bootstrap resamples (selection + fitting repeated) "
                "in %d chunks", n_resamples, len(items))
    try:
        from radval.features.executor import map_cases

        outcomes = map_cases(_resample_chunk, items, jobs=jobs, scheduler=scheduler,
                             progress=None, desc="bootstrap resamples (chunks)")
        raw: list[dict[str, Any]] = []
        chunk_failed = 0
        for o in outcomes:
            if o.ok:
                raw.extend(o.value)
            else:
                logger.warning("bootstrap chunk failed: %s", o.error)
                chunk_failed += len(items[o.index]["resamples"])
    except ImportError:  # pragma: no cover - executor unavailable: run here
        raw = []
        chunk_failed = 0
        for it in items:
            raw.extend(_resample_chunk(it))
    errors = [r for r in raw if "error" in r]
    results = sorted((r for r in raw if "error" not in r), key=lambda r: r["b"])
    n_failed = chunk_failed + len(errors)
    for r in errors[:5]:
        logger.warning("bootstrap resample %d failed: %s", r["b"], r["error"])
    flags = []
    if n_failed:
        msg = f"{n_failed} of {n_resamples} bootstrap resamples failed and were dropped"
        warnings.warn(msg, DegenerateBootstrapWarning, stacklevel=2)
        flags.append(flag("BOOTSTRAP_FAILED", msg, n_failed=n_failed))
    if n_resamples < 200:
        flags.append(flag("FEW_RESAMPLES", f"optimism correction with {n_resamples} bootstrap "
                          "resamples (>= 200 recommended)", n_resamples=n_resamples))
    if not results:
        return {**empty, "n_failed": n_failed, "flags": flags}
    y0 = dev.patients["y"].to_numpy(dtype=np.int64)
    pdev = preds[preds["cohort"] == study.development]
    rows = []
    models = list(results[0]["metrics"])
    for model in models:
        pm = pdev[pdev["model"] == model].set_index("patient_id").loc[ids]
        app = performance_indexes(y0, pm["probability"].to_numpy(dtype=float))
        for metric in OPTIMISM_METRICS:
            diffs = np.array([r["metrics"][model][metric][0] - r["metrics"][model][metric][1]
                              for r in results if model in r["metrics"]], dtype=float)
            diffs = diffs[np.isfinite(diffs)]
            opt = float(diffs.mean()) if diffs.size else math.nan
            rows.append({"model": model, "metric": metric, "apparent": app[metric],
                         "optimism": opt, "corrected": app[metric] - opt,
                         "n_resamples": int(diffs.size)})
    table = pd.DataFrame(rows)
    freq_rows = []
    n_ok = len(results)
    for fam in data.features:
        counts: dict[str, int] = {}
        for r in results:
            for f in r["selected"].get(fam, []):
                counts[f] = counts.get(f, 0) + 1
        for f, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            freq_rows.append({"family": fam, "feature": f, "frequency": c / n_ok,
                              "count": c})
    inst_rows = []
    for model in models:
        mat = np.vstack([r["test_prob"][model] for r in results if model in r["test_prob"]])
        pm = pdev[pdev["model"] == model].set_index("patient_id").loc[ids]
        app = pm["probability"].to_numpy(dtype=float)
        lo = np.quantile(mat, 0.025, axis=0)
        hi = np.quantile(mat, 0.975, axis=0)
        mape = np.mean(np.abs(mat - app[None, :]), axis=0)
        for i in range(app.size):
            inst_rows.append({"model": model, "patient_index": i,
                              "apparent": float(app[i]), "p_low": float(lo[i]),
                              "p_high": float(hi[i]), "mape": float(mape[i])})
    return {"table": table, "selection_frequency": pd.DataFrame(freq_rows),
            "prediction_instability": pd.DataFrame(inst_rows), "n_resamples": n_ok,
            "n_failed": n_failed, "flags": flags,
            "not_refitted": ["scikit-learn comparison classifiers", "deep network weights"]}
