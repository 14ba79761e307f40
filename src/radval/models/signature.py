"""Frozen signature models: plain numbers, JSON in and out, no pickle.

A :class:`Signature` is everything an external site needs to apply a
radiomics + deep-learning signature exactly as it was developed:

* two linear scores (:class:`LinearScore`), the LASSO linear predictors

  .. math:: \\text{rad-score}_i = \\beta_0 + \\sum_j \\beta_j x_{ij}

  with coefficients on the *original* feature scale (as ``glmnet`` returns
  them), plus the development means and SDs of the selected features (kept
  for dataset-shift diagnostics, not used to compute the score);
* the combined logistic model (:class:`LogisticModel`) on the two scores,

  .. math:: \\operatorname{logit} p_i = \\gamma_0 + \\gamma_1\\,\\text{rad-score}_i
            + \\gamma_2\\,\\text{DL-score}_i ;

* the frozen probability cutoff, the outcome definition, intended use,
  population, predictor timing, the feature-extraction settings (PyRadiomics
  parameter file and its SHA-256, deep-network config and weights SHA-256) and a
  summary of the development cohort (per selected feature and for the predicted risk:
  n, mean, SD and local-mean quantiles, never a single patient's value; see
  :func:`development_summary_from`).

The objects are pure numpy/pandas and round-trip through :meth:`Signature.to_dict`
/ :meth:`Signature.from_dict`; :func:`radval.models.bundle.write_bundle` writes
them to disk with checksums.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import jsonable
from radval._validation import finite_list as _floats
from radval.exceptions import BundleError, InputError
from radval.stats._kernels import expit, logit

__all__ = [
    "SCHEMA_VERSION",
    "SUPPORTED_SCHEMA_VERSIONS",
    "LinearScore",
    "SUMMARY_LEVELS",
    "SUMMARY_MIN_PATIENTS",
    "LogisticModel",
    "Signature",
    "development_summary_from",
]

#: Version of the ``signature.json`` layout written by this radval.
SCHEMA_VERSION = "1"
#: Layouts this radval can read.
SUPPORTED_SCHEMA_VERSIONS: tuple[str, ...] = ("1",)

_ID = "patient_id"


def _ids(df: pd.DataFrame) -> list[str]:
    if _ID in df.columns:
        return [str(v) for v in df[_ID].tolist()]
    return [str(v) for v in df.index.tolist()]


def _matrix(df: pd.DataFrame, columns: Sequence[str], *, owner: str) -> npt.NDArray[np.float64]:
    """Return ``df[columns]`` as floats; clear errors for missing columns and NaN rows."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{owner}: expected a pandas DataFrame of features, got "
                         f"{type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InputError(f"{owner}: the features table lacks {len(missing)} column(s) the "
                         f"signature needs: {shown}.")
    try:
        x = df.loc[:, list(columns)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{owner}: feature columns must be numeric ({exc}).") from exc
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        ids = _ids(df)
        details = []
        for r in rows[:10]:
            cols = [columns[int(j)] for j in np.flatnonzero(bad[r])]
            details.append(f"{ids[r]} ({', '.join(cols[:3])}{' ...' if len(cols) > 3 else ''})")
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise InputError(f"{owner}: missing or non-finite feature values for {len(rows)} "
                         f"patient(s): {'; '.join(details)}{more}.")
    return x


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinearScore:
    """A linear score on named features (e.g. the LASSO rad-score).

    Parameters
    ----------
    name : str
        Score name (``"rad_score"`` or ``"dl_score"``).
    features : list of str
        Feature column names, in coefficient order.
    intercept : float
        :math:`\\beta_0`.
    coef : list of float
        :math:`\\beta_j` on the original feature scale.
    means, sds : list of float
        Development-cohort mean and SD of each feature (the standardisation
        ``glmnet`` used); kept for dataset-shift diagnostics.
    """

    name: str
    features: list[str]
    intercept: float
    coef: list[float]
    means: list[float]
    sds: list[float]

    def __post_init__(self) -> None:
        owner = f"LinearScore {self.name!r}"
        feats = [str(f) for f in self.features]
        if len(set(feats)) != len(feats):
            raise InputError(f"{owner}: duplicated feature names.")
        coef = _floats(self.coef, "coef", owner)
        # means/SDs are descriptive only (shift diagnostics): unknown is allowed (NaN / null)
        means = _floats(self.means, "means", owner, allow_nan=True)
        sds = _floats(self.sds, "sds", owner, allow_nan=True)
        if not (len(feats) == len(coef) == len(means) == len(sds)):
            raise InputError(f"{owner}: features, coef, means and sds must have the same "
                             f"length (got {len(feats)}, {len(coef)}, {len(means)}, {len(sds)}).")
        if not math.isfinite(float(self.intercept)):
            raise InputError(f"{owner}: intercept must be finite.")
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "coef", coef)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "sds", sds)
        object.__setattr__(self, "intercept", float(self.intercept))

    def compute(self, features_df: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Return :math:`\\beta_0 + X\\beta` for every row of ``features_df``.

        Raises
        ------
        InputError
            Naming the missing feature columns, or the patients with missing values.
        """
        if not self.features:
            n = len(features_df) if isinstance(features_df, pd.DataFrame) else 0
            return np.full(n, self.intercept)
        x = _matrix(features_df, self.features, owner=f"score {self.name!r}")
        return self.intercept + x @ np.asarray(self.coef)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN means/SDs become ``None``)."""
        return dict(jsonable(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LinearScore:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        return cls(**_strict_kwargs(cls, d, "LinearScore"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class LogisticModel:
    """A logistic model :math:`\\operatorname{logit} p = \\gamma_0 + \\sum_k \\gamma_k z_k`.

    Parameters
    ----------
    name : str
        Model name (``"combined"``, ``"clinical"``, ``"nomogram"``).
    inputs : list of str
        Input column names (for the combined model ``["rad_score", "dl_score"]``).
    intercept : float
    coef : list of float
    """

    name: str
    inputs: list[str]
    intercept: float
    coef: list[float]

    def __post_init__(self) -> None:
        owner = f"LogisticModel {self.name!r}"
        inputs = [str(v) for v in self.inputs]
        coef = _floats(self.coef, "coef", owner)
        if len(inputs) != len(coef):
            raise InputError(f"{owner}: inputs and coef must have the same length.")
        if not math.isfinite(float(self.intercept)):
            raise InputError(f"{owner}: intercept must be finite.")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "coef", coef)
        object.__setattr__(self, "intercept", float(self.intercept))

    def linear_predictor(self, df: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Return :math:`\\gamma_0 + Z\\gamma` for every row of ``df``."""
        if not self.inputs:
            return np.full(len(df), self.intercept)
        z = _matrix(df, self.inputs, owner=f"model {self.name!r}")
        return self.intercept + z @ np.asarray(self.coef)

    def predict_proba(self, df: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Return predicted probabilities :math:`1/(1+e^{-\\eta})`."""
        return expit(self.linear_predictor(df))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LogisticModel:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        return cls(**_strict_kwargs(cls, d, "LogisticModel"))


def _strict_kwargs(cls: type, d: Mapping[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(d, Mapping):
        raise BundleError(f"{what}: expected an object, got {type(d).__name__}.")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise BundleError(f"{what}: unknown key(s) {unknown}.")
    required = {f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    missing = sorted(required - set(d))
    if missing:
        raise BundleError(f"{what}: missing key(s) {missing}.")
    return dict(d)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Signature:
    """A frozen radiomics + deep-learning signature (see the module docstring).

    Parameters
    ----------
    schema_version : str
        Layout version of ``signature.json`` (:data:`SCHEMA_VERSION`).
    radval_version : str
        radval version that fitted the signature.
    outcome : dict
        Outcome definition, e.g. ``{"name": "ln_metastasis", "positive_label": 1,
        "definition": "..."}``.
    intended_use, population, prediction_moment : str
        TRIPOD items: what the model is for, in whom, and when it is applied
        (e.g. ``"pre-operative"``).
    predictors : list of dict
        ``{"name", "kind", "timing"}`` per predictor.
    radiomics : dict or None
        ``{"params_yaml": <text of the PyRadiomics parameter file>,
        "params_sha256": <hex>}``.
    deep : dict or None
        ``{"config": {...}, "weights_file": "deep.safetensors", "weights_sha256": <hex>}``.
    scores : dict of str to LinearScore
        ``"rad_score"`` and/or ``"dl_score"``.
    combined : LogisticModel
        Logistic model on the scores.
    cutoff : float
        Frozen probability cutoff (positive iff ``probability >= cutoff``).
    development_summary : dict
        See :func:`development_summary_from`.
    models : dict of str to LogisticModel, optional
        Extra models (``"clinical"``, ``"nomogram"``).
    extra : dict, optional
        Free-form JSON-safe metadata (e.g. selected lambda).
    survival : dict, optional
        The frozen Cox model of the time-to-event endpoint
        (:meth:`radval.models.survival.SurvivalModel.to_dict`); absent in older bundles.
    harmonisation : dict, optional
        The frozen feature harmonisation: ``{"method": "combat", "batch_column",
        "covariates", "reference", "min_unseen_size", "combat":
        ComBat.to_dict()}`` (:mod:`radval.workflow._harmonisation`); None (bundles of
        radval < 0.3 and studies without harmonisation): features are used as extracted.
    imputation : dict, optional
        The deployment imputer of missing clinical predictors: ``{"method":
        "deployment_imputer", "n_draws", "variables", "kinds", "auxiliary", "imputer":
        DeploymentImputer.to_dict()}`` (fitted without the outcome); None: complete
        cases only.
    """

    schema_version: str
    radval_version: str
    outcome: dict[str, Any]
    intended_use: str
    population: str
    prediction_moment: str
    predictors: list[dict[str, Any]]
    radiomics: dict[str, Any] | None
    deep: dict[str, Any] | None
    scores: dict[str, LinearScore]
    combined: LogisticModel
    cutoff: float
    development_summary: dict[str, Any]
    models: dict[str, LogisticModel] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    survival: dict[str, Any] | None = None
    harmonisation: dict[str, Any] | None = None
    imputation: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if str(self.schema_version) not in SUPPORTED_SCHEMA_VERSIONS:
            raise BundleError(f"signature.json: schema_version {self.schema_version!r} is not "
                              f"supported by this radval (supported: "
                              f"{', '.join(SUPPORTED_SCHEMA_VERSIONS)}).")
        cut = float(self.cutoff)
        if not (0.0 < cut < 1.0):
            raise InputError(f"Signature: cutoff must be a probability in (0, 1), got {cut}.")
        object.__setattr__(self, "cutoff", cut)
        for key, score in self.scores.items():
            if not isinstance(score, LinearScore):
                raise InputError(f"Signature: scores[{key!r}] must be a LinearScore.")
        needed = [i for i in self.combined.inputs if i not in self.scores]
        if needed:
            raise InputError(f"Signature: the combined model needs score(s) {needed} that "
                             f"are not in scores ({sorted(self.scores)}).")

    # ------------------------------------------------------------------ use
    @property
    def selected_features(self) -> list[str]:
        """All feature columns used by the scores, in order, without duplicates."""
        out: list[str] = []
        for score in self.scores.values():
            out.extend(f for f in score.features if f not in out)
        return out

    def predict(self, features_df: pd.DataFrame) -> pd.DataFrame:
        """Apply the frozen signature.

        Parameters
        ----------
        features_df : DataFrame
            One row per patient with ``patient_id`` and every selected feature column.

        Returns
        -------
        DataFrame
            ``patient_id``, one column per score (``rad_score``, ``dl_score``),
            ``linear_predictor`` and ``probability`` of the combined model.
        """
        if not isinstance(features_df, pd.DataFrame):
            raise InputError("Signature.predict: features_df must be a pandas DataFrame.")
        out = pd.DataFrame({_ID: _ids(features_df)})
        order: list[str] = [k for k in ("rad_score", "dl_score") if k in self.scores]
        order += sorted(k for k in self.scores if k not in order)
        for name in order:
            out[name] = self.scores[name].compute(features_df)
        lp = self.combined.linear_predictor(out)
        out["linear_predictor"] = lp
        out["probability"] = expit(lp)
        return out

    # ------------------------------------------------------------ serialise
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the content of ``signature.json``)."""
        return {
            "schema_version": str(self.schema_version),
            "radval_version": str(self.radval_version),
            "outcome": jsonable(self.outcome),
            "intended_use": self.intended_use,
            "population": self.population,
            "prediction_moment": self.prediction_moment,
            "predictors": jsonable(self.predictors),
            "radiomics": jsonable(self.radiomics),
            "deep": jsonable(self.deep),
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
            "combined": self.combined.to_dict(),
            "cutoff": self.cutoff,
            "development_summary": jsonable(self.development_summary),
            "models": {k: v.to_dict() for k, v in self.models.items()},
            "extra": jsonable(self.extra),
            # absent rather than null: a bundle without one reads in radval before 0.3
            **({"survival": jsonable(self.survival)} if self.survival is not None else {}),
            # written only when present, so that a bundle without them reads as before
            **({"harmonisation": jsonable(self.harmonisation)}
               if self.harmonisation is not None else {}),
            **({"imputation": jsonable(self.imputation)}
               if self.imputation is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signature:
        """Build a signature from :meth:`to_dict` output.

        Raises
        ------
        BundleError
            Unknown ``schema_version``, unknown or missing keys, or malformed models.
        """
        if not isinstance(d, Mapping):
            raise BundleError("signature.json: the top level must be an object.")
        version = d.get("schema_version")
        if str(version) not in SUPPORTED_SCHEMA_VERSIONS:
            raise BundleError(f"signature.json: schema_version {version!r} is not supported by "
                              f"this radval (supported: {', '.join(SUPPORTED_SCHEMA_VERSIONS)}).")
        kw = _strict_kwargs(cls, d, "signature.json")
        try:
            kw["scores"] = {k: LinearScore.from_dict(v) for k, v in dict(kw["scores"]).items()}
            kw["combined"] = LogisticModel.from_dict(kw["combined"])
            kw["models"] = {k: LogisticModel.from_dict(v)
                            for k, v in dict(kw.get("models") or {}).items()}
            if kw.get("survival") is not None:
                from radval.models.survival import SurvivalModel

                kw["survival"] = SurvivalModel.from_dict(kw["survival"]).to_dict()
            return cls(**kw)
        except InputError as exc:
            raise BundleError(f"signature.json: {exc}") from exc
        except (TypeError, ValueError) as exc:
            if isinstance(exc, BundleError):
                raise
            raise BundleError(f"signature.json: malformed content ({exc}).") from exc


#: Patients averaged in every shared quantile (and the fewest for a mean and SD).
SUMMARY_MIN_PATIENTS = 5
#: Quantile levels of the development summary (name -> level).
SUMMARY_LEVELS: dict[str, float] = {"q05": 0.05, "q25": 0.25, "median": 0.5, "q75": 0.75,
                                    "q95": 0.95}


def _quantile_windows(n: int, k: int) -> dict[str, npt.NDArray[np.intp]]:
    """0-based ranks averaged for each level that can be shared (see
    :func:`development_summary_from`)."""
    ranks = np.arange(1, n + 1)
    out: dict[str, npt.NDArray[np.intp]] = {}
    for name, q in SUMMARY_LEVELS.items():
        h = (n - 1) * q + 1  # the type-7 position (R quantile type 7, numpy "linear")
        # the ranks within k/2 of the position; the tolerance keeps q and 1 - q
        # symmetric when (n - 1) q is not exact in binary
        window = np.flatnonzero(np.abs(ranks - h) <= k / 2 + 1e-9)
        if window.size >= k:
            out[name] = window
    # the mean (the all-ones functional) and the window sums must not combine into one
    # patient's value: drop the outer levels until no single rank can be isolated
    for drop in (("q05", "q95"), ("q25", "q75"), ("median",)):
        if not _isolates(list(out.values()), n):
            break
        for name in drop:
            out.pop(name, None)
    return out


def _isolates(windows: Sequence[npt.NDArray[np.intp]], n: int) -> bool:
    """Whether a linear combination of the window sums and the total equals one rank's
    value (a unit vector in the row space of the window indicators and the ones)."""
    rows = np.zeros((len(windows) + 1, n), dtype=bool)
    rows[0] = True
    for i, w in enumerate(windows, start=1):
        rows[i, w] = True
    # ranks with the same membership are indistinguishable by any combination: reduce the
    # columns to these "atoms"; only a rank alone in its atom can be isolated
    atoms, counts = np.unique(rows.T, axis=0, return_counts=True)
    a = atoms.T.astype(np.float64)
    rank = np.linalg.matrix_rank(a)
    for j in np.flatnonzero(counts == 1):
        unit = np.zeros((1, a.shape[1]))
        unit[0, j] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
            return True
    return False


def _describe(x: npt.NDArray[np.float64]) -> dict[str, float | int | None]:
    x = np.sort(x[np.isfinite(x)])
    k = SUMMARY_MIN_PATIENTS
    out: dict[str, float | int | None] = {"n": int(x.size), "mean": None, "sd": None}
    out.update(dict.fromkeys(SUMMARY_LEVELS))
    if x.size < k:
        return out
    out["mean"] = float(x.mean())
    out["sd"] = float(x.std(ddof=1))
    for name, window in _quantile_windows(int(x.size), k).items():
        out[name] = float(x[window].mean())
    return out


def development_summary_from(features_df: pd.DataFrame, selected: Sequence[str],
                             probabilities: Any, *, y_true: Any = None) -> dict[str, Any]:
    """Summarise the development cohort for later dataset-shift diagnostics.

    Parameters
    ----------
    features_df : DataFrame
        Development features (one row per patient).
    selected : sequence of str
        Selected feature columns.
    probabilities : array-like
        Predicted risks of the combined model in the development cohort.
    y_true : array-like of {0, 1}, optional
        Outcomes; gives ``n``, ``events`` and ``prevalence``.

    Returns
    -------
    dict
        ``{"n", "events", "prevalence", "features": {name: {n, mean, sd, q05, q25,
        median, q75, q95}}, "predicted_risk": {...same...}, "linear_predictor": {n, mean,
        sd}, "cstatistic"}`` (``cstatistic``: the apparent AUC, with ``y_true`` and both
        classes).

    Notes
    -----
    The summary travels with the bundle to every site, so no number in it is one
    patient's value (the minimum and maximum of radval < 0.2 were).  With :math:`k` =
    :data:`SUMMARY_MIN_PATIENTS` (5) and the :math:`m` finite values
    :math:`x_{(1)} \\le \\dots \\le x_{(m)}` of a feature:

    * mean and SD (``ddof=1``) are given when :math:`m \\ge k`, else ``null``;
    * the quantile at level :math:`q` is the *local mean* of the order statistics
      within :math:`k/2` ranks of the type-7 position :math:`h = (m-1)q + 1`,

      .. math:: \\tilde Q(q) = \\operatorname{mean}\\{x_{(j)} : |j - h| \\le k/2\\},

      i.e. of 5 patients (6 when :math:`h` is half-way between two ranks).  A level is
      given only when this window lies inside :math:`1..m` (it holds at least
      :math:`k` patients): the median from 5 patients, q25/q75 from 7, q05/q95 from
      31; otherwise ``null``;
    * the window sums together with :math:`m \\cdot` mean must not combine linearly into
      one patient's value (possible for a few cohorts under 12 patients): the outer
      levels are dropped until no single rank can be isolated.

    q05-q95 is the range of the dataset-shift diagnostics
    (:func:`radval.models.shift.dataset_shift`).  The local mean is a smoothed quantile:
    it equals the type-7 quantile when the values are locally linear in rank.
    """
    x = _matrix(features_df, list(selected), owner="development_summary_from") if selected \
        else np.empty((len(features_df), 0))
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    if p.size != len(features_df):
        raise InputError(f"development_summary_from: probabilities has {p.size} values for "
                         f"{len(features_df)} patients.")
    out: dict[str, Any] = {"n": int(len(features_df)), "events": None, "prevalence": None}
    if y_true is not None:
        y = np.asarray(y_true, dtype=np.float64).ravel()
        if y.size != p.size or not np.all(np.isin(y, (0.0, 1.0))):
            raise InputError("development_summary_from: y_true must be 0/1 with one value "
                             "per patient.")
        out["events"] = int(y.sum())
        out["prevalence"] = float(y.mean())
    out["features"] = {str(c): _describe(x[:, j]) for j, c in enumerate(selected)}
    out["predicted_risk"] = _describe(p)
    # for a site's minimum sample size (Riley et al. 2021): the anticipated C and the mean
    # and SD of the linear predictor (no quantiles: those of the risk are already here)
    lp = _describe(np.asarray(logit(np.clip(p, 1e-12, 1 - 1e-12)), dtype=np.float64))
    out["linear_predictor"] = {k: lp.get(k) for k in ("n", "mean", "sd")}
    if y_true is not None and 0 < int(out["events"]) < p.size:
        from radval.stats._kernels import rank_auc

        auc = float(np.asarray(rank_auc(np.asarray(y_true, dtype=np.int64), p)).ravel()[0])
        out["cstatistic"] = auc
    return out
