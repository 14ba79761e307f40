"""The study pipeline: extraction -> selection -> models -> evaluation -> outputs.

``radval run study.yaml`` calls :func:`run_study`, which chains four steps that
can also be run separately on the same output folder (``radval select``,
``radval fit``, ``radval evaluate``):

1. **data** (:func:`prepare_data`): features (extracted with PyRadiomics through
   :func:`radval.features.extract_radiomics`, cached; deep features trained on the
   development cohort only) joined with the clinical table; guards (duplicate
   patients, missing values) and the patient flow;
2. **select** (:func:`run_selection`): ICC -> Mann-Whitney -> redundancy -> LASSO
   on the development cohort only, separately for radiomics and deep features
   (:func:`radval.selection.select_features`); writes ``selection.json``;
3. **fit** (:func:`fit_models`): rad-score / DL-score (LASSO linear predictors),
   combined signature (logistic on the scores), clinical model (logistic on the
   pre-operative clinical predictors), nomogram (logistic on the signature's linear
   predictor + clinical predictors) and scikit-learn comparison classifiers; the
   Youden cutoff of each model is chosen on the development cohort and frozen;
   writes ``models.json``, ``predictions.parquet`` and the signature bundle;
4. **evaluate**: every cohort x model x subgroup (:mod:`radval.models.evaluation`),
   Harrell's bootstrap optimism with the whole selection repeated in each resample
   (:mod:`radval.models.internal`), survival, Table 1, sample size; writes
   ``results.json`` and ``tables/*.csv``.

Same seed and inputs give a byte-identical ``results.json`` apart from the
``created`` timestamps (timings go to ``timings.json``).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._provenance import atomic_write_json, atomic_write_text, sha256_file, utc_now
from radval._results import jsonable
from radval.exceptions import (
    DataError,
    InputError,
    MissingInputError,
    RadvalWarning,
)
from radval.models.guards import (
    check_duplicate_patients,
    check_predictor_timing,
    flag,
    missing_by_variable,
)
from radval.models.logistic import DesignSpec, LogisticFit, expit, fit_logistic
from radval.models.study import StudyConfig

__all__ = [
    "FAMILIES",
    "AnalysisData",
    "FittedModels",
    "RunResult",
    "fit_models",
    "nomogram_points",
    "prepare_data",
    "run_evaluate",
    "run_fit",
    "run_select",
    "run_selection",
    "run_study",
]

logger = logging.getLogger("radval.pipeline")

FAMILIES = ("radiomics", "deep")
SCORE_COLUMN = {"radiomics": "rad_score", "deep": "dl_score"}
LABELS = {"radiomics": "Rad-score", "deep": "DL-score", "combined": "Combined signature",
          "clinical": "Clinical model", "nomogram": "Nomogram"}
RESULTS_SCHEMA_VERSION = "1"


# ============================================================================ data
@dataclass
class AnalysisData:
    """Analysed patients (complete cases) with their features.

    Attributes
    ----------
    patients : DataFrame
        Index ``patient_id`` (str), columns ``cohort``, ``y`` (0/1) and the clinical
        variables.  Sorted by cohort order then patient_id.
    features : dict
        Family -> DataFrame (index aligned with ``patients``) of feature columns
        (reader 1).
    reader_features : dict
        Family -> long DataFrame (index ``patient_id``, column ``reader`` + features)
        of development patients segmented by two readers (ICC), or None.
    flow, warnings : list of dict
    missing : DataFrame
        Missing values per variable and cohort.
    """

    patients: pd.DataFrame
    features: dict[str, pd.DataFrame]
    reader_features: dict[str, pd.DataFrame | None]
    flow: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)
    extraction: dict[str, Any] = field(default_factory=dict)

    def cohort_mask(self, cohort: str) -> npt.NDArray[np.bool_]:
        """Rows of ``patients`` in ``cohort``."""
        return np.asarray(self.patients["cohort"].to_numpy() == cohort, dtype=bool)

    def subset(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> AnalysisData:
        """Rows selected by a boolean mask or integer positions (features follow)."""
        pats = self.patients.iloc[mask]
        feats = {k: v.iloc[mask] for k, v in self.features.items()}
        return AnalysisData(patients=pats, features=feats,
                            reader_features=self.reader_features)


def _outcome(series: pd.Series, positive: Any) -> pd.Series:
    def norm(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, bool | np.bool_):
            return str(int(v))
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()

    pos = norm(positive)
    vals = series.map(norm)
    out = pd.Series(np.where(vals == pos, 1.0, 0.0), index=series.index)
    out[vals.isna()] = np.nan
    return out


def _read_clinical(study: StudyConfig) -> pd.DataFrame:
    path = study.path(study.clinical)
    if path is None or not path.is_file():
        raise MissingInputError(f"clinical table not found: {study.clinical}")
    df = pd.read_csv(path, dtype={"patient_id": str})
    for col in ("patient_id", "cohort"):
        if col not in df.columns:
            raise InputError(f"clinical table {path.name}: required column {col!r} is absent")
    need = [study.outcome.column] + [p.name for p in study.clinical_predictors]
    if study.survival is not None:
        need += [study.survival.time, study.survival.event]
    absent = [c for c in need if c not in df.columns]
    if absent:
        raise InputError(f"clinical table {path.name}: column(s) {absent} named in the study "
                         "file are absent")
    df["patient_id"] = df["patient_id"].astype(str)
    df["cohort"] = df["cohort"].astype(str)
    dup = df["patient_id"][df["patient_id"].duplicated()].unique().tolist()
    check_duplicate_patients(df, table=f"clinical table {path.name}")
    if dup:
        raise DataError(f"clinical table {path.name}: patient_id repeated: {dup[:20]}")
    return df


def extract_features(study: StudyConfig, out_dir: Path, *, jobs: int | None = None,
                     scheduler: str | None = None) -> dict[str, Any]:
    """Extract (or reuse) the features of every manifest row.

    Returns ``{"features": DataFrame (long: patient_id, reader, cohort, features),
    "failures": DataFrame, "extraction": dict (params text/sha, deep config)}``.
    Radiomics go through :func:`radval.features.extract_radiomics` (cached in
    ``out_dir/features``); deep features are trained on the development cohort's
    first-reader rows only and written with their weights to ``out_dir/deep``.
    """
    feat_dir = out_dir / "features"
    info: dict[str, Any] = {}
    failures = pd.DataFrame(columns=["patient_id", "reader", "cohort", "image", "mask", "stage",
                                     "reason"])
    if study.features is not None:
        fpath = study.path(study.features)
        if fpath is None or not fpath.exists():
            raise MissingInputError(f"features table not found: {study.features}")
        feats = (pd.read_parquet(fpath) if fpath.suffix in (".parquet", ".pq")
                 else pd.read_csv(fpath, dtype={"patient_id": str, "reader": str}))
        info["features_sha256"] = sha256_file(fpath)
        return {"features": _normalise_features(feats), "failures": failures, "extraction": info}
    from radval.io.manifest import read_manifest

    mpath = study.path(study.manifest)
    assert mpath is not None  # noqa: S101 - guaranteed by the study validator
    manifest = read_manifest(mpath)
    check_duplicate_patients(manifest, table=f"manifest {mpath.name}")
    known = {c.name for c in study.cohorts}
    manifest = manifest[manifest["cohort"].astype(str).isin(known)].reset_index(drop=True)
    frames: list[pd.DataFrame] = []
    if study.radiomics.enabled:
        from radval.features import extract_radiomics

        params = study.path(study.radiomics.params)
        res = extract_radiomics(manifest, params=params, out_dir=feat_dir, jobs=jobs,
                                scheduler=scheduler)
        frames.append(_normalise_features(res.features))
        if res.failures is not None and len(res.failures):
            failures = pd.concat([failures, res.failures], ignore_index=True)
        info["radiomics"] = _params_info(res, params)
    if study.deep.enabled:
        deep_feats = _deep_features(study, manifest, out_dir, info, jobs=jobs)
        deep_failures = deep_feats.attrs.pop("failures", None)
        if deep_failures is not None and len(deep_failures):
            failures = pd.concat([failures, deep_failures], ignore_index=True)
        frames.append(deep_feats)
    feats = frames[0]
    for extra in frames[1:]:
        feats = feats.merge(extra.drop(columns=["cohort"], errors="ignore"),
                            on=["patient_id", "reader"], how="outer")
    return {"features": feats, "failures": failures, "extraction": info}


def _params_info(res: Any, params: Path | None) -> dict[str, Any]:
    prov = getattr(res, "provenance", None) or {}
    out: dict[str, Any] = {}
    if isinstance(prov, Mapping):
        par = prov.get("params")
        if isinstance(par, Mapping):
            if "text" in par:
                out["params_yaml"] = str(par["text"])
            if "name" in par:
                out["params_file"] = str(par["name"])
        versions = prov.get("versions")
        if isinstance(versions, Mapping):
            out["pyradiomics_version"] = versions.get("pyradiomics")
        # not n_extracted / n_cached: they depend on the cache, not on the inputs
        for key in ("n_cases", "n_failed_rows", "n_features"):
            if key in prov:
                out[key] = prov[key]
    if "params_yaml" not in out:
        text = None
        if params is not None and Path(params).is_file():
            text = Path(params).read_text(encoding="utf-8")
        if text is None:
            text = _default_params_text()
        out["params_yaml"] = text
    if not isinstance(out.get("params_yaml"), str):
        out["params_yaml"] = str(out["params_yaml"])
    import hashlib

    out["params_sha256"] = hashlib.sha256(out["params_yaml"].encode("utf-8")).hexdigest()
    return out


def _default_params_text() -> str:
    try:
        from radval.features import radiomics as rad_mod

        for name in ("default_params_path", "DEFAULT_PARAMS"):
            obj = getattr(rad_mod, name, None)
            if callable(obj):
                obj = obj()
            if obj is not None and Path(str(obj)).is_file():
                return Path(str(obj)).read_text(encoding="utf-8")
    except ImportError:  # pragma: no cover - features extra missing
        pass
    return ""


def _deep_features(study: StudyConfig, manifest: pd.DataFrame, out_dir: Path,
                   info: dict[str, Any], *, jobs: int | None) -> pd.DataFrame:
    from radval.features import deep as deep_mod

    deep_dir = out_dir / "deep"
    model: Any = None
    if study.deep.weights is not None:
        weights_path = study.path(study.deep.weights)
        assert weights_path is not None  # noqa: S101 - checked just above
        cfg = study.deep.config
        model = deep_mod.load_deep_model(
            weights_path, cfg if isinstance(cfg, dict) else study.path(cfg))
    else:
        clinical = _read_clinical(study)
        dev = study.development
        rows = manifest[(manifest["cohort"].astype(str) == dev)]
        rows = rows[rows["reader"].astype(str) == _first_reader(rows)]
        y = _outcome(clinical.set_index("patient_id")[study.outcome.column],
                     study.outcome.positive_label)
        rows = rows[rows["patient_id"].astype(str).map(y).notna().to_numpy()]
        labels = rows["patient_id"].astype(str).map(y).astype(int).to_numpy()
        config = _deep_network_config(study)
        key = _deep_training_key(rows, labels, config, study.seed)
        key_file = deep_dir / "training_key.json"
        cached = deep_dir / "deep.safetensors"
        if key_file.is_file() and cached.is_file() and (deep_dir / "deep.json").is_file():
            import json

            if json.loads(key_file.read_text(encoding="utf-8")).get("key") == key:
                logger.info("deep network: reusing %s (same training inputs)", cached)
                model = deep_mod.load_deep_model(cached, deep_dir / "deep.json")
        if model is None:
            model = deep_mod.train_deep_model(rows.reset_index(drop=True), labels,
                                              config=config, seed=study.seed)
            model.save(deep_dir)
            atomic_write_json(key_file, {"key": key})
    if study.deep.weights is not None:
        saved = model.save(deep_dir)
    else:
        saved = (deep_dir / "deep.safetensors", deep_dir / "deep.json")
    weights = Path(saved[0]) if isinstance(saved, tuple | list) else Path(str(saved))
    info["deep"] = {"weights_file": weights.name, "weights_path": str(weights),
                    "weights_sha256": sha256_file(weights),
                    "config": jsonable(_model_config(model))}
    feats = deep_mod.extract_deep_features(manifest, model, jobs=jobs or 1)
    # crop failures go to the failures table (attrs would not survive parquet)
    failures = feats.attrs.pop("failures", None)
    out = _normalise_features(feats)
    out.attrs["failures"] = failures
    return out


def _deep_network_config(study: StudyConfig) -> Any:
    """``deep.config`` of the study: an inline mapping, a JSON/YAML file, or None."""
    cfg = study.deep.config
    if cfg is None:
        return None
    if isinstance(cfg, dict):
        return dict(cfg)
    import json

    cfg_path = study.path(cfg)
    assert cfg_path is not None  # noqa: S101 - cfg is a path here
    if cfg_path.suffix == ".json":
        return json.loads(cfg_path.read_text(encoding="utf-8"))
    return _yaml(cfg_path)


def deep_refit_for_optimism(study: StudyConfig, data: AnalysisData, *, jobs: int | None = None
                            ) -> tuple[Any, list[str], list[dict[str, Any]]]:
    """How the optimism bootstrap treats the deep network.

    Returns ``(refit, not_refitted, flags)``: a :class:`radval.features.deep.DeepRefit`
    when radval trained the network on the development cohort and
    ``evaluation.optimism_deep`` is ``"retrain"`` (the resamples then train their own
    networks), else ``None`` with the reason in ``not_refitted``.  A network trained on
    the outcome but not re-trained is flagged (``DEEP_NOT_RETRAINED``): the optimism of
    every model using the DL-score is then underestimated.
    """
    if "deep" not in data.features or study.evaluation.optimism <= 0:
        return None, [], []
    if study.deep.weights is not None:
        return None, ["deep network: pretrained weights (deep.weights), not fitted on the "
                      "development cohort; its features are taken as given"], []
    reason = None
    if study.features is not None:
        reason = ("the deep features come from an extracted features table (no scans to "
                  "train the network again)")
    elif study.evaluation.optimism_deep == "fixed":
        reason = "evaluation.optimism_deep is 'fixed'"
    if reason is not None:
        msg = (f"deep network trained on the development cohort is not re-trained in the "
               f"optimism resamples ({reason}): the optimism of the DL-score and of every "
               "model using it is underestimated")
        return None, [f"deep network: {reason}"], [flag("DEEP_NOT_RETRAINED", msg)]
    from radval.features import deep as deep_mod
    from radval.io.manifest import read_manifest

    mpath = study.path(study.manifest)
    assert mpath is not None  # noqa: S101 - no features table, so a manifest
    man = read_manifest(mpath)
    dev_ids = set(data.patients.index[data.cohort_mask(study.development)].astype(str))
    rows = man[(man["cohort"].astype(str) == study.development)
               & man["patient_id"].astype(str).isin(dev_ids)].reset_index(drop=True)
    config = (data.extraction.get("deep") or {}).get("config") or _deep_network_config(study)
    refit = deep_mod.prepare_refit(rows, config, primary_reader=_first_reader(rows),
                                   jobs=jobs or 1)
    return refit, [], []


def _deep_training_key(rows: pd.DataFrame, labels: npt.ArrayLike, config: Any,
                       seed: int) -> str:
    """SHA-256 of everything the deep training depends on (images, masks, labels, settings).

    Separate steps (``radval select`` / ``fit`` / ``evaluate``) and reruns then reuse the
    trained network instead of training it again.
    """
    import hashlib
    import json

    from radval import __version__

    items = []
    for rec, lab in zip(rows.to_dict(orient="records"), np.asarray(labels).tolist(),
                        strict=True):
        items.append([str(rec["patient_id"]), str(rec.get("reader", "1")),
                      sha256_file(rec["image_path"]) if "image_path" in rec else rec["image"],
                      sha256_file(rec["mask_path"]) if "mask_path" in rec else rec["mask"],
                      str(rec.get("label", 1)), int(lab)])
    doc = {"radval": __version__, "seed": int(seed), "config": jsonable(config), "rows": items}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode("utf-8")).hexdigest()


def _model_config(model: Any) -> Any:
    cfg = getattr(model, "config", None)
    if cfg is None:
        return {}
    if hasattr(cfg, "model_dump"):
        return cfg.model_dump(mode="json")
    if hasattr(cfg, "to_dict"):
        return cfg.to_dict()
    if isinstance(cfg, Mapping):
        return dict(cfg)
    import dataclasses

    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    return {}


def _yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _first_reader(frame: pd.DataFrame) -> str:
    readers = sorted(frame["reader"].astype(str).unique()) if "reader" in frame else ["1"]
    return "1" if "1" in readers else readers[0]


def _normalise_features(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "patient_id" not in out.columns:
        raise InputError("features table: column 'patient_id' is absent")
    out["patient_id"] = out["patient_id"].astype(str)
    out["reader"] = out["reader"].astype(str) if "reader" in out.columns else "1"
    return out


def _family_columns(columns: Sequence[str], family: str) -> list[str]:
    prefix = "radiomics_" if family == "radiomics" else "deep_"
    return [c for c in columns if str(c).startswith(prefix)]


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Float copy of a features frame (non-numeric text becomes NaN)."""
    try:
        return frame.astype(float)
    except (TypeError, ValueError):
        return frame.apply(pd.to_numeric, errors="coerce").astype(float)


