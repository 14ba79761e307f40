"""Model fitting on the development cohort and prediction."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import jsonable
from radval.exceptions import RadvalWarning
from radval.models.guards import (
    check_predictor_timing,
)
from radval.models.logistic import DesignSpec, LogisticFit, expit, fit_logistic
from radval.workflow._coding import FAMILIES, LABELS, SCORE_COLUMN
from radval.workflow._cohort import AnalysisData
from radval.workflow._study import StudyConfig

logger = logging.getLogger("radval.pipeline")


@dataclass
class FittedModels:
    """Every fitted model and how to apply it.

    Attributes
    ----------
    selection : dict
        Family -> selection summary (selected features, coefficients).
    designs : dict
        ``"clinical"`` / ``"nomogram"`` -> :class:`DesignSpec`.
    logistic : dict
        Model name -> (inputs, :class:`LogisticFit`).
    classifiers : dict
        Comparison model name -> fitted scikit-learn pipeline (memory only).
    signature_input : str
        Column holding the signature's linear predictor.
    cutoffs : dict
        Model -> frozen probability cutoff.
    imputed : dict
        With multiple imputation: model -> its fit on each completed data set
        (``logistic`` then holds the fit pooled by Rubin's rules).
    completed : list of DataFrame or None
        The completed data sets of the patients the models were fitted with
        (:func:`radval.workflow._imputation.impute_patients`).
    imputation : dict
        How the imputation was done (methods, variables).
    """

    selection: dict[str, dict[str, Any]]
    designs: dict[str, DesignSpec] = field(default_factory=dict)
    logistic: dict[str, tuple[list[str], LogisticFit]] = field(default_factory=dict)
    classifiers: dict[str, Any] = field(default_factory=dict)
    signature_input: str = "rad_score"
    cutoffs: dict[str, float] = field(default_factory=dict)
    flags: list[dict[str, Any]] = field(default_factory=list)
    imputed: dict[str, list[LogisticFit]] = field(default_factory=dict)
    completed: list[pd.DataFrame] | None = field(default=None, repr=False)
    imputation: dict[str, Any] = field(default_factory=dict)

    @property
    def model_names(self) -> list[str]:
        """Models in presentation order."""
        names = [f for f in FAMILIES if f in self.selection]
        names += [m for m in ("combined", "clinical", "nomogram") if m in self.logistic]
        names += list(self.classifiers)
        return names

    def frame(self, patients: pd.DataFrame, features: Mapping[str, pd.DataFrame]
              ) -> pd.DataFrame:
        """Scores and design columns for ``patients`` (index aligned)."""
        cols: dict[str, Any] = {}
        for fam, sel in self.selection.items():
            coef = {r["feature"]: r["coef"] for r in sel["coefficients"]
                    if r["feature"] != "(Intercept)"}
            feats = sel["selected"]
            x = features[fam].loc[:, feats].to_numpy(dtype=float) if feats else \
                np.empty((len(patients), 0))
            cols[SCORE_COLUMN[fam]] = sel["intercept"] + x @ np.array(
                [coef[f] for f in feats], dtype=float)
        out = pd.DataFrame(cols, index=patients.index)
        for spec in self.designs.values():
            d = spec.transform(patients)
            for c in d.columns:
                if c not in out.columns:
                    out[c] = d[c].to_numpy()
        if "combined" in self.logistic:
            inputs, fit = self.logistic["combined"]
            out["signature"] = fit.linear_predictor(out[inputs].to_numpy(dtype=float))
        return out

    def completed_frames(self, frame: pd.DataFrame, completed: Sequence[pd.DataFrame]
                         ) -> list[pd.DataFrame]:
        """:meth:`frame` for each completed version of the patients, from ``frame`` (the
        scores and the signature do not depend on the clinical predictors: only the design
        columns are replaced)."""
        preds: list[tuple[str, str]] = []
        levels: dict[str, list[str]] = {}
        for spec in self.designs.values():  # one design of every model's predictors
            preds += [p for p in spec.predictors if p not in preds]
            levels.update(spec.levels)
        merged = DesignSpec(predictors=preds, levels=levels)
        out = []
        for c in completed:
            fr = frame.copy()
            d = merged.transform(c)
            for col in d.columns:
                fr[col] = d[col].to_numpy()
            out.append(fr)
        return out

    def predict(self, patients: pd.DataFrame, features: Mapping[str, pd.DataFrame], *,
                completed: Sequence[pd.DataFrame] | None = None
                ) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        """Model -> (score, probability) for ``patients``.

        With multiple imputation, ``completed`` holds the completed versions of
        ``patients`` (same index): a model fitted on every completed data set predicts
        with the fit of set ``j`` on completed version ``j``, and the score is the average
        of these linear predictors (:mod:`radval.workflow._imputation`).  Without it, the
        pooled fit is applied to ``patients`` as they are.
        """
        fr = self.frame(patients, features)
        # a resample without missing values has one fit, still applied to every
        # completed version of the patients it is tested on
        frames = self.completed_frames(fr, completed) if completed is not None else []
        out: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}
        for fam in self.selection:
            s = fr[SCORE_COLUMN[fam]].to_numpy(dtype=float)
            out[fam] = (s, expit(s))
        for name, (inputs, fit) in self.logistic.items():
            fits = self.imputed.get(name) or [fit] * len(frames)
            if frames:
                lp = np.mean([f.linear_predictor(c[inputs].to_numpy(dtype=float))
                              for f, c in zip(fits, frames, strict=True)], axis=0)
            else:
                lp = fit.linear_predictor(fr[inputs].to_numpy(dtype=float))
            out[name] = (lp, expit(lp))
        if self.classifiers:
            x = _selected_matrix(self.selection, features)
            for name, model in self.classifiers.items():
                p = np.asarray(model.predict_proba(x)[:, 1], dtype=float)
                out[name] = (p, p)
        return {k: out[k] for k in self.model_names}


def _selected_matrix(selection: Mapping[str, dict[str, Any]],
                     features: Mapping[str, pd.DataFrame]) -> npt.NDArray[np.float64]:
    # family order fixed (not the mapping's): the classifiers see the same columns whether
    # the selection comes from memory or from selection.json
    mats = [features[fam].loc[:, selection[fam]["selected"]].to_numpy(dtype=float)
            for fam in FAMILIES if fam in selection and selection[fam]["selected"]]
    return np.column_stack(mats) if mats else np.empty((0, 0))


def _design(pats: pd.DataFrame, preds: Sequence[Any],
            levels: Mapping[str, DesignSpec] | None, name: str) -> DesignSpec:
    if levels is not None and name in levels:
        return levels[name]
    return DesignSpec.from_frame(pats, [(p.name, p.kind) for p in preds])


def _fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], *,
         names: Sequence[str]) -> LogisticFit:
    """Logistic fit; columns constant in this sample (e.g. a level absent from a
    bootstrap resample) are left out and get coefficient 0 (SE NaN)."""
    x = np.asarray(x, dtype=float)
    keep = np.ptp(x, axis=0) > 0 if x.shape[0] else np.ones(x.shape[1], bool)
    if keep.all():
        return fit_logistic(x, y, names=names)
    sub = fit_logistic(x[:, keep], y, names=[n for n, k in zip(names, keep, strict=True) if k])
    coef = np.zeros(len(names) + 1)
    se = np.full(len(names) + 1, np.nan)
    cov = np.full((len(names) + 1, len(names) + 1), np.nan)
    pos = np.concatenate([[0], 1 + np.flatnonzero(keep)])
    coef[pos] = sub.coef
    se[pos] = sub.se
    cov[np.ix_(pos, pos)] = sub.cov
    return LogisticFit(names=["(Intercept)", *names], coef=coef, se=se, cov=cov,
                       deviance=sub.deviance, null_deviance=sub.null_deviance,
                       loglik=sub.loglik, n=sub.n, events=sub.events, n_iter=sub.n_iter,
                       converged=sub.converged)


def fit_models(study: StudyConfig, data: AnalysisData, selection: dict[str, dict[str, Any]],
               *, comparison: bool = True, cutoffs: bool = True,
               levels: Mapping[str, DesignSpec] | None = None,
               seed: int | None = None) -> FittedModels:
    """Fit every model on the development cohort of ``data``.

    Parameters
    ----------
    study : StudyConfig
    data : AnalysisData
        Only rows of the development cohort are used.
    selection : dict
        From :func:`run_selection`.
    comparison : bool
        Fit the scikit-learn comparison classifiers.
    cutoffs : bool
        Choose the Youden cutoff of each model on the development cohort.
    levels : mapping, optional
        Frozen designs (``"clinical"``, ``"nomogram"`` -> :class:`DesignSpec`), e.g. those
        of the full development cohort inside bootstrap resamples.
    seed : int, optional
        Seed of the multiple imputation (default: derived from the study seed); each
        optimism resample passes its own.

    Notes
    -----
    With ``missing_data: multiple_imputation`` and a missing predictor among the rows
    of ``data``, the models' predictors are imputed ``m`` times (development chains
    with the outcome and the signature, other cohorts completed by them), the clinical
    model and the nomogram fitted on every completed development set and pooled by
    Rubin's rules (:mod:`radval.workflow._imputation`); ``fm.completed`` holds the
    completed versions of ``data.patients``.
    """
    from radval.workflow import _imputation as mi

    dev = data.cohort_mask(study.development)
    pats = data.patients.loc[dev]
    feats = {k: v.loc[dev] for k, v in data.features.items()}
    y = pats["y"].to_numpy(dtype=np.int64)
    fm = FittedModels(selection=selection)
    fr = fm.frame(pats, feats)
    scores = [SCORE_COLUMN[f] for f in FAMILIES if f in selection]
    completed: list[pd.DataFrame] | None = None

    def fit_each(spec: DesignSpec, inputs: list[str], with_scores: bool) -> list[LogisticFit]:
        # one fit per completed development set, pooled by Rubin's rules
        done = [c.loc[dev] for c in completed or []]
        xs = [f[inputs] for f in fm.completed_frames(fm.frame(pats, feats), done)] \
            if with_scores else [spec.transform(cd) for cd in done]
        return [_fit(x.to_numpy(dtype=float), y, names=inputs) for x in xs]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        if study.models.combined and len(scores) >= 2:
            fm.logistic["combined"] = (scores, _fit(fr[scores].to_numpy(), y,
                                                            names=scores))
            fm.signature_input = "signature"
        else:
            fm.signature_input = scores[0]
        if mi.needs_imputation(study, data.patients):
            from radval._rng import stable_rng

            s = seed if seed is not None else int(
                stable_rng(study.seed, "imputation").integers(0, 2**31 - 1))
            aux = fm.frame(data.patients, data.features)[fm.signature_input]
            imputed = mi.impute_patients(study, data.patients, dev, aux, seed=s)
            completed = fm.completed = imputed.completed
            fm.imputation = imputed.record
        if study.models.clinical and study.clinical_model_predictors():
            preds = study.clinical_model_predictors()
            spec = _design(pats, preds, levels, "clinical")
            fm.designs["clinical"] = spec
            if completed is not None:
                fits = fit_each(spec, spec.columns, with_scores=False)
                fm.imputed["clinical"] = fits
                fm.logistic["clinical"] = (spec.columns, mi.pool_fits(fits))
            else:
                xd = spec.transform(pats)
                fm.logistic["clinical"] = (spec.columns, _fit(xd.to_numpy(), y,
                                                              names=spec.columns))
            fm.flags += check_predictor_timing(
                "clinical", [(p.name, p.timing) for p in preds],
                prediction_moment=study.prediction_moment)
        if study.models.nomogram:
            preds = study.nomogram_model_predictors()
            spec = _design(pats, preds, levels, "nomogram")
            fm.designs["nomogram"] = spec
            inputs = [fm.signature_input, *spec.columns]
            if completed is not None:
                fits = fit_each(spec, inputs, with_scores=True)
                fm.imputed["nomogram"] = fits
                fm.logistic["nomogram"] = (inputs, mi.pool_fits(fits))
            else:
                fr = fm.frame(pats, feats)
                fm.logistic["nomogram"] = (inputs, _fit(fr[inputs].to_numpy(), y,
                                                        names=inputs))
            fm.flags += check_predictor_timing(
                "nomogram", [(p.name, p.timing) for p in preds],
                prediction_moment=study.prediction_moment)
    if comparison and study.models.comparison:
        from radval.models.classifiers import fit_classifier

        x = _selected_matrix(selection, feats)
        if x.size:
            for name in study.models.comparison:
                fm.classifiers[name] = fit_classifier(name, x, y, seed=study.seed)
    if cutoffs:
        fm.cutoffs = choose_cutoffs(
            study, fm, pats, feats,
            completed=None if completed is None else [c.loc[dev] for c in completed])
    return fm


def choose_cutoffs(study: StudyConfig, fm: FittedModels, patients: pd.DataFrame,
                   features: Mapping[str, pd.DataFrame], *,
                   completed: Sequence[pd.DataFrame] | None = None) -> dict[str, float]:
    """Youden cutoff of each model's probability on the development cohort (or fixed)."""
    from radval import stats

    y = patients["y"].to_numpy(dtype=np.int64)
    out: dict[str, float] = {}
    for name, (_s, p) in fm.predict(patients, features, completed=completed).items():
        if study.evaluation.cutoff == "youden":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RadvalWarning)
                out[name] = float(stats.youden_threshold(y, p))
        else:
            out[name] = float(study.evaluation.cutoff)
    return out


