"""``signature.json``: the frozen signature inside a bundle (``radval.models.bundle``).

A site's ``radval validate`` reads nothing else about the model: the scores'
coefficients on the original feature scale, the combined logistic model, the frozen
cutoff, the feature-extraction settings, the outcome labels and a development summary
for the dataset-shift diagnostics.  :class:`radval.models.signature.Signature` is the
object built from it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from radval.contracts._base import Document, Num, Record
from radval.contracts._survival import SurvivalModelSpec

__all__ = ["SUPPORTED_SIGNATURE_VERSIONS", "SignatureFile"]

SUPPORTED_SIGNATURE_VERSIONS = ("1",)


class OutcomeSpec(Record):
    """The outcome the signature predicts."""

    name: str = Field(description="outcome column")
    positive_label: int | str | bool = Field(1, description="label of the event")
    negative_label: str | None = Field(None, description="label of the non-event in the "
                                       "development cohort (a site's column is checked "
                                       "against both labels)")
    definition: str | None = Field(None, description="outcome definition")


class PredictorSpec(Record):
    """A clinical predictor of the study."""

    name: str = Field(description="column")
    kind: str = Field(description="numeric or categorical")
    timing: str = Field(description="pre-operative or post-operative")


class RadiomicsSpec(Record):
    """The PyRadiomics settings the features must be extracted with."""

    params_yaml: str = Field(description="text of the PyRadiomics parameter file")
    params_sha256: str = Field(description="its SHA-256")


class DeepSpec(Record):
    """The deep network the features come from."""

    config: dict[str, Any] = Field(description="network settings (radval.features.deep)")
    weights_file: str | None = Field(description="deep.safetensors")
    weights_sha256: str | None = Field(description="SHA-256 of the weights")


class LinearScoreSpec(Record):
    """A linear score (rad-score, DL-score) on the original feature scale."""

    name: str = Field(description="rad_score or dl_score")
    features: list[str] = Field(description="features")
    intercept: Num = Field(description="intercept")
    coef: list[Num] = Field(description="coefficients (original scale)")
    means: list[Num | None] = Field(description="development means (standardisation)")
    sds: list[Num | None] = Field(description="development SDs")


class LogisticSpec(Record):
    """A logistic model on named inputs."""

    name: str = Field(description="model name")
    inputs: list[str] = Field(description="input columns")
    intercept: Num = Field(description="intercept")
    coef: list[Num] = Field(description="coefficients")


class DistributionSummary(Record):
    """Development distribution of one feature (or of the predicted risk); no value is one
    patient's (radval.models.signature.development_summary_from)."""

    n: int = Field(description="patients with a value")
    mean: Num | None = Field(description="mean (null under 5 patients)")
    sd: Num | None = Field(description="SD (ddof 1; null under 5 patients)")
    min: Num | None = Field(None, description="minimum (bundles of radval < 0.2 only; "
                            "ignored)")
    max: Num | None = Field(None, description="maximum (bundles of radval < 0.2 only; "
                            "ignored)")
    q01: Num | None = Field(None, description="type-7 1% quantile (bundles of radval < 0.2 "
                            "only; ignored)")
    q05: Num | None = Field(None, description="5% quantile: mean of the 5 order statistics "
                            "within 2.5 ranks of the type-7 position (null under 31 patients)")
    q25: Num | None = Field(None, description="25% quantile, local mean likewise (null under "
                            "7 patients)")
    median: Num | None = Field(None, description="median, local mean likewise (null under 5 "
                               "patients)")
    q75: Num | None = Field(None, description="75% quantile, local mean likewise")
    q95: Num | None = Field(None, description="95% quantile, local mean likewise")
    q99: Num | None = Field(None, description="type-7 99% quantile (bundles of radval < 0.2 "
                            "only; ignored)")


