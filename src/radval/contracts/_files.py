"""``selection.json`` and ``models.json``: what ``radval select`` and ``radval fit`` hand
to the next step (``radval fit`` and ``radval evaluate``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from radval.contracts._base import Document, Num, Record
from radval.contracts._results import (
    BundleRef,
    FamilySelection,
    MissingData,
    ModelRow,
    Nomogram,
    WarningRow,
)
from radval.contracts._survival import SurvivalModelSpec

__all__ = ["DesignRecord", "ModelsFile", "RunRecord", "SelectionFile"]


class SelectionFile(Document):
    """The features selected on the development cohort, per family (radval select)."""

    FILE: ClassVar[str] = "selection.json"
    TITLE: ClassVar[str] = "radval feature selection"

    study: str = Field(description="study name")
    seed: int = Field(description="study seed")
    selection: dict[str, FamilySelection] = Field(description="family -> selection")


class DesignRecord(Record):
    """How a model's clinical predictors are coded (radval.models.logistic.DesignSpec)."""

    predictors: list[list[str]] = Field(description="[name, numeric|categorical] pairs")
    levels: dict[str, list[str]] = Field(description="categorical predictor -> its levels "
                                         "(first = reference)")


class ModelsFile(Document):
    """The fitted models and their frozen cutoffs (radval fit)."""

    FILE: ClassVar[str] = "models.json"
    TITLE: ClassVar[str] = "radval fitted models"

    models: list[ModelRow] = Field(description="fitted models")
    cutoffs: dict[str, Num | None] = Field(description="model -> frozen probability cutoff")
    designs: dict[str, DesignRecord] = Field(description="model -> coding of its clinical "
                                             "predictors")
    signature_input: str = Field(description="column holding the signature's linear "
                                 "predictor (input of the nomogram)")
    flags: list[WarningRow] = Field(description="flags raised while fitting")
    nomogram: Nomogram | None = Field(None, description="nomogram scales")
    bundle: BundleRef | None = Field(None, description="the signature bundle written")
    survival_model: SurvivalModelSpec | None = Field(None, description="Cox model of the "
                                                     "time-to-event endpoint (studies with "
                                                     "a survival block)")
    missing_data: MissingData | None = Field(None, description="multiple imputation: pooled "
                                             "coefficients and performance (Rubin)")


class RunRecord(Document):
    """The completion record of a run folder, written last: which steps finished and the
    SHA-256 of every output they wrote. A folder without it, or whose files no longer match
    it, holds an interrupted or mixed run, and radval refuses to read it."""

    FILE: ClassVar[str] = "run.json"
    TITLE: ClassVar[str] = "radval run record"

    radval_version: str = Field(description="radval version that wrote the outputs")
    created: str = Field(description="UTC timestamp of the commit")
    steps: list[str] = Field(description="completed steps, in order (select, fit, evaluate; "
                             "validate at a site)")
    files: dict[str, str] = Field(description="output file (relative path) -> SHA-256")