def prepare_data(study: StudyConfig, features: pd.DataFrame, *,
                 failures: pd.DataFrame | None = None,
                 clinical: pd.DataFrame | None = None) -> AnalysisData:
    """Join features and clinical data, apply the guards, count the patient flow.

    Complete-case analysis: patients missing the outcome, any clinical predictor
    used by a model, or any feature are excluded and counted (stage, reason).
    Feature columns with non-finite values in any patient are dropped (recorded).
    """
    clin = _read_clinical(study) if clinical is None else clinical.copy()
    clin["patient_id"] = clin["patient_id"].astype(str)
    clin["cohort"] = clin["cohort"].astype(str)
    feats = _normalise_features(features)
    check_duplicate_patients(feats.assign(cohort=feats["patient_id"].map(
        clin.set_index("patient_id")["cohort"]).fillna(feats.get("cohort", "?"))),
        table="features table")
    order = [c.name for c in study.cohorts]
    flow: list[dict[str, Any]] = []
    warn: list[dict[str, Any]] = []
    used_predictors: list[str] = []
    if study.models.clinical:
        used_predictors += [p.name for p in study.clinical_model_predictors()]
    if study.models.nomogram:
        used_predictors += [p.name for p in study.nomogram_model_predictors()]
    used_predictors = list(dict.fromkeys(used_predictors))
    extra_vars = []
    if study.survival is not None:
        extra_vars = [study.survival.time, study.survival.event]
    missing = missing_by_variable(
        clin[clin["cohort"].isin(order)],
        [study.outcome.column, *[p.name for p in study.clinical_predictors], *extra_vars])
    for rec in missing.to_dict(orient="records"):
        if rec["missing"]:
            warn.append(flag("MISSING_VALUES", f"{rec['missing']} of {rec['n']} patients in "
                             f"{rec['cohort']} miss {rec['variable']}",
                             **{str(k): v for k, v in rec.items()}))
    fail_ids: dict[str, set[str]] = {}
    if failures is not None and len(failures):
        for rec in failures.to_dict(orient="records"):
            fail_ids.setdefault(str(rec.get("reader", "1")), set()).add(str(rec["patient_id"]))
    primary = feats[feats["reader"] == _first_reader(feats)].drop_duplicates("patient_id")
    primary = primary.set_index("patient_id")
    all_fams = [f for f in FAMILIES if _family_columns(list(feats.columns), f)]
    enabled = [f for f in all_fams if (f != "radiomics" or study.radiomics.enabled)
               and (f != "deep" or study.deep.enabled)]
    if not enabled:
        raise DataError("features table: no radiomics_* or deep_* feature columns for the "
                        "enabled feature families")
    feat_cols = {f: _family_columns(list(feats.columns), f) for f in enabled}
    # drop features with non-finite values in any patient of the study cohorts
    in_study = primary[primary.index.isin(clin.loc[clin["cohort"].isin(order), "patient_id"])]
    dropped: list[str] = []
    for fam, cols in feat_cols.items():
        vals = _numeric(in_study[cols]).to_numpy(dtype=float)
        ok_col = np.isfinite(vals).mean(axis=0) >= 0.999 if vals.size else np.array([], bool)
        # a feature missing for (almost) everybody is dropped; otherwise patients are excluded
        keep = [c for c, ok in zip(cols, ok_col, strict=True) if ok]
        dropped += [c for c in cols if c not in keep]
        feat_cols[fam] = keep
    if dropped:
        warn.append(flag("FEATURES_DROPPED", f"{len(dropped)} feature(s) have missing or "
                         "non-finite values and were dropped", features=dropped[:50]))
    kept_rows = []
    for cohort in order:
        cc = clin[clin["cohort"] == cohort]
        if cc.empty:
            warn.append(flag("EMPTY_COHORT", f"cohort {cohort!r} has no patients in the "
                             "clinical table", cohort=cohort))
        flow.append({"cohort": cohort, "stage": "clinical_table", "n": int(len(cc)),
                     "reason": "patients in the clinical table"})
        ids = cc["patient_id"]
        failed = ids.isin(fail_ids.get(_first_reader(feats), set())) & ~ids.isin(primary.index)
        no_img = ~ids.isin(primary.index) & ~failed
        if failed.any():
            flow.append({"cohort": cohort, "stage": "extraction_failed", "n": int(failed.sum()),
                         "reason": "feature extraction failed (see failures table)"})
        if no_img.any():
            flow.append({"cohort": cohort, "stage": "no_features", "n": int(no_img.sum()),
                         "reason": "no image/features for the patient"})
        cc = cc[ids.isin(primary.index).to_numpy()]
        y = _outcome(cc[study.outcome.column], study.outcome.positive_label)
        miss_y = y.isna()
        if miss_y.any():
            flow.append({"cohort": cohort, "stage": "missing_outcome", "n": int(miss_y.sum()),
                         "reason": f"{study.outcome.column} missing"})
        cc = cc[~miss_y.to_numpy()].assign(y=y[~miss_y].astype(int).to_numpy())
        if used_predictors:
            miss_p = cc[used_predictors].isna()
            bad = miss_p.any(axis=1)
            if bad.any():
                counts = miss_p[bad].sum()
                detail = ", ".join(f"{k} {int(v)}" for k, v in counts.items() if v)
                flow.append({"cohort": cohort, "stage": "missing_clinical",
                             "n": int(bad.sum()),
                             "reason": f"complete-case analysis; missing: {detail}"})
            cc = cc[~bad.to_numpy()]
        fvals = primary.loc[cc["patient_id"], [c for cols in feat_cols.values() for c in cols]]
        fvals = _numeric(fvals)
        badf = ~np.isfinite(fvals.to_numpy(dtype=float)).all(axis=1)
        if badf.any():
            flow.append({"cohort": cohort, "stage": "missing_features", "n": int(badf.sum()),
                         "reason": "non-finite feature values"})
            cc = cc[~badf]
        flow.append({"cohort": cohort, "stage": "analysed", "n": int(len(cc)),
                     "reason": "complete cases"})
        kept_rows.append(cc.sort_values("patient_id", kind="mergesort"))
    patients = pd.concat(kept_rows, ignore_index=True) if kept_rows else clin.iloc[:0]
    patients = patients.set_index("patient_id", drop=False)
    patients.index.name = "patient_id"
    patients = patients.drop(columns=["patient_id"])
    features_by_family = {
        fam: _numeric(primary.loc[patients.index, cols]) for fam, cols in feat_cols.items()}
    # second-reader data of development patients (for ICC)
    dev_ids = set(patients.index[patients["cohort"] == study.development])
    readers = feats[feats["patient_id"].isin(dev_ids)]
    reader_features: dict[str, pd.DataFrame | None] = {}
    multi = readers.groupby("patient_id")["reader"].nunique()
    twice = sorted(multi[multi >= 2].index)
    for fam, cols in feat_cols.items():
        reader_features[fam] = reader_frame(readers, twice, cols) if len(twice) >= 3 else None
    if not twice:
        warn.append(flag("NO_SECOND_READER", "no development patient has a second "
                         "segmentation: the ICC step is skipped"))
    return AnalysisData(patients=patients, features=features_by_family,
                        reader_features=reader_features, flow=flow, warnings=warn,
                        missing=missing)


