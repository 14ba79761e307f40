"""Step runners: select, fit, evaluate and the whole study."""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from radval._provenance import atomic_write_json, atomic_write_text, sha256_file, utc_now
from radval._results import jsonable
from radval.contracts._base import Document
from radval.contracts._files import ModelsFile, SelectionFile
from radval.contracts._results import RESULTS_SCHEMA_VERSION, ResultsFile
from radval.exceptions import InputError, MissingInputError
from radval.io.schema import check_table
from radval.models.guards import (
    flag,
)
from radval.models.logistic import DesignSpec
from radval.workflow._bundle import write_signature_bundle
from radval.workflow._coding import FAMILIES, read_clinical
from radval.workflow._cohort import AnalysisData, prepare_data
from radval.workflow._extraction import deep_refit_for_optimism, extract_features
from radval.workflow._fitting import fit_models, model_records, predictions_table
from radval.workflow._nomogram import nomogram_points
from radval.workflow._selection import run_selection
from radval.workflow._study import StudyConfig
from radval.workflow._survival import evaluate_survival

logger = logging.getLogger("radval.pipeline")

D = TypeVar("D", bound=Document)


@dataclass
class RunResult:
    """What :func:`run_study` produced."""

    out_dir: Path
    results_path: Path | None
    summary: pd.DataFrame
    timings: dict[str, float]
    warnings: list[dict[str, Any]]
    partial: bool = False


def _out_dir(study: StudyConfig, out: str | Path | None) -> Path:
    if out is not None:
        return Path(out)
    p = study.path(study.output)
    assert p is not None  # noqa: S101
    return p


