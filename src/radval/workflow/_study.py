"""The study file (``study.yaml``): one validated description of a validation study.

:func:`load_study` reads the YAML, validates it with pydantic v2 (unknown keys are
errors, so a typo is caught) and raises :class:`radval.exceptions.ConfigError`
whose message names every bad key path, e.g.::

    study file analysis/study.yaml is invalid:
      cohorts[1].role: must be one of 'development', 'internal_validation',
      'external_validation' (got 'training')

Paths inside the study file (``manifest``, ``clinical``, ``radiomics.params``,
``deep.config``, ``deep.weights``, ``output``) are relative to the folder of the
study file.  The documented schema is ``data-dictionary/study.yaml``.
"""

from __future__ import annotations

import math
import operator
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from radval.exceptions import ConfigError, MissingInputError

__all__ = [
    "ClinicalPredictor",
    "Cohort",
    "ComputeConfig",
    "DeepConfig",
    "EvaluationConfig",
    "HarmonisationConfig",
    "MissingDataConfig",
    "ModelsConfig",
    "Outcome",
    "PartialAucConfig",
    "RadiomicsConfig",
    "SelectionConfig",
    "StudyConfig",
    "Subgroup",
    "SubgroupRule",
    "SurvivalConfig",
    "load_study",
    "parse_subgroup",
    "study_from_dict",
]