def predictions_table(study: StudyConfig, data: AnalysisData, fm: FittedModels
                      ) -> pd.DataFrame:
    """``patient_id, cohort, model, score, probability, y_true`` for every cohort x model."""
    rows: list[pd.DataFrame] = []
    pred = fm.predict(data.patients, data.features,
                      completed=data.completed if data.completed is not None else fm.completed)
    for name in fm.model_names:
        score, prob = pred[name]
        rows.append(pd.DataFrame({
            "patient_id": data.patients.index.astype(str), "cohort": data.patients["cohort"],
            "model": name, "score": score, "probability": prob,
            "y_true": data.patients["y"].astype(int).to_numpy()}))
    out = pd.concat(rows, ignore_index=True)
    order = {c.name: i for i, c in enumerate(study.cohorts)}
    morder = {m: i for i, m in enumerate(fm.model_names)}
    out = out.sort_values(["cohort", "model", "patient_id"], kind="mergesort",
                          key=lambda s: s.map(order) if s.name == "cohort" else
                          (s.map(morder) if s.name == "model" else s))
    return out.reset_index(drop=True)


def model_records(study: StudyConfig, fm: FittedModels) -> list[dict[str, Any]]:
    """The ``models`` table of results.json."""
    from radval.models.classifiers import LABELS as CLF_LABELS
    from radval.models.classifiers import classifier_settings

    out: list[dict[str, Any]] = []
    for name in fm.model_names:
        if name in FAMILIES:
            sel = fm.selection[name]
            out.append({"name": name, "label": LABELS[name], "kind": name,
                        "predictors": sel["selected"], "cutoff": fm.cutoffs.get(name),
                        "coefficients": sel["coefficients"], "formula": sel["formula"]})
        elif name in fm.logistic:
            inputs, fit = fm.logistic[name]
            tab = fit.table()
            out.append({"name": name, "label": LABELS[name], "kind": name,
                        "predictors": inputs, "cutoff": fm.cutoffs.get(name),
                        "coefficients": jsonable(tab.rename(columns={"term": "feature"})),
                        "converged": fit.converged})
        else:
            out.append({"name": name, "label": CLF_LABELS.get(name, name), "kind": "sklearn",
                        "predictors": [f for s in fm.selection.values() for f in s["selected"]],
                        "cutoff": fm.cutoffs.get(name), "coefficients": [],
                        "settings": classifier_settings(name, study.seed)})
    return out


def complete_data(study: StudyConfig, data: Any, selection: Mapping[str, Any]) -> None:
    """Set ``data.completed`` (the completed data sets of the main analysis) when
    multiple imputation applies (:mod:`radval.workflow._imputation`).  Deterministic: the
    same as :func:`fit_models` makes, so ``radval evaluate`` recovers what ``radval fit``
    used."""
    from radval.workflow import _imputation as mi

    if data.completed is not None or not mi.needs_imputation(study, data.patients):
        return
    fm = fit_models(study, data, dict(selection), comparison=False, cutoffs=False)
    data.completed = fm.completed