def _write_csv(path: Path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"))


def _load_data(study: StudyConfig, out_dir: Path, *, jobs: int | None, scheduler: str | None,
               timings: dict[str, float]) -> tuple[AnalysisData, dict[str, Any]]:
    t0 = time.perf_counter()
    clinical = read_clinical(study)  # validate before the (long) extraction
    ext = extract_features(study, out_dir, jobs=jobs, scheduler=scheduler,
                           clinical=clinical)
    timings["extraction"] = time.perf_counter() - t0
    feats_path = out_dir / "features" / "features_all.parquet"
    feats_path.parent.mkdir(parents=True, exist_ok=True)
    ext["features"].to_parquet(feats_path, index=False)
    if len(ext["failures"]):
        _write_csv(out_dir / "features" / "failures.csv", ext["failures"])
    t0 = time.perf_counter()
    data = prepare_data(study, ext["features"], failures=ext["failures"], clinical=clinical)
    data.extraction = ext["extraction"]
    timings["prepare"] = time.perf_counter() - t0
    return data, ext


def run_select(study: StudyConfig, out: str | Path | None = None, *, jobs: int | None = None,
               scheduler: str | None = None) -> dict[str, Any]:
    """Step ``select``: extract (cached) and select features; writes ``selection.json``."""
    out_dir = _out_dir(study, out)
    timings: dict[str, float] = {}
    data, _ = _load_data(study, out_dir, jobs=jobs, scheduler=scheduler, timings=timings)
    t0 = time.perf_counter()
    selection = run_selection(study, data)
    timings["selection"] = time.perf_counter() - t0
    SelectionFile.from_data({"study": study.name, "seed": study.seed,
                             "selection": selection}).write(out_dir / "selection.json")
    rows = []
    for fam, sel in selection.items():
        for r in sel.get("funnel", []):
            rows.append({"family": fam, **r})
    _write_csv(out_dir / "tables" / "selection_funnel.csv", pd.DataFrame(rows))
    return {"out_dir": out_dir, "data": data, "selection": selection, "timings": timings}


def _selection_file(out_dir: Path) -> dict[str, Any]:
    """``selection.json`` of step ``select``, families in :data:`FAMILIES` order (JSON
    files are written with sorted keys)."""
    sel = _read_step(SelectionFile, out_dir, "select").to_data()["selection"]
    return {f: sel[f] for f in FAMILIES if f in sel}


def _read_step(document: type[D], out_dir: Path, step: str) -> D:
    """The output of an earlier step, validated against its definition."""
    path = out_dir / document.FILE
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run `radval {step}` first (or `radval run`)")
    return document.read(path)


def run_fit(study: StudyConfig, out: str | Path | None = None, *,
            data: AnalysisData | None = None, selection: dict[str, Any] | None = None,
            jobs: int | None = None, scheduler: str | None = None) -> dict[str, Any]:
    """Step ``fit``: fit the models, write predictions, ``models.json`` and the bundle."""
    out_dir = _out_dir(study, out)
    timings: dict[str, float] = {}
    if selection is None:  # before the (long) extraction: fail fast
        selection = _selection_file(out_dir)
    if data is None:
        data, _ = _load_data(study, out_dir, jobs=jobs, scheduler=scheduler, timings=timings)
    assert selection is not None  # noqa: S101
    t0 = time.perf_counter()
    fm = fit_models(study, data, selection)
    preds = predictions_table(study, data, fm)
    timings["fit"] = time.perf_counter() - t0
    # the table's definition is data-dictionary/predictions.yaml: checked before writing
    check_table(preds, "predictions", caller="predictions.parquet")
    preds.to_parquet(out_dir / "predictions.parquet", index=False)
    models = {"models": model_records(study, fm), "cutoffs": fm.cutoffs,
              "designs": {k: v.to_dict() for k, v in fm.designs.items()},
              "signature_input": fm.signature_input, "flags": fm.flags}
    dev = data.cohort_mask(study.development)
    if "nomogram" in fm.logistic:
        inputs, fit = fm.logistic["nomogram"]
        fr = fm.frame(data.patients.loc[dev], {k: v.loc[dev] for k, v in data.features.items()})
        models["nomogram"] = nomogram_points(fit, inputs, fm.designs["nomogram"], fr)
    ModelsFile.from_data(models).write(out_dir / "models.json")
    bundle = write_signature_bundle(study, data, fm, out_dir)
    models["bundle"] = bundle
    ModelsFile.from_data(models).write(out_dir / "models.json")
    return {"out_dir": out_dir, "data": data, "fitted": fm, "predictions": preds,
            "models": models, "timings": timings}


def _sample_size(study: StudyConfig, data: AnalysisData,
                 fm_models: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], list[dict]]:
    from radval.models.samplesize import riley_sample_size

    dev = data.cohort_mask(study.development)
    y = data.patients["y"].to_numpy()[dev]
    n, ev = int(y.size), int(y.sum())
    cand = sum(v.shape[1] for v in data.features.values())
    cand += len(study.clinical_predictors)
    prev = ev / n if n else math.nan
    flags: list[dict[str, Any]] = []
    out: dict[str, Any] = {"n": n, "events": ev, "candidate_predictors": cand,
                           "epp": ev / cand if cand else None}
    if 0 < prev < 1:
        r = riley_sample_size(candidate_predictors=cand, prevalence=prev, n=n, events=ev)
        out["riley"] = r.to_dict()
        out["ok"] = r.ok
        final = next((m for m in fm_models if m["name"] == "nomogram"), None)
        if final is not None:
            p_final = len(final["predictors"])
            rf = riley_sample_size(candidate_predictors=max(p_final, 1), prevalence=prev,
                                   n=n, events=ev)
            out["final_model"] = {"model": "nomogram", "parameters": p_final,
                                  "epp": ev / max(p_final, 1), "riley": rf.to_dict(),
                                  "ok": rf.ok}
        if not r.ok:
            msg = (f"development cohort: {n} patients ({ev} events) for {cand} candidate "
                   f"predictors; Riley et al. (2020) criteria need {r.n_required} "
                   f"(EPP {ev / cand:.2f}); expect overfitting, rely on the "
                   "optimism-corrected estimates and external validation")
            logger.warning("%s", msg)
            flags.append(flag("SMALL_SAMPLE", msg, n=n, events=ev, required=r.n_required))
    else:
        out["ok"] = False
    return out, flags


