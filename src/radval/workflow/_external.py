"""External validation of a frozen signature bundle at one site (``radval validate``).

Steps (nothing is refitted):

1. load and verify the bundle (:func:`radval.models.bundle.load_bundle`);
2. extract features exactly as the bundle says: PyRadiomics with the bundle's
   parameter file, the deep network with the bundle's safetensors weights;
3. predict with :meth:`radval.models.signature.Signature.predict`;
4. evaluate the cohort at the frozen cutoff with the pipeline's
   :func:`radval.models.evaluation.evaluate_predictions` (AUC with DeLong and bootstrap
   CIs, threshold metrics, calibration, decision curve);
5. dataset-shift diagnostics (:func:`radval.models.shift.dataset_shift`) and model
   updating beside the original (:func:`radval.models.recalibration.recalibrate`);
6. write ``results.json`` (the pipeline's layout for one cohort, plus ``shift`` and
   ``updating``), ``predictions.parquet`` (local only), ``share.json`` (aggregates only,
   :mod:`radval.pool.share`) and a site report.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radval._provenance import sha256_file, utc_now
from radval.contracts._results import ResultsFile
from radval.exceptions import (
    DataError,
    DatasetShiftWarning,
    InputError,
    RadvalWarning,
)
from radval.io.coding import check_cohort_agreement, code_ids, code_outcome, primary_rows
from radval.io.schema import check_table
from radval.io.tables import check_numeric_columns, read_table
from radval.workflow._calibration import SCORE_MODELS
from radval.workflow._coding import normalise_features
from radval.workflow._outputs import RunFolder
from radval.workflow._utility import site_sample_size

__all__ = ["load_features_for_bundle", "validate_bundle"]

logger = logging.getLogger(__name__)

MODEL = "signature"
#: Level of a site's intervals: ``radval validate`` has no option for it (the pooled
#: meta-analysis works from the standard errors); recorded in results.json
SITE_CONFIDENCE_LEVEL = 0.95


def load_features_for_bundle(bundle: Any, manifest: pd.DataFrame, *, out_dir: Path,
                             jobs: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Extract the features a bundle needs, with the bundle's own settings.

    Returns
    -------
    features, failures : DataFrame
        One row per patient (first reader) and the failed cases.
    """
    sig = bundle.signature
    frames: list[pd.DataFrame] = []
    failures = pd.DataFrame(columns=["patient_id", "reader", "cohort", "image", "mask", "stage",
                                     "reason"])
    rad_needed = any(f.startswith("radiomics_") for f in sig.selected_features)
    deep_needed = any(f.startswith("deep_") for f in sig.selected_features)
    if rad_needed:
        if bundle.radiomics_params_path is None:
            raise DataError("the signature uses radiomics features but the bundle has no "
                            "radiomics_params.yaml")
        from radval.features import extract_radiomics

        res = extract_radiomics(manifest, params=bundle.radiomics_params_path,
                                out_dir=out_dir / "features", jobs=jobs)
        frames.append(res.features)
        if res.failures is not None and len(res.failures):
            failures = pd.concat([failures, res.failures], ignore_index=True)
    if deep_needed:
        if bundle.deep_weights_path is None:
            raise DataError("the signature uses deep features but the bundle has no "
                            "deep.safetensors")
        from radval.features import deep as deep_mod

        cfg = (sig.deep or {}).get("config") or {}
        # the config stored in signature.json (verified with the bundle), never a file
        # found next to the weights
        model = deep_mod.load_deep_model(bundle.deep_weights_path, dict(cfg))
        deep_feats = deep_mod.extract_deep_features(manifest, model, jobs=jobs or 1)
        frames.append(deep_feats)
        deep_fail = deep_feats.attrs.get("failures")
        if deep_fail is not None and len(deep_fail):
            failures = pd.concat([failures, deep_fail], ignore_index=True)
    if not frames:
        raise DataError("the signature uses no radiomics_* or deep_* feature; nothing to "
                        "extract")
    feats = frames[0]
    for extra in frames[1:]:
        feats = feats.merge(extra.drop(columns=["cohort"], errors="ignore"),
                            on=["patient_id", "reader"], how="inner")
    feats["patient_id"] = feats["patient_id"].astype(str)
    return feats, failures