class DevelopmentSummary(Record):
    """Aggregates of the development cohort for dataset-shift diagnostics."""

    n: int = Field(description="development patients")
    events: int | None = Field(description="events")
    prevalence: Num | None = Field(description="events / n")
    features: dict[str, DistributionSummary] = Field(description="selected feature -> "
                                                     "distribution")
    predicted_risk: DistributionSummary = Field(description="distribution of the signature's "
                                                "predicted risk")
    cstatistic: Num | None = Field(None, description="apparent C-statistic (AUC) of the "
                                   "signature in the development cohort: the anticipated C of "
                                   "a site's minimum sample size (bundles of radval >= 0.3)")
    linear_predictor: DistributionSummary | None = Field(
        None, description="distribution of the signature's linear predictor logit(risk) in "
        "the development cohort (mean and SD: the LP distribution of a site's minimum "
        "sample size; bundles of radval >= 0.3)")


class HarmonisationSpec(Record):
    """The frozen ComBat harmonisation a site applies to its features before scoring
    (radval.workflow._harmonisation)."""

    method: Literal["combat"] = Field(description="combat")
    batch_column: str | None = Field(description="column of the clinical table or manifest "
                                     "naming the batch (scanner / site); a site without it "
                                     "is one new batch")
    covariates: list[str] = Field(description="clinical columns whose effect is preserved "
                                  "(a site needs them)")
    reference: str | None = Field(description="development batch left unchanged")
    min_unseen_size: int = Field(description="a new batch with fewer patients gets a "
                                 "warning")
    combat: dict[str, Any] = Field(description="radval.harmonize.ComBat.to_dict(): options, "
                                   "batches, per-feature location/scale and covariate "
                                   "effects, per-batch priors (no patient rows)")


class ImputationSpec(Record):
    """The deployment imputer a site uses for a patient with a missing clinical predictor
    (radval.workflow._imputation)."""

    method: Literal["deployment_imputer"] = Field(description="deployment_imputer")
    n_draws: int = Field(description="imputation draws per patient (linear predictors "
                         "averaged)")
    variables: list[str] = Field(description="clinical predictors of the models")
    kinds: dict[str, str] = Field(description="predictor -> numeric or categorical")
    auxiliary: str = Field(description="column of the signature's linear predictor in the "
                           "imputer")
    imputer: dict[str, Any] = Field(description="radval.impute.DeploymentImputer.to_dict(), "
                                    "fitted on the development predictors without the "
                                    "outcome (no patient rows)")


class SignatureFile(Document):
    """The frozen signature of a bundle."""

    FILE: ClassVar[str] = "signature.json"
    TITLE: ClassVar[str] = "radval signature"

    schema_version: Literal["1"] = Field(description="layout version")
    radval_version: str = Field(description="radval that fitted the signature")
    outcome: OutcomeSpec = Field(description="the outcome")
    intended_use: str = Field(description="what the model is for (TRIPOD+AI)")
    population: str = Field(description="in whom it was developed")
    prediction_moment: str = Field(description="when it is applied")
    predictors: list[PredictorSpec] = Field(description="clinical predictors of the study")
    radiomics: RadiomicsSpec | None = Field(description="PyRadiomics settings")
    deep: DeepSpec | None = Field(description="deep network")
    scores: dict[str, LinearScoreSpec] = Field(description="rad_score and/or dl_score")
    combined: LogisticSpec = Field(description="logistic model on the scores")
    cutoff: Num = Field(ge=0, le=1, description="frozen probability cutoff (positive iff "
                        "probability >= cutoff)")
    development_summary: DevelopmentSummary = Field(description="development aggregates")
    models: dict[str, LogisticSpec] = Field(default_factory=dict, description="further "
                                            "logistic models (clinical, nomogram)")
    extra: dict[str, Any] = Field(default_factory=dict, description="metadata (cutoffs of "
                                  "every model, designs, lambda)")
    survival: SurvivalModelSpec | None = Field(None, description="the Cox model of the "
                                               "time-to-event endpoint with its baseline "
                                               "survival at the horizons (absent in bundles "
                                               "without one)")
    harmonisation: HarmonisationSpec | None = Field(
        None, description="frozen feature harmonisation (absent: features are used as "
        "extracted; bundles of radval < 0.3)")
    imputation: ImputationSpec | None = Field(
        None, description="deployment imputer of missing clinical predictors (absent: "
        "complete cases only)")
