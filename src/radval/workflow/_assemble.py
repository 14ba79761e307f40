"""Assembling results.json and the tidy tables from the outputs of the steps.

:func:`build_results` builds the content of ``results.json`` of a development run
(validated by :class:`radval.contracts.ResultsFile` before it is written);
:func:`write_tables` writes its tables as CSV (``tables/``); the other functions are the
pieces (sample size, subgroups, Table 1, cohorts, provenance) it is made of.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval._provenance import package_versions, sha256_file, utc_now
from radval._results import jsonable
from radval.contracts._results import RESULTS_SCHEMA_VERSION
from radval.exceptions import InputError
from radval.models.guards import flag
from radval.workflow._cohort import AnalysisData
from radval.workflow._evaluation import EvaluationTables
from radval.workflow._internal import OptimismResult
from radval.workflow._outputs import write_csv
from radval.workflow._study import StudyConfig
from radval.workflow._survival import SurvivalValidation

__all__ = ["build_results", "summary_table", "write_csv", "write_tables"]

logger = logging.getLogger("radval.pipeline")

#: One sentence per method, in results.json (the report's methods section says more).
METHODS = {
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
    "calibration_curve": "flexible calibration curve (loess as CalibrationCurves val.prob.ci.2, "
                         "or the study's smoother) with a pointwise bootstrap percentile band",
    "score_calibration": "rad-score and DL-score (shrunken LASSO linear predictors) assessed "
                         "after a logistic recalibration frozen on the development cohort",
    "subgroup_heterogeneity": "Cochran Q of CITL, slope, log O/E and net benefit across "
                              "subgroup levels (inverse-variance weights, k - 1 df)",
    "net_benefit_difference": "paired stratified bootstrap percentile CI of the difference "
                              "in net benefit (decision_curve_difference)",
    "corrected_calibration": "bias-corrected calibration curve as rms calibrate: apparent "
                             "curve minus the mean optimism of the optimism resamples' curves",
}


def sample_size(study: StudyConfig, data: AnalysisData,
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


def subgroup_ids(study: StudyConfig, data: AnalysisData) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for sg in study.subgroups:
        rule = sg.rule
        m = rule.mask(data.patients)
        c = rule.complement_mask(data.patients)
        ids = data.patients.index.astype(str).to_numpy()
        out[sg.name] = {rule.label: set(ids[m]), rule.complement_label: set(ids[c])}
    return out


def extraction_record(info: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in info.items():
        if k == "deep" and isinstance(v, Mapping):
            out[k] = {kk: vv for kk, vv in v.items() if kk != "weights_path"}
        else:
            out[k] = v
    return out


def baseline(study: StudyConfig, data: AnalysisData) -> Any:
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


def write_tables(out_dir: Path, results: Mapping[str, Any]) -> None:
    tdir = out_dir / "tables"
    for key in ("cohorts", "patient_flow", "warnings", "baseline", "models", "performance",
                "threshold_metrics", "comparisons", "calibration", "optimism", "subgroups",
                "heterogeneity", "missing", "subgroup_calibration", "subgroup_net_benefit",
                "subgroup_heterogeneity", "net_benefit_difference", "partial_auc",
                "optimism_calibration", "optimism_calibration_summary",
                "optimism_net_benefit"):
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
        write_csv(tdir / f"{key}.csv", df)
    for name, df in results["curves"].items():
        write_csv(tdir / f"curve_{name}.csv", df)
    stab = results["stability"]
    for name in ("selection_frequency", "selection_size", "prediction_instability"):
        if isinstance(stab.get(name), pd.DataFrame):
            write_csv(tdir / f"{name}.csv", stab[name])
    rows = []
    for fam, sel in results["selection"].items():
        for r in sel.get("funnel", []):
            rows.append({"family": fam, **r})
        coefs = pd.DataFrame(sel["coefficients"]).assign(family=fam)
        write_csv(tdir / f"coefficients_{fam}.csv", coefs)
        if sel.get("features"):
            write_csv(tdir / f"selection_steps_{fam}.csv", pd.DataFrame(sel["features"]))
    write_csv(tdir / "selection_funnel.csv", pd.DataFrame(rows))
    write_csv(out_dir / "patient_flow.csv", pd.DataFrame(results["patient_flow"]))
    if "survival" in results:
        for k, val in results["survival"].items():
            if isinstance(val, pd.DataFrame) and len(val.columns):
                write_csv(tdir / f"survival_{k}.csv", val)


def summary_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Cohort x model AUC (DeLong CI at the study's level) from results (whole cohorts)."""
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


def cohort_rows(study: StudyConfig, data: AnalysisData) -> list[dict[str, Any]]:
    """The ``cohorts`` table: n, events, prevalence and exclusions per cohort."""
    rows = []
    for c in study.cohorts:
        m = data.cohort_mask(c.name)
        y = data.patients["y"].to_numpy()[m]
        excl = sum(r["n"] for r in data.flow if r["cohort"] == c.name
                   and r["stage"] not in ("clinical_table", "analysed", "imputed"))
        rows.append({"name": c.name, "role": c.role, "n": int(m.sum()),
                     "events": int(y.sum()),
                     "prevalence": float(y.mean()) if y.size else None,
                     "n_excluded": int(excl)})
    return rows


def provenance(study: StudyConfig, study_file: str | Path | None,
               run_dir: str | Path | None = None) -> dict[str, Any]:
    """Versions, seed, SHA-256 of every input, the parsed and the written study file; with
    ``run_dir``, where each input is relative to the run folder (``radval report --check``
    compares the hashes with the files there)."""
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
    out = {"versions": package_versions(), "seed": study.seed,
           "input_sha256": {k: sha256_file(v) for k, v in sorted(inputs.items())},
           "study": study.to_record(), "study_file_text": study_text}
    if run_dir is not None:
        out["input_paths"] = relative_paths(inputs, run_dir)
    return out


