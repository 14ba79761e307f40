"""Manifest -> radiomics features table: checks, parallel extraction, cache, outputs.

:func:`extract_radiomics` is the public entry point behind ``radval extract``.  For every
manifest row it reads the image and the mask, runs the checks of
:mod:`radval.features.checks`, extracts the PyRadiomics features with the parameter file, and
collects the problems in a failures table instead of stopping (unless ``strict=True``).

Files written to ``out_dir``
----------------------------
``features.parquet`` (or ``features.csv``)
    ``patient_id, reader, cohort`` + ``radiomics_<imagetype>_<class>_<feature>`` (float), one
    row per successful case, in manifest order (``data-dictionary/features.yaml``).
``features.json``
    Sidecar: parameter file name, text and SHA-256; package versions; SHA-256 of every input
    file keyed by its manifest-relative path; counts.  Never an absolute path.
``diagnostics.parquet`` (or ``.csv``)
    PyRadiomics' ``diagnostics_*`` entries per case (JSON text for structured values).
``failures.csv``
    ``patient_id, reader, cohort, image, mask, stage, reason`` (``data-dictionary/failures.yaml``).
``.cache/``
    One JSON record per finished case (:mod:`radval.features.cache`).

Every file is written atomically.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from radval._provenance import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    provenance_record,
    sha256_path,
)
from radval._results import Result
from radval._validation import check_choice, param_error
from radval.exceptions import ExtractionError
from radval.features._worker import check_task, extract_task
from radval.features.cache import CaseCache, case_key
from radval.features.checks import CheckSettings, check_case, problem
from radval.features.executor import CaseOutcome, map_cases
from radval.features.radiomics import ParamFile, param_setting, resolve_params
from radval.report._escape import csv_frame

__all__ = ["FAILURE_COLUMNS", "ExtractionResult", "check_manifest", "extract_radiomics",
           "load_manifest", "table_bytes"]

logger = logging.getLogger(__name__)

#: Columns of the failures table.
FAILURE_COLUMNS = ["patient_id", "reader", "cohort", "image", "mask", "stage", "reason"]
_KEYS = ["patient_id", "reader", "cohort"]
_ROW_FIELDS = ("patient_id", "reader", "cohort", "image", "mask", "label", "image_path",
               "mask_path", "duplicate", "modality")


@dataclass(frozen=True, kw_only=True)
class ExtractionResult(Result):
    """Result of :func:`extract_radiomics`.

    Attributes
    ----------
    features : DataFrame
        ``patient_id, reader, cohort`` + feature columns, one row per successful case.
    failures : DataFrame
        One row per problem (columns :data:`FAILURE_COLUMNS`).
    diagnostics : DataFrame
        ``patient_id, reader, cohort`` + PyRadiomics ``diagnostics_*`` entries.
    provenance : dict
        The sidecar content (parameter file, versions, input hashes).
    n_cases, n_extracted, n_cached, n_failed : int
        Manifest rows; cases computed in this run; cases taken from the cache; rows failed.
    files : dict
        Written files (name -> path relative to ``out_dir``).
    """

    features: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)
    diagnostics: pd.DataFrame = field(repr=False)
    provenance: dict[str, Any] = field(repr=False)
    n_cases: int
    n_extracted: int
    n_cached: int
    n_failed: int
    files: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """``True`` when no row failed."""
        return self.n_failed == 0


def load_manifest(manifest: Any, *, caller: str) -> pd.DataFrame:
    """A validated manifest from a path or a DataFrame (see :mod:`radval.io.manifest`)."""
    from radval.io.manifest import prepare_manifest, read_manifest

    if isinstance(manifest, pd.DataFrame):
        if {"image_path", "mask_path", "duplicate"} <= set(manifest.columns):
            return manifest
        return prepare_manifest(manifest, caller=caller)
    if isinstance(manifest, str | os.PathLike):
        return read_manifest(manifest)
    raise param_error("manifest", caller, "a manifest path or DataFrame", manifest)


def _row(rec: pd.Series, root: Any) -> dict[str, Any]:
    out = {k: rec[k] for k in _ROW_FIELDS if k in rec.index}
    out["label"] = int(out.get("label", 1))
    out["duplicate"] = bool(out.get("duplicate", False))
    # the manifest folder: messages name files relative to it (radval._paths)
    out["root"] = str(root) if root else None
    return out


def _settings_dict(settings: CheckSettings | None, params: ParamFile) -> dict[str, Any]:
    """The check settings as a dict for the workers, ``min_dims`` taken from the parameter
    file (``minimumROIDimensions``) unless set explicitly."""
    s = settings or CheckSettings()
    d = asdict(s)
    if d["min_dims"] is None:
        d["min_dims"] = param_setting(params, "minimumROIDimensions", 2)
    return d


def check_manifest(manifest: Any, *, settings: CheckSettings | None = None,
                   params: str | os.PathLike[str] | ParamFile | None = None,
                   jobs: int | None = None, scheduler: Any = None,
                   progress: bool | None = None) -> pd.DataFrame:
    """Run the pre-extraction checks on every row (no extraction).

    Parameters
    ----------
    manifest : path or DataFrame
        Manifest file or a frame from :func:`radval.io.manifest.read_manifest`.
    settings : CheckSettings, optional
        Check thresholds.
    params : str, path or ParamFile, optional
        The PyRadiomics parameter file the extraction will use (default the shipped one): its
        ``minimumROIDimensions`` is the size check's ``min_dims`` unless ``settings`` sets it.
    jobs, scheduler, progress
        As in :func:`radval.features.executor.map_cases`.

    Returns
    -------
    DataFrame
        Failures table (columns :data:`FAILURE_COLUMNS`), empty when every row passes.
    """
    m = load_manifest(manifest, caller="check_manifest")
    sd = _settings_dict(settings, resolve_params(params))
    root = m.attrs.get("root")
    tasks = [{"row": _row(r, root), "settings": sd} for _, r in m.iterrows()]
    outs = map_cases(check_task, tasks, jobs=jobs, scheduler=scheduler, progress=progress,
                     desc="check")
    rows: list[dict[str, Any]] = []
    for task, o in zip(tasks, outs):
        if o.ok:
            rows.extend(o.value)
        else:
            rows.append(problem(task["row"], "check", f"check failed: {o.error}"))
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


def table_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return df.to_csv(index=False).encode("utf-8")  # repr floats: exact round trip
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def extract_radiomics(manifest: Any, *, params: str | os.PathLike[str] | ParamFile | None = None,
                      out_dir: str | os.PathLike[str] | None, jobs: int | None = None,
                      scheduler: Any = None, strict: bool = False,
                      cache_dir: str | os.PathLike[str] | None = None,
                      progress: bool | None = None, fmt: str = "parquet",
                      settings: CheckSettings | None = None,
                      on_case: Callable[[CaseOutcome], None] | None = None) -> ExtractionResult:
    """Extract PyRadiomics features for every manifest row.

    Parameters
    ----------
    manifest : path or DataFrame
        Manifest (``patient_id, cohort, image, mask[, reader, label, phase]``).
    params : str, path or ParamFile, optional
        PyRadiomics parameter file, passed unchanged; default the shipped ``gu2023_ct.yaml``.
    out_dir : path or None
        Output folder (see the module docstring); ``None`` writes nothing.
    jobs : int, optional
        Worker processes (default all cores; 1 = in this process).
    scheduler : str or distributed.Client, optional
        Dask distributed scheduler (address, ``"local"`` or a Client); default
        ``RADVAL_DASK_SCHEDULER``.  The output is identical to the local path.
    strict : bool, optional
        Stop at the first problem (:class:`ExtractionError`, nothing extracted when a check
        fails) instead of recording it and continuing.
    cache_dir : path, optional
        Cache folder; default ``<out_dir>/.cache`` (no cache when ``out_dir`` is ``None``).
    progress : bool, optional
        Progress display (see :func:`radval.features.executor.map_cases`).
    fmt : {"parquet", "csv"}, optional
        Format of the features and diagnostics tables.
    settings : CheckSettings, optional
        Thresholds of the pre-extraction checks.
    on_case : callable, optional
        Called with each worker :class:`CaseOutcome` (after it was cached).

    Returns
    -------
    ExtractionResult

    Raises
    ------
    MissingInputError
        The manifest or the parameter file does not exist.
    SchemaError
        The manifest is invalid.
    ConfigError
        PyRadiomics rejects the parameter file.
    ExtractionError
        ``strict=True`` and a row failed.
    """
    caller = "extract_radiomics"
    fmt = check_choice(fmt, ("parquet", "csv"), caller=caller, param="fmt")
    if not isinstance(strict, bool):
        raise param_error("strict", caller, "a bool", strict)
    m = load_manifest(manifest, caller=caller)
    pf = resolve_params(params)
    sd = _settings_dict(settings, pf)
    settings_key = json.dumps(sd, sort_keys=True)  # other check thresholds -> other cache key
    out = Path(out_dir) if out_dir is not None else None
    if cache_dir is not None:
        cache: CaseCache | None = CaseCache(cache_dir)
    elif out is not None:
        cache = CaseCache(out / ".cache")
    else:
        cache = None

    failures: list[tuple[int, dict[str, Any]]] = []  # (manifest row, record)
    hashes: dict[str, str] = {}       # relative path -> sha256
    memo: dict[str, str] = {}         # absolute path -> sha256
    results: dict[int, dict[str, Any]] = {}
    tasks: list[dict[str, Any]] = []
    task_pos: list[int] = []
    costs: list[float] = []
    keys: dict[int, str] = {}
    n_cached = 0
    rows = [_row(r, m.attrs.get("root")) for _, r in m.iterrows()]

    def _hash(abs_path: str, rel: str) -> str:
        if abs_path not in memo:
            memo[abs_path] = sha256_path(abs_path)
        hashes[rel] = memo[abs_path]
        return memo[abs_path]

    for i, row in enumerate(rows):
        if row["duplicate"]:
            failures.extend((i, f) for f in check_case(row))
            continue
        missing = [f"{what} not found: {row[what]}" for what in ("image", "mask")
                   if not Path(row[f"{what}_path"]).exists()]
        if missing:
            failures.extend((i, problem(row, "read", msg)) for msg in missing)
            continue
        key = case_key(_hash(row["image_path"], row["image"]),
                       _hash(row["mask_path"], row["mask"]), row["label"], pf.sha256,
                       extra=settings_key)
        keys[i] = key
        rec = cache.get(key) if cache is not None else None
        if rec is not None and "names" in rec:
            results[i] = rec
            n_cached += 1
            continue
        tasks.append({"row": row, "settings": sd, "params_path": str(pf.path),
                      "params_sha256": pf.sha256})
        task_pos.append(i)
        # PyRadiomics' time grows with the region (the filtered images are cropped to the
        # mask's box); the compressed mask's size ranks it (Spearman 0.93 against the time
        # on the built-in study): the longest cases start first (map_cases ``cost``)
        costs.append(float(os.path.getsize(row["mask_path"])))

    if strict:
        if failures:
            f0 = failures[0][1]
            raise ExtractionError(f"{f0['patient_id']} (reader {f0['reader']}): "
                                  f"{f0['reason']}")
        checks = map_cases(check_task, tasks, jobs=jobs, scheduler=scheduler,
                           progress=progress, desc="check")
        for task, o in zip(tasks, checks):
            probs = o.value if o.ok else [problem(task["row"], "check", str(o.error))]
            if probs:
                p = probs[0]
                raise ExtractionError(f"{p['patient_id']} (reader {p['reader']}): {p['reason']}")

    def _on_result(o: CaseOutcome) -> None:
        i = task_pos[o.index]
        if o.ok and "names" in o.value and cache is not None:
            cache.put(keys[i], {"names": o.value["names"], "values": o.value["values"],
                                "diagnostics": o.value["diagnostics"]})
        if on_case is not None:
            on_case(o)

    logger.info("extract: %d case(s) to compute, %d from the cache, %d failed before "
                "extraction", len(tasks), n_cached, len(failures))
    outcomes = map_cases(extract_task, tasks, jobs=jobs, scheduler=scheduler,
                         progress=progress, on_result=_on_result, desc="extract", cost=costs)
    for o in outcomes:
        i = task_pos[o.index]
        if not o.ok:
            failures.append((i, problem(rows[i], "extract", f"worker error: {o.error}")))
        elif "problems" in o.value:
            failures.extend((i, f) for f in o.value["problems"])
        else:
            results[i] = o.value
    failures.sort(key=lambda t: t[0])  # manifest order (stable within a row)
    if strict and failures:
        f0 = failures[0][1]
        raise ExtractionError(f"{f0['patient_id']} (reader {f0['reader']}): {f0['reason']}")

    features, diagnostics = _assemble(rows, results)
    fail_df = pd.DataFrame([f for _, f in failures], columns=FAILURE_COLUMNS)
    prov = provenance_record(extra={
        "table": "features",
        "params": {"name": pf.name, "sha256": pf.sha256, "text": pf.text},
        "manifest": {"source": m.attrs.get("source"), "n_rows": len(rows)},
        "input_sha256": dict(sorted(hashes.items())),
        "n_cases": len(rows), "n_extracted": len(results) - n_cached, "n_cached": n_cached,
        "n_failed_rows": len({i for i, _ in failures}),
        "n_features": int(features.shape[1] - len(_KEYS)),
    })
    files: dict[str, str] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        ext = "csv" if fmt == "csv" else "parquet"
        atomic_write_bytes(out / f"features.{ext}", table_bytes(features, fmt))
        atomic_write_bytes(out / f"diagnostics.{ext}", table_bytes(diagnostics, fmt))
        # opened in spreadsheets: IDs / paths / messages never start a formula
        atomic_write_text(out / "failures.csv", csv_frame(fail_df).to_csv(index=False))
        atomic_write_json(out / "features.json", prov)
        files = {"features": f"features.{ext}", "diagnostics": f"diagnostics.{ext}",
                 "failures": "failures.csv", "sidecar": "features.json"}
    n_failed = len({i for i, _ in failures})
    if n_failed:
        logger.warning("extract: %d row(s) failed; see failures.csv", n_failed)
    return ExtractionResult(features=features, failures=fail_df, diagnostics=diagnostics,
                            provenance=prov, n_cases=len(rows),
                            n_extracted=len(results) - n_cached, n_cached=n_cached,
                            n_failed=n_failed, files=files)


def _assemble(rows: list[dict[str, Any]],
              results: dict[int, dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    import numpy as np

    names: list[str] = []
    col: dict[str, int] = {}
    for i in sorted(results):
        for n in results[i]["names"]:
            if n not in col:
                col[n] = len(names)
                names.append(n)
    order = sorted(results)
    mat = np.full((len(order), len(names)), np.nan, dtype=np.float64)
    drows: list[dict[str, Any]] = []
    for r, i in enumerate(order):
        rec = results[i]
        idx = [col[n] for n in rec["names"]]
        mat[r, idx] = np.array([np.nan if v is None else float(v) for v in rec["values"]],
                               dtype=np.float64)
        key = {k: str(rows[i][k]) for k in _KEYS}
        drows.append({**key, **{k: (v if isinstance(v, str | int | float | bool) or v is None
                                    else json.dumps(v, sort_keys=True))
                                for k, v in rec["diagnostics"].items()}})
    keys = pd.DataFrame({k: pd.Series([str(rows[i][k]) for i in order], dtype=object).astype(str)
                         for k in _KEYS})
    features = pd.concat([keys, pd.DataFrame(mat, columns=names)], axis=1)
    diagnostics = pd.DataFrame(drows)
    if diagnostics.empty:
        diagnostics = pd.DataFrame(columns=_KEYS)
    else:
        # Mixed-type columns are stored as text so parquet accepts them.
        for c in diagnostics.columns:
            if len({type(v) for v in diagnostics[c]}) > 1:
                diagnostics[c] = [None if v is None else str(v) for v in diagnostics[c]]
    return features, diagnostics
