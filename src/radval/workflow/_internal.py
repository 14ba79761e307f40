"""Internal validation: Harrell's bootstrap optimism, selection and prediction stability.

For ``b = 1..B`` (Harrell 2015, *Regression Modeling Strategies* §5.3; rms
``validate(method="boot")``):

1. draw a bootstrap sample of the development cohort (``n`` patients with
   replacement);
2. repeat the **whole** development in it: feature selection (ICC, Mann-Whitney,
   redundancy, LASSO with its cross-validation) and the fitting of every model.  The
   copies of a patient drawn more than once share one cross-validation fold: otherwise
   the CV would validate on patients it trained on, choose a smaller penalty than it
   does in the original sample, and the resample models would not replicate the
   development procedure (they would be more overfitted, the optimism overstated);
3. evaluate each model on the bootstrap sample (*training*) and on the original
   development cohort (*test*).

For each index (AUC, calibration intercept and slope from ``logit(y) ~ a + b
logit(p)``, Brier score): ``optimism = mean_b(train_b - test_b)`` and
``corrected = apparent - optimism``.  The calibration indexes of a score model (rad-score,
DL-score: shrunken linear predictors) are those of the score after its logistic
recalibration on the data it was developed on (the development cohort; each resample's
training data), so their optimism is the shrinkage the score needs, not its raw scale
(``risk_scale`` of the optimism rows).  The resamples run in parallel through
:func:`radval.features.executor.map_cases` (local processes or Dask), in chunks,
each with its own seed derived from the study seed (results do not depend on the
number of workers).

The same resamples give the **bias-corrected calibration curve** (``rms::calibrate``) and
the **optimism-corrected decision curve**: each resample's models are evaluated on common
grids fixed before the resampling (:mod:`radval.workflow._calibration`), in the
resample and in the original cohort, and the mean optimism at each predicted risk or
threshold is subtracted from the apparent curve.

The same resamples give the **selection frequency** of each feature and the
**prediction instability** of Riley & Collins (2023, pminternal): for each
development patient the predictions of the ``B`` bootstrap models on the
original data, summarised by the 2.5 / 97.5 percentiles and the mean absolute
prediction error ``MAPE_i = mean_b |p_ib - p_i|`` against the apparent prediction.

What is fitted on the development cohort is fitted again in every resample: the
feature selection and every model, the scikit-learn comparison classifiers
(``comparison=True``) and, when radval trained the deep network on the outcome,
the network itself (``deep_refit``, :class:`radval.features.deep_refit.DeepRefit`): each
resample trains its own network on the resample's scans and takes the deep features
of the resample and of the original cohort from it (the second readers' features of
the ICC step too).  Whatever is not refitted is listed in the result
(``not_refitted``), because its optimism is then missing from the correction.  With
a re-trained network the deep feature ``deep_k`` of one resample is not the
``deep_k`` of another, so the selection frequency is reported for the radiomics
features only.
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval.exceptions import DegenerateBootstrapWarning, InputError, RadvalWarning
from radval.models.guards import flag
from radval.workflow._calibration import SCORE_MODELS, recalibrated_indexes

__all__ = ["OPTIMISM_METRICS", "OptimismResult", "optimism_bootstrap", "performance_indexes"]

logger = logging.getLogger("radval.internal")

OPTIMISM_METRICS = ("auc", "slope", "intercept", "brier")


@dataclass(frozen=True, kw_only=True)
class OptimismResult(Result):
    """Harrell's bootstrap optimism of every refittable model, with stability.

    Attributes
    ----------
    table : DataFrame
        ``model, metric, apparent, optimism, corrected, n_resamples``.
    selection_frequency : DataFrame
        ``family, feature, frequency, count``.
    selection_size : DataFrame
        ``family, mean, median, min, max``: features selected per resample.
    prediction_instability : DataFrame
        ``model, patient_index, apparent, p_low, p_high, mape``.
    n_resamples, n_failed : int
        Successful and failed resamples.
    flags : list of dict
        ``BOOTSTRAP_FAILED``, ``FEW_RESAMPLES``.
    refitted, not_refitted : list of str
        What each resample fitted again, and what it took as given.
    deep_training : dict or None
        Number and median apparent AUC of the resamples' networks, when re-trained.
    survival : DataFrame or None
        ``metric, horizon, optimism, n_resamples`` of the time-to-event marker (studies
        with a survival block; :mod:`radval.workflow._survival_optimism`).
    calibration_corrected, calibration_corrected_summary, net_benefit_corrected :
        DataFrame or None
        Bias-corrected calibration curves, their errors, and optimism-corrected decision
        curves (:func:`radval.workflow._calibration.corrected_tables`).
    """

    table: pd.DataFrame = field(repr=False, compare=False)
    selection_frequency: pd.DataFrame = field(repr=False, compare=False)
    selection_size: pd.DataFrame = field(repr=False, compare=False)
    prediction_instability: pd.DataFrame = field(repr=False, compare=False)
    n_resamples: int
    n_failed: int
    flags: list[dict[str, Any]]
    refitted: list[str]
    not_refitted: list[str]
    deep_training: dict[str, Any] | None = None
    survival: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    calibration_corrected: pd.DataFrame | None = field(default=None, repr=False,
                                                       compare=False)
    calibration_corrected_summary: pd.DataFrame | None = field(default=None, repr=False,
                                                               compare=False)
    net_benefit_corrected: pd.DataFrame | None = field(default=None, repr=False,
                                                       compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The optimism table."""
        return self.table

    def extra_results(self) -> dict[str, pd.DataFrame]:
        """The corrected curves of ``results.json`` (none when not computed)."""
        out = {"optimism_calibration": self.calibration_corrected,
               "optimism_calibration_summary": self.calibration_corrected_summary,
               "optimism_net_benefit": self.net_benefit_corrected}
        return {k: v for k, v in out.items() if v is not None}


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
            out.append(_one_resample(study, data, y0, b, idx, seed_b, payload.get("levels"),
                                     comparison=payload.get("comparison", False),
                                     deep_refit=payload.get("deep_refit"),
                                     curve_spec=payload.get("curve_spec")))
        except Exception as exc:  # noqa: BLE001 - a failed resample is counted, not fatal
            out.append({"b": b, "error": f"{type(exc).__name__}: {exc}"})
    return out


