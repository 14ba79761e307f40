r"""A frozen time-to-event model: absolute risks at fixed horizons anywhere.

:class:`SurvivalModel` is the Cox model a study develops for its time-to-event
endpoint and freezes in the bundle (``signature.json`` key ``survival``), so that an
external site computes *absolute* risks without the development data:

.. math::

    \hat S(t \mid x) = S_0(t)^{\exp\{(x - \bar x)^\top \hat\beta\}}, \qquad
    \hat r(t \mid x) = 1 - \hat S(t \mid x),

with :math:`S_0(t)` the baseline survival at the development means :math:`\bar x`
(``survfit(coxph(...))`` at the means: Breslow increments with Efron's correction for
tied events), stored only at the study's horizons :math:`t_1 < \dots < t_K` (no curve,
so no single patient's event time travels with the bundle).

Two kinds (``kind``):

* ``"cox"``: ``coxph(Surv(time, event) ~ signature + clinical predictors)`` (study file
  ``survival.model: cox``); categorical predictors are coded with indicator columns
  ``name[level]`` against the first sorted level seen in development
  (:class:`radval.models.logistic.DesignSpec`);
* ``"score"``: ``coxph(Surv(time, event) ~ signature)``, the documented calibration of
  the binary signature's score into risks of the time-to-event outcome (``survival.model:
  signature``): the score stays the marker whose discrimination is validated, the model
  only turns it into absolute risks for the Brier score, calibration and decision curve.

``signature`` is the signature's linear predictor (column ``linear_predictor`` of
:meth:`radval.models.signature.Signature.predict`).  ``cutoff`` is the probability
cut-off of the signature frozen on development; patients with signature probability
``>= cutoff`` form the high-risk group of the Kaplan-Meier curves and hazard ratios.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._validation import finite_list
from radval.exceptions import BundleError, DataError, HorizonWarning, InputError

__all__ = ["SIGNATURE_INPUT", "SURVIVAL_KINDS", "SurvivalModel", "fit_survival_model"]

#: Name of the input holding the signature's linear predictor.
SIGNATURE_INPUT = "signature"
#: ``cox``: signature + clinical predictors; ``score``: the signature's score alone.
SURVIVAL_KINDS = ("cox", "score")

FloatArray = npt.NDArray[np.float64]


def _finite_list(values: Any, name: str, *, allow_nan: bool = False) -> list[float]:
    return finite_list(values, name, "survival model", allow_nan=allow_nan, error=BundleError)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SurvivalModel:
    """A Cox model frozen with its baseline survival at the horizons (module docstring).

    Parameters
    ----------
    kind : {"cox", "score"}
        Signature + clinical predictors, or the signature's score alone.
    time, event : str
        Column names of the follow-up time and the event indicator in development.
    time_unit : str
        Unit of the time and the horizons (``"months"`` ...).
    inputs : list of str
        Design columns in coefficient order; the first is ``"signature"``.
    predictors : list of [name, kind]
        Clinical predictors (``"numeric"`` / ``"categorical"``) behind the other inputs.
    levels : dict
        Categorical predictor -> its development levels (first = reference).
    coef, se : list of float
        Log hazard ratios and their standard errors.
    means : list of float
        Development means of the inputs (the centre of the baseline).
    horizons : list of float
        Time horizons, increasing.
    baseline_survival : list of float
        :math:`S_0(t_k)` at the means; NaN (``null``) for a horizon beyond the
        development follow-up.
    cutoff : float
        Signature probability cut-off of the risk groups (frozen on development).
    n, events : int
        Development patients and events the model was fitted on.
    ties : str
        ``"efron"``.
    """

    kind: str
    time: str
    event: str
    time_unit: str
    inputs: list[str]
    predictors: list[list[str]]
    levels: dict[str, list[str]]
    coef: list[float]
    se: list[float]
    means: list[float]
    horizons: list[float]
    baseline_survival: list[float]
    cutoff: float
    n: int
    events: int
    ties: str = "efron"

    def __post_init__(self) -> None:
        if self.kind not in SURVIVAL_KINDS:
            raise BundleError(f"survival model: kind must be one of {SURVIVAL_KINDS}; got "
                              f"{self.kind!r}.")
        inputs = [str(v) for v in self.inputs]
        if not inputs or inputs[0] != SIGNATURE_INPUT:
            raise BundleError(f"survival model: the first input must be {SIGNATURE_INPUT!r}.")
        coef = _finite_list(self.coef, "coef")
        se = _finite_list(self.se, "se", allow_nan=True)
        means = _finite_list(self.means, "means")
        if not len(inputs) == len(coef) == len(se) == len(means):
            raise BundleError("survival model: inputs, coef, se and means must have the same "
                              "length.")
        horizons = _finite_list(self.horizons, "horizons")
        if any(h <= 0 for h in horizons) or horizons != sorted(set(horizons)):
            raise BundleError("survival model: horizons must be positive and increasing.")
        base = _finite_list(self.baseline_survival, "baseline_survival", allow_nan=True)
        if len(base) != len(horizons) or any(not 0 <= b <= 1 for b in base
                                              if not math.isnan(b)):
            raise BundleError("survival model: baseline_survival must hold one probability "
                              "per horizon.")
        cut = float(self.cutoff)
        if not 0 < cut < 1:
            raise BundleError("survival model: cutoff must be a probability in (0, 1).")
        preds = [[str(a), str(b)] for a, b in self.predictors]
        if any(k not in ("numeric", "categorical") for _, k in preds):
            raise BundleError("survival model: predictor kinds must be numeric or "
                              "categorical.")
        if self.kind == "score" and (preds or len(inputs) != 1):
            raise BundleError("survival model: kind 'score' has the signature as its only "
                              "input.")
        levels = {str(k): [str(x) for x in v] for k, v in dict(self.levels).items()}
        expected = [SIGNATURE_INPUT, *self._design_columns(preds, levels)]
        if expected != inputs:
            raise BundleError(f"survival model: inputs {inputs} do not match the predictors "
                              f"(expected {expected}).")
        for name, value in (("coef", coef), ("se", se), ("means", means),
                            ("horizons", horizons), ("baseline_survival", base),
                            ("inputs", inputs), ("predictors", preds), ("levels", levels)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "cutoff", cut)

    @staticmethod
    def _design_columns(preds: Sequence[Sequence[str]],
                        levels: Mapping[str, Sequence[str]]) -> list[str]:
        out: list[str] = []
        for name, kind in preds:
            if kind == "categorical":
                if name not in levels or len(levels[name]) < 2:
                    raise BundleError(f"survival model: categorical predictor {name!r} needs "
                                      "at least two levels.")
                out.extend(f"{name}[{lv}]" for lv in levels[name][1:])
            else:
                out.append(name)
        return out

    # ------------------------------------------------------------------ use
    def design(self, signature: Any, clinical: pd.DataFrame | None = None) -> pd.DataFrame:
        """The model's input columns: the signature's linear predictor and the coded
        clinical predictors (NaN where a value is missing or a level unknown)."""
        from radval.models.logistic import DesignSpec

        lp = np.asarray(signature, dtype=np.float64).ravel()
        index = clinical.index if clinical is not None else pd.RangeIndex(lp.size)
        if clinical is not None and len(clinical) != lp.size:
            raise InputError(f"SurvivalModel.design: {lp.size} signature values for "
                             f"{len(clinical)} clinical rows.")
        out = pd.DataFrame({SIGNATURE_INPUT: lp}, index=index)
        if self.predictors:
            if clinical is None:
                raise InputError("SurvivalModel.design: the model needs the clinical "
                                 f"predictors {[p[0] for p in self.predictors]}.")
            spec = DesignSpec(predictors=[(a, b) for a, b in self.predictors],
                              levels=dict(self.levels))
            d = spec.transform(clinical)
            for c in d.columns:
                out[c] = d[c].to_numpy(dtype=np.float64)
        return out[self.inputs]

    def linear_predictor(self, x: Any) -> FloatArray:
        r""":math:`(x - \bar x)^\top \hat\beta` (``predict(fit, type = "lp")``), per row."""
        xm = np.asarray(x, dtype=np.float64)
        if xm.ndim == 1:
            xm = xm[:, None]
        if xm.shape[1] != len(self.inputs):
            raise InputError(f"SurvivalModel.linear_predictor: {xm.shape[1]} columns for "
                             f"{len(self.inputs)} inputs.")
        return np.asarray((xm - np.asarray(self.means)) @ np.asarray(self.coef))

    def survival(self, x: Any) -> FloatArray:
        """Predicted event-free probability at each horizon, shape (n, len(horizons))."""
        lp = self.linear_predictor(x)
        return np.asarray(np.power(np.asarray(self.baseline_survival)[None, :],
                                   np.exp(lp)[:, None]))

    def risk(self, x: Any) -> FloatArray:
        """Predicted risk of the event by each horizon, shape (n, len(horizons))."""
        return 1.0 - self.survival(x)

    # ------------------------------------------------------------ serialise
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN baseline survival becomes ``None``)."""
        from radval._results import jsonable

        return dict(jsonable(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SurvivalModel:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        BundleError
            Unknown or missing keys, or inconsistent content.
        """
        if not isinstance(d, Mapping):
            raise BundleError(f"survival model: expected an object, got {type(d).__name__}.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise BundleError(f"survival model: unknown key(s) {unknown}.")
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING}
        missing = sorted(required - set(d))
        if missing:
            raise BundleError(f"survival model: missing key(s) {missing}.")
        try:
            return cls(**dict(d))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, BundleError):
                raise
            raise BundleError(f"survival model: malformed content ({exc}).") from exc


def fit_survival_model(time: Any, event: Any, signature: Any,
                       clinical: pd.DataFrame | None = None, *, kind: str = "score",
                       predictors: Sequence[tuple[str, str]] = (),
                       horizons: Sequence[float] = (), cutoff: float,
                       time_column: str = "time", event_column: str = "event",
                       time_unit: str = "months") -> SurvivalModel:
    r"""Fit the Cox model of the time-to-event endpoint on the development cohort.

    Parameters
    ----------
    time, event : array-like of shape (n,)
        Follow-up time (>= 0) and event indicator (1 = event) of the development
        patients (no missing values: the caller excludes them).
    signature : array-like of shape (n,)
        The signature's linear predictor.
    clinical : DataFrame, optional
        The clinical predictors (``kind="cox"``), one row per patient.
    kind : {"score", "cox"}
        See the module docstring.
    predictors : sequence of (name, kind)
        Clinical predictors of a ``"cox"`` model.
    horizons : sequence of float
        Horizons at which the baseline survival is frozen (positive, increasing).
    cutoff : float
        The signature's frozen probability cut-off (risk groups).
    time_column, event_column, time_unit : str
        Recorded in the model (the site's default column names, the unit).

    Returns
    -------
    SurvivalModel

    Raises
    ------
    InputError
        Bad times, events or predictor values (the message names the argument).
    DataError
        No events (the model is undefined), or a singular fit.

    Warns
    -----
    HorizonWarning
        A horizon beyond the development follow-up: its baseline survival is NaN and no
        absolute risk is given there.

    Notes
    -----
    ``coxph(Surv(time, event) ~ signature [+ predictors], ties = "efron")`` by
    :func:`radval.stats.cox_ph` (checked against R ``survival``); the baseline survival at
    the means is its ``predict_survival`` at :math:`\bar x`.
    """
    from radval.models.logistic import DesignSpec
    from radval.stats._survival import cox_ph

    caller = "fit_survival_model"
    if kind not in SURVIVAL_KINDS:
        raise InputError(f"The 'kind' parameter of {caller} must be one of "
                         f"{SURVIVAL_KINDS}. Got {kind!r} instead.")
    preds = [(str(a), str(b)) for a, b in predictors]
    if kind == "score" and preds:
        raise InputError(f"{caller}: kind 'score' takes no clinical predictors.")
    lp = np.asarray(signature, dtype=np.float64).ravel()
    x = pd.DataFrame({SIGNATURE_INPUT: lp})
    levels: dict[str, list[str]] = {}
    if preds:
        if clinical is None:
            raise InputError(f"{caller}: the clinical predictors {[p[0] for p in preds]} "
                             "need the clinical table.")
        spec = DesignSpec.from_frame(clinical, preds)
        levels = spec.levels
        d = spec.transform(clinical)
        for c in d.columns:
            x[c] = d[c].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(x.to_numpy())
        if bad.any():
            cols = sorted({str(x.columns[int(j)]) for j in np.flatnonzero(bad.any(axis=0))})
            raise InputError(f"{caller}: missing predictor values in {int(bad.any(axis=1).sum())} "
                             f"patient(s) (columns {cols}); exclude them before fitting.")
    h = [float(v) for v in horizons]
    if any(not (math.isfinite(v) and v > 0) for v in h) or h != sorted(set(h)):
        raise InputError(f"The 'horizons' parameter of {caller} must be positive, increasing "
                         f"times. Got {h} instead.")
    fit = cox_ph(time, event, x)
    t = np.asarray(time, dtype=np.float64)
    means = np.asarray(fit.means, dtype=np.float64)
    base = (fit.predict_survival(means[None, :], h)[0] if h else np.zeros(0)).astype(float)
    beyond = np.asarray(h) > float(t.max()) if h else np.zeros(0, dtype=bool)
    if beyond.any():
        warnings.warn(f"{caller}: horizon(s) {np.asarray(h)[beyond].tolist()} exceed the "
                      f"development follow-up ({float(t.max()):g} {time_unit}); no baseline "
                      "survival (absolute risk) there. Are the times in days when the study "
                      f"says {time_unit}?", HorizonWarning, stacklevel=2)
        base[beyond] = math.nan
    if not np.isfinite(fit.coef).all():
        raise DataError(f"{caller}: the Cox model did not converge (infinite hazard ratio?).")
    return SurvivalModel(kind=kind, time=time_column, event=event_column,
                         time_unit=time_unit, inputs=list(x.columns),
                         predictors=[list(p) for p in preds], levels=levels,
                         coef=[float(v) for v in fit.coef], se=[float(v) for v in fit.se],
                         means=[float(v) for v in means], horizons=h,
                         baseline_survival=[float(v) for v in base], cutoff=float(cutoff),
                         n=int(fit.n), events=int(fit.events), ties=fit.ties)