def _subgroup_ids(study: StudyConfig, data: AnalysisData) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for sg in study.subgroups:
        rule = sg.rule
        m = rule.mask(data.patients)
        c = rule.complement_mask(data.patients)
        ids = data.patients.index.astype(str).to_numpy()
        out[sg.name] = {rule.label: set(ids[m]), rule.complement_label: set(ids[c])}
    return out


def run_evaluate(study: StudyConfig, out: str | Path | None = None, *,
                 data: AnalysisData | None = None, fitted: dict[str, Any] | None = None,
                 selection: dict[str, Any] | None = None, jobs: int | None = None,
                 scheduler: str | None = None, study_file: str | Path | None = None
                 ) -> dict[str, Any]:
    """Step ``evaluate``: every number of results.json, written with the tidy tables."""
    from radval import __version__
    from radval._provenance import package_versions
    from radval.workflow._evaluation import evaluate_predictions
    from radval.workflow._internal import optimism_bootstrap

    out_dir = _out_dir(study, out)
    timings: dict[str, float] = {}
    # the outputs of the earlier steps first: a missing one fails before the extraction
    if selection is None:
        selection = _selection_file(out_dir)
    models = fitted["models"] if fitted else _read_step(ModelsFile, out_dir, "fit").to_data()
    preds_path = out_dir / "predictions.parquet"
    if fitted is not None:
        preds = fitted["predictions"]
    elif preds_path.is_file():
        preds = pd.read_parquet(preds_path)
    else:
        raise MissingInputError(f"{preds_path} not found: run `radval fit` first")
    if data is None:
        data, _ = _load_data(study, out_dir, jobs=jobs, scheduler=scheduler, timings=timings)
    assert selection is not None  # noqa: S101
    cutoffs = {k: float(v) for k, v in models["cutoffs"].items()}
    roles = study.roles
    ev = study.evaluation
    t0 = time.perf_counter()
    logger.info("evaluating %d models in %d cohorts", preds["model"].nunique(),
                preds["cohort"].nunique())
    tables = evaluate_predictions(
        preds, cutoffs=cutoffs, roles=roles, subgroup_ids=_subgroup_ids(study, data),
        n_bootstrap=ev.bootstrap_ci, confidence_level=ev.confidence_level,
        dca_thresholds=ev.dca_thresholds, hl_groups=ev.hl_groups, seed=study.seed)
    timings["evaluation"] = time.perf_counter() - t0
    warn = list(data.warnings) + list(models.get("flags", []))
    # undefined metrics flagged once per cohort x model
    undefined: dict[tuple[str, str], list[str]] = {}
    for rec in tables["performance"].to_dict(orient="records"):
        reason = rec.get("undefined_reason")
        if isinstance(reason, str) and reason and rec["subgroup"] == "all":
            undefined.setdefault((rec["cohort"], reason), []).append(str(rec["model"]))
    for (cohort, reason), mods in undefined.items():
        warn.append(flag("UNDEFINED_METRIC", f"{cohort}: {reason} (models: {', '.join(mods)})",
                         cohort=cohort, models=mods))
    for fam, sel in selection.items():
        for note in sel.get("warnings", []) or []:
            warn.append(flag("SELECTION_NOTE", f"{fam} selection: {note}", family=fam))
    sample, ss_flags = _sample_size(study, data, models["models"])
    warn += ss_flags
    t0 = time.perf_counter()
    designs = {k: DesignSpec.from_dict(v) for k, v in models.get("designs", {}).items()}
    icc_dropped = {fam: [r["feature"] for r in sel.get("features", [])
                         if r.get("step") == "icc" and not r.get("kept")]
                   for fam, sel in selection.items()}
    deep_refit, not_refitted, refit_flags = deep_refit_for_optimism(study, data, jobs=jobs)
    warn += refit_flags
    optimism = optimism_bootstrap(study, data, n_resamples=ev.optimism, jobs=jobs,
                                  scheduler=scheduler, preds=preds, levels=designs,
                                  icc_dropped=icc_dropped, comparison=ev.optimism_comparison,
                                  deep_refit=deep_refit, not_refitted=not_refitted)
    timings["optimism"] = time.perf_counter() - t0
    warn += optimism.get("flags", [])
    survival = None
    sig_model = "combined" if "combined" in cutoffs else next(
        f for f in FAMILIES if f in cutoffs)
    if study.survival is not None:
        t0 = time.perf_counter()
        try:
            survival = evaluate_survival(study, data, preds, sig_model, cutoffs[sig_model])
        except ImportError as exc:  # pragma: no cover - survival module missing
            warn.append(flag("SURVIVAL_SKIPPED", f"survival analysis skipped: {exc}"))
        timings["survival"] = time.perf_counter() - t0
    baseline = _baseline(study, data)
    cohorts = []
    for c in study.cohorts:
        m = data.cohort_mask(c.name)
        y = data.patients["y"].to_numpy()[m]
        excl = sum(r["n"] for r in data.flow if r["cohort"] == c.name
                   and r["stage"] not in ("clinical_table", "analysed"))
        cohorts.append({"name": c.name, "role": c.role, "n": int(m.sum()),
                        "events": int(y.sum()),
                        "prevalence": float(y.mean()) if y.size else None,
                        "n_excluded": int(excl)})
    inputs: dict[str, Path] = {}
    for key, rel in (("clinical", study.clinical), ("manifest", study.manifest),
                     ("features", study.features), ("radiomics_params", study.radiomics.params)):
        p = study.path(rel)
        if p is not None and p.is_file():
            inputs[key] = p
    study_text = None
    if study_file is not None and Path(study_file).is_file():
        inputs["study_file"] = Path(study_file)
        study_text = Path(study_file).read_text(encoding="utf-8")
    sel_out = {}
    for fam, sel in selection.items():
        sel_out[fam] = {**sel, "funnel": sel.get("funnel", []),
                        "features": sel.get("features", [])}
    results: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "radval_version": __version__,
        "created": utc_now(),
        "provenance": {
            "versions": package_versions(), "seed": study.seed,
            "input_sha256": {k: sha256_file(v) for k, v in sorted(inputs.items())},
            "study": study.to_record(),
            "study_file_text": study_text,
        },
        "study": {"name": study.name, "outcome": study.outcome.column,
                  "positive_label": study.outcome.positive_label,
                  "definition": study.outcome.definition, "question": study.question,
                  "prediction_moment": study.prediction_moment,
                  "development_cohort": study.development,
                  "signature_model": sig_model},
        "cohorts": cohorts,
        "patient_flow": data.flow,
        "missing": data.missing,
        "warnings": warn,
        "sample_size": sample,
        "baseline": baseline,
        "selection": sel_out,
        "models": models["models"],
        "cutoffs": cutoffs,
        "performance": tables["performance"],
        "threshold_metrics": tables["threshold_metrics"],
        "comparisons": tables["comparisons"],
        "calibration": tables["calibration"],
        "curves": tables["curves"],
        "optimism": optimism["table"],
        "subgroups": tables["subgroups"],
        "heterogeneity": tables["heterogeneity"],
        "stability": {"selection_frequency": optimism["selection_frequency"],
                      "selection_size": optimism["selection_size"],
                      "prediction_instability": optimism["prediction_instability"],
                      "n_resamples": optimism["n_resamples"],
                      "n_failed": optimism["n_failed"]},
        "internal_validation": {
            "method": "Harrell bootstrap optimism (rms validate)",
            "n_resamples": optimism["n_resamples"], "n_failed": optimism["n_failed"],
            "refitted": optimism.get("refitted", []),
            "not_refitted": optimism.get("not_refitted", []),
            "deep_training": optimism.get("deep_training")},
        "nomogram": models.get("nomogram"),
        "extraction": _extraction_record(data.extraction),
        "bundle": models.get("bundle"),
        "methods": {
            "auc_ci": "DeLong (pROC ci.auc method='delong'); stratified percentile bootstrap",
            "threshold_metrics": "Wilson intervals at the cutoff frozen on the development "
                                 "cohort (positive iff probability >= cutoff)",
            "comparisons": "paired DeLong tests within each cohort, Holm adjustment",
            "hosmer_lemeshow_df": "g - 2 in the development cohort, g in validation cohorts",
            "heterogeneity": "Cochran Q on DeLong variances of independent subgroup AUCs, "
                             "chi-square with k - 1 df",
            "optimism": "Harrell bootstrap (rms validate): selection and fitting repeated in "
                        "each resample; optimism = mean(train - test); corrected = apparent - "
                        "optimism",
            "prediction_instability": "Riley & Collins 2023 (pminternal): per development "
                                      "patient, predictions of the bootstrap models on the "
                                      "original data",
            "missing_data": "complete-case analysis",
        },
    }
    if survival is not None:
        results["survival"] = {"model": survival["model"], "cutoff": survival["cutoff"],
                               "hr_per": survival["hr_per"], "km": survival["km"],
                               "summary": survival["summary"]}
    ResultsFile.from_data(results).write(out_dir / "results.json")
    _write_tables(out_dir, results)
    summary = summary_table(results)
    return {"out_dir": out_dir, "results": results, "summary": summary, "timings": timings,
            "warnings": warn}


