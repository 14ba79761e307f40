"""The workflow's pooling and harmonisation against R (tests/reference/workflow_mi_combat.R).

* The nomogram fitted by the workflow on each completed development data set and pooled
  by Rubin's rules equals R ``glm`` on the same completed data sets pooled by
  ``mice::pool`` (mice 3.15): estimate, within, between, total variance, Barnard-Rubin
  df, riv, lambda, fmi, t statistic, p-value and CI.
* The features the workflow harmonises (development batches A and B with reference A,
  and the external cohort's batch C never seen in development) equal
  ``sva::ComBat(ref.batch = "A")`` run on all patients (sva 3.46): with a reference
  batch and no covariates, a new batch's ComBat parameters depend only on the reference
  and on the new batch itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radval.workflow import load_study, prepare_data, run_selection
from radval.workflow._fitting import _fit, fit_models
from radval.workflow._harmonisation import harmonise_data
from radval.workflow._imputation import pooled_coefficients

REF = Path(__file__).parents[1] / "reference"
FEATURES = [f"radiomics_original_firstorder_F{j}" for j in range(12)]


def make_study(root: Path, tab: pd.DataFrame) -> tuple:
    """Write the study of ``tab`` under ``root``; return (study, harmonised data)."""
    root.mkdir(parents=True, exist_ok=True)
    clin = tab[["patient_id", "cohort", "scanner", "outcome", "age", "size_mm", "grade"]]
    clin.to_csv(root / "clinical.csv", index=False)
    feats = tab[["patient_id", "cohort", *FEATURES]].assign(reader="1")
    feats.to_parquet(root / "features.parquet", index=False)
    doc = {"name": "ref", "outcome": {"column": "outcome"}, "clinical": "clinical.csv",
           "features": "features.parquet",
           "cohorts": [{"name": "dev", "role": "development"},
                       {"name": "ext", "role": "external_validation"}],
           "clinical_predictors": [{"name": "age"}, {"name": "size_mm"},
                                   {"name": "grade", "kind": "categorical"}],
           "selection": {"n_folds": 5},
           "models": {"clinical": False, "nomogram_predictors": ["age", "size_mm", "grade"]},
           "missing_data": {"method": "multiple_imputation", "n_imputations": 5,
                            "max_iter": 5},
           "harmonisation": {"method": "combat", "batch": "scanner", "reference": "A"},
           "seed": 7}
    (root / "study.yaml").write_text(yaml.safe_dump(doc))
    study = load_study(root / "study.yaml")
    data = prepare_data(study, pd.read_parquet(root / "features.parquet"))
    return study, harmonise_data(study, data)


def completed_design(made: tuple) -> pd.DataFrame:
    """The nomogram's design on each completed development set (long: imputation, y, ...)."""
    study, data = made
    sel = run_selection(study, data)
    fm = fit_models(study, data, sel, comparison=False)
    dev = data.cohort_mask(study.development)
    inputs, _fit_pooled = fm.logistic["nomogram"]
    feats = {k: v.loc[dev] for k, v in data.features.items()}
    rows = []
    for j, c in enumerate(fm.completed):
        fr = fm.frame(c.loc[dev], feats)[inputs]
        rows.append(fr.assign(imputation=j + 1, y=c.loc[dev, "y"].to_numpy())
                    .reset_index(drop=True))
    out = pd.concat(rows, ignore_index=True)
    return out[["imputation", "y", *inputs]]


@pytest.fixture(scope="module")
def r_ref() -> dict:
    return json.loads((REF / "workflow_mi_combat.json").read_text())


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    tab = pd.read_csv(REF / "workflow_mi_combat_study.csv", dtype={"patient_id": str})
    return make_study(tmp_path_factory.mktemp("ref"), tab)