def reader_frame(features: pd.DataFrame, patients: Any, columns: Sequence[str]
                 ) -> pd.DataFrame:
    """The ICC input: every row of ``patients`` (index ``patient_id``, column ``reader`` and
    ``columns``), sorted by patient and reader."""
    rf = features[features["patient_id"].isin(set(patients))][["patient_id", "reader",
                                                                *columns]]
    return rf.sort_values(["patient_id", "reader"]).set_index("patient_id")


# ======================================================================= selection
def _select_family(family: str, x: pd.DataFrame, y: npt.NDArray[np.int64],
                   reader: pd.DataFrame | None, study: StudyConfig,
                   rng: np.random.Generator, groups: Any = None) -> Any:
    from radval.selection import select_features  # type: ignore[attr-defined]

    cfg = study.selection
    return select_features(x, y, reader_features=reader, icc_threshold=cfg.icc_threshold,
                           icc_type=cfg.icc_type, p_threshold=cfg.p_threshold, fdr=cfg.fdr,
                           corr_threshold=cfg.corr_threshold, lasso_rule=cfg.lasso_rule,
                           n_folds=cfg.n_folds, rng=rng, family=family, groups=groups)


def _records(obj: Any) -> list[dict[str, Any]]:
    if obj is None:
        return []
    if isinstance(obj, pd.DataFrame):
        return jsonable(obj)  # type: ignore[no-any-return]
    if hasattr(obj, "to_frame"):
        return jsonable(obj.to_frame())  # type: ignore[no-any-return]
    return []