def _refit_deep_features(data: Any, refit: Any, idx: npt.NDArray[np.int64],
                         yb: npt.NDArray[np.int64], seed: int
                         ) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, Any]]:
    """Train the resample's network; its features of the original development patients
    (index ``patient_id``, the analysed ``deep_*`` columns) and of the second-reader rows
    (the long ICC frame of :func:`radval.models.pipeline.prepare_data`), or None."""
    ids = data.patients.index.astype(str)
    long = refit.features(ids[idx], yb, seed=seed)
    cols = list(data.features["deep"].columns)
    first = long.iloc[refit.first_reader_rows(ids)][cols]
    first.index = pd.Index(ids, name="patient_id")
    training = dict(long.attrs.get("training", {}))
    reader = data.reader_features.get("deep")
    if reader is None:
        return first, None, training
    from radval.workflow._cohort import reader_frame

    return first, reader_frame(long, reader.index.astype(str), cols), training


def _one_resample(study: Any, data: Any, y0: npt.NDArray[np.int64], b: int,
                  idx: npt.NDArray[np.int64], seed_b: int, levels: Any, *,
                  comparison: bool = False, deep_refit: Any = None,
                  curve_spec: Any = None) -> dict[str, Any]:
    from radval.workflow._cohort import AnalysisData
    from radval.workflow._fitting import fit_models
    from radval.workflow._selection import run_selection

    pats = data.patients.iloc[idx].copy()
    yb = pats["y"].to_numpy(dtype=np.int64)
    if yb.min() == yb.max():
        raise ValueError(f"resample {b}: one outcome class")
    test_features = dict(data.features)
    reader_features = dict(data.reader_features)
    training = None
    refit: set[str] = set()
    if deep_refit is not None and "deep" in data.features:
        test_features["deep"], reader_features["deep"], training = _refit_deep_features(
            data, deep_refit, idx, yb, seed_b)
        refit.add("deep")
    if getattr(data, "harmonisation", None) is not None:
        # ComBat fitted again on the resample (radval.workflow._harmonisation)
        from radval.workflow._harmonisation import resample_features

        test_features, reader_features = resample_features(data, test_features,
                                                           reader_features, idx, refit)
    # unique labels: a patient drawn twice is two rows
    new_index = pd.Index([f"{pid}#{k}" for k, pid in enumerate(pats.index)], name="patient_id")
    pats.index = new_index
    feats = {}
    for fam, f in test_features.items():
        ff = f.iloc[idx].copy()
        ff.index = new_index
        feats[fam] = ff
    boot = AnalysisData(patients=pats, features=feats, reader_features=reader_features)
    rec: dict[str, Any] = {"b": b, "metrics": {}, "test_prob": {}}
    if training is not None:
        rec["deep_training"] = {k: training[k] for k in ("seconds_total", "apparent_auc")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the copies of a patient share a LASSO CV fold, as in the original sample
        sel = run_selection(study, boot, seed=seed_b, detail=False,
                            groups=data.patients.index.astype(str)[idx])
        # with multiple imputation the resample is imputed again (seed_b) and its models
        # are tested on the completed development sets of the main analysis
        fm = fit_models(study, boot, sel, comparison=comparison, cutoffs=False, levels=levels,
                        seed=seed_b)
        train = fm.predict(boot.patients, boot.features, completed=fm.completed)
        test = fm.predict(data.patients, test_features,
                          completed=getattr(data, "completed", None))
        rec["selected"] = {f: list(s["selected"]) for f, s in sel.items()}
        for name in fm.model_names:
            tr = performance_indexes(yb, train[name][1])
            te = performance_indexes(y0, test[name][1])
            if name in SCORE_MODELS:  # calibration of the score after its recalibration
                tr, te = recalibrated_indexes(yb, train[name][1], y0, test[name][1], tr, te)
            rec["metrics"][name] = {m: (tr[m], te[m]) for m in OPTIMISM_METRICS}
            rec["test_prob"][name] = np.asarray(test[name][1], dtype=float)
        if getattr(study, "survival", None) is not None:
            # the time-to-event marker of this resample, train vs test
            from radval.workflow._survival_optimism import resample_survival

            rec["survival"] = resample_survival(study, data, fm, boot, train, test)
        if curve_spec is not None:
            from radval.workflow._calibration import resample_curves

            # calibration and decision curves on the common grids (rms calibrate)
            rec["curves"] = {name: resample_curves(curve_spec, name, yb, train[name][1], y0,
                                                   test[name][1])
                             for name in fm.model_names}
    return rec


class _Meanwhile:
    """Context: ``work()`` runs in a thread while the block runs (``parallel``; its
    exception is raised after the block), else before it (its exception is raised at
    once, and the block does not run).  In a thread only while the block waits for other
    processes: in-process resamples change the warning filters, which are global
    (``warnings.catch_warnings``)."""

    def __init__(self, work: Callable[[], Any] | None, parallel: bool) -> None:
        self._work = work
        self._parallel = parallel
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            if self._work is not None:
                self._work()
        except BaseException as exc:  # noqa: BLE001 - raised in the calling thread
            self._error = exc

    def __enter__(self) -> _Meanwhile:
        if self._work is None:
            return self
        if not self._parallel:
            self._work()
            return self
        self._thread = threading.Thread(target=self._run, name="radval-meanwhile",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None and exc_type is None:
            raise self._error


def optimism_pool(study: Any, *, jobs: int | None, scheduler: Any = None) -> Any:
    """Worker processes for :func:`optimism_bootstrap`, started now so that their start-up
    (a Python each, importing torch and scikit-learn: seconds) overlaps the serial work the
    caller does before the bootstrap; ``None`` when the bootstrap will not use local
    workers (no resamples, one job, or a Dask scheduler)."""
    from radval.features.executor import WorkerPool, available_cores, resolve_scheduler

    n = jobs if jobs is not None else available_cores()
    if study.evaluation.optimism <= 0 or n < 2 or resolve_scheduler(scheduler) is not None:
        return None
    preload = ["radval.workflow._internal", "radval.workflow._fitting",
               "radval.workflow._selection", "sklearn.linear_model", "sklearn.ensemble",
               "sklearn.svm"]
    # torch only where the resamples train a network (deep_refit_for_optimism's conditions)
    if (study.deep.enabled and study.evaluation.optimism_deep == "retrain"
            and study.deep.weights is None and study.features is None):
        preload += ["torch", "radval.features.deep_refit"]
    return WorkerPool(n, preload=preload)


def optimism_bootstrap(study: Any, data: Any, *, n_resamples: int, preds: pd.DataFrame,
                       jobs: int | None = None, scheduler: Any = None,
                       n_chunks: int | None = None, levels: Any = None,
                       icc_dropped: dict[str, list[str]] | None = None,
                       comparison: bool = True, deep_refit: Any = None,
                       not_refitted: list[str] | None = None,
                       pool: Any = None, meanwhile: Callable[[], Any] | None = None
                       ) -> OptimismResult:
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
        these features are removed once up front (same result, less work).  Not used
        for the deep family when ``deep_refit`` is given (each resample's network gives
        other second-reader features).
    comparison : bool, optional
        Refit the scikit-learn comparison classifiers in every resample (default).  With
        ``False`` they are left out of the table and listed in ``not_refitted``.
    deep_refit : DeepRefit, optional
        Train the deep network again in every resample
        (:class:`radval.features.deep_refit.DeepRefit`).  Without it the deep features are
        taken as given.
    not_refitted : list of str, optional
        What the caller knows is fitted on the development cohort but not refitted here
        (e.g. a network whose features are taken as given); passed through.
    pool : WorkerPool, optional
        Worker processes started beforehand (:func:`optimism_pool`); replaces ``jobs``.
    meanwhile : callable, optional
        The caller's own work (no arguments; e.g. the evaluation of the final models),
        run in a thread of this process while worker processes run the resamples, so
        that this process does not sit idle; an exception it raises is raised once the
        resamples are done.  When the resamples run here it runs first, and its exception
        is raised at once.

    Returns
    -------
    OptimismResult
    """
    from radval._rng import stable_rng

    empty: dict[str, Any] = {
        "table": pd.DataFrame(columns=["model", "metric", "apparent", "optimism", "corrected",
                                       "n_resamples"]),
        "selection_frequency": pd.DataFrame(columns=["family", "feature", "frequency"]),
        "selection_size": pd.DataFrame(columns=["family", "mean", "median", "min", "max"]),
        "prediction_instability": pd.DataFrame(columns=["model", "patient_index", "apparent",
                                                        "p_low", "p_high", "mape"]),
        "n_resamples": 0, "n_failed": 0, "flags": [], "refitted": [], "not_refitted": [],
    }
    if n_resamples <= 0:
        if meanwhile is not None:
            meanwhile()
        return OptimismResult(**empty)
    from radval.workflow._cohort import AnalysisData

    dev_mask = data.cohort_mask(study.development)
    dev = data.subset(dev_mask)
    refit_deep = deep_refit is not None and "deep" in dev.features
    if icc_dropped:
        # families whose features the resamples do not change: ICC once, up front
        fixed = [fam for fam in dev.features if not (refit_deep and fam == "deep")]
        feats = {fam: f.drop(columns=[c for c in icc_dropped.get(fam, []) if c in f.columns])
                 if fam in fixed else f for fam, f in dev.features.items()}
        readers = {fam: None if fam in fixed else dev.reader_features.get(fam)
                   for fam in dev.features}
        dev = AnalysisData(patients=dev.patients, features=feats, reader_features=readers,
                           completed=dev.completed, harmonisation=dev.harmonisation)
    refitted = [f"feature selection of {', '.join(dev.features)} (ICC, Mann-Whitney U, "
                "redundancy, LASSO with its cross-validation)"]
    skipped = list(not_refitted or [])
    # harmonisation and imputation are repeated in every resample (_one_resample)
    if getattr(dev, "harmonisation", None) is not None:
        refitted.insert(0, "ComBat harmonisation (fitted on each resample, before selection)")
    if getattr(dev, "completed", None) is not None:
        refitted.append("multiple imputation of the clinical predictors (bootstrap, then "
                        f"impute; {len(dev.completed)} completed sets per resample)")
    if refit_deep:
        refitted.append("deep network (trained again on each resample)")
    if study.models.comparison:
        if comparison:
            refitted.append("scikit-learn comparison classifiers")
        else:
            skipped.append("scikit-learn comparison classifiers (left out of the table)")
    n = len(dev.patients)
    ids = dev.patients.index.astype(str).to_numpy()
    resamples = []
    for b in range(n_resamples):
        rng = stable_rng(study.seed, "optimism", str(b))
        idx = np.sort(rng.integers(0, n, size=n))
        seed_b = int(rng.integers(0, 2**31 - 1))
        resamples.append((b, idx, seed_b))
    # common grids of the calibration and decision curves, fixed before resampling
    from radval.workflow._calibration import corrected_tables, curve_spec

    y_dev = dev.patients["y"].to_numpy(dtype=np.int64)
    pdev0 = preds[preds["cohort"] == study.development]
    apparent = {m: g.set_index("patient_id").loc[ids, "probability"].to_numpy(dtype=float)
                for m, g in pdev0.groupby("model", sort=False)}
    spec = curve_spec(method="lowess", thresholds=study.evaluation.dca_thresholds, y=y_dev,
                      apparent=apparent)
    # the crops of a re-trained network travel with every chunk: fewer, larger chunks
    per_worker = 2 if refit_deep else 4
    k = n_chunks or max(1, min(n_resamples, per_worker * max(1, jobs or 2)))
    chunks = [resamples[i::k] for i in range(k)]
    items = [{"study": study, "data": dev, "resamples": c, "levels": levels,
              "comparison": comparison, "deep_refit": deep_refit if refit_deep else None,
              "curve_spec": spec}
             for c in chunks if c]
    logger.info("internal validation: %d bootstrap resamples (selection + fitting repeated) "
                "in %d chunks", n_resamples, len(items))
    try:
        from radval.features.executor import map_cases, runs_in_workers

        with _Meanwhile(meanwhile, runs_in_workers(len(items), jobs=jobs, scheduler=scheduler,
                                                   pool=pool)):
            outcomes = map_cases(_resample_chunk, items, jobs=jobs, scheduler=scheduler,
                                 progress=None, desc="bootstrap resamples (chunks)",
                                 pool=pool)
        raw: list[dict[str, Any]] = []
        chunk_failed = 0
        for o in outcomes:
            if o.ok:
                raw.extend(o.value)
            else:
                logger.warning("bootstrap chunk failed: %s", o.error)
                chunk_failed += len(items[o.index]["resamples"])
    except ImportError:  # pragma: no cover - executor unavailable: run here
        if meanwhile is not None:
            meanwhile()
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
        return OptimismResult(**{**empty, "n_failed": n_failed, "flags": flags,
                                 "refitted": refitted, "not_refitted": skipped})
    y0 = dev.patients["y"].to_numpy(dtype=np.int64)
    pdev = preds[preds["cohort"] == study.development]
    rows = []
    models = list(results[0]["metrics"])
    refitted.insert(1, "every model: " + ", ".join(models))
    for model in models:
        pm = pdev[pdev["model"] == model].set_index("patient_id").loc[ids]
        p_app = pm["probability"].to_numpy(dtype=float)
        app = performance_indexes(y0, p_app)
        if model in SCORE_MODELS:
            app, _same = recalibrated_indexes(y0, p_app, y0, p_app, app, app)
        for metric in OPTIMISM_METRICS:
            diffs = np.array([r["metrics"][model][metric][0] - r["metrics"][model][metric][1]
                              for r in results if model in r["metrics"]], dtype=float)
            diffs = diffs[np.isfinite(diffs)]
            opt = float(diffs.mean()) if diffs.size else math.nan
            rows.append({"model": model, "metric": metric, "apparent": app[metric],
                         "optimism": opt, "corrected": app[metric] - opt,
                         "n_resamples": int(diffs.size),
                         "risk_scale": "recalibrated_score" if model in SCORE_MODELS
                         and metric != "auc" else "model"})
    table = pd.DataFrame(rows)
    freq_rows = []
    size_rows = []
    n_ok = len(results)
    for fam in data.features:
        # how many features each resample kept: every family, re-trained networks included
        sizes = np.array([len(r["selected"].get(fam, [])) for r in results], dtype=float)
        size_rows.append({"family": fam, "mean": float(sizes.mean()),
                          "median": float(np.median(sizes)), "min": int(sizes.min()),
                          "max": int(sizes.max())})
        if refit_deep and fam == "deep":  # deep_k differs between re-trained networks
            continue
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
    trained = [r["deep_training"] for r in results if "deep_training" in r]
    deep_training = None
    if trained:
        secs = np.array([t["seconds_total"] for t in trained], dtype=float)
        aucs = np.array([t["apparent_auc"] for t in trained], dtype=float)
        # seconds go to the log, not to the result (results.json is byte-reproducible)
        logger.info("internal validation: %d networks trained, %.2f s each on average",
                    len(trained), float(secs.mean()))
        deep_training = {"n_networks": len(trained),
                         "apparent_auc_median": float(np.nanmedian(aucs))}
    survival = None
    if getattr(study, "survival", None) is not None:
        from radval.workflow._survival_optimism import survival_optimism_table

        survival = survival_optimism_table(results, study.survival.horizons)
    corrected = corrected_tables(spec, y_dev, {m: apparent[m] for m in models
                                               if m in apparent}, results)
    return OptimismResult(table=table, selection_frequency=pd.DataFrame(freq_rows),
                          selection_size=pd.DataFrame(size_rows),
                          prediction_instability=pd.DataFrame(inst_rows), n_resamples=n_ok,
                          n_failed=n_failed, flags=flags, refitted=refitted,
                          not_refitted=skipped, deep_training=deep_training,
                          survival=survival,
                          calibration_corrected=corrected["calibration"],
                          calibration_corrected_summary=corrected["summary"],
                          net_benefit_corrected=corrected["net_benefit"])
