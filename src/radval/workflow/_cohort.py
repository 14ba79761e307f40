"""Cohort assembly: features joined with the clinical table, guards and patient flow."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval.exceptions import DataError
from radval.io.coding import check_cohort_agreement, code_ids, primary_rows
from radval.models.guards import (
    check_duplicate_patients,
    flag,
    missing_by_variable,
)
from radval.workflow._coding import (
    FAMILIES,
    family_columns,
    normalise_features,
    numeric_frame,
    outcome_of,
    read_clinical,
)
from radval.workflow._study import StudyConfig

logger = logging.getLogger("radval.pipeline")


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
    completed : list of DataFrame or None
        With multiple imputation: ``m`` copies of ``patients`` with the missing clinical
        predictors filled (:func:`radval.workflow._fitting.complete_data`); None
        otherwise.
    harmonisation : HarmonisationState or None
        The development ComBat, the raw features and the batch labels
        (:mod:`radval.workflow._harmonisation`); ``features`` are then harmonised.
    """

    patients: pd.DataFrame
    features: dict[str, pd.DataFrame]
    reader_features: dict[str, pd.DataFrame | None]
    flow: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)
    extraction: dict[str, Any] = field(default_factory=dict)
    outcome_labels: dict[str, Any] = field(default_factory=dict)
    completed: list[pd.DataFrame] | None = None
    harmonisation: Any = None

    def cohort_mask(self, cohort: str) -> npt.NDArray[np.bool_]:
        """Rows of ``patients`` in ``cohort``."""
        return np.asarray(self.patients["cohort"].to_numpy() == cohort, dtype=bool)

    def subset(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> AnalysisData:
        """Rows selected by a boolean mask or integer positions (features follow)."""
        pats = self.patients.iloc[mask]
        feats = {k: v.iloc[mask] for k, v in self.features.items()}
        completed = None if self.completed is None else [c.iloc[mask] for c in self.completed]
        return AnalysisData(patients=pats, features=feats,
                            reader_features=self.reader_features, completed=completed,
                            harmonisation=self.harmonisation)


def prepare_data(study: StudyConfig, features: pd.DataFrame, *,
                 failures: pd.DataFrame | None = None,
                 clinical: pd.DataFrame | None = None) -> AnalysisData:
    """Join features and clinical data, apply the guards, count the patient flow.

    Complete-case analysis: patients missing the outcome, any clinical predictor
    used by a model, or any feature are excluded and counted (stage, reason).  With
    ``missing_data.method: multiple_imputation`` a patient missing clinical predictors is
    kept (flow stage ``imputed``); the outcome and the imaging features are never
    imputed, so patients without them stay excluded with their reason.
    Feature columns with non-finite values in any patient are dropped (recorded).

    Raises
    ------
    DataError
        A clinical predictor used by a model is missing for every patient of the
        development cohort.
    """
    clin = read_clinical(study) if clinical is None else clinical.copy()
    source = f"clinical table {clin.attrs.get('source', '')}".strip()
    clin["patient_id"] = code_ids(clin["patient_id"], column="patient_id", source=source)
    clin["cohort"] = code_ids(clin["cohort"], column="cohort", source=source)
    feats = normalise_features(features)
    check_cohort_agreement({source: clin, "features table": feats})
    # one coding of the outcome for every cohort (radval.io.coding.code_outcome)
    y_coded = outcome_of(study, clin)
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
    impute = study.missing_data.method == "multiple_imputation"
    dev_rows = clin[clin["cohort"] == study.development]
    empty = [p for p in used_predictors
             if p in dev_rows.columns and len(dev_rows) and dev_rows[p].isna().all()]
    if empty:
        raise DataError(f"clinical predictor(s) {empty} are missing for every patient of the "
                        f"development cohort {study.development!r}: they can be neither "
                        "analysed nor imputed; remove them from clinical_predictors (or the "
                        "models' predictor lists)")
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
    fail_ids: set[str] = set()
    if failures is not None and len(failures):
        fail_ids = set(failures["patient_id"].astype(str).str.strip())
    # each patient's primary segmentation (radval.io.coding.primary_rows)
    primary = primary_rows(feats).set_index("patient_id")
    all_fams = [f for f in FAMILIES if family_columns(list(feats.columns), f)]
    enabled = [f for f in all_fams if (f != "radiomics" or study.radiomics.enabled)
               and (f != "deep" or study.deep.enabled)]
    if not enabled:
        raise DataError("features table: no radiomics_* or deep_* feature columns for the "
                        "enabled feature families")
    feat_cols = {f: family_columns(list(feats.columns), f) for f in enabled}
    # drop features with non-finite values in any patient of the study cohorts
    in_study = primary[primary.index.isin(clin.loc[clin["cohort"].isin(order), "patient_id"])]
    dropped: list[str] = []
    for fam, cols in feat_cols.items():
        vals = numeric_frame(in_study[cols]).to_numpy(dtype=float)
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
        failed = ids.isin(fail_ids) & ~ids.isin(primary.index)
        no_img = ~ids.isin(primary.index) & ~failed
        if failed.any():
            flow.append({"cohort": cohort, "stage": "extraction_failed", "n": int(failed.sum()),
                         "reason": "feature extraction failed (see failures table)"})
        if no_img.any():
            flow.append({"cohort": cohort, "stage": "no_features", "n": int(no_img.sum()),
                         "reason": "no image/features for the patient"})
        cc = cc[ids.isin(primary.index).to_numpy()]
        y = cc["patient_id"].map(y_coded)
        miss_y = y.isna()
        if miss_y.any():
            flow.append({"cohort": cohort, "stage": "missing_outcome", "n": int(miss_y.sum()),
                         "reason": f"{study.outcome.column} missing"})
        cc = cc[~miss_y.to_numpy()].assign(y=y[~miss_y].astype(int).to_numpy())
        if used_predictors and not impute:
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
        fvals = numeric_frame(fvals)
        badf = ~np.isfinite(fvals.to_numpy(dtype=float)).all(axis=1)
        if badf.any():
            flow.append({"cohort": cohort, "stage": "missing_features", "n": int(badf.sum()),
                         "reason": "non-finite feature values"})
            cc = cc[~badf]
        reason = "complete cases"
        if used_predictors and impute:
            # kept, not excluded: counted after the exclusions so the count is of analysed
            # patients (images are never imputed)
            miss_p = cc[used_predictors].isna()
            bad = miss_p.any(axis=1)
            if bad.any():
                counts = miss_p[bad].sum()
                detail = ", ".join(f"{k} {int(v)}" for k, v in counts.items() if v)
                flow.append({"cohort": cohort, "stage": "imputed", "n": int(bad.sum()),
                             "reason": f"multiple imputation of missing predictors: {detail}"})
            reason = "analysed (missing clinical predictors multiply imputed)"
        flow.append({"cohort": cohort, "stage": "analysed", "n": int(len(cc)),
                     "reason": reason})
        kept_rows.append(cc.sort_values("patient_id", kind="mergesort"))
    patients = pd.concat(kept_rows, ignore_index=True) if kept_rows else clin.iloc[:0]
    patients = patients.set_index("patient_id", drop=False)
    patients.index.name = "patient_id"
    patients = patients.drop(columns=["patient_id"])
    features_by_family = {
        fam: numeric_frame(primary.loc[patients.index, cols]) for fam, cols in feat_cols.items()}
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
                        missing=missing, outcome_labels=dict(y_coded.attrs.get("labels", {})))


def reader_frame(features: pd.DataFrame, patients: Any, columns: Sequence[str]
                 ) -> pd.DataFrame:
    """The ICC input: every row of ``patients`` (index ``patient_id``, column ``reader`` and
    ``columns``), sorted by patient and reader."""
    rf = features[features["patient_id"].isin(set(patients))][["patient_id", "reader",
                                                                *columns]]
    return rf.sort_values(["patient_id", "reader"]).set_index("patient_id")