def summarise_selection(family: str, res: Any, *, detail: bool = True) -> dict[str, Any]:
    """JSON-safe summary of a :class:`~radval.selection.SelectionResult`."""
    coefs = res.coefficients.copy() if isinstance(res.coefficients, pd.DataFrame) else \
        pd.DataFrame(res.coefficients)
    body = coefs[coefs["feature"] != "(Intercept)"]
    sel = [str(f) for f in res.selected]
    body = body.set_index("feature").reindex(sel).reset_index()
    out: dict[str, Any] = {
        "family": family,
        "selected": sel,
        "intercept": float(res.intercept),
        "coefficients": jsonable(pd.concat([
            pd.DataFrame([{"feature": "(Intercept)", "coef": float(res.intercept),
                           "mean": None, "sd": None}]), body[["feature", "coef", "mean", "sd"]]],
            ignore_index=True)),
        "lambda_used": _f(getattr(res, "lambda_used", None)),
    }
    cv = getattr(res, "cv", None)
    out["lambda_min"] = _f(getattr(cv, "lambda_min", None))
    out["lambda_1se"] = _f(getattr(cv, "lambda_1se", None))
    terms = " + ".join(f"({c:+.6g} * {f})" for f, c in zip(body["feature"], body["coef"],
                                                          strict=True))
    score = SCORE_COLUMN[family].replace("_", "-")
    out["formula"] = f"{score} = {float(res.intercept):.6g}" + (f" + {terms}" if terms else "")
    if detail:
        out["funnel"] = _records(getattr(res, "funnel", None))
        out["features"] = _records(getattr(res, "steps", None))
        icc_tab = getattr(res, "icc_table", None)
        out["icc"] = _records(icc_tab)
        out["lasso_cv"] = _records(cv.to_frame()) if cv is not None and hasattr(
            cv, "to_frame") else []
        path = getattr(res, "lasso_path", None)
        if isinstance(path, pd.DataFrame) and {"feature", "coef"} <= set(path.columns):
            # only features that enter the path somewhere (the rest are 0 throughout)
            active = path.groupby("feature")["coef"].apply(lambda c: bool((c != 0).any()))
            path = path[path["feature"].isin(active[active].index)]
        out["lasso_path"] = _records(path)
        out["warnings"] = jsonable(list(getattr(res, "warnings", []) or []))
    return out


