"""Study-level names and the study's readers of the clinical and features tables.

The coding rules themselves (identifiers, outcome, reader, cohort) are in
:mod:`radval.io.coding`, shared with external validation (:mod:`radval.workflow._external`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from radval.exceptions import DataError, InputError, MissingInputError
from radval.io.coding import code_ids, code_outcome
from radval.io.tables import read_table
from radval.models.guards import (
    check_duplicate_patients,
)
from radval.workflow._study import StudyConfig

logger = logging.getLogger("radval.pipeline")


FAMILIES = ("radiomics", "deep")


SCORE_COLUMN = {"radiomics": "rad_score", "deep": "dl_score"}


LABELS = {"radiomics": "Rad-score", "deep": "DL-score", "combined": "Combined signature",
          "clinical": "Clinical model", "nomogram": "Nomogram"}


def read_clinical(study: StudyConfig) -> pd.DataFrame:
    """The study's clinical table: ``patient_id`` and ``cohort`` coded as identifiers
    (:func:`radval.io.coding.code_ids`), every column the study file names present, one
    row per patient."""
    path = study.path(study.clinical)
    if path is None:
        raise MissingInputError("the study file names no clinical table")
    need = ["patient_id", "cohort", study.outcome.column,
            *[p.name for p in study.clinical_predictors]]
    if study.survival is not None:
        need += [study.survival.time, study.survival.event]
    df = read_table(path, what="clinical table", dtype={"patient_id": str, "cohort": str},
                    required=list(dict.fromkeys(need)))
    source = f"clinical table {path.name}"
    df["patient_id"] = code_ids(df["patient_id"], column="patient_id", source=source)
    df["cohort"] = code_ids(df["cohort"], column="cohort", source=source)
    dup = df["patient_id"][df["patient_id"].duplicated()].unique().tolist()
    check_duplicate_patients(df, table=source)
    if dup:
        raise DataError(f"{source}: patient_id repeated: {dup[:20]}")
    return df


def outcome_of(study: StudyConfig, clinical: pd.DataFrame) -> pd.Series:
    """The study's outcome coded 1 / 0 / NaN for the patients of the study's cohorts
    (index ``patient_id``), by :func:`radval.io.coding.code_outcome`."""
    rows = clinical[clinical["cohort"].isin([c.name for c in study.cohorts])]
    source = f"clinical table {clinical.attrs.get('source', '')}".strip()
    coded = code_outcome(rows[study.outcome.column],
                         positive_label=study.outcome.positive_label,
                         column=study.outcome.column, source=source)
    coded.index = pd.Index(rows["patient_id"].astype(str), name="patient_id")
    return coded  # attrs["labels"]: the positive and negative labels found


def normalise_features(df: pd.DataFrame, *, source: str = "features table") -> pd.DataFrame:
    """A features table with ``patient_id``, ``reader`` (``"1"`` when absent) and
    ``cohort`` coded as identifiers."""
    out = df.copy()
    if "patient_id" not in out.columns:
        raise InputError(f"{source}: column 'patient_id' is absent")
    out["patient_id"] = code_ids(out["patient_id"], column="patient_id", source=source)
    out["reader"] = (code_ids(out["reader"], column="reader", source=source)
                     if "reader" in out.columns else "1")
    if "cohort" in out.columns:
        out["cohort"] = code_ids(out["cohort"], column="cohort", source=source)
    return out


def family_columns(columns: Sequence[str], family: str) -> list[str]:
    prefix = "radiomics_" if family == "radiomics" else "deep_"
    return [c for c in columns if str(c).startswith(prefix)]


def numeric_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Float copy of a features frame (non-numeric text becomes NaN)."""
    try:
        return frame.astype(float)
    except (TypeError, ValueError):
        return frame.apply(pd.to_numeric, errors="coerce").astype(float)