ROLES = ("development", "internal_validation", "external_validation")
COMPARISON_MODELS = ("logistic", "svm", "random_forest", "extra_trees", "gradient_boosting",
                     "mlp", "knn", "naive_bayes")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def level_key(value: Any) -> str:
    """A level code as it appears in the data and in results.json (``1.0`` -> ``"1"``,
    ``True`` -> ``"True"``): the key of a ``levels`` mapping of the study file."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _levels(v: Any) -> dict[str, str] | None:
    """``levels`` of the study file: code -> display text; YAML keys may be numbers."""
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ValueError("must map each code to its display text, e.g. {0: 'no', 1: 'yes'}")
    out: dict[str, str] = {}
    for k, text in v.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"the text of level {k!r} must be a non-empty string")
        key = level_key(k)
        if key in out:
            raise ValueError(f"level {key!r} is given twice")
        out[key] = text
    return out


class _Labelled(_Strict):
    """Display name, unit and level texts of a variable (all optional; the report falls
    back to the column name and the codes)."""

    label: str | None = None
    unit: str | None = None
    levels: dict[str, str] | None = None

    @field_validator("levels", mode="before")
    @classmethod
    def _check_levels(cls, v: Any) -> dict[str, str] | None:
        return _levels(v)

    @field_validator("label", "unit")
    @classmethod
    def _check_text(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty (omit the key instead)")
        return v


class Outcome(_Labelled):
    """The binary outcome: ``column`` in the clinical table; ``positive_label`` is the event;
    ``label`` and ``levels`` say how the report shows it."""

    column: str
    positive_label: int | str | bool = 1
    definition: str = ""


class RadiomicsConfig(_Strict):
    """Radiomics extraction: ``params`` (PyRadiomics YAML, optional) and ``enabled``."""

    enabled: bool = True
    params: str | None = None


class DeepConfig(_Strict):
    """Deep features: ``config`` (training settings: a JSON/YAML file or an inline
    mapping, optional), ``weights`` (pretrained)."""

    enabled: bool = False
    config: str | dict[str, Any] | None = None
    weights: str | None = None

    @field_validator("config")
    @classmethod
    def _check_network(cls, v: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(v, dict):
            from radval.features.deep import DeepConfig as NetworkConfig

            try:
                NetworkConfig(**v)
            except ValidationError as exc:
                bad = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(config)'}: "
                                f"{e['msg']}" for e in exc.errors())
                raise ValueError(f"invalid network settings: {bad}") from None
        return v


class Cohort(_Strict):
    """A cohort (value of the ``cohort`` column), its role and its display name."""

    name: str
    role: Literal["development", "internal_validation", "external_validation"]
    label: str | None = None


class ClinicalPredictor(_Labelled):
    """A clinical predictor: column name, timing relative to surgery, kind; ``label``,
    ``unit`` and ``levels`` say how the report shows it."""

    name: str
    timing: Literal["pre-operative", "post-operative"] = "pre-operative"
    kind: Literal["numeric", "categorical"] = "numeric"


_SUBGROUP_RE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*"
    r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|'[^']*'|\"[^\"]*\")\s*$"
)
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class SubgroupRule:
    """A parsed subgroup rule ``column op value`` (no ``eval``)."""

    column: str
    op: str
    value: float | str

    @property
    def label(self) -> str:
        """The rule as text, e.g. ``tumour_size_mm < 20``."""
        v = self.value if isinstance(self.value, str) else _fmt_num(self.value)
        return f"{self.column} {self.op} {v}"

    @property
    def complement_label(self) -> str:
        """The negated rule as text, e.g. ``tumour_size_mm >= 20``."""
        v = self.value if isinstance(self.value, str) else _fmt_num(self.value)
        return f"{self.column} {_NEGATE[self.op]} {v}"

    def mask(self, frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Boolean membership per row; rows with a missing value are ``False``.

        Raises
        ------
        ConfigError
            If the column is absent, or a numeric rule meets a non-numeric column.
        """
        if self.column not in frame.columns:
            raise ConfigError(f"subgroup rule {self.label!r}: column {self.column!r} is not in "
                              f"the clinical table (columns: {sorted(map(str, frame.columns))})")
        col = frame[self.column]
        if isinstance(self.value, str):
            values = col.astype("string")
            out = _OPS[self.op](values, self.value)
            return np.asarray(out.fillna(False), dtype=bool) & col.notna().to_numpy()
        num = pd.to_numeric(col, errors="coerce")
        if num.isna().all() and col.notna().any():
            raise ConfigError(f"subgroup rule {self.label!r}: column {self.column!r} is not "
                              "numeric")
        res = _OPS[self.op](num.to_numpy(dtype=float), float(self.value))
        return np.asarray(res, dtype=bool) & num.notna().to_numpy()

    def complement_mask(self, frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Rows with a non-missing value that do not satisfy the rule."""
        known = frame[self.column].notna().to_numpy() if self.column in frame else None
        m = self.mask(frame)
        return (~m) & (known if known is not None else True)


def _fmt_num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def parse_subgroup(expr: str) -> SubgroupRule:
    """Parse ``"column op value"`` (op in ``< <= > >= == !=``; value number or quoted text).

    Nothing is evaluated: the expression must match a fixed grammar.

    Raises
    ------
    ConfigError
        If ``expr`` does not follow the grammar.
    """
    if not isinstance(expr, str):
        raise ConfigError(f"subgroup expression must be text like 'tumour_size_mm < 20'; "
                          f"got {expr!r}")
    m = _SUBGROUP_RE.match(expr)
    if m is None:
        raise ConfigError(f"subgroup expression {expr!r} must look like 'column op value' with "
                          "op one of < <= > >= == != and value a number or a quoted text")
    col, op, raw = m.groups()
    value: float | str
    if raw[0] in "'\"":
        value = raw[1:-1]
    else:
        value = float(raw)
        if not math.isfinite(value):
            raise ConfigError(f"subgroup expression {expr!r}: the value must be finite")
    return SubgroupRule(column=col, op=op, value=value)


class Subgroup(_Strict):
    """A subgroup: rows satisfying ``expr`` versus the rest (``expr`` parsed, never evaluated).

    ``label`` names it in the report; ``levels`` maps its two levels, the rule and its
    complement as radval writes them (``"tumour_size_mm < 20"``, ``"tumour_size_mm >= 20"``),
    to display texts.
    """

    name: str
    expr: str
    label: str | None = None
    levels: dict[str, str] | None = None

    @field_validator("levels", mode="before")
    @classmethod
    def _check_levels(cls, v: Any) -> dict[str, str] | None:
        return _levels(v)

    @model_validator(mode="after")
    def _check_level_keys(self) -> Subgroup:
        if self.levels:
            try:
                rule = parse_subgroup(self.expr)
            except ConfigError:
                return self  # reported by the expr validator
            allowed = [rule.label, rule.complement_label]
            bad = [k for k in self.levels if k not in allowed]
            if bad:
                raise ValueError(f"levels: {bad} are not levels of the subgroup; its levels "
                                 f"are {allowed}")
        return self

    @field_validator("expr")
    @classmethod
    def _check_expr(cls, v: str) -> str:
        try:
            parse_subgroup(v)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return v

    @property
    def rule(self) -> SubgroupRule:
        """The parsed rule."""
        return parse_subgroup(self.expr)


class SelectionConfig(_Strict):
    """Feature-selection settings (development cohort only)."""

    icc_threshold: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.75
    icc_type: Literal["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"] = "ICC2"
    p_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    fdr: bool = False
    corr_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.9
    lasso_rule: Literal["1se", "min"] = "1se"
    n_folds: Annotated[int, Field(ge=3, le=50)] = 10


class ModelsConfig(_Strict):
    """Which models to fit.

    ``clinical_predictors`` (default: every pre-operative clinical predictor) feed the
    clinical model; ``nomogram_predictors`` (default: every clinical predictor) are
    added to the signature in the nomogram; ``labels`` gives display names of models
    (``{nomogram: "Radiomics nomogram"}``).
    """

    clinical: bool = True
    combined: bool = True
    nomogram: bool = True
    comparison: list[Literal["logistic", "svm", "random_forest", "extra_trees",
                             "gradient_boosting", "mlp", "knn", "naive_bayes"]] = Field(
        default_factory=list)
    clinical_predictors: list[str] | None = None
    nomogram_predictors: list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class PartialAucConfig(_Strict):
    """Partial AUC over a specificity (or sensitivity) range, as pROC ``auc(partial.auc=,
    partial.auc.focus=, partial.auc.correct=)``: bounds are (high, low), e.g. ``[1.0, 0.8]``."""

    specificity: tuple[float, float] | None = None
    sensitivity: tuple[float, float] | None = None
    correct: bool = False

    @model_validator(mode="after")
    def _check(self) -> PartialAucConfig:
        given = [k for k in ("specificity", "sensitivity") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'specificity' or 'sensitivity' (the range "
                             "of the partial AUC as [high, low])")
        key = given[0]
        high, low = getattr(self, key)
        if not (0.0 <= low <= 1.0 and 0.0 <= high <= 1.0):
            raise ValueError(f"{key}: bounds must be in [0, 1]; got [{high:g}, {low:g}]")
        if high == low:
            raise ValueError(f"{key}: the range [{high:g}, {low:g}] is empty (the two bounds "
                             "are equal)")
        if high < low:
            raise ValueError(f"{key}: bounds are [high, low] as pROC's partial.auc, e.g. "
                             f"[1.0, 0.8]; got [{high:g}, {low:g}] (reversed)")
        return self


class EvaluationConfig(_Strict):
    """Evaluation settings.

    ``bootstrap_ci``: resamples for the bootstrap AUC CI; ``optimism``: Harrell
    bootstrap resamples (0 disables); ``dca_thresholds``: threshold probabilities of
    the decision curves; ``cutoff``: ``youden`` (on development, frozen) or a fixed
    probability; ``hl_groups``: Hosmer-Lemeshow groups; ``optimism_deep``: ``retrain``
    the deep network radval trained in every optimism resample, or take its features
    as ``fixed`` (flagged: the optimism is then underestimated);
    ``optimism_comparison``: refit the scikit-learn comparison classifiers in every
    optimism resample.

    Calibration and clinical utility (:mod:`radval.workflow._calibration`):
    ``calibration_curve``: smoother of the flexible calibration curves (``loess`` as
    val.prob.ci.2, ``spline``, ``lowess`` or ``grouped``); ``calibration_band``:
    bootstrap resamples of their pointwise band (0: no band);
    ``net_benefit_thresholds``: thresholds at which net benefit is tabulated per
    subgroup level (with the heterogeneity test) and the net-benefit differences are
    listed; ``net_benefit_comparisons``: pairs ``[model_a, model_b]`` whose difference
    in net benefit gets a bootstrap CI over the ``dca_thresholds`` (``signature`` names
    the signature model; default: the signature and the nomogram against the clinical
    model, when they exist); ``net_benefit_bootstrap``: its resamples;
    ``partial_auc``: partial AUC over a specificity or sensitivity range (off by
    default).
    """

    bootstrap_ci: Annotated[int, Field(ge=0)] = 2000
    optimism: Annotated[int, Field(ge=0)] = 200
    dca_thresholds: list[float] = Field(
        default_factory=lambda: [round(0.01 * i, 2) for i in range(1, 100)])
    cutoff: Literal["youden"] | float = "youden"
    hl_groups: Annotated[int, Field(ge=3)] = 10
    confidence_level: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    optimism_deep: Literal["retrain", "fixed"] = "retrain"
    optimism_comparison: bool = True
    calibration_curve: Literal["loess", "spline", "lowess", "grouped"] = "loess"
    calibration_band: Annotated[int, Field(ge=0)] = 500
    net_benefit_thresholds: list[float] = Field(default_factory=lambda: [0.1, 0.2, 0.3])
    net_benefit_comparisons: list[tuple[str, str]] | None = None
    net_benefit_bootstrap: Annotated[int, Field(ge=0)] = 1000
    partial_auc: PartialAucConfig | None = None

    @field_validator("net_benefit_thresholds")
    @classmethod
    def _check_nb_thresholds(cls, v: list[float]) -> list[float]:
        bad = [t for t in v if not 0.0 < t < 1.0]
        if bad:
            raise ValueError(f"thresholds must be in (0, 1); got {bad[:3]}")
        return sorted(set(v))

    @field_validator("net_benefit_comparisons")
    @classmethod
    def _check_pairs(cls, v: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        if v is None:
            return v
        same = [a for a, b in v if a == b]
        if same:
            raise ValueError(f"each pair must name two different models; got {same[0]!r} "
                             "twice")
        return v

    @field_validator("dca_thresholds")
    @classmethod
    def _check_thresholds(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("must hold at least one threshold")
        bad = [t for t in v if not 0.0 < t < 1.0]
        if bad:
            raise ValueError(f"thresholds must be in (0, 1); got {bad[:3]}")
        return sorted(set(v))

    @field_validator("cutoff")
    @classmethod
    def _check_cutoff(cls, v: str | float) -> str | float:
        if not isinstance(v, str) and not 0.0 < float(v) < 1.0:
            raise ValueError("must be 'youden' or a probability in (0, 1)")
        return v


class SurvivalConfig(_Strict):
    """Secondary time-to-event endpoint: ``time`` and ``event`` columns (event 1 = event).

    ``horizons``: time points (in ``time_unit``, positive, sorted, distinct) at which the
    time-dependent AUC, Brier score, calibration and decision curve are computed; empty
    gives the description only (Kaplan-Meier, log-rank, hazard ratios, C).  ``model``:
    what is validated, ``signature`` (the binary signature's score as a prognostic
    marker; its absolute risks come from a one-covariate Cox model of the score fitted on
    development, a documented calibration of the score) or ``cox`` (a Cox model of the
    signature's linear predictor and the clinical ``predictors``, developed on the
    development cohort and frozen in the bundle with its baseline survival at the
    horizons).
    """

    time: str
    event: str
    horizons: list[float] = Field(default_factory=list)
    time_unit: Literal["days", "weeks", "months", "years"] = "months"
    model: Literal["signature", "cox"] = "signature"
    predictors: list[str] = Field(default_factory=list)

    @field_validator("horizons")
    @classmethod
    def _check_horizons(cls, v: list[float]) -> list[float]:
        bad = [h for h in v if not (math.isfinite(h) and h > 0)]
        if bad:
            raise ValueError(f"horizons must be positive times; got {bad[:3]}")
        if len(set(v)) != len(v):
            raise ValueError(f"horizons must be distinct; got {v}")
        if v != sorted(v):
            raise ValueError(f"horizons must be sorted in increasing order; got {v}")
        return v

    @model_validator(mode="after")
    def _check_model(self) -> SurvivalConfig:
        if self.model == "signature" and self.predictors:
            raise ValueError("predictors: only used with model: cox (the signature is "
                             "validated alone with model: signature)")
        if len(set(self.predictors)) != len(self.predictors):
            raise ValueError("predictors: names must be unique")
        if self.time == self.event:
            raise ValueError("time and event must be different columns")
        return self


class MissingDataConfig(_Strict):
    """Handling of missing clinical predictors.

    ``complete_case`` (default): patients missing a predictor used by a model are
    excluded and counted in the patient flow.  ``multiple_imputation``: they are kept and
    their missing predictors imputed ``n_imputations`` times by chained equations
    (:class:`radval.impute.ChainedImputer`, ``max_iter`` sweeps, the outcome in the
    development imputation model); models are fitted on every completed data set and
    pooled by Rubin's rules (:mod:`radval.workflow._imputation`).  Imaging features are
    never imputed.
    """

    method: Literal["complete_case", "multiple_imputation"] = "complete_case"
    n_imputations: Annotated[int, Field(ge=2, le=200)] = 20
    max_iter: Annotated[int, Field(ge=1, le=100)] = 10


class HarmonisationConfig(_Strict):
    """Harmonisation of the imaging features across scanners / sites.

    ``combat``: :class:`radval.harmonize.ComBat` fitted on the development cohort with
    ``batch`` (a column of the clinical table or of the manifest), ``covariates``
    (clinical columns whose effect is preserved; never the outcome), ``reference`` (a
    development batch left unchanged), ``parametric``, ``empirical_bayes`` and
    ``mean_only``; applied before feature selection and to every cohort, refitted in
    every optimism resample, frozen into the bundle (:mod:`radval.workflow._harmonisation`).
    """

    method: Literal["none", "combat"] = "none"
    batch: str | None = None
    covariates: list[str] = Field(default_factory=list)
    reference: str | None = None
    parametric: bool = True
    empirical_bayes: bool = True
    mean_only: bool = False

    @model_validator(mode="after")
    def _check(self) -> HarmonisationConfig:
        if self.method == "combat" and not self.batch:
            raise ValueError("'batch' is required with method 'combat' (the column of the "
                             "clinical table or manifest naming the scanner / site)")
        if len(set(self.covariates)) != len(self.covariates):
            raise ValueError("'covariates' must be unique names")
        if self.batch is not None and self.batch in self.covariates:
            raise ValueError("the 'batch' column cannot also be one of the 'covariates'")
        return self


class ComputeConfig(_Strict):
    """Parallelism: ``jobs`` local processes, or a Dask ``scheduler`` address."""

    jobs: Annotated[int, Field(ge=1)] = 1
    scheduler: str | None = None


class StudyConfig(_Strict):
    """A validation study (see ``data-dictionary/study.yaml``)."""

    name: str
    question: str = ""
    outcome: Outcome
    prediction_moment: Literal["pre-operative", "post-operative"] = "pre-operative"
    #: imaging modality of the manifest's rows without a ``modality`` value: CT (Hounsfield
    #: range checks), MR (arbitrary units) or PET (SUV); see radval.features.checks
    modality: Literal["CT", "MR", "PET"] = "CT"
    manifest: str | None = None
    clinical: str
    features: str | None = None
    radiomics: RadiomicsConfig = RadiomicsConfig()
    deep: DeepConfig = DeepConfig()
    cohorts: list[Cohort]
    clinical_predictors: list[ClinicalPredictor] = Field(default_factory=list)
    subgroups: list[Subgroup] = Field(default_factory=list)
    selection: SelectionConfig = SelectionConfig()
    models: ModelsConfig = ModelsConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    survival: SurvivalConfig | None = None
    missing_data: MissingDataConfig = MissingDataConfig()
    harmonisation: HarmonisationConfig = HarmonisationConfig()
    compute: ComputeConfig = ComputeConfig()
    seed: int = 20261128
    output: str = "results"
    #: folder of the study file; relative paths are resolved against it (not in the YAML)
    base_dir: Annotated[str, Field(exclude=True)] = "."

    @model_validator(mode="after")
    def _check(self) -> StudyConfig:
        names = [c.name for c in self.cohorts]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"cohorts: names must be unique; repeated {dup}")
        n_dev = sum(c.role == "development" for c in self.cohorts)
        if n_dev != 1:
            raise ValueError(f"cohorts: exactly one cohort must have role 'development'; "
                             f"found {n_dev}")
        preds = [p.name for p in self.clinical_predictors]
        dup = sorted({n for n in preds if preds.count(n) > 1})
        if dup:
            raise ValueError(f"clinical_predictors: names must be unique; repeated {dup}")
        for key in ("clinical_predictors", "nomogram_predictors"):
            chosen = getattr(self.models, key)
            if chosen is not None:
                unknown = [c for c in chosen if c not in preds]
                if unknown:
                    raise ValueError(f"models.{key}: {unknown} are not listed in "
                                     "clinical_predictors")
        known = {"radiomics", "deep", "combined", "clinical", "nomogram",
                 *self.models.comparison}
        unknown = sorted(set(self.models.labels) - known)
        if unknown:
            raise ValueError(f"models.labels: {unknown} are not models of this study "
                             f"(models: {sorted(known)})")
        sg = [s.name for s in self.subgroups]
        if len(set(sg)) != len(sg):
            raise ValueError("subgroups: names must be unique")
        if not self.radiomics.enabled and not self.deep.enabled:
            raise ValueError("radiomics.enabled and deep.enabled: at least one feature family "
                             "must be enabled")
        if self.survival is not None:
            unknown = [c for c in self.survival.predictors if c not in preds]
            if unknown:
                raise ValueError(f"survival.predictors: {unknown} are not listed in "
                                 "clinical_predictors")
        if self.manifest is None and self.features is None:
            raise ValueError("manifest: required unless 'features' names an extracted table")
        pairs = self.evaluation.net_benefit_comparisons or []
        possible = self.possible_models()
        unknown = sorted({m for pair in pairs for m in pair if m not in possible})
        if unknown:
            raise ValueError(f"evaluation.net_benefit_comparisons: {unknown} are not models of "
                             f"this study (possible: {sorted(possible)})")
        if self.outcome.column in self.harmonisation.covariates \
                or self.harmonisation.batch == self.outcome.column:
            # harmonising with the outcome as covariate leaks it into every feature
            raise ValueError("harmonisation.covariates: the outcome column "
                             f"{self.outcome.column!r} cannot be a ComBat covariate or the batch")
        return self

    def possible_models(self) -> set[str]:
        """Names of the models this study can fit, and ``signature`` (its signature model)."""
        out = {"signature", *self.models.comparison}
        if self.radiomics.enabled:
            out.add("radiomics")
        if self.deep.enabled:
            out.add("deep")
        for name in ("combined", "clinical", "nomogram"):
            if getattr(self.models, name):
                out.add(name)
        return out

    # ---- convenience -------------------------------------------------------------------
    def path(self, rel: str | None) -> Path | None:
        """Resolve a path from the study file against the study folder."""
        if rel is None:
            return None
        p = Path(rel)
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def development(self) -> str:
        """Name of the development cohort."""
        return next(c.name for c in self.cohorts if c.role == "development")

    @property
    def roles(self) -> dict[str, str]:
        """Cohort name -> role."""
        return {c.name: c.role for c in self.cohorts}

    def clinical_model_predictors(self) -> list[ClinicalPredictor]:
        """Predictors of the clinical model (default: the pre-operative ones)."""
        chosen = self.models.clinical_predictors
        if chosen is None:
            return [p for p in self.clinical_predictors if p.timing == "pre-operative"]
        return [p for p in self.clinical_predictors if p.name in chosen]

    def nomogram_model_predictors(self) -> list[ClinicalPredictor]:
        """Clinical predictors of the nomogram (default: all)."""
        chosen = self.models.nomogram_predictors
        if chosen is None:
            return list(self.clinical_predictors)
        return [p for p in self.clinical_predictors if p.name in chosen]

    def to_record(self) -> dict[str, Any]:
        """The parsed study as a JSON-safe dict (for results.json)."""
        return self.model_dump(mode="json", exclude={"base_dir"})


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-after", "literal", "union", "float", "str",
                                   "int", "bool", "list")) or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(err: dict[str, Any]) -> str:
    typ = err.get("type", "")
    ctx = err.get("ctx") or {}
    if typ == "literal_error":
        return f"must be one of {ctx.get('expected', '')} (got {err.get('input')!r})"
    if typ == "extra_forbidden":
        return "unknown key (check the spelling; see data-dictionary/study.yaml)"
    if typ == "missing":
        return "required key is missing"
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def study_from_dict(data: Any, *, base_dir: str | Path = ".",
                    source: str = "study file") -> StudyConfig:
    """Validate a study given as a dict.

    Raises
    ------
    ConfigError
        Listing every problem as ``key.path: message``.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a YAML mapping of keys; got {type(data).__name__}")
    if "base_dir" in data:
        raise ConfigError(f"{source} is invalid:\n  base_dir: unknown key")
    try:
        return StudyConfig.model_validate({**data, "base_dir": str(base_dir)})
    except ValidationError as exc:
        seen: list[str] = []
        for err in exc.errors():
            line = f"{_loc(tuple(err['loc']))}: {_message(dict(err))}"
            if line not in seen:
                seen.append(line)
        raise ConfigError(f"{source} is invalid:\n  " + "\n  ".join(seen)) from None


def load_study(path: str | Path, *, check_files: bool = True) -> StudyConfig:
    """Read and validate a study file.

    Parameters
    ----------
    path : str or Path
        The YAML study file.
    check_files : bool, optional
        Check that the files it names exist (default ``True``).

    Returns
    -------
    StudyConfig

    Raises
    ------
    MissingInputError
        The study file, or a file it names, does not exist (the message names the key).
    ConfigError
        Invalid YAML or an invalid key/value; the message names the key path.
    """
    import yaml

    from radval._paths import require_file

    p = require_file(path, "study file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"study file {p} is not valid YAML: {exc}") from None
    # the folder the study file is named in (not the target of a symbolic link):
    # its relative paths are relative to where the user keeps it
    study = study_from_dict(data, base_dir=Path(os.path.abspath(p)).parent,
                            source=f"study file {p}")
    if check_files:
        for key in ("manifest", "clinical", "features"):
            _check_exists(study, key, getattr(study, key), p)
        _check_exists(study, "radiomics.params", study.radiomics.params, p)
        if study.deep.enabled:
            if not isinstance(study.deep.config, dict):
                _check_exists(study, "deep.config", study.deep.config, p)
            _check_exists(study, "deep.weights", study.deep.weights, p)
    return study


def _check_exists(study: StudyConfig, key: str, rel: str | None, src: Path) -> None:
    target = study.path(rel)
    if target is not None and not target.exists():
        raise MissingInputError(f"study file {src}: {key}: file not found: {rel} "
                                f"(resolved to {target})")