def _f(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def run_selection(study: StudyConfig, data: AnalysisData, *, seed: int | None = None,
                  detail: bool = True, groups: Sequence[str] | None = None
                  ) -> dict[str, dict[str, Any]]:
    """Select features on the development cohort, per family.

    ``groups`` (one label per row of ``data.patients``) keeps the copies of a patient in a
    bootstrap resample in one LASSO cross-validation fold.

    Returns
    -------
    dict
        Family -> :func:`summarise_selection` record.
    """
    from radval.models.evaluation import stable_rng

    s = study.seed if seed is None else seed
    dev = data.cohort_mask(study.development)
    y = data.patients["y"].to_numpy()[dev].astype(np.int64)
    if y.min() == y.max():
        raise DataError(f"development cohort {study.development!r} has one outcome class only; "
                        "no signature can be developed")
    out: dict[str, dict[str, Any]] = {}
    for fam, x in data.features.items():
        res = _select_family(fam, x.loc[dev], y, data.reader_features.get(fam), study,
                             stable_rng(s, "selection", fam),
                             None if groups is None else np.asarray(groups, dtype=object)[dev])
        out[fam] = summarise_selection(fam, res, detail=detail)
    return out


# ========================================================================== models
@dataclass
class FittedModels:
    """Every fitted model and how to apply it.

    Attributes
    ----------
    selection : dict
        Family -> selection summary (selected features, coefficients).
    designs : dict
        ``"clinical"`` / ``"nomogram"`` -> :class:`DesignSpec`.
    logistic : dict
        Model name -> (inputs, :class:`LogisticFit`).
    classifiers : dict
        Comparison model name -> fitted scikit-learn pipeline (memory only).
    signature_input : str
        Column holding the signature's linear predictor.
    cutoffs : dict
        Model -> frozen probability cutoff.
    """

    selection: dict[str, dict[str, Any]]
    designs: dict[str, DesignSpec] = field(default_factory=dict)
    logistic: dict[str, tuple[list[str], LogisticFit]] = field(default_factory=dict)
    classifiers: dict[str, Any] = field(default_factory=dict)
    signature_input: str = "rad_score"
    cutoffs: dict[str, float] = field(default_factory=dict)
    flags: list[dict[str, Any]] = field(default_factory=list)

    @property
    def model_names(self) -> list[str]:
        """Models in presentation order."""
        names = [f for f in FAMILIES if f in self.selection]
        names += [m for m in ("combined", "clinical", "nomogram") if m in self.logistic]
        names += list(self.classifiers)
        return names

    def frame(self, patients: pd.DataFrame, features: Mapping[str, pd.DataFrame]
              ) -> pd.DataFrame:
        """Scores and design columns for ``patients`` (index aligned)."""
        cols: dict[str, Any] = {}
        for fam, sel in self.selection.items():
            coef = {r["feature"]: r["coef"] for r in sel["coefficients"]
                    if r["feature"] != "(Intercept)"}
            feats = sel["selected"]
            x = features[fam].loc[:, feats].to_numpy(dtype=float) if feats else \
                np.empty((len(patients), 0))
            cols[SCORE_COLUMN[fam]] = sel["intercept"] + x @ np.array(
                [coef[f] for f in feats], dtype=float)
        out = pd.DataFrame(cols, index=patients.index)
        for spec in self.designs.values():
            d = spec.transform(patients)
            for c in d.columns:
                if c not in out.columns:
                    out[c] = d[c].to_numpy()
        if "combined" in self.logistic:
            inputs, fit = self.logistic["combined"]
            out["signature"] = fit.linear_predictor(out[inputs].to_numpy(dtype=float))
        return out

    def predict(self, patients: pd.DataFrame, features: Mapping[str, pd.DataFrame]
                ) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        """Model -> (score, probability) for ``patients``."""
        fr = self.frame(patients, features)
        out: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}
        for fam in self.selection:
            s = fr[SCORE_COLUMN[fam]].to_numpy(dtype=float)
            out[fam] = (s, expit(s))
        for name, (inputs, fit) in self.logistic.items():
            lp = fit.linear_predictor(fr[inputs].to_numpy(dtype=float))
            out[name] = (lp, expit(lp))
        if self.classifiers:
            x = _selected_matrix(self.selection, features)
            for name, model in self.classifiers.items():
                p = np.asarray(model.predict_proba(x)[:, 1], dtype=float)
                out[name] = (p, p)
        return {k: out[k] for k in self.model_names}


def _selected_matrix(selection: Mapping[str, dict[str, Any]],
                     features: Mapping[str, pd.DataFrame]) -> npt.NDArray[np.float64]:
    # family order fixed (not the mapping's): the classifiers see the same columns whether
    # the selection comes from memory or from selection.json
    mats = [features[fam].loc[:, selection[fam]["selected"]].to_numpy(dtype=float)
            for fam in FAMILIES if fam in selection and selection[fam]["selected"]]
    return np.column_stack(mats) if mats else np.empty((0, 0))


def _design(pats: pd.DataFrame, preds: Sequence[Any],
            levels: Mapping[str, DesignSpec] | None, name: str) -> DesignSpec:
    if levels is not None and name in levels:
        return levels[name]
    return DesignSpec.from_frame(pats, [(p.name, p.kind) for p in preds])


def _fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], *,
         names: Sequence[str]) -> LogisticFit:
    """Logistic fit; columns constant in this sample (e.g. a level absent from a
    bootstrap resample) are left out and get coefficient 0 (SE NaN)."""
    x = np.asarray(x, dtype=float)
    keep = np.ptp(x, axis=0) > 0 if x.shape[0] else np.ones(x.shape[1], bool)
    if keep.all():
        return fit_logistic(x, y, names=names)
    sub = fit_logistic(x[:, keep], y, names=[n for n, k in zip(names, keep, strict=True) if k])
    coef = np.zeros(len(names) + 1)
    se = np.full(len(names) + 1, np.nan)
    cov = np.full((len(names) + 1, len(names) + 1), np.nan)
    pos = np.concatenate([[0], 1 + np.flatnonzero(keep)])
    coef[pos] = sub.coef
    se[pos] = sub.se
    cov[np.ix_(pos, pos)] = sub.cov
    return LogisticFit(names=["(Intercept)", *names], coef=coef, se=se, cov=cov,
                       deviance=sub.deviance, null_deviance=sub.null_deviance,
                       loglik=sub.loglik, n=sub.n, events=sub.events, n_iter=sub.n_iter,
                       converged=sub.converged)


def fit_models(study: StudyConfig, data: AnalysisData, selection: dict[str, dict[str, Any]],
               *, comparison: bool = True, cutoffs: bool = True,
               levels: Mapping[str, DesignSpec] | None = None) -> FittedModels:
    """Fit every model on the development cohort of ``data``.

    Parameters
    ----------
    study : StudyConfig
    data : AnalysisData
        Only rows of the development cohort are used.
    selection : dict
        From :func:`run_selection`.
    comparison : bool
        Fit the scikit-learn comparison classifiers.
    cutoffs : bool
        Choose the Youden cutoff of each model on the development cohort.
    levels : mapping, optional
        Frozen designs (``"clinical"``, ``"nomogram"`` -> :class:`DesignSpec`), e.g. those
        of the full development cohort inside bootstrap resamples.
    """
    dev = data.cohort_mask(study.development)
    pats = data.patients.loc[dev]
    feats = {k: v.loc[dev] for k, v in data.features.items()}
    y = pats["y"].to_numpy(dtype=np.int64)
    fm = FittedModels(selection=selection)
    fr = fm.frame(pats, feats)
    scores = [SCORE_COLUMN[f] for f in FAMILIES if f in selection]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        if study.models.combined and len(scores) >= 2:
            fm.logistic["combined"] = (scores, _fit(fr[scores].to_numpy(), y,
                                                            names=scores))
            fm.signature_input = "signature"
        else:
            fm.signature_input = scores[0]
        if study.models.clinical and study.clinical_model_predictors():
            preds = study.clinical_model_predictors()
            spec = _design(pats, preds, levels, "clinical")
            fm.designs["clinical"] = spec
            xd = spec.transform(pats)
            fm.logistic["clinical"] = (spec.columns, _fit(xd.to_numpy(), y,
                                                                  names=spec.columns))
            fm.flags += check_predictor_timing(
                "clinical", [(p.name, p.timing) for p in preds],
                prediction_moment=study.prediction_moment)
        if study.models.nomogram:
            preds = study.nomogram_model_predictors()
            spec = _design(pats, preds, levels, "nomogram")
            fm.designs["nomogram"] = spec
            fr = fm.frame(pats, feats)
            inputs = [fm.signature_input, *spec.columns]
            fm.logistic["nomogram"] = (inputs, _fit(fr[inputs].to_numpy(), y,
                                                            names=inputs))
            fm.flags += check_predictor_timing(
                "nomogram", [(p.name, p.timing) for p in preds],
                prediction_moment=study.prediction_moment)
    if comparison and study.models.comparison:
        from radval.models.classifiers import fit_classifier

        x = _selected_matrix(selection, feats)
        if x.size:
            for name in study.models.comparison:
                fm.classifiers[name] = fit_classifier(name, x, y, seed=study.seed)
    if cutoffs:
        fm.cutoffs = choose_cutoffs(study, fm, pats, feats)
    return fm


