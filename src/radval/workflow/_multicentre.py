"""The built-in multicentre demonstration: harmonisation and multiple imputation.

:func:`prepare_multicentre` writes the built-in synthetic study plus a third centre with
another scanner profile (:func:`radval.io.synth.generate_study` with a
:class:`~radval.io.synth.SiteSpec`, as ``radval synth --site``), and turns it into a
multicentre design:

* ``development``: centre 1's training part and centre 2 (two scanners, column
  ``scanner``: ``centre1`` / ``centre2``);
* ``centre1_test``: centre 1's held-out part (a development scanner);
* ``site3``: the third centre, a scanner never seen in development;

then removes a share of one clinical predictor completely at random
(:func:`remove_at_random`; ``clinical.csv``), keeping every value in
``clinical_complete.csv``.  :func:`run_multicentre` runs the study file
``analysis/study_multicentre.yaml`` (harmonisation + multiple imputation), the same
study on the complete data, and ``radval validate`` at ``site3``, and summarises what
must hold: no patient dropped, the pooled nomogram AUC against the complete-data one,
the shift diagnostics at the new site before and after harmonisation.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radval._provenance import atomic_write_text
from radval._validation import param_error

__all__ = ["MulticentreStudy", "multicentre_study_text", "prepare_multicentre",
           "remove_at_random", "run_multicentre"]

logger = logging.getLogger("radval.pipeline")

#: The extra centre: name, patients (full / small variant) and scanner profile.
SITE = "site3"
SITE_N = 100
SITE_N_SMALL = 30
SITE_PROFILE = "ge_thick"


def multicentre_study_text() -> str:
    """Text of the multicentre study file (``analysis/study_multicentre.yaml``)."""
    from importlib.resources import files

    return (files("radval") / "data" / "multicentre_study.yaml").read_text(encoding="utf-8")


def remove_at_random(clinical: pd.DataFrame, column: str, *, fraction: float, seed: int,
                     by: str | None = "cohort") -> pd.DataFrame:
    """Set ``fraction`` of ``column`` to missing, completely at random, reproducibly.

    Within each group of ``by`` (default: each cohort), ``round(fraction * n)`` patients
    drawn without replacement by ``numpy.random.default_rng([seed, crc32(column)])``
    lose their value.  Values already missing count as drawn.

    Returns
    -------
    DataFrame
        A copy of ``clinical``.
    """
    caller = "remove_at_random"
    if column not in clinical.columns:
        raise param_error("column", caller, f"a column of the table {list(clinical.columns)}",
                          column)
    if not 0.0 <= fraction < 1.0:
        raise param_error("fraction", caller, "in [0, 1)", fraction)
    rng = np.random.default_rng([int(seed), zlib.crc32(column.encode("utf-8"))])
    out = clinical.copy()
    groups = [np.arange(len(out))] if by is None else [
        np.flatnonzero((out[by] == g).to_numpy()) for g in pd.unique(out[by])]
    for rows in groups:
        k = int(round(fraction * rows.size))
        if k:
            chosen = rng.choice(rows, size=k, replace=False)
            out.loc[out.index[np.sort(chosen)], column] = np.nan
    return out


@dataclass(frozen=True, kw_only=True)
class MulticentreStudy:
    """Where :func:`prepare_multicentre` wrote the study."""

    root: Path
    study_file: Path
    complete_study_file: Path
    clinical: Path
    clinical_complete: Path
    manifest: Path
    n_removed: int
    cohorts: dict[str, int] = field(default_factory=dict)


def prepare_multicentre(out: str | Path, *, small: bool = False, seed: int = 20231024,
                        jobs: int = 1, missing_column: str = "tumour_size_mm",
                        missing_fraction: float = 0.2, site_profile: str = SITE_PROFILE,
                        site_n: int | None = None) -> MulticentreStudy:
    """Write the multicentre data and its two study files into ``out/data``.

    ``small=True`` writes the small variant (48 + 30 patients; radiomics only, fewer
    resamples) for tests.  The complete-data study file reads the features table of the
    main run (``../results/features/features_all.parquet``), so both analyses use the
    same features and differ only in the missing values.
    """
    import yaml

    from radval.io.synth import SiteSpec, generate_study

    data = Path(out) / "data"
    n_site = site_n or (SITE_N_SMALL if small else SITE_N)
    paths = generate_study(data, small=small, seed=seed, jobs=jobs,
                           sites=[SiteSpec(name=SITE, n=n_site, profile=site_profile)])
    relabel = {"centre1_train": "development", "centre2": "development"}
    scanner = {"centre1_train": "centre1", "centre1_test": "centre1", "centre2": "centre2",
               SITE: site_profile}
    clin = pd.read_csv(paths.clinical, dtype={"patient_id": str, "cohort": str})
    clin.insert(2, "scanner", clin["cohort"].map(scanner))
    clin.insert(2, "centre", clin["cohort"].map(lambda c: str(c).split("_")[0]))
    clin["cohort"] = clin["cohort"].replace(relabel)
    man = pd.read_csv(paths.manifest, dtype=str, keep_default_na=False)
    man["cohort"] = man["cohort"].replace(relabel)
    atomic_write_text(paths.manifest, man.to_csv(index=False, lineterminator="\n"))
    complete = data / "clinical_complete.csv"
    atomic_write_text(complete, clin.to_csv(index=False, lineterminator="\n"))
    holed = remove_at_random(clin, missing_column, fraction=missing_fraction, seed=seed)
    atomic_write_text(paths.clinical, holed.to_csv(index=False, lineterminator="\n"))
    doc = yaml.safe_load(multicentre_study_text())
    doc["seed"] = int(seed)
    doc["manifest"] = paths.manifest.name
    doc["clinical"] = paths.clinical.name
    doc["output"] = "../results"
    if small:
        doc["deep"] = {"enabled": False}
        doc["selection"]["n_folds"] = 5
        doc["evaluation"].update({"bootstrap_ci": 200, "optimism": 8})
        doc["missing_data"]["n_imputations"] = 10
        doc.pop("subgroups", None)
    doc.setdefault("compute", {})["jobs"] = int(jobs)
    study_file = data / "study.yaml"
    atomic_write_text(study_file, "# Written by radval.workflow.prepare_multicentre from "
                      "analysis/study_multicentre.yaml\n" + yaml.safe_dump(doc, sort_keys=False))
    comp = dict(doc)
    comp["name"] = f"{doc['name']}-complete-data"
    comp["clinical"] = complete.name
    comp.pop("manifest", None)
    comp["features"] = "../results/features/features_all.parquet"
    comp["missing_data"] = {"method": "complete_case"}
    comp["evaluation"] = {**doc["evaluation"], "optimism": 0}
    comp["output"] = "../results_complete"
    complete_file = data / "study_complete.yaml"
    atomic_write_text(complete_file, "# The same study on the complete clinical data "
                      "(comparison run)\n" + yaml.safe_dump(comp, sort_keys=False))
    n_removed = int(holed[missing_column].isna().sum() - clin[missing_column].isna().sum())
    cohorts = {str(k): int(v) for k, v in clin["cohort"].value_counts(sort=False).items()}
    return MulticentreStudy(root=data, study_file=study_file,
                            complete_study_file=complete_file, clinical=paths.clinical,
                            clinical_complete=complete, manifest=paths.manifest,
                            n_removed=n_removed, cohorts=cohorts)


def run_multicentre(out: str | Path, *, small: bool = False, jobs: int = 1,
                    seed: int = 20231024, report: bool = False) -> dict[str, Any]:
    """Prepare the data, run both analyses and the site validation; the summary.

    Returns
    -------
    dict
        ``seconds`` per step, ``patients`` (per cohort: in the clinical table, analysed,
        imputed), ``nomogram_auc`` (per cohort: pooled AUC with multiple imputation,
        complete-data AUC and its DeLong SE, the difference in SEs), ``site_shift``
        (per selected feature: SMD before and after harmonisation, flagged), ``site``
        (AUC with and without harmonisation, patients imputed at the site).
    """
    from radval import stats
    from radval.workflow._external import validate_bundle
    from radval.workflow._run import run_study
    from radval.workflow._study import load_study

    out = Path(out)
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    ms = prepare_multicentre(out, small=small, seed=seed, jobs=jobs)
    t["data"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    main = run_study(load_study(ms.study_file), jobs=jobs, study_file=ms.study_file)
    t["run_imputation_harmonisation"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    comp = run_study(load_study(ms.complete_study_file), jobs=jobs,
                     study_file=ms.complete_study_file)
    t["run_complete_data"] = time.perf_counter() - t0
    import json

    res = json.loads((main.out_dir / "results.json").read_text(encoding="utf-8"))
    res_c = json.loads((comp.out_dir / "results.json").read_text(encoding="utf-8"))
    feats = pd.read_parquet(main.out_dir / "features" / "features_all.parquet")
    site_feats = out / "site3_features.csv"
    feats[feats["cohort"] == SITE].to_csv(site_feats, index=False)
    t0 = time.perf_counter()
    site_dir = out / "site3"
    validate_bundle(main.out_dir / "bundle", manifest=None, features=site_feats,
                    clinical=ms.clinical, cohort=SITE, site=SITE, out=site_dir,
                    n_bootstrap=500, seed=seed,
                    report_formats=("html",) if report else None)
    t["validate_site3"] = time.perf_counter() - t0
    site = json.loads((site_dir / "results.json").read_text(encoding="utf-8"))
    flow = pd.DataFrame(res["patient_flow"])
    patients = {}
    for c in res["cohorts"]:
        f = flow[flow["cohort"] == c["name"]].set_index("stage")["n"]
        patients[c["name"]] = {"clinical_table": int(f.get("clinical_table", 0)),
                               "analysed": int(f.get("analysed", 0)),
                               "imputed": int(f.get("imputed", 0)),
                               "excluded": int(c["n_excluded"])}
    pooled = pd.DataFrame(res["missing_data"]["pooled_performance"])
    perf_c = pd.DataFrame(res_c["performance"])
    perf_m = pd.DataFrame(res["performance"])
    preds_c = pd.read_parquet(comp.out_dir / "predictions.parquet")
    aucs = {}
    for c in res["cohorts"]:
        name = c["name"]
        p = pooled[(pooled["cohort"] == name) & (pooled["model"] == "nomogram")
                   & (pooled["metric"] == "auc")]
        full = perf_c[(perf_c["cohort"] == name) & (perf_c["model"] == "nomogram")
                      & (perf_c["subgroup"] == "all")]
        avg = perf_m[(perf_m["cohort"] == name) & (perf_m["model"] == "nomogram")
                     & (perf_m["subgroup"] == "all")]
        pc = preds_c[(preds_c["cohort"] == name) & (preds_c["model"] == "nomogram")]
        se = math.sqrt(stats.delong_ci(pc["y_true"].to_numpy(),
                                       pc["probability"].to_numpy()).variance)
        a_mi = float(p["estimate"].iloc[0])
        a_full = float(full["auc"].iloc[0])
        aucs[name] = {"pooled_mi": a_mi, "averaged_predictions_mi": float(avg["auc"].iloc[0]),
                      "complete_data": a_full, "complete_data_se": se,
                      "difference_in_se": (a_mi - a_full) / se}
    before = pd.DataFrame(site["harmonisation"]["site"]["shift_before"]["features"])
    after = pd.DataFrame(site["shift"]["features"])
    shift = before[["feature", "smd", "share_outside_q05_q95", "flagged"]].merge(
        after[["feature", "smd", "share_outside_q05_q95", "flagged"]], on="feature",
        suffixes=("_before", "_after"))
    site_perf = pd.DataFrame(site["performance"])
    sep = pd.DataFrame(res["harmonisation"]["separability"])
    return {
        "out": str(out), "seconds": {k: round(v, 1) for k, v in t.items()},
        "n_removed": ms.n_removed, "patients": patients, "nomogram_auc": aucs,
        "separability": sep.to_dict(orient="records"),
        "site_shift": shift.to_dict(orient="records"),
        "site": {"auc_harmonised": float(site_perf[site_perf["subgroup"] == "all"]["auc"]
                                         .iloc[0]),
                 "auc_unharmonised": site["harmonisation"]["site"]["auc_unharmonised"],
                 "n_imputed": site["missing_data"]["site"]["n_imputed"],
                 "clinical_models": site["missing_data"]["site"]["models"],
                 "mean_abs_smd_before": float(np.mean(np.abs(shift["smd_before"]))),
                 "mean_abs_smd_after": float(np.mean(np.abs(shift["smd_after"]))),
                 "flagged_before": int(shift["flagged_before"].sum()),
                 "flagged_after": int(shift["flagged_after"].sum())},
        "results": str(main.out_dir / "results.json"),
        "results_complete": str(comp.out_dir / "results.json"),
        "site_results": str(site_dir / "results.json"),
    }