def relative_paths(inputs: Mapping[str, str | Path], run_dir: str | Path) -> dict[str, str]:
    """Input label -> its path relative to the run folder (POSIX separators)."""
    import os

    base = os.path.abspath(run_dir)
    return {k: Path(os.path.relpath(os.path.abspath(v), base)).as_posix()
            for k, v in sorted(inputs.items())}


def labels_record(study: StudyConfig) -> dict[str, Any]:
    """The ``labels`` of results.json: display names, units and level texts of the study's
    variables (clinical predictors and the outcome), subgroups, models and cohorts."""
    variables: dict[str, Any] = {}
    for p in study.clinical_predictors:
        variables[p.name] = {"label": p.label, "unit": p.unit, "levels": p.levels,
                             "kind": p.kind}
    o = study.outcome
    variables[o.column] = {"label": o.label, "unit": o.unit, "levels": o.levels,
                           "kind": "categorical"}
    subgroups: dict[str, Any] = {}
    for sg in study.subgroups:
        rule = sg.rule
        subgroups[sg.name] = {"label": sg.label, "column": rule.column, "op": rule.op,
                              "value": rule.value, "rule": rule.label,
                              "complement": rule.complement_label, "levels": sg.levels}
    return {"variables": variables, "subgroups": subgroups,
            "models": dict(study.models.labels),
            "cohorts": {c.name: c.label for c in study.cohorts if c.label}}


def evaluation_flags(tables: EvaluationTables, selection: Mapping[str, Any]
                     ) -> list[dict[str, Any]]:
    """``UNDEFINED_METRIC`` once per cohort and reason; ``SELECTION_NOTE`` per note."""
    out: list[dict[str, Any]] = []
    undefined: dict[tuple[str, str], list[str]] = {}
    for rec in tables.performance.to_dict(orient="records"):
        reason = rec.get("undefined_reason")
        if isinstance(reason, str) and reason and rec["subgroup"] == "all":
            undefined.setdefault((rec["cohort"], reason), []).append(str(rec["model"]))
    for (cohort, reason), mods in undefined.items():
        out.append(flag("UNDEFINED_METRIC", f"{cohort}: {reason} (models: {', '.join(mods)})",
                        cohort=cohort, models=mods))
    for fam, sel in selection.items():
        for note in sel.get("warnings", []) or []:
            out.append(flag("SELECTION_NOTE", f"{fam} selection: {note}", family=fam))
    return out


def build_results(study: StudyConfig, data: AnalysisData, *, selection: Mapping[str, Any],
                     models: Mapping[str, Any], cutoffs: Mapping[str, float],
                     tables: EvaluationTables, optimism: OptimismResult,
                     survival: SurvivalValidation | None, warnings_: list[dict[str, Any]],
                     sample: Mapping[str, Any], signature_model: str,
                     study_file: str | Path | None,
                     run_dir: str | Path | None = None) -> dict[str, Any]:
    """The content of ``results.json`` of a development run, tables still as DataFrames
    (:func:`write_tables` writes them as CSV; ``ResultsFile.from_data`` validates it).
    ``run_dir`` is the run folder (the inputs' paths are recorded relative to it)."""
    from radval import __version__

    results: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "radval_version": __version__,
        "created": utc_now(),
        "provenance": provenance(study, study_file, run_dir),
        "study": {"name": study.name, "outcome": study.outcome.column,
                  "positive_label": study.outcome.positive_label,
                  "definition": study.outcome.definition, "question": study.question,
                  "prediction_moment": study.prediction_moment,
                  "development_cohort": study.development,
                  "signature_model": signature_model,
                  "confidence_level": study.evaluation.confidence_level},
        "cohorts": cohort_rows(study, data),
        "patient_flow": data.flow,
        "missing": data.missing,
        "warnings": warnings_,
        "sample_size": sample,
        "baseline": baseline(study, data),
        "selection": {fam: {**sel, "funnel": sel.get("funnel", []),
                            "features": sel.get("features", [])}
                      for fam, sel in selection.items()},
        "models": models["models"],
        "cutoffs": dict(cutoffs),
        "performance": tables.performance,
        "threshold_metrics": tables.threshold_metrics,
        "comparisons": tables.comparisons,
        "calibration": tables.calibration,
        "curves": tables.curves,
        "optimism": optimism.table,
        "subgroups": tables.subgroups,
        "heterogeneity": tables.heterogeneity,
        "stability": {"selection_frequency": optimism.selection_frequency,
                      "selection_size": optimism.selection_size,
                      "prediction_instability": optimism.prediction_instability,
                      "n_resamples": optimism.n_resamples,
                      "n_failed": optimism.n_failed},
        "internal_validation": {
            "method": "Harrell bootstrap optimism (rms validate)",
            "n_resamples": optimism.n_resamples, "n_failed": optimism.n_failed,
            "refitted": optimism.refitted, "not_refitted": optimism.not_refitted,
            "deep_training": optimism.deep_training},
        "nomogram": models.get("nomogram"),
        "extraction": extraction_record(data.extraction),
        "bundle": models.get("bundle"),
        "methods": dict(METHODS),
        "labels": labels_record(study),
    }
    # calibration and clinical utility (radval.workflow._calibration, _utility)
    results.update(tables.extra_results())
    results.update(optimism.extra_results())
    if survival is not None:
        results["survival"] = survival.to_record()
    return results