def choose_cutoffs(study: StudyConfig, fm: FittedModels, patients: pd.DataFrame,
                   features: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Youden cutoff of each model's probability on the development cohort (or fixed)."""
    from radval import stats

    y = patients["y"].to_numpy(dtype=np.int64)
    out: dict[str, float] = {}
    for name, (_s, p) in fm.predict(patients, features).items():
        if study.evaluation.cutoff == "youden":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RadvalWarning)
                out[name] = float(stats.youden_threshold(y, p))
        else:
            out[name] = float(study.evaluation.cutoff)
    return out


def predictions_table(study: StudyConfig, data: AnalysisData, fm: FittedModels
                      ) -> pd.DataFrame:
    """``patient_id, cohort, model, score, probability, y_true`` for every cohort x model."""
    rows: list[pd.DataFrame] = []
    pred = fm.predict(data.patients, data.features)
    for name in fm.model_names:
        score, prob = pred[name]
        rows.append(pd.DataFrame({
            "patient_id": data.patients.index.astype(str), "cohort": data.patients["cohort"],
            "model": name, "score": score, "probability": prob,
            "y_true": data.patients["y"].astype(int).to_numpy()}))
    out = pd.concat(rows, ignore_index=True)
    order = {c.name: i for i, c in enumerate(study.cohorts)}
    morder = {m: i for i, m in enumerate(fm.model_names)}
    out = out.sort_values(["cohort", "model", "patient_id"], kind="mergesort",
                          key=lambda s: s.map(order) if s.name == "cohort" else
                          (s.map(morder) if s.name == "model" else s))
    return out.reset_index(drop=True)


def model_records(study: StudyConfig, fm: FittedModels) -> list[dict[str, Any]]:
    """The ``models`` table of results.json."""
    from radval.models.classifiers import LABELS as CLF_LABELS
    from radval.models.classifiers import classifier_settings

    out: list[dict[str, Any]] = []
    for name in fm.model_names:
        if name in FAMILIES:
            sel = fm.selection[name]
            out.append({"name": name, "label": LABELS[name], "kind": name,
                        "predictors": sel["selected"], "cutoff": fm.cutoffs.get(name),
                        "coefficients": sel["coefficients"], "formula": sel["formula"]})
        elif name in fm.logistic:
            inputs, fit = fm.logistic[name]
            tab = fit.table()
            out.append({"name": name, "label": LABELS[name], "kind": name,
                        "predictors": inputs, "cutoff": fm.cutoffs.get(name),
                        "coefficients": jsonable(tab.rename(columns={"term": "feature"})),
                        "converged": fit.converged})
        else:
            out.append({"name": name, "label": CLF_LABELS.get(name, name), "kind": "sklearn",
                        "predictors": [f for s in fm.selection.values() for f in s["selected"]],
                        "cutoff": fm.cutoffs.get(name), "coefficients": [],
                        "settings": classifier_settings(name, study.seed)})
    return out


# ======================================================================= nomogram
def nomogram_points(fit: LogisticFit, inputs: Sequence[str], spec: DesignSpec,
                    dev_frame: pd.DataFrame, *, signature_label: str = "Signature",
                    n_ticks: int = 6) -> dict[str, Any]:
    """Points scales of an rms-style nomogram for a fitted logistic model.

    Each predictor's contribution :math:`\\beta_k x_k` is shifted to start at 0 over
    its development range (numeric: min..max; categorical: levels with the
    reference at 0).  The predictor with the largest range of contribution gets
    0-100 points; every other predictor is scaled by the same points per unit of
    linear predictor, :math:`u = 100/\\max_k \\text{range}_k`.  Total points
    :math:`T` map back to :math:`\\eta = \\beta_0 + \\sum_k \\min_k + T/u` and the
    probability :math:`1/(1+e^{-\\eta})`.
    """
    coef = dict(zip(["(Intercept)", *inputs], fit.coef.tolist(), strict=True))
    groups: list[dict[str, Any]] = []
    numeric = [inputs[0]] + [n for n, k in spec.predictors if k == "numeric"]
    for name in numeric:
        col = dev_frame[name].to_numpy(dtype=float)
        lo, hi = float(np.nanmin(col)), float(np.nanmax(col))
        b = coef[name]
        contrib = [b * lo, b * hi]
        ticks = np.linspace(lo, hi, n_ticks)
        groups.append({"name": signature_label if name == inputs[0] else name,
                       "column": name, "kind": "numeric", "coef": b,
                       "values": ticks.tolist(), "contrib": (b * ticks).tolist(),
                       "min": min(contrib), "range": abs(contrib[1] - contrib[0])})
    for name, kind in spec.predictors:
        if kind != "categorical":
            continue
        levels = spec.levels[name]
        contrib = [0.0] + [coef[f"{name}[{lv}]"] for lv in levels[1:]]
        groups.append({"name": name, "column": name, "kind": "categorical", "coef": None,
                       "values": levels, "contrib": contrib, "min": min(contrib),
                       "range": max(contrib) - min(contrib)})
    max_range = max(g["range"] for g in groups) if groups else 1.0
    unit = 100.0 / max_range if max_range > 0 else 0.0
    predictors = []
    for g in groups:
        pts = [(c - g["min"]) * unit for c in g["contrib"]]
        predictors.append({"name": g["name"], "column": g["column"], "kind": g["kind"],
                           "coef": g["coef"], "ticks": [{"value": v, "points": p} for v, p in
                                                        zip(g["values"], pts, strict=True)],
                           "max_points": max(pts) if pts else 0.0})
    base = coef["(Intercept)"] + sum(g["min"] for g in groups)
    total_max = sum(p["max_points"] for p in predictors)
    probs = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    total = []
    for pr in probs:
        eta = math.log(pr / (1 - pr))
        t = (eta - base) * unit if unit else math.nan
        if 0.0 <= t <= total_max:
            total.append({"points": t, "probability": pr})
    return {"predictors": predictors, "points_per_unit_lp": unit, "lp_at_zero_points": base,
            "total_points_max": total_max, "total_points": total,
            "intercept": coef["(Intercept)"],
            "formula": "probability = 1 / (1 + exp(-(lp_at_zero_points + total_points / "
                       "points_per_unit_lp)))"}


# ========================================================================= outputs
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
    clinical = _read_clinical(study)  # validate before the (long) extraction
    ext = extract_features(study, out_dir, jobs=jobs, scheduler=scheduler)
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
    atomic_write_json(out_dir / "selection.json", {"study": study.name, "seed": study.seed,
                                                   "selection": selection})
    rows = []
    for fam, sel in selection.items():
        for r in sel.get("funnel", []):
            rows.append({"family": fam, **r})
    _write_csv(out_dir / "tables" / "selection_funnel.csv", pd.DataFrame(rows))
    return {"out_dir": out_dir, "data": data, "selection": selection, "timings": timings}


def _selection_file(out_dir: Path) -> dict[str, Any]:
    """``selection.json`` of step ``select``, families in :data:`FAMILIES` order (JSON
    files are written with sorted keys)."""
    sel = _load_json(out_dir / "selection.json", "select")["selection"]
    return {f: sel[f] for f in FAMILIES if f in sel}


