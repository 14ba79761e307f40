"""Step runners: ``select``, ``fit``, ``evaluate`` and the whole study (``radval run``).

Each runner writes its outputs into the run folder's staging area and commits them at
the end (:class:`radval.workflow._outputs.RunFolder`): an interrupted or failed step
leaves the previous complete outputs, and a later step refuses outputs of an earlier one
that did not complete or that changed since.  ``radval run`` stages all three steps and
commits once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from radval._provenance import atomic_write_json
from radval.contracts._files import ModelsFile, SelectionFile
from radval.contracts._results import ResultsFile
from radval.io.schema import check_table
from radval.models.guards import flag
from radval.models.logistic import DesignSpec
from radval.workflow import _imputation as imputation
from radval.workflow._assemble import (
    build_results,
    evaluation_flags,
    sample_size,
    subgroup_ids,
    summary_table,
    write_csv,
    write_tables,
)
from radval.workflow._bundle import write_signature_bundle
from radval.workflow._calibration import evaluation_options
from radval.workflow._coding import FAMILIES, read_clinical
from radval.workflow._cohort import AnalysisData, prepare_data
from radval.workflow._evaluation import evaluate_predictions
from radval.workflow._extraction import deep_refit_for_optimism, extract_features
from radval.workflow._fitting import (
    FittedModels,
    complete_data,
    fit_models,
    model_records,
    predictions_table,
)
from radval.workflow._harmonisation import add_diagnostics, harmonise_data, manifest_of
from radval.workflow._harmonisation import methods_sentence as harmonisation_methods
from radval.workflow._internal import optimism_bootstrap, optimism_pool
from radval.workflow._nomogram import nomogram_points
from radval.workflow._outputs import RunFolder
from radval.workflow._selection import run_selection
from radval.workflow._study import StudyConfig
from radval.workflow._survival import evaluate_survival, fit_study_survival_model

__all__ = ["EvaluateStep", "FitStep", "RunResult", "SelectStep", "run_evaluate", "run_fit",
           "run_select", "run_study"]

logger = logging.getLogger("radval.pipeline")


@dataclass(frozen=True, kw_only=True)
class SelectStep:
    """What :func:`run_select` produced.

    Attributes
    ----------
    out_dir : Path
    data : AnalysisData
        The analysed patients and their features.
    selection : dict
        Family -> selection record (``selection.json``).
    timings : dict
        Seconds per part.
    """

    out_dir: Path
    data: AnalysisData = field(repr=False)
    selection: dict[str, dict[str, Any]] = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class FitStep:
    """What :func:`run_fit` produced.

    Attributes
    ----------
    out_dir : Path
    data : AnalysisData
    fitted : FittedModels
    predictions : DataFrame
        ``predictions.parquet``.
    models : dict
        ``models.json``.
    timings : dict
    """

    out_dir: Path
    data: AnalysisData = field(repr=False)
    fitted: FittedModels = field(repr=False)
    predictions: pd.DataFrame = field(repr=False)
    models: dict[str, Any] = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EvaluateStep:
    """What :func:`run_evaluate` produced.

    Attributes
    ----------
    out_dir : Path
    results : ResultsFile
        ``results.json``.
    summary : DataFrame
        Cohort x model AUC (CI at the study's confidence_level).
    timings : dict
    warnings : list of dict
        The flags of the run (``results.warnings``).
    """

    out_dir: Path
    results: ResultsFile = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What :func:`run_study` produced.

    Attributes
    ----------
    out_dir : Path
    results_path : Path
        ``results.json``.
    summary : DataFrame
        Cohort x model AUC (CI at the study's confidence_level).
    timings : dict
    warnings : list of dict
    partial : bool
        Some cases failed extraction (``features/failures.csv``; exit code 4).
    """

    out_dir: Path
    results_path: Path | None
    summary: pd.DataFrame = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    partial: bool = False


def _out_dir(study: StudyConfig, out: str | Path | None) -> Path:
    p = Path(out) if out is not None else study.path(study.output)
    if p is None:  # pragma: no cover - output has a default
        raise ValueError("no output folder")
    p.mkdir(parents=True, exist_ok=True)
    return p


def _load_data(study: StudyConfig, folder: RunFolder, stage: Path, *, jobs: int | None,
               scheduler: str | None, timings: dict[str, float]
               ) -> tuple[AnalysisData, pd.DataFrame]:
    """Extract (cached in the run folder) and assemble the cohorts; the features table and
    the failures go to the staging area.  Returns the data and the failures."""
    t0 = time.perf_counter()
    clinical = read_clinical(study)  # validate before the (long) extraction
    ext = extract_features(study, folder.root, jobs=jobs, scheduler=scheduler,
                           clinical=clinical)
    timings["extraction"] = time.perf_counter() - t0
    (stage / "features").mkdir(parents=True, exist_ok=True)
    ext["features"].to_parquet(stage / "features" / "features_all.parquet", index=False)
    if len(ext["failures"]):
        write_csv(stage / "features" / "failures.csv", ext["failures"])
    t0 = time.perf_counter()
    data = prepare_data(study, ext["features"], failures=ext["failures"], clinical=clinical)
    data.extraction = ext["extraction"]
    if study.harmonisation.method != "none":
        # before the selection: it sees harmonised features (radval.workflow._harmonisation)
        data = harmonise_data(study, data, manifest=manifest_of(study))
    timings["prepare"] = time.perf_counter() - t0
    return data, ext["failures"]


def _select(study: StudyConfig, data: AnalysisData, stage: Path,
            timings: dict[str, float]) -> dict[str, dict[str, Any]]:
    t0 = time.perf_counter()
    logger.info("selection on %s (%d patients)", study.development,
                int(data.cohort_mask(study.development).sum()))
    selection = run_selection(study, data)
    timings["selection"] = time.perf_counter() - t0
    SelectionFile.from_data({"study": study.name, "seed": study.seed,
                             "selection": selection}).write(stage / "selection.json")
    logger.info("selected: %s", {f: len(s["selected"]) for f, s in selection.items()})
    rows = [{"family": fam, **r} for fam, sel in selection.items()
            for r in sel.get("funnel", [])]
    write_csv(stage / "tables" / "selection_funnel.csv", pd.DataFrame(rows))
    return selection


def _fit(study: StudyConfig, data: AnalysisData, selection: dict[str, dict[str, Any]],
         stage: Path, timings: dict[str, float], signing_key: str | Path | None = None
         ) -> tuple[FittedModels, pd.DataFrame, dict[str, Any]]:
    t0 = time.perf_counter()
    fm = fit_models(study, data, selection)
    data.completed = fm.completed  # multiple imputation: the completed data sets
    preds = predictions_table(study, data, fm)
    timings["fit"] = time.perf_counter() - t0
    # the table's definition is data-dictionary/predictions.yaml: checked before writing
    check_table(preds, "predictions", caller="predictions.parquet")
    preds.to_parquet(stage / "predictions.parquet", index=False)
    models: dict[str, Any] = {"models": model_records(study, fm), "cutoffs": fm.cutoffs,
                              "designs": {k: v.to_dict() for k, v in fm.designs.items()},
                              "signature_input": fm.signature_input, "flags": fm.flags}
    mi_record = imputation.fit_record(study, data, fm)
    if mi_record is not None:
        models["missing_data"] = mi_record
    dev = data.cohort_mask(study.development)
    if "nomogram" in fm.logistic:
        inputs, fit = fm.logistic["nomogram"]
        fr = fm.frame(data.patients.loc[dev], {k: v.loc[dev] for k, v in data.features.items()})
        models["nomogram"] = nomogram_points(fit, inputs, fm.designs["nomogram"], fr)
    if study.survival is not None:
        sig = "combined" if "combined" in fm.cutoffs else next(
            f for f in FAMILIES if f in fm.cutoffs)
        models["survival_model"] = fit_study_survival_model(study, data, preds, sig,
                                                            fm.cutoffs[sig])
    models["bundle"] = write_signature_bundle(study, data, fm, stage,
                                              survival=models.get("survival_model"))
    if signing_key is not None:
        from radval.models.bundle import sign_bundle

        _path, fingerprint = sign_bundle(stage / models["bundle"]["path"],
                                         private_key=signing_key)
        models["bundle"]["key_fingerprint"] = fingerprint
    ModelsFile.from_data(models).write(stage / "models.json")
    return fm, preds, models


def _evaluate(study: StudyConfig, data: AnalysisData, selection: dict[str, dict[str, Any]],
              models: dict[str, Any], preds: pd.DataFrame, stage: Path, *,
              jobs: int | None, scheduler: str | None, study_file: str | Path | None,
              timings: dict[str, float]) -> EvaluateStep:
    # the bootstrap's workers start (and import torch, scikit-learn) during the serial work
    # below; closed on every path
    with contextlib.ExitStack() as stack:
        pool = optimism_pool(study, jobs=jobs, scheduler=scheduler)
        if pool is not None:
            stack.enter_context(pool)
        return _evaluate_in(study, data, selection, models, preds, stage, jobs=jobs,
                            scheduler=scheduler, study_file=study_file, timings=timings,
                            pool=pool)


def _evaluate_in(study: StudyConfig, data: AnalysisData, selection: dict[str, dict[str, Any]],
                 models: dict[str, Any], preds: pd.DataFrame, stage: Path, *,
                 jobs: int | None, scheduler: str | None, study_file: str | Path | None,
                 timings: dict[str, float], pool: Any) -> EvaluateStep:
    cutoffs = {k: float(v) for k, v in models["cutoffs"].items()}
    ev = study.evaluation
    designs = {k: DesignSpec.from_dict(v) for k, v in models.get("designs", {}).items()}
    # the ICC step depends only on the second readers, which the resamples do not change
    icc_dropped = {fam: [r["feature"] for r in sel.get("features", [])
                         if r.get("step") == "icc" and not r.get("kept")]
                   for fam, sel in selection.items()}
    # the completed development data sets the optimism resamples are tested on
    complete_data(study, data, selection)
    deep_refit, not_refitted, refit_flags = deep_refit_for_optimism(study, data, jobs=jobs)
    done: dict[str, Any] = {}

    def evaluation() -> None:
        # the final models' evaluation: in a thread while the workers run the resamples
        t0 = time.perf_counter()
        logger.info("evaluating %d models in %d cohorts", preds["model"].nunique(),
                    preds["cohort"].nunique())
        done["tables"] = evaluate_predictions(
            preds, cutoffs=cutoffs, roles=study.roles,
            subgroup_ids=subgroup_ids(study, data), n_bootstrap=ev.bootstrap_ci,
            confidence_level=ev.confidence_level, dca_thresholds=ev.dca_thresholds,
            hl_groups=ev.hl_groups, seed=study.seed, **evaluation_options(study, cutoffs))
        timings["evaluation"] = time.perf_counter() - t0
        done["sample"] = sample_size(study, data, models["models"])

    t0 = time.perf_counter()
    optimism = optimism_bootstrap(study, data, n_resamples=ev.optimism, jobs=jobs,
                                  scheduler=scheduler, preds=preds, levels=designs,
                                  icc_dropped=icc_dropped, comparison=ev.optimism_comparison,
                                  deep_refit=deep_refit, not_refitted=not_refitted,
                                  pool=pool, meanwhile=evaluation)
    if pool is not None:
        pool.close()  # its workers' memory is not needed any more
    tables = done["tables"]
    sample, ss_flags = done["sample"]
    warn = list(data.warnings) + list(models.get("flags", []))
    warn += evaluation_flags(tables, selection)
    warn += ss_flags
    warn += refit_flags
    timings["optimism"] = time.perf_counter() - t0
    warn += optimism.flags
    survival = None
    sig_model = "combined" if "combined" in cutoffs else next(
        f for f in FAMILIES if f in cutoffs)
    if study.survival is not None:
        t0 = time.perf_counter()
        try:
            survival = evaluate_survival(study, data, preds, sig_model, cutoffs[sig_model],
                                         survival_model=models.get("survival_model"),
                                         optimism=optimism.survival)
            warn += survival.flags
        except ImportError as exc:  # pragma: no cover - survival module missing
            warn.append(flag("SURVIVAL_SKIPPED", f"survival analysis skipped: {exc}"))
        timings["survival"] = time.perf_counter() - t0
    raw = build_results(study, data, selection=selection, models=models, cutoffs=cutoffs,
                        tables=tables, optimism=optimism, survival=survival, warnings_=warn,
                        sample=sample, signature_model=sig_model, study_file=study_file,
                        run_dir=stage.parent)
    raw["missing_data"] = imputation.missing_record(study, data, models)
    raw["methods"]["missing_data"] = imputation.methods_sentence(study)
    if data.harmonisation is not None:
        add_diagnostics(study, data)
        raw["harmonisation"] = data.harmonisation.record
        raw["methods"]["harmonisation"] = harmonisation_methods(study)
    results = ResultsFile.from_data(raw)  # the definition, checked before anything is written
    results.write(stage / "results.json")
    write_tables(stage, raw)
    imputation.write_extra_tables(stage, raw)
    return EvaluateStep(out_dir=stage, results=results, summary=summary_table(raw),
                        timings=timings, warnings=warn)


def _read_selection(folder: RunFolder) -> dict[str, dict[str, Any]]:
    """``selection.json`` of a completed ``select``, families in :data:`FAMILIES` order
    (JSON files are written with sorted keys)."""
    folder.verify("select", action="radval select")
    sel = SelectionFile.read(folder.root / SelectionFile.FILE).to_data()["selection"]
    return {f: sel[f] for f in FAMILIES if f in sel}


def run_select(study: StudyConfig, out: str | Path | None = None, *, jobs: int | None = None,
               scheduler: str | None = None) -> SelectStep:
    """Step ``select``: extract (cached) and select features; writes ``selection.json``."""
    folder = RunFolder(_out_dir(study, out))
    stage = folder.stage()
    timings: dict[str, float] = {}
    data, _ = _load_data(study, folder, stage, jobs=jobs, scheduler=scheduler, timings=timings)
    selection = _select(study, data, stage, timings)
    folder.commit(stage, steps=["select"])
    return SelectStep(out_dir=folder.root, data=data, selection=selection, timings=timings)


def run_fit(study: StudyConfig, out: str | Path | None = None, *, jobs: int | None = None,
            scheduler: str | None = None, signing_key: str | Path | None = None) -> FitStep:
    """Step ``fit``: fit the models; writes predictions, ``models.json`` and the bundle
    (signed with ``signing_key``, a private Ed25519 key, when given)."""
    folder = RunFolder(_out_dir(study, out))
    selection = _read_selection(folder)  # before the (long) extraction: fail fast
    stage = folder.stage()
    timings: dict[str, float] = {}
    data, _ = _load_data(study, folder, stage, jobs=jobs, scheduler=scheduler, timings=timings)
    fm, preds, models = _fit(study, data, selection, stage, timings, signing_key)
    folder.commit(stage, steps=["select", "fit"], fresh=["fit"])
    return FitStep(out_dir=folder.root, data=data, fitted=fm, predictions=preds,
                   models=models, timings=timings)


def run_evaluate(study: StudyConfig, out: str | Path | None = None, *,
                 jobs: int | None = None, scheduler: str | None = None,
                 study_file: str | Path | None = None) -> EvaluateStep:
    """Step ``evaluate``: every number of ``results.json``, written with the tidy tables."""
    folder = RunFolder(_out_dir(study, out))
    # the outputs of the earlier steps first: a missing one fails before the extraction
    folder.verify("fit", action="radval fit")
    selection = _read_selection(folder)
    models = ModelsFile.read(folder.root / ModelsFile.FILE).to_data()
    preds = pd.read_parquet(folder.root / "predictions.parquet")
    stage = folder.stage()
    timings: dict[str, float] = {}
    data, _ = _load_data(study, folder, stage, jobs=jobs, scheduler=scheduler, timings=timings)
    step = _evaluate(study, data, selection, models, preds, stage, jobs=jobs,
                     scheduler=scheduler, study_file=study_file, timings=timings)
    folder.commit(stage, steps=["select", "fit", "evaluate"], fresh=["evaluate"])
    return EvaluateStep(out_dir=folder.root, results=step.results, summary=step.summary,
                        timings=timings, warnings=step.warnings)


def run_study(study: StudyConfig, out: str | Path | None = None, *, jobs: int | None = None,
              scheduler: str | None = None, study_file: str | Path | None = None,
              signing_key: str | Path | None = None) -> RunResult:
    """Run the whole study: extraction, selection, fitting and evaluation.

    Everything is staged and committed once at the end: an interruption leaves the
    previous complete run.

    Parameters
    ----------
    study : StudyConfig
        From :func:`radval.workflow.load_study`.
    out : path, optional
        Output folder (default: the study's ``output``, relative to the study file).
    jobs : int, optional
        Local worker processes (default: ``study.compute.jobs``).
    scheduler : str, optional
        Dask scheduler address (default: ``study.compute.scheduler``).
    study_file : path, optional
        The study file (its SHA-256 goes into the provenance).
    signing_key : path, optional
        Private Ed25519 key (``radval keygen``): the bundle is signed, so that sites can
        verify its origin (``radval validate --trusted-key``).

    Returns
    -------
    RunResult
    """
    folder = RunFolder(_out_dir(study, out))
    jobs = jobs or study.compute.jobs
    scheduler = scheduler or study.compute.scheduler
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    stage = folder.stage()
    data, failures = _load_data(study, folder, stage, jobs=jobs, scheduler=scheduler,
                                timings=timings)
    selection = _select(study, data, stage, timings)
    _fm, preds, models = _fit(study, data, selection, stage, timings, signing_key)
    step = _evaluate(study, data, selection, models, preds, stage, jobs=jobs,
                     scheduler=scheduler, study_file=study_file, timings=timings)
    folder.commit(stage, steps=["select", "fit", "evaluate"])
    timings["total"] = time.perf_counter() - t_all
    # timings are not an output of the run (they differ between identical runs)
    atomic_write_json(folder.root / "timings.json",
                      {k: round(v, 3) for k, v in timings.items()})
    return RunResult(out_dir=folder.root, results_path=folder.root / "results.json",
                     summary=step.summary, timings=timings, warnings=step.warnings,
                     partial=bool(len(failures)))