def test_workflow_reproduces_the_completed_data_sets_given_to_R(made: tuple) -> None:
    # the R input is what the workflow makes of the study (deterministic for the seed)
    stored = pd.read_csv(REF / "workflow_mi_completed.csv")
    again = completed_design(made)
    assert list(again.columns) == list(stored.columns)
    np.testing.assert_allclose(again.to_numpy(dtype=float), stored.to_numpy(dtype=float),
                               rtol=1e-12, atol=1e-12)
    # and the pooled nomogram of fit_models is the Rubin pooling of these fits
    study, data = made
    fm = fit_models(study, data, run_selection(study, data), comparison=False)
    inputs, pooled = fm.logistic["nomogram"]
    q = np.vstack([f.coef for f in fm.imputed["nomogram"]])
    np.testing.assert_allclose(pooled.coef, q.mean(axis=0), rtol=1e-14)
    u = np.mean([f.cov for f in fm.imputed["nomogram"]], axis=0)
    b = np.cov(q, rowvar=False, ddof=1)
    np.testing.assert_allclose(pooled.cov, u + (1 + 1 / q.shape[0]) * b, rtol=1e-12)


PAIRS = {"estimate": "estimate", "within": "ubar", "between": "b", "total": "t",
         "dfcom": "dfcom", "df": "df", "riv": "riv", "lambda_": "lambda", "fmi": "fmi",
         "se": "std.error", "statistic": "statistic", "p_value": "p.value",
         "ci_low": "conf.low", "ci_high": "conf.high"}


def _compare(ours: pd.DataFrame, r_ref: dict, names: list[str], rtol: dict[str, float]
             ) -> None:
    ref = pd.DataFrame(r_ref["pool"]).set_index("term")
    ref.index = ["(Intercept)", *names]
    for mine, theirs in PAIRS.items():
        np.testing.assert_allclose(ours[mine].to_numpy(dtype=float),
                                   ref.loc[ours.index, theirs].to_numpy(dtype=float),
                                   rtol=rtol.get(mine, 1e-9), err_msg=mine)


def test_pooling_of_R_fits_matches_R_mice_pool(r_ref: dict) -> None:
    # the workflow's pooling (covariance matrices in, complete-data df n - p) on R's own
    # per-imputation glm fits: every mice quantity to 1e-9
    from types import SimpleNamespace

    comp = pd.read_csv(REF / "workflow_mi_completed.csv")
    names = [c for c in comp.columns if c not in ("imputation", "y")]
    fits = [SimpleNamespace(coef=np.asarray(f["coef"], dtype=float),
                            cov=np.asarray(f["vcov"], dtype=float), n=int(f["n"]),
                            names=["(Intercept)", *names]) for f in r_ref["fits"].values()]
    ours = pooled_coefficients("nomogram", fits).set_index("term")
    _compare(ours, r_ref, names, {})


def test_pooled_nomogram_matches_R_mice_pool(r_ref: dict) -> None:
    # end to end: radval's fits on the completed sets, pooled.  Estimates to 1e-9; the
    # variances to 1e-6, because R's glm reports the covariance at the IRLS weights of
    # the last-but-one iterate (radval's fit_logistic at the final one; 8e-8 apart here)
    comp = pd.read_csv(REF / "workflow_mi_completed.csv")
    names = [c for c in comp.columns if c not in ("imputation", "y")]
    fits = [_fit(g[names].to_numpy(dtype=float), g["y"].to_numpy(dtype=np.int64),
                 names=names) for _j, g in comp.groupby("imputation", sort=True)]
    ours = pooled_coefficients("nomogram", fits).set_index("term")
    loose = {k: 1e-6 for k in PAIRS if k not in ("estimate", "dfcom")}
    _compare(ours, r_ref, names, loose)


def test_workflow_harmonisation_matches_R_sva(made: tuple, r_ref: dict) -> None:
    _study, data = made
    got = data.features["radiomics"]
    ref = pd.DataFrame(r_ref["combat"], columns=FEATURES)
    ref.index = pd.Index(r_ref["combat_patient_id"], name="patient_id")
    np.testing.assert_allclose(got.loc[ref.index].to_numpy(), ref.to_numpy(), rtol=1e-8,
                               atol=1e-10)
    # the reference batch is unchanged; batch C (external) was never seen in development
    raw = data.harmonisation.raw["radiomics"]
    a = data.harmonisation.batch == "A"
    np.testing.assert_array_equal(got[a.to_numpy()].to_numpy(), raw[a.to_numpy()].to_numpy())
    rec = {(r["cohort"], r["batch"]): r["in_development"]
           for r in data.harmonisation.record["batches"]}
    assert rec == {("dev", "A"): True, ("dev", "B"): True, ("ext", "C"): False}