def _load_json(path: Path, step: str) -> Any:
    import json

    if not path.is_file():
        raise MissingInputError(f"{path} not found: run `radval {step}` first (or `radval run`)")
    return json.loads(path.read_text(encoding="utf-8"))


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
    preds.to_parquet(out_dir / "predictions.parquet", index=False)
    models = {"models": model_records(study, fm), "cutoffs": fm.cutoffs,
              "designs": {k: v.to_dict() for k, v in fm.designs.items()},
              "signature_input": fm.signature_input, "flags": fm.flags}
    dev = data.cohort_mask(study.development)
    if "nomogram" in fm.logistic:
        inputs, fit = fm.logistic["nomogram"]
        fr = fm.frame(data.patients.loc[dev], {k: v.loc[dev] for k, v in data.features.items()})
        models["nomogram"] = nomogram_points(fit, inputs, fm.designs["nomogram"], fr)
    atomic_write_json(out_dir / "models.json", models)
    bundle = _write_signature_bundle(study, data, fm, out_dir)
    models["bundle"] = bundle
    atomic_write_json(out_dir / "models.json", models)
    return {"out_dir": out_dir, "data": data, "fitted": fm, "predictions": preds,
            "models": models, "timings": timings}


def _write_signature_bundle(study: StudyConfig, data: AnalysisData, fm: FittedModels,
                            out_dir: Path) -> dict[str, Any]:
    from radval import __version__
    from radval.models.signature import (
        SCHEMA_VERSION,
        LinearScore,
        LogisticModel,
        Signature,
        development_summary_from,
    )

    scores = {}
    for fam, sel in fm.selection.items():
        rows = [r for r in sel["coefficients"] if r["feature"] != "(Intercept)"]
        scores[SCORE_COLUMN[fam]] = LinearScore(
            name=SCORE_COLUMN[fam], features=[r["feature"] for r in rows],
            intercept=sel["intercept"], coef=[r["coef"] for r in rows],
            means=[r["mean"] if r["mean"] is not None else math.nan for r in rows],
            sds=[r["sd"] if r["sd"] is not None else math.nan for r in rows])
    if "combined" in fm.logistic:
        inputs, fit = fm.logistic["combined"]
        combined = LogisticModel(name="combined", inputs=inputs, intercept=fit.intercept,
                                 coef=fit.slopes.tolist())
        sig_name = "combined"
    else:
        combined = LogisticModel(name="combined", inputs=[fm.signature_input], intercept=0.0,
                                 coef=[1.0])
        sig_name = next(iter(fm.selection))
    extra_models = {name: LogisticModel(name=name, inputs=inp, intercept=fit.intercept,
                                        coef=fit.slopes.tolist())
                    for name, (inp, fit) in fm.logistic.items() if name != "combined"}
    dev = data.cohort_mask(study.development)
    feats_dev = pd.concat([v.loc[dev] for v in data.features.values()], axis=1)
    feats_dev.index = feats_dev.index.astype(str)
    selected = [f for s in fm.selection.values() for f in s["selected"]]
    _s, prob = fm.predict(data.patients.loc[dev],
                          {k: v.loc[dev] for k, v in data.features.items()})[sig_name]
    summary = development_summary_from(feats_dev.reset_index(), selected, prob,
                                       y_true=data.patients.loc[dev, "y"].to_numpy())
    predictors = [{"name": p.name, "kind": p.kind, "timing": p.timing}
                  for p in study.clinical_predictors]
    rad = data.extraction.get("radiomics")
    deep = data.extraction.get("deep")
    sig = Signature(
        schema_version=SCHEMA_VERSION, radval_version=__version__,
        outcome={"name": study.outcome.column, "positive_label": study.outcome.positive_label,
                 "definition": study.outcome.definition},
        intended_use=study.question or f"predict {study.outcome.column}",
        population=f"development cohort {study.development}",
        prediction_moment=study.prediction_moment, predictors=predictors,
        radiomics={"params_yaml": rad.get("params_yaml", ""),
                   "params_sha256": rad.get("params_sha256", "")} if rad else None,
        deep={"config": deep.get("config", {}), "weights_file": None,
              "weights_sha256": None} if deep else None,
        scores=scores, combined=combined, cutoff=fm.cutoffs[sig_name],
        development_summary=summary, models=extra_models,
        extra={"cutoffs": fm.cutoffs, "designs": {k: v.to_dict() for k, v in
                                                  fm.designs.items()},
               "signature_model": sig_name,
               "model_inputs": {
                   "rad_score": "scores['rad_score'] (Signature.predict column rad_score)",
                   "dl_score": "scores['dl_score'] (Signature.predict column dl_score)",
                   "signature": "linear predictor of the combined model "
                                "(Signature.predict column linear_predictor)",
                   "<predictor>[<level>]": "1 if the categorical predictor equals <level>, "
                                           "else 0 (first sorted level = reference)",
                   "<predictor>": "numeric clinical predictor as recorded"},
               "lambda_used": {f: s.get("lambda_used") for f, s in fm.selection.items()}})
    try:
        from radval.models.bundle import write_bundle
    except ImportError:  # pragma: no cover - bundle module not available
        atomic_write_json(out_dir / "signature.json", sig.to_dict())
        return {"path": "signature.json", "kind": "signature.json (bundle writer unavailable)"}
    weights = Path(deep["weights_path"]) if deep and deep.get("weights_path") else None
    path = write_bundle(out_dir / "bundle", sig, deep_weights=weights)
    return {"path": str(Path(path).relative_to(out_dir)), "kind": "bundle"}


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


def _survival(study: StudyConfig, data: AnalysisData, preds: pd.DataFrame, model: str,
              cutoff: float) -> dict[str, Any]:
    from radval import stats

    assert study.survival is not None  # noqa: S101
    tcol, ecol = study.survival.time, study.survival.event
    km_rows: list[pd.DataFrame] = []
    summ: list[dict[str, Any]] = []
    pm = preds[preds["model"] == model].set_index("patient_id")
    for cohort in [c.name for c in study.cohorts]:
        pats = data.patients[data.patients["cohort"] == cohort]
        pats = pats[pats[tcol].notna() & pats[ecol].notna()]
        if pats.empty:
            continue
        t = pats[tcol].to_numpy(dtype=float)
        e = pats[ecol].to_numpy(dtype=float).astype(int)
        lp = pm.loc[pats.index.astype(str), "score"].to_numpy(dtype=float)
        prob = pm.loc[pats.index.astype(str), "probability"].to_numpy(dtype=float)
        grp = np.where(prob >= cutoff, "high risk", "low risk")
        row: dict[str, Any] = {"cohort": cohort, "model": model, "n": int(t.size),
                               "events": int(e.sum()), "undefined_reason": None}
        reasons: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            try:
                km = stats.kaplan_meier(t, e, group=grp)
                km_rows.append(km.assign(cohort=cohort))
            except (ValueError, ArithmeticError) as exc:
                reasons.append(f"Kaplan-Meier: {exc}")
            try:
                if len(set(grp)) < 2:
                    raise InputError("one risk group only")
                lr = stats.logrank_test(t, e, grp)
                row.update(logrank_statistic=float(lr.statistic), logrank_p=float(lr.p_value))
            except (ValueError, ArithmeticError) as exc:
                reasons.append(f"log-rank: {exc}")
            try:
                cox = stats.cox_ph(t, e, lp.reshape(-1, 1))
                row.update(hr=_first(cox, "hr"), hr_ci_low=_first(cox, "hr_ci_low"),
                           hr_ci_high=_first(cox, "hr_ci_high"), cox_p=_first(cox, "p_value"))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                reasons.append(f"Cox: {exc}")
            try:
                ci = stats.concordance_index(t, e, lp)
                row["c_index"] = _first(ci, "c_index", "estimate", "concordance")
            except (ValueError, ArithmeticError) as exc:
                reasons.append(f"C-index: {exc}")
        row["undefined_reason"] = "; ".join(reasons) or None
        summ.append(row)
    return {"model": model, "cutoff": cutoff, "hr_per": "1 unit of the signature score",
            "km": pd.concat(km_rows, ignore_index=True) if km_rows else pd.DataFrame(),
            "summary": pd.DataFrame(summ)}