def _read_clinical_table(path: Path) -> pd.DataFrame:
    """The site's clinical table, identifiers coded as in development."""
    clin = read_table(path, what="clinical table", dtype={"patient_id": str, "cohort": str},
                      required=["patient_id"])
    label = f"clinical table {path.name}"
    clin["patient_id"] = code_ids(clin["patient_id"], column="patient_id", source=label)
    if "cohort" in clin.columns:
        clin["cohort"] = code_ids(clin["cohort"], column="cohort", source=label)
    dups = sorted(set(clin["patient_id"][clin["patient_id"].duplicated()]))
    if dups:
        raise DataError(f"{label} repeats patient_id(s): {', '.join(dups[:10])}.")
    clin.attrs["label"] = label
    return clin


def _site_outcome(clin: pd.DataFrame, column: str, positive: Any, negative: Any) -> pd.Series:
    """The outcome coded by the rule of development (:func:`radval.io.coding.code_outcome`)."""
    if column not in clin.columns:
        raise InputError(f"{clin.attrs['label']} has no outcome column {column!r} (use "
                         "--outcome).")
    y = code_outcome(clin[column], positive_label=positive, negative_label=negative,
                     column=column, source=str(clin.attrs["label"]))
    y.index = pd.Index(clin["patient_id"], name="patient_id")
    return y


def _read_features_table(path: Path, needed: Sequence[str]) -> pd.DataFrame:
    feats = read_table(path, what="features table",
                       dtype={"patient_id": str, "reader": str, "cohort": str},
                       required=["patient_id"])
    label = f"features table {path.name}"
    check_numeric_columns(feats, [c for c in needed if c in feats.columns], what=label)
    return normalise_features(feats, source=label)


def _render(out: Path, formats: Sequence[str]) -> dict[str, str]:
    """The site report of the committed site run in ``out`` (:func:`render_report`: one
    document with the site's sections and the internal-use notice; an empty ``formats``
    writes the sources only)."""
    try:
        from radval.report.render import render_report
    except ImportError:  # pragma: no cover - report layer not installed
        logger.warning("report layer not available: no site report")
        return {}
    rendered = render_report(out, formats=list(formats))
    return {k: os.path.relpath(v, out) for k, v in rendered.items()}