def _extraction_record(info: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in info.items():
        if k == "deep" and isinstance(v, Mapping):
            out[k] = {kk: vv for kk, vv in v.items() if kk != "weights_path"}
        else:
            out[k] = v
    return out


def _baseline(study: StudyConfig, data: AnalysisData) -> Any:
    variables = [p.name for p in study.clinical_predictors]
    variables += [study.outcome.column]
    cat = [p.name for p in study.clinical_predictors if p.kind == "categorical"]
    cat += [study.outcome.column]
    try:
        from radval.stats._descriptive import baseline_table
    except ImportError:  # pragma: no cover
        return []
    frame = data.patients.reset_index()[["patient_id", "cohort", *variables]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return baseline_table(frame, group="cohort", variables=variables, categorical=cat)
    except (InputError, ValueError) as exc:
        logger.warning("Table 1 could not be computed: %s", exc)
        return []


def _write_tables(out_dir: Path, results: Mapping[str, Any]) -> None:
    tdir = out_dir / "tables"
    for key in ("cohorts", "patient_flow", "warnings", "baseline", "models", "performance",
                "threshold_metrics", "comparisons", "calibration", "optimism", "subgroups",
                "heterogeneity", "missing"):
        val = results.get(key)
        if isinstance(val, pd.DataFrame):
            df = val
        elif isinstance(val, list):
            df = pd.DataFrame(jsonable(val))
        else:
            continue
        if key == "models":
            df = df.drop(columns=["coefficients", "settings"], errors="ignore")
            df["predictors"] = df["predictors"].map(lambda v: ";".join(map(str, v)))
        if key == "warnings":
            df = df.drop(columns=["context"], errors="ignore")
        _write_csv(tdir / f"{key}.csv", df)
    for name, df in results["curves"].items():
        _write_csv(tdir / f"curve_{name}.csv", df)
    stab = results["stability"]
    for name in ("selection_frequency", "selection_size", "prediction_instability"):
        if isinstance(stab.get(name), pd.DataFrame):
            _write_csv(tdir / f"{name}.csv", stab[name])
    rows = []
    for fam, sel in results["selection"].items():
        for r in sel.get("funnel", []):
            rows.append({"family": fam, **r})
        coefs = pd.DataFrame(sel["coefficients"]).assign(family=fam)
        _write_csv(tdir / f"coefficients_{fam}.csv", coefs)
        if sel.get("features"):
            _write_csv(tdir / f"selection_steps_{fam}.csv", pd.DataFrame(sel["features"]))
    _write_csv(tdir / "selection_funnel.csv", pd.DataFrame(rows))
    _write_csv(out_dir / "patient_flow.csv", pd.DataFrame(results["patient_flow"]))
    if "survival" in results:
        for k in ("km", "summary"):
            if isinstance(results["survival"][k], pd.DataFrame):
                _write_csv(tdir / f"survival_{k}.csv", results["survival"][k])


def summary_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Cohort x model AUC (95% CI) from results (whole cohorts)."""
    perf = results["performance"]
    perf = perf if isinstance(perf, pd.DataFrame) else pd.DataFrame(perf)
    perf = perf[perf["subgroup"] == "all"]
    rows = []
    for rec in perf.to_dict(orient="records"):
        auc = rec.get("auc")
        if auc is None or (isinstance(auc, float) and math.isnan(auc)):
            text = f"undefined ({rec.get('undefined_reason')})"
        else:
            lo, hi = rec.get("auc_ci_low"), rec.get("auc_ci_high")
            has_ci = lo is not None and not (isinstance(lo, float) and math.isnan(lo))
            text = f"{auc:.3f}" + (f" ({lo:.3f}-{hi:.3f})" if has_ci else " (no CI)")
        rows.append({"cohort": rec["cohort"], "model": rec["model"], "auc": text})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    models = list(dict.fromkeys(df["model"]))
    cohorts = list(dict.fromkeys(df["cohort"]))
    wide = df.pivot(index="model", columns="cohort", values="auc").reindex(models)
    return wide[cohorts]


def run_study(study: StudyConfig, out: str | Path | None = None, *, jobs: int | None = None,
              scheduler: str | None = None, study_file: str | Path | None = None) -> RunResult:
    """Run the whole study: extraction, selection, fitting and evaluation.

    Parameters
    ----------
    study : StudyConfig
        From :func:`radval.models.study.load_study`.
    out : path, optional
        Output folder (default: the study's ``output``, relative to the study file).
    jobs : int, optional
        Local worker processes (default: ``study.compute.jobs``).
    scheduler : str, optional
        Dask scheduler address (default: ``study.compute.scheduler``).
    study_file : path, optional
        The study file (its SHA-256 goes into the provenance).

    Returns
    -------
    RunResult
    """
    out_dir = _out_dir(study, out)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or study.compute.jobs
    scheduler = scheduler or study.compute.scheduler
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    data, ext = _load_data(study, out_dir, jobs=jobs, scheduler=scheduler, timings=timings)
    t0 = time.perf_counter()
    logger.info("selection on %s (%d patients)", study.development,
                int(data.cohort_mask(study.development).sum()))
    selection = run_selection(study, data)
    timings["selection"] = time.perf_counter() - t0
    SelectionFile.from_data({"study": study.name, "seed": study.seed,
                             "selection": selection}).write(out_dir / "selection.json")
    logger.info("selected: %s", {f: len(s["selected"]) for f, s in selection.items()})
    fitted = run_fit(study, out_dir, data=data, selection=selection)
    timings.update(fitted["timings"])
    ev = run_evaluate(study, out_dir, data=data, fitted=fitted, selection=selection,
                      jobs=jobs, scheduler=scheduler, study_file=study_file)
    timings.update(ev["timings"])
    timings["total"] = time.perf_counter() - t_all
    atomic_write_json(out_dir / "timings.json", {k: round(v, 3) for k, v in timings.items()})
    return RunResult(out_dir=out_dir, results_path=out_dir / "results.json",
                     summary=ev["summary"], timings=timings, warnings=ev["warnings"],
                     partial=bool(len(ext["failures"])))
