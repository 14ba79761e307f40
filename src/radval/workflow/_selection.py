"""Feature selection on the development cohort, per feature family."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import jsonable
from radval.exceptions import DataError
from radval.workflow._coding import SCORE_COLUMN
from radval.workflow._cohort import AnalysisData
from radval.workflow._study import StudyConfig

logger = logging.getLogger("radval.pipeline")


def _select_family(family: str, x: pd.DataFrame, y: npt.NDArray[np.int64],
                   reader: pd.DataFrame | None, study: StudyConfig,
                   rng: np.random.Generator, groups: Any = None) -> Any:
    from radval.selection import select_features  # type: ignore[attr-defined]

    cfg = study.selection
    return select_features(x, y, reader_features=reader, icc_threshold=cfg.icc_threshold,
                           icc_type=cfg.icc_type, p_threshold=cfg.p_threshold, fdr=cfg.fdr,
                           corr_threshold=cfg.corr_threshold, lasso_rule=cfg.lasso_rule,
                           n_folds=cfg.n_folds, rng=rng, family=family, groups=groups)


def _records(obj: Any) -> list[dict[str, Any]]:
    if obj is None:
        return []
    if isinstance(obj, pd.DataFrame):
        return jsonable(obj)  # type: ignore[no-any-return]
    if hasattr(obj, "to_frame"):
        return jsonable(obj.to_frame())  # type: ignore[no-any-return]
    return []


def summarise_selection(family: str, res: Any, *, detail: bool = True) -> dict[str, Any]:
    """JSON-safe summary of a :class:`~radval.selection.SelectionResult`."""
    coefs = res.coefficients.copy() if isinstance(res.coefficients, pd.DataFrame) else \
        pd.DataFrame(res.coefficients)
    body = coefs[coefs["feature"] != "(Intercept)"]
    sel = [str(f) for f in res.selected]
    body = body.set_index("feature").reindex(sel).reset_index()
    out: dict[str, Any] = {
        "family": family,
        "selected": sel,
        "intercept": float(res.intercept),
        "coefficients": jsonable(pd.concat([
            pd.DataFrame([{"feature": "(Intercept)", "coef": float(res.intercept),
                           "mean": None, "sd": None}]), body[["feature", "coef", "mean", "sd"]]],
            ignore_index=True)),
        "lambda_used": _f(getattr(res, "lambda_used", None)),
    }
    cv = getattr(res, "cv", None)
    out["lambda_min"] = _f(getattr(cv, "lambda_min", None))
    out["lambda_1se"] = _f(getattr(cv, "lambda_1se", None))
    terms = " + ".join(f"({c:+.6g} * {f})" for f, c in zip(body["feature"], body["coef"],
                                                          strict=True))
    score = SCORE_COLUMN[family].replace("_", "-")
    out["formula"] = f"{score} = {float(res.intercept):.6g}" + (f" + {terms}" if terms else "")
    if detail:
        out["funnel"] = _records(getattr(res, "funnel", None))
        out["features"] = _records(getattr(res, "steps", None))
        icc_tab = getattr(res, "icc_table", None)
        out["icc"] = _records(icc_tab)
        out["lasso_cv"] = _records(cv.to_frame()) if cv is not None and hasattr(
            cv, "to_frame") else []
        path = getattr(res, "lasso_path", None)
        if isinstance(path, pd.DataFrame) and {"feature", "coef"} <= set(path.columns):
            # only features that enter the path somewhere (the rest are 0 throughout)
            active = path.groupby("feature")["coef"].apply(lambda c: bool((c != 0).any()))
            path = path[path["feature"].isin(active[active].index)]
        out["lasso_path"] = _records(path)
        out["warnings"] = jsonable(list(getattr(res, "warnings", []) or []))
    return out


def _f(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def run_selection(study: StudyConfig, data: AnalysisData, *, seed: int | None = None,
                  detail: bool = True, groups: Sequence[str] | None = None
                  ) -> dict[str, dict[str, Any]]:
    """Select features on the development cohort, per family.

    ``groups`` (one label per row of ``data.patients``) keeps the copies of a patient in a
    bootstrap resample in one LASSO cross-validation fold.

    Returns
    -------
    dict
        Family -> :func:`summarise_selection` record.
    """
    from radval._rng import stable_rng

    s = study.seed if seed is None else seed
    dev = data.cohort_mask(study.development)
    y = data.patients["y"].to_numpy()[dev].astype(np.int64)
    if y.min() == y.max():
        raise DataError(f"development cohort {study.development!r} has one outcome class only; "
                        "no signature can be developed")
    out: dict[str, dict[str, Any]] = {}
    for fam, x in data.features.items():
        res = _select_family(fam, x.loc[dev], y, data.reader_features.get(fam), study,
                             stable_rng(s, "selection", fam),
                             None if groups is None else np.asarray(groups, dtype=object)[dev])
        out[fam] = summarise_selection(fam, res, detail=detail)
    return out