def validate_bundle(bundle: str | os.PathLike[str], *, manifest: str | os.PathLike[str] | None,
                    clinical: str | os.PathLike[str], out: str | os.PathLike[str],
                    outcome: str | None = None, site: str | None = None,
                    cohort: str | None = None, features: str | os.PathLike[str] | None = None,
                    allow_small_cells: bool = False,
                    thresholds: Sequence[float] = (0.1, 0.2, 0.3), jobs: int | None = None,
                    n_bootstrap: int = 500, seed: int = 0,
                    report_formats: Sequence[str] | None = ("html",),
                    pseudonym_key: bytes | None = None, positive_label: Any = None,
                    negative_label: Any = None,
                    trusted_key: str | os.PathLike[str] | None = None,
                    survival_time: str | None = None,
                    survival_event: str | None = None) -> dict[str, Any]:
    """Validate a frozen signature bundle on one site's data.

    Parameters
    ----------
    bundle : path
        Bundle folder or .zip.
    manifest : path or None
        Manifest of the site's scans (``None`` when ``features`` is given).
    clinical : path
        Clinical table with ``patient_id`` and the outcome column.
    out : path
        Output folder.
    outcome : str, optional
        Outcome column (default: the bundle's outcome name).
    site : str, optional
        Site label written to ``share.json`` (default: the cohort name, else ``"site"``).
    cohort : str, optional
        Keep only manifest / feature rows of this cohort.
    features : path, optional
        A features table already extracted with the bundle's settings (skips extraction).
    allow_small_cells : bool, default False
        Release every value in ``share.json`` (no disclosure control,
        :mod:`radval.pool.share`).
    thresholds : sequence of float
        Net-benefit thresholds reported in ``share.json`` (decision curve as well).
    jobs : int, optional
        Worker processes for extraction.
    n_bootstrap : int, default 500
        Resamples of the bootstrap AUC CI.
    seed : int, default 0
    report_formats : sequence of str or None, default ("html",)
        Formats of the site report (empty: write the qmd and figures only; ``None``: no
        report).
    positive_label, negative_label : optional
        How the site's outcome column codes the event and the non-event, when it differs
        from development (default: the bundle's labels; the column is then checked
        against both).  Coded by :func:`radval.io.coding.code_outcome`, the rule of
        development.
    pseudonym_key : bytes, optional
        Secret key kept at the site.  When given, ``return_predictions.csv`` is written
        with ``pseudonym, probability, y_true`` (keyed HMAC-SHA256 pseudonyms,
        :func:`radval.pool.pseudonymise`) for a site that agrees to send per-patient
        predictions back.  The key is never written.
    trusted_key : path, optional
        Public Ed25519 key file of the team that made the bundle
        (:func:`radval.models.bundle.load_bundle`): the bundle is refused unless it is
        signed by this key and unchanged since signing.  Without it the bundle is
        still checked, and the log, the summary, ``results.json`` and the site report
        say that its origin is unverified.
    survival_time, survival_event : str, optional
        Follow-up time and event columns of the clinical table (default: the bundle's
        names): the time-to-event validation of the bundle's survival model
        (:mod:`radval.workflow._survival_site`) in ``results.json`` and ``share.json``.

    Returns
    -------
    dict
        Summary: ``site, n, events, auc, share, results, report, flagged_features,
        bundle_origin``.
    """
    from radval import __version__
    from radval._provenance import package_versions
    from radval.models.bundle import SIGNATURE_FILE, load_bundle
    from radval.models.recalibration import recalibrate
    from radval.models.shift import dataset_shift
    from radval.pool.share import build_share, write_share

    t_start = time.perf_counter()
    from radval.pool.share import SITE_LABEL_RE

    if site is not None and not SITE_LABEL_RE.match(site):
        raise InputError(f"site label {site!r} must be 1-40 letters, digits, '_', '.' or '-', "
                         "starting with a letter or digit (it is written to share.json).")
    b = load_bundle(bundle, trusted_key=trusted_key)
    if b.origin.verified:
        logger.info("bundle %s: %s", Path(bundle).name, b.origin.message)
    else:
        logger.warning("bundle %s: %s", Path(bundle).name, b.origin.message)
    sig = b.signature
    # created only when the first file is written (the extraction cache, or the staged
    # run): site inputs refused below leave no output folder behind
    out_dir = Path(out)
    clin = _read_clinical_table(Path(clinical))
    column = outcome or str(sig.outcome.get("name"))
    if positive_label is None:
        # the bundle's labels: the site's column is checked against both
        positive_label = sig.outcome.get("positive_label", 1)
        negative_label = sig.outcome.get("negative_label")
    y_all = _site_outcome(clin, column, positive_label, negative_label)

    flow: list[dict[str, Any]] = []
    inputs: dict[str, Path] = {"clinical": Path(clinical)}
    man: pd.DataFrame | None = None
    if features is not None:
        feats = _read_features_table(Path(features), sig.selected_features)
        inputs["features"] = Path(features)
        check_cohort_agreement({f"features table {Path(features).name}": feats,
                                str(clin.attrs["label"]): clin})
        if cohort is not None and "cohort" in feats.columns:
            feats = feats[feats["cohort"] == cohort].reset_index(drop=True)
            if feats.empty:
                raise DataError(f"the features table has no rows of cohort {cohort!r}.")
        feats = primary_rows(feats).reset_index(drop=True)
        failures = pd.DataFrame()
        n_listed = int(feats["patient_id"].nunique())
    else:
        if manifest is None:
            raise InputError("validate_bundle: give a manifest or a features table.")
        from radval.io.manifest import read_manifest

        inputs["manifest"] = Path(manifest)
        man = read_manifest(manifest)
        check_cohort_agreement({f"manifest {Path(manifest).name}": man,
                                str(clin.attrs["label"]): clin})
        if cohort is not None:
            man = man[man["cohort"].astype(str) == cohort].reset_index(drop=True)
            if man.empty:
                raise DataError(f"the manifest has no rows of cohort {cohort!r}.")
        man = primary_rows(man).reset_index(drop=True)
        n_listed = int(man["patient_id"].astype(str).nunique())
        out_dir.mkdir(parents=True, exist_ok=True)
        feats, failures = load_features_for_bundle(b, man, out_dir=out_dir, jobs=jobs)
    if cohort is not None and "cohort" in feats.columns:
        feats = feats[feats["cohort"].astype(str) == cohort]
    cohorts_seen = sorted(set(feats["cohort"].astype(str))) if "cohort" in feats.columns else []
    site_label = site or (cohort if cohort else (cohorts_seen[0] if len(cohorts_seen) == 1
                                                 else "site"))
    flow.append({"cohort": site_label, "stage": "manifest", "n": n_listed, "reason": None})
    if len(failures):
        flow.append({"cohort": site_label, "stage": "extraction_failed",
                     "n": int(failures["patient_id"].nunique()),
                     "reason": "feature extraction failed (see failures table)"})
    feats = feats.drop_duplicates("patient_id").reset_index(drop=True)
    # patients with missing selected features or outcome are excluded and counted
    need = sig.selected_features
    missing_feat = [c for c in need if c not in feats.columns]
    if missing_feat:
        raise DataError(f"the features lack {len(missing_feat)} column(s) the signature needs: "
                        f"{', '.join(missing_feat[:10])}")
    ok_feat = np.isfinite(feats[need].to_numpy(dtype=float)).all(axis=1)
    if (~ok_feat).any():
        flow.append({"cohort": site_label, "stage": "missing_features", "n": int((~ok_feat).sum()),
                     "reason": "missing or non-finite selected feature values"})
    feats = feats[ok_feat].reset_index(drop=True)
    yv = feats["patient_id"].map(y_all)
    ok_y = yv.notna().to_numpy()
    if (~ok_y).any():
        flow.append({"cohort": site_label, "stage": "missing_clinical", "n": int((~ok_y).sum()),
                     "reason": f"outcome {column!r} missing"})
    feats = feats[ok_y].reset_index(drop=True)
    y = yv[ok_y].to_numpy(dtype=np.int64)
    raw_feats, harm = feats, None
    if sig.harmonisation is not None:
        # the bundle's frozen ComBat (radval.workflow._harmonisation)
        from radval.workflow._harmonisation import harmonise_site

        harm = harmonise_site(sig.harmonisation, feats, clin, manifest=man, site=site_label)
        if (~harm.keep).any():
            flow.append({"cohort": site_label, "stage": "missing_covariates",
                         "n": int((~harm.keep).sum()),
                         "reason": "a ComBat covariate is missing (cannot be harmonised)"})
        feats = harm.features[harm.keep].reset_index(drop=True)
        raw_feats = raw_feats[harm.keep].reset_index(drop=True)
        y = y[harm.keep]
    flow.append({"cohort": site_label, "stage": "analysed", "n": int(y.size), "reason": None})
    if y.size == 0:
        raise DataError("no patient has both features and an outcome.")

    pred = sig.predict(feats)
    prob = pred["probability"].to_numpy(dtype=float)
    lp = pred["linear_predictor"].to_numpy(dtype=float)
    preds = pd.DataFrame({"patient_id": pred["patient_id"], "cohort": site_label,
                          "model": MODEL, "score": lp, "probability": prob, "y_true": y})
    for name in sig.scores:
        preds[name] = pred[name].to_numpy()

    warn_records: list[dict[str, Any]] = list(harm.warnings) if harm is not None else []
    from radval.workflow._survival_site import site_survival

    surv = site_survival(sig, clin, pred, site=site_label, time=survival_time,
                         event=survival_event, confidence_level=SITE_CONFIDENCE_LEVEL)
    if surv is not None:
        warn_records += surv.flags
    if not b.origin.verified:
        warn_records.append({"code": "BUNDLE_ORIGIN_UNVERIFIED",
                             "message": b.origin.message[0].upper() + b.origin.message[1:] + ".",
                             "context": {"signed": b.origin.signed}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RadvalWarning)
        from radval.workflow._evaluation import evaluate_predictions

        # a single-score signature is expit(shrunken LP): labelled, not recalibrated here
        # (bundles without extra.signature_model: the identity "combined" model on a score)
        named = (sig.extra or {}).get("signature_model")
        single_score = named in SCORE_MODELS if named is not None else (
            len(sig.combined.inputs) == 1 and sig.combined.inputs[0] in sig.scores
            and float(sig.combined.intercept) == 0.0 and list(sig.combined.coef) == [1.0])
        tables = evaluate_predictions(preds, cutoffs={MODEL: sig.cutoff},
                                      roles={site_label: "external_validation"},
                                      n_bootstrap=n_bootstrap, dca_thresholds=None, seed=seed,
                                      confidence_level=SITE_CONFIDENCE_LEVEL,
                                      raw_score_models=(MODEL,) if single_score else ())
        shift = dataset_shift(feats, sig, probabilities=prob, y_true=y)
        recal = recalibrate(y, lp) if 0 < y.sum() < y.size else None
    for w in caught:
        code = "DATASET_SHIFT" if issubclass(w.category, DatasetShiftWarning) else \
            w.category.__name__
        warn_records.append({"code": code, "message": str(w.message), "context": {}})
        if issubclass(w.category, DatasetShiftWarning):
            warnings.warn(str(w.message), DatasetShiftWarning, stacklevel=2)
    one_class = recal is None
    auc_site = tables.performance.loc[tables.performance["subgroup"] == "all", "auc"]
    sample = site_sample_size(y, prob, summary=sig.development_summary, cutoff=sig.cutoff,
                              observed_auc=float(auc_site.iloc[0]) if len(auc_site)
                              else math.nan)
    if sample.get("meets") is False:
        warn_records.append({"code": "SMALL_VALIDATION_SAMPLE",
                             "message": f"{site_label}: {sample['n']} patients, fewer than "
                                        f"the {sample['required']} needed for a precise "
                                        "external validation (Riley et al. 2021); the "
                                        "estimates are imprecise",
                             "context": {"n": sample["n"], "required": sample["required"]}})
    share_path: Path | None = None
    # every output is staged and committed at once: a failure leaves the previous run
    folder = RunFolder(out_dir)
    stage = folder.stage()
    if not one_class:
        share = build_share(y, prob, site=site_label, cutoff=sig.cutoff,
                            thresholds=thresholds,
                            outcome=column if _plain(column) else "outcome", model=MODEL,
                            signature_sha256=b.sha256[SIGNATURE_FILE], shift=shift,
                            allow_small_cells=allow_small_cells,
                            survival=surv.share if surv is not None else None)
        write_share(stage / "share.json", share)
        share_path = out_dir / "share.json"
    # the table's definition is data-dictionary/predictions.yaml: checked before writing
    check_table(preds, "predictions", caller="predictions.parquet")
    preds.to_parquet(stage / "predictions.parquet", index=False)
    if pseudonym_key is not None:
        from radval.pool.pseudonym import pseudonymise

        ret = pd.DataFrame({"pseudonym": pseudonymise(preds["patient_id"], pseudonym_key,
                                                      site=site_label.replace("-", "_")
                                                      .replace(".", "_")[:32]),
                            "probability": preds["probability"], "y_true": preds["y_true"]})
        ret.sample(frac=1.0, random_state=np.random.default_rng(seed)) \
            .to_csv(stage / "return_predictions.csv", index=False)

    results: dict[str, Any] = {
        "schema_version": "1",
        "radval_version": __version__,
        "created": utc_now(),
        "provenance": {"versions": package_versions(), "seed": seed,
                       "input_sha256": {k: sha256_file(v) for k, v in sorted(inputs.items())},
                       "bundle_sha256": b.sha256, "bundle_radval_version": b.radval_version},
        "study": {"name": f"external validation at {site_label}", "outcome": column,
                  "positive_label": sig.outcome.get("positive_label", 1),
                  "definition": sig.outcome.get("definition"), "question": sig.intended_use,
                  "prediction_moment": sig.prediction_moment, "development_cohort": None,
                  "signature_model": MODEL, "confidence_level": SITE_CONFIDENCE_LEVEL},
        "cohorts": [{"name": site_label, "role": "external_validation", "n": int(y.size),
                     "events": int(y.sum()), "prevalence": float(y.mean()),
                     "n_excluded": int(sum(r["n"] for r in flow
                                           if r["stage"] not in ("manifest", "analysed")))}],
        "patient_flow": flow,
        "warnings": warn_records,
        "models": [{"name": MODEL, "label": "Signature (frozen)", "kind": "combined",
                    "predictors": list(sig.combined.inputs), "cutoff": sig.cutoff,
                    "coefficients": [{"feature": "(Intercept)", "coef": sig.combined.intercept},
                                     *[{"feature": f, "coef": c} for f, c in
                                       zip(sig.combined.inputs, sig.combined.coef)]]}],
        "cutoffs": {MODEL: sig.cutoff},
        "performance": tables.performance,
        "threshold_metrics": tables.threshold_metrics,
        "comparisons": tables.comparisons,
        "calibration": tables.calibration,
        "curves": tables.curves,
        "subgroups": tables.subgroups,
        "heterogeneity": tables.heterogeneity,
        "extraction": {"radiomics": {"params_sha256": (sig.radiomics or {}).get("params_sha256")},
                       "deep": {"weights_sha256": (sig.deep or {}).get("weights_sha256")}},
        "bundle": {"path": None, "kind": "bundle (validated)",
                   "signature_sha256": b.sha256[SIGNATURE_FILE],
                   "origin": b.origin.to_dict()},
        "shift": {"features": shift.features, "flagged": shift.flagged,
                  "prevalence": shift.prevalence, "predicted_risk": shift.predicted_risk,
                  "smd_threshold": shift.smd_threshold,
                  "out_of_range_threshold": shift.out_of_range_threshold},
        "updating": None if recal is None else {
            "citl_intercept": recal.citl_intercept, "citl_intercept_se": recal.citl_intercept_se,
            "logistic_intercept": recal.logistic_intercept,
            "logistic_intercept_se": recal.logistic_intercept_se,
            "logistic_slope": recal.logistic_slope,
            "logistic_slope_se": recal.logistic_slope_se,
            "comparison": recal.comparison},
        "methods": {"validation": "frozen signature from a verified bundle; features extracted "
                                  "with the bundle's parameter file and network weights; no "
                                  "refit", "missing_data": "complete-case analysis",
                    "sample_size": "Riley et al. 2021 minimum sample size for external "
                                   "validation at the site's prevalence, with the development "
                                   "C-statistic and linear-predictor distribution"},
        "validation_sample_size": sample,
        **tables.extra_results(),
    }
    if surv is not None:
        results["survival"] = surv.record
    # harmonisation (shift before it) and the clinical models with imputed predictors
    from radval.workflow._imputation import site_results

    results.update(site_results(sig, raw_feats, feats, clin, y, harm, seed=seed,
                                methods=results["methods"],
                                confidence_level=SITE_CONFIDENCE_LEVEL))
    ResultsFile.from_data(results).write(stage / "results.json")
    folder.commit(stage, steps=["validate"])
    report: dict[str, str] = {}
    if recal is not None and report_formats is not None:
        try:
            report = _render(out_dir, report_formats)
        except Exception as exc:  # noqa: BLE001 - the report must not lose the results
            logger.warning("site report not rendered: %s", exc)
    if one_class:
        raise DataError(f"site {site_label}: all {y.size} analysed patients have the same "
                        f"outcome; results.json was written with undefined metrics, but no "
                        "share.json (discrimination and calibration need both classes).")
    auc = tables.performance
    auc_all = auc[auc["subgroup"] == "all"]["auc"]
    summary = {"site": site_label, "n": int(y.size), "events": int(y.sum()),
               "auc": float(auc_all.iloc[0]) if len(auc_all) else math.nan,
               "share": str(share_path), "results": str(out_dir / "results.json"),
               "report": report, "flagged_features": shift.flagged,
               "bundle_origin": b.origin.to_dict(),
               "sample_size_required": sample.get("required"),
               "sample_size_meets": sample.get("meets"),
               "seconds": round(time.perf_counter() - t_start, 2)}
    return summary


def _plain(name: str) -> bool:
    import re

    return bool(re.match(r"^[A-Za-z0-9_.-]{1,128}$", name))
