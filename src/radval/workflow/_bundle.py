"""The frozen signature bundle written after fitting."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from radval.workflow._coding import SCORE_COLUMN
from radval.workflow._cohort import AnalysisData
from radval.workflow._fitting import FittedModels
from radval.workflow._study import StudyConfig

logger = logging.getLogger("radval.pipeline")


def write_signature_bundle(study: StudyConfig, data: AnalysisData, fm: FittedModels,
                           out_dir: Path, *, survival: dict[str, Any] | None = None
                           ) -> dict[str, Any]:
    """Freeze the fitted signature into ``out_dir/bundle`` (:mod:`radval.models.bundle`).

    ``survival`` is the frozen Cox model of the time-to-event endpoint
    (:func:`radval.workflow._survival.fit_study_survival_model`), written as
    ``signature.json`` key ``survival``.

    Returns the ``bundle`` record of ``models.json`` / ``results.json``: its path relative
    to ``out_dir`` and its kind.
    """
    from radval import __version__
    from radval.models.signature import (
        SCHEMA_VERSION,
        LinearScore,
        LogisticModel,
        Signature,
        development_summary_from,
    )
    from radval.workflow._harmonisation import bundle_spec
    from radval.workflow._imputation import deployment_spec

    scores = {}
    for fam, sel in fm.selection.items():
        rows = [r for r in sel["coefficients"] if r["feature"] != "(Intercept)"]
        scores[SCORE_COLUMN[fam]] = LinearScore(
            name=SCORE_COLUMN[fam], features=[r["feature"] for r in rows],
            intercept=sel["intercept"], coef=[r["coef"] for r in rows],
            means=[r["mean"] if r["mean"] is not None else math.nan for r in rows],
            sds=[r["sd"] if r["sd"] is not None else math.nan for r in rows])
    if "combined" in fm.logistic:
        inputs, fit = fm.logistic["combined"]
        combined = LogisticModel(name="combined", inputs=inputs, intercept=fit.intercept,
                                 coef=fit.slopes.tolist())
        sig_name = "combined"
    else:
        combined = LogisticModel(name="combined", inputs=[fm.signature_input], intercept=0.0,
                                 coef=[1.0])
        sig_name = next(iter(fm.selection))
    extra_models = {name: LogisticModel(name=name, inputs=inp, intercept=fit.intercept,
                                        coef=fit.slopes.tolist())
                    for name, (inp, fit) in fm.logistic.items() if name != "combined"}
    dev = data.cohort_mask(study.development)
    feats_dev = pd.concat([v.loc[dev] for v in data.features.values()], axis=1)
    feats_dev.index = feats_dev.index.astype(str)
    selected = [f for s in fm.selection.values() for f in s["selected"]]
    _s, prob = fm.predict(data.patients.loc[dev],
                          {k: v.loc[dev] for k, v in data.features.items()})[sig_name]
    summary = development_summary_from(feats_dev.reset_index(), selected, prob,
                                       y_true=data.patients.loc[dev, "y"].to_numpy())
    predictors = [{"name": p.name, "kind": p.kind, "timing": p.timing}
                  for p in study.clinical_predictors]
    rad = data.extraction.get("radiomics")
    deep = data.extraction.get("deep")
    sig = Signature(
        schema_version=SCHEMA_VERSION, radval_version=__version__,
        outcome={"name": study.outcome.column, "positive_label": study.outcome.positive_label,
                 # the development cohort's other level: a site's column is checked against
                 # both labels (radval.io.coding.code_outcome)
                 "negative_label": data.outcome_labels.get("negative"),
                 "definition": study.outcome.definition},
        intended_use=study.question or f"predict {study.outcome.column}",
        population=f"development cohort {study.development}",
        prediction_moment=study.prediction_moment, predictors=predictors,
        radiomics={"params_yaml": rad.get("params_yaml", ""),
                   "params_sha256": rad.get("params_sha256", "")} if rad else None,
        deep={"config": deep.get("config", {}), "weights_file": None,
              "weights_sha256": None} if deep else None,
        scores=scores, combined=combined, cutoff=fm.cutoffs[sig_name],
        development_summary=summary, models=extra_models,
        extra={"cutoffs": fm.cutoffs, "designs": {k: v.to_dict() for k, v in
                                                  fm.designs.items()},
               "signature_model": sig_name,
               "model_inputs": {
                   "rad_score": "scores['rad_score'] (Signature.predict column rad_score)",
                   "dl_score": "scores['dl_score'] (Signature.predict column dl_score)",
                   "signature": "linear predictor of the combined model "
                                "(Signature.predict column linear_predictor)",
                   "<predictor>[<level>]": "1 if the categorical predictor equals <level>, "
                                           "else 0 (first sorted level = reference)",
                   "<predictor>": "numeric clinical predictor as recorded"},
               "lambda_used": {f: s.get("lambda_used") for f, s in fm.selection.items()}},
        survival=survival,
        # frozen ComBat and the deployment imputer (radval.workflow._harmonisation,
        # radval.workflow._imputation); None when the study uses neither
        harmonisation=bundle_spec(data), imputation=deployment_spec(study, data, fm))
    from radval.models.bundle import write_bundle

    weights = Path(deep["weights_path"]) if deep and deep.get("weights_path") else None
    path = write_bundle(out_dir / "bundle", sig, deep_weights=weights)
    return {"path": str(Path(path).relative_to(out_dir)), "kind": "bundle"}
