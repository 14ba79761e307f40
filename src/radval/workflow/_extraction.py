"""Extraction orchestration: PyRadiomics (cached) and the deep network."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._provenance import atomic_write_json, sha256_file
from radval._results import jsonable
from radval.exceptions import MissingInputError
from radval.io.coding import check_cohort_agreement, primary_rows
from radval.io.tables import check_numeric_columns, read_table
from radval.models.guards import (
    check_duplicate_patients,
    flag,
)
from radval.workflow._coding import normalise_features, outcome_of, read_clinical
from radval.workflow._cohort import AnalysisData
from radval.workflow._study import StudyConfig

logger = logging.getLogger("radval.pipeline")


def _source(clinical: pd.DataFrame) -> str:
    return f"clinical table {clinical.attrs.get('source', '')}".strip()


def extract_features(study: StudyConfig, out_dir: Path, *, jobs: int | None = None,
                     scheduler: str | None = None,
                     clinical: pd.DataFrame | None = None) -> dict[str, Any]:
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
        feats = read_table(fpath, what="features table",
                           dtype={"patient_id": str, "reader": str, "cohort": str},
                           required=["patient_id"])
        source = f"features table {fpath.name}"
        check_numeric_columns(feats, [c for c in feats.columns
                                      if str(c).startswith(("radiomics_", "deep_"))],
                              what=source)
        info["features_sha256"] = sha256_file(fpath)
        feats = normalise_features(feats, source=source)
        if clinical is not None:
            check_cohort_agreement({source: feats, _source(clinical): clinical})
        return {"features": feats, "failures": failures, "extraction": info}
    from radval.io.manifest import read_manifest

    mpath = study.path(study.manifest)
    assert mpath is not None  # noqa: S101 - guaranteed by the study validator
    manifest = read_manifest(mpath)
    check_duplicate_patients(manifest, table=f"manifest {mpath.name}")
    if clinical is not None:
        # before anything is extracted or trained: a development patient listed as external
        # in the clinical table would train the network and then be scored as external
        check_cohort_agreement({f"manifest {mpath.name}": manifest, _source(clinical): clinical})
    known = {c.name for c in study.cohorts}
    manifest = manifest[manifest["cohort"].astype(str).isin(known)].reset_index(drop=True)
    frames: list[pd.DataFrame] = []
    # The network is trained (and its features extracted) in a thread of this process
    # while the worker processes extract the radiomics: the deep step is mostly
    # single-threaded and would otherwise leave a core idle for its whole duration.
    deep = _Background(_deep_features, study, manifest, out_dir, info, jobs=jobs,
                       clinical=clinical) if study.deep.enabled else None
    if study.radiomics.enabled:
        from radval.features import extract_radiomics

        params = study.path(study.radiomics.params)
        try:
            res = extract_radiomics(manifest, params=params, out_dir=feat_dir, jobs=jobs,
                                    scheduler=scheduler, settings=_check_settings(study))
        except BaseException:
            if deep is not None:
                deep.wait()  # it writes the network's cache: never half a file
            raise
        frames.append(normalise_features(res.features))
        if res.failures is not None and len(res.failures):
            failures = pd.concat([failures, res.failures], ignore_index=True)
        info["radiomics"] = _params_info(res, params)
    if deep is not None:
        deep_feats = deep.result()
        deep_failures = deep_feats.attrs.pop("failures", None)
        if deep_failures is not None and len(deep_failures):
            failures = pd.concat([failures, deep_failures], ignore_index=True)
        frames.append(deep_feats)
    feats = frames[0]
    for extra in frames[1:]:
        feats = feats.merge(extra.drop(columns=["cohort"], errors="ignore"),
                            on=["patient_id", "reader"], how="outer")
    return {"features": feats, "failures": failures, "extraction": info}


class _Background:
    """``fn(*args, **kwargs)`` in a daemon thread; :meth:`result` joins it and returns its
    value or raises its exception.  A daemon thread, so that a second Ctrl-C while
    :meth:`wait` waits ends the run at once."""

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        import threading

        self._value: Any = None
        self._error: BaseException | None = None

        def target() -> None:
            try:
                self._value = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = exc

        self._thread = threading.Thread(target=target, name="radval-deep-features",
                                        daemon=True)
        self._thread.start()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def wait(self) -> None:
        """The caller failed: let the thread finish (its outcome is not used)."""
        if self._thread.is_alive():
            logger.warning("waiting for the deep network's training to finish "
                           "(Ctrl-C again to stop at once)")
        self._thread.join()


def _check_settings(study: StudyConfig) -> Any:
    """The pre-extraction checks of the study's modality (radval.features.checks)."""
    from radval.features.checks import CheckSettings

    return CheckSettings(modality=study.modality)


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
                   info: dict[str, Any], *, jobs: int | None,
                   clinical: pd.DataFrame | None = None) -> pd.DataFrame:
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
        if clinical is None:
            clinical = read_clinical(study)
        dev = study.development
        # the training scans: each development patient's primary segmentation, labelled by
        # the study's outcome coding (the rules of radval.io.coding, as everywhere)
        rows = primary_rows(manifest[(manifest["cohort"].astype(str) == dev)])
        y = outcome_of(study, clinical)
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
                                              config=config, seed=study.seed,
                                              jobs=jobs or 1)
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
    out = normalise_features(feats)
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

    Returns ``(refit, not_refitted, flags)``: a :class:`radval.features.deep_refit.DeepRefit`
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
    from radval.features.deep_refit import prepare_refit
    from radval.io.manifest import read_manifest

    mpath = study.path(study.manifest)
    assert mpath is not None  # noqa: S101 - no features table, so a manifest
    man = read_manifest(mpath)
    dev_ids = set(data.patients.index[data.cohort_mask(study.development)].astype(str))
    rows = man[(man["cohort"].astype(str) == study.development)
               & man["patient_id"].astype(str).isin(dev_ids)].reset_index(drop=True)
    config = (data.extraction.get("deep") or {}).get("config") or _deep_network_config(study)
    refit = prepare_refit(rows, config, jobs=jobs or 1)
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