def _first(obj: Any, *names: str) -> float:
    if isinstance(obj, int | float | np.floating):
        return float(obj)
    for n in names:
        v = getattr(obj, n, None)
        if v is None and isinstance(obj, Mapping):
            v = obj.get(n)
        if v is None and isinstance(obj, pd.DataFrame) and n in obj.columns:
            v = obj[n].iloc[0]
        if v is not None:
            arr = np.asarray(v, dtype=float).ravel()
            return float(arr[0]) if arr.size else math.nan
    return math.nan


def run_evaluate(study: StudyConfig, out: str | Path | None = None, *,
                 data: AnalysisData | None = None, fitted: dict[str, Any] | None = None,
                 selection: dict[str, Any] | None = None, jobs: int | None = None,
                 scheduler: str | None = None, study_file: str | Path | None = None
                 ) -> dict[str, Any]:
    """Step ``evaluate``: every number of results.json, written with the tidy tables."""
    from radval import __version__
    from radval._provenance import package_versions
    from radval.models.evaluation import evaluate_predictions
    from radval.models.internal import optimism_bootstrap

    out_dir = _out_dir(study, out)
    timings: dict[str, float] = {}
    # the outputs of the earlier steps first: a missing one fails before the extraction
    if selection is None:
        selection = _selection_file(out_dir)
    models = fitted["models"] if fitted else _load_json(out_dir / "models.json", "fit")
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
            survival = _survival(study, data, preds, sig_model, cutoffs[sig_model])
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
    atomic_write_json(out_dir / "results.json", results)
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
    atomic_write_json(out_dir / "selection.json", {"study": study.name, "seed": study.seed,
                                                   "selection": selection})
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


# ============================================================================ demo
def builtin_study_text() -> str:
    """Text of the built-in study file (``analysis/study.yaml``).

    Read from the repository when available; otherwise the copy embedded here
    (:data:`BUILTIN_STUDY_YAML`, kept identical by a test).
    """
    repo = Path(__file__).resolve().parents[3] / "analysis" / "study.yaml"
    if repo.is_file():
        return repo.read_text(encoding="utf-8")
    return BUILTIN_STUDY_YAML


def prepare_demo(out: str | Path, *, small: bool = False, seed: int | None = None,
                 jobs: int | None = None) -> tuple[StudyConfig, Path, float]:
    """Generate the built-in study in ``out/study`` and write its study file there.

    ``small=True`` generates the small variant (48 patients) and uses fewer
    resamples (bootstrap CI 500, optimism 50) so that it runs in about a minute.

    Returns
    -------
    (StudyConfig, study file path, seconds spent generating)
    """
    import yaml

    from radval.io.synth import generate_study
    from radval.models.study import load_study

    out = Path(out)
    data_dir = out / "study"
    doc = yaml.safe_load(builtin_study_text())
    if seed is not None:
        doc["seed"] = int(seed)
    t0 = time.perf_counter()
    # Patients are generated independently (per-patient seeds), so parallel generation
    # gives the same bytes as serial; use the same worker count as the run.
    from radval.features.executor import available_cores

    synth_jobs = int(jobs) if jobs else available_cores()
    paths = generate_study(data_dir, small=small, seed=int(doc["seed"]), jobs=synth_jobs)
    secs = time.perf_counter() - t0
    doc["manifest"] = Path(paths.manifest).name
    doc["clinical"] = Path(paths.clinical).name
    doc["output"] = "../results"
    if jobs is not None:
        doc.setdefault("compute", {})["jobs"] = int(jobs)
    if small:
        doc["evaluation"]["bootstrap_ci"] = 500
        doc["evaluation"]["optimism"] = 50
        doc["selection"]["n_folds"] = 5
    study_file = data_dir / "study.yaml"
    header = ("# Written by `radval demo` from analysis/study.yaml"
              + (" (small variant)" if small else "") + "\n")
    atomic_write_text(study_file, header + yaml.safe_dump(doc, sort_keys=False))
    return load_study(study_file), study_file, secs


BUILTIN_STUDY_YAML = """\
# The built-in two-centre study (synthetic re-creation of Gu et al. 2023: non-functional
# pancreatic neuroendocrine tumours, lymph-node metastasis).  Generate its data with
#     radval synth --out analysis/data
# then run it with
#     radval run analysis/study.yaml
# (`radval demo` does both in a scratch folder).  Schema: data-dictionary/study.yaml.
name: builtin-two-centre-lnm
question: >-
  Does a CT radiomics + deep-learning signature predict lymph-node metastasis of
  non-functional pancreatic neuroendocrine tumours before surgery, and does it transport
  to a second centre?
outcome:
  column: ln_metastasis
  positive_label: 1
  definition: pathological lymph-node metastasis (pN+) in the surgical specimen
prediction_moment: pre-operative
manifest: data/manifest.csv
clinical: data/clinical.csv
radiomics:
  enabled: true
  # params: omitted -> the shipped study parameter file (gu2023_ct.yaml)
deep:
  enabled: true
  # A light network (16^3 crop at 2 mm, convolution blocks of 4 and 8 channels, 20 epochs:
  # under a second to train on one core), so that the demo trains it again in each of the
  # 200 optimism resamples within its time budget.  Omit `config` for the library default
  # (32^3 crop at 1 mm, 8-16-32 channels, 30 epochs).
  config: {crop_size: 16, spacing_mm: 2.0, channels: [4, 8], epochs: 20}
cohorts:
  - {name: centre1_train, role: development}
  - {name: centre1_test, role: internal_validation}
  - {name: centre2, role: external_validation}
clinical_predictors:
  - {name: age_years, timing: pre-operative, kind: numeric}
  - {name: sex, timing: pre-operative, kind: categorical}
  - {name: tumour_size_mm, timing: pre-operative, kind: numeric}
  - {name: grade, timing: post-operative, kind: categorical}
  - {name: vascular_invasion, timing: post-operative, kind: categorical}
  - {name: perineural_invasion, timing: post-operative, kind: categorical}
subgroups:
  - {name: tumour_size, expr: "tumour_size_mm < 20"}
selection:
  icc_threshold: 0.75
  icc_type: ICC2
  p_threshold: 0.05
  fdr: false
  corr_threshold: 0.9
  lasso_rule: 1se
  n_folds: 10
models:
  clinical: true
  combined: true
  nomogram: true
  # the paper's nomogram adds post-operative pathology to the signature; radval flags it
  nomogram_predictors: [grade, vascular_invasion, perineural_invasion]
  comparison: [logistic, svm, random_forest]
evaluation:
  bootstrap_ci: 2000
  optimism: 200
  optimism_deep: retrain      # the network is trained again in every resample
  optimism_comparison: true   # and so are the scikit-learn comparison classifiers
  cutoff: youden
  hl_groups: 10
survival:
  time: dfs_months
  event: dfs_event
compute:
  jobs: 2
seed: 20231024
output: results
"""
