"""Multiple imputation and ComBat harmonisation inside the development workflow.

A synthetic two-scanner features table (no image extraction): the patient flow keeps
patients with missing predictors, the models are pooled and the predictions averaged,
harmonisation comes before selection, both are repeated inside every optimism resample
(bootstrap, then impute / harmonise), the guards raise clear errors, and a run is
deterministic and the same with 1 or 2 workers.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from radval.exceptions import ConfigError, DataError, HarmonizationWarning
from radval.workflow import fit_models, load_study, prepare_data, run_selection, run_study
from radval.workflow._harmonisation import harmonise_data, resample_features
from tests._helpers import strip_created

FEATS = [f"radiomics_original_firstorder_F{j}" for j in range(10)]


def _table(seed: int = 5, n_dev: int = 90) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows, feats = [], []
    for cohort, n, prev in (("dev", n_dev, 0.35), ("val", 40, 0.3), ("ext", 30, 0.3)):
        for i in range(n):
            pid = f"{cohort}_{i:03d}"
            y = int(rng.random() < prev)
            scanner = ("A" if i % 2 else "B") if cohort != "ext" else "C"
            rows.append({"patient_id": pid, "cohort": cohort, "scanner": scanner,
                         "age": float(rng.integers(40, 85)),
                         "size_mm": float(np.round(rng.uniform(8, 40) + 6 * y, 1)),
                         "grade": str(rng.choice(["G1", "G2", "G3"])), "outcome": y})
            f = rng.normal(size=len(FEATS))
            f[:3] += 1.2 * y
            f = f * {"A": 1.0, "B": 1.7, "C": 0.6}[scanner] + {"A": 0, "B": 1.5, "C": -1}[scanner]
            feats.append({"patient_id": pid, "reader": "1", "cohort": cohort,
                          **dict(zip(FEATS, f, strict=True))})
            if cohort == "dev" and i < 12:
                feats.append({"patient_id": pid, "reader": "2", "cohort": cohort,
                              **dict(zip(FEATS, f + rng.normal(scale=0.05, size=f.size),
                                         strict=True))})
    clin = pd.DataFrame(rows)
    clin.loc[rng.random(len(clin)) < 0.2, "size_mm"] = np.nan
    clin.loc[rng.random(len(clin)) < 0.1, "grade"] = None
    return clin, pd.DataFrame(feats)


def _write(root: Path, clin: pd.DataFrame, feats: pd.DataFrame, **over: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    clin.to_csv(root / "clinical.csv", index=False)
    feats.to_parquet(root / "features.parquet", index=False)
    doc: dict[str, Any] = {
        "name": "mi", "outcome": {"column": "outcome"}, "clinical": "clinical.csv",
        "features": "features.parquet",
        "cohorts": [{"name": "dev", "role": "development"},
                    {"name": "val", "role": "internal_validation"},
                    {"name": "ext", "role": "external_validation"}],
        "clinical_predictors": [{"name": "age"}, {"name": "size_mm"},
                                {"name": "grade", "kind": "categorical"}],
        "selection": {"n_folds": 5}, "models": {"comparison": ["logistic"]},
        "evaluation": {"bootstrap_ci": 20, "optimism": 3},
        "missing_data": {"method": "multiple_imputation", "n_imputations": 4, "max_iter": 4},
        "harmonisation": {"method": "combat", "batch": "scanner", "reference": "A"},
        "seed": 13}
    for k, v in over.items():
        doc[k] = v
    (root / "study.yaml").write_text(yaml.safe_dump(doc))
    return root / "study.yaml"


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    clin, feats = _table()
    return _write(tmp_path, clin, feats)


def _data(path: Path) -> tuple[Any, Any]:
    study = load_study(path)
    feats = pd.read_parquet(path.parent / "features.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HarmonizationWarning)
        data = harmonise_data(study, prepare_data(study, feats))
    return study, data


# ------------------------------------------------------------------------ patient flow
def test_patients_missing_a_predictor_are_kept_not_excluded(tmp_path: Path) -> None:
    clin, feats = _table()
    clin.loc[clin.patient_id == "dev_004", "outcome"] = np.nan    # never imputed
    feats = feats[feats.patient_id != "val_002"]                   # images not imputed
    mi = load_study(_write(tmp_path / "mi", clin, feats))
    cc = load_study(_write(tmp_path / "cc", clin, feats, missing_data={
        "method": "complete_case"}))
    d_mi = prepare_data(mi, feats)
    d_cc = prepare_data(cc, feats)
    flow = pd.DataFrame(d_mi.flow)
    assert "missing_clinical" not in set(flow.stage)
    dev = flow[flow.cohort == "dev"].set_index("stage")["n"]
    analysed = clin[(clin.cohort == "dev") & clin.outcome.notna()]
    n_missing = int(analysed[["age", "size_mm", "grade"]].isna().any(axis=1).sum())
    assert dev["missing_outcome"] == 1
    assert dev["imputed"] == n_missing > 0
    assert dev["analysed"] == len(analysed)
    assert flow.set_index(["cohort", "stage"]).loc[("val", "no_features"), "n"] == 1
    # complete-case analysis of the same data excludes exactly those patients
    fc = pd.DataFrame(d_cc.flow).set_index(["cohort", "stage"])["n"]
    assert fc[("dev", "missing_clinical")] == n_missing
    assert fc[("dev", "analysed")] == len(analysed) - n_missing
    # "imputed" is not an exclusion in the cohorts table
    from radval.workflow._assemble import cohort_rows

    rows = {r["name"]: r for r in cohort_rows(mi, d_mi)}
    assert rows["dev"]["n_excluded"] == 1 and rows["dev"]["n"] == len(analysed)


@pytest.mark.parametrize("method", ["multiple_imputation", "complete_case"])
def test_a_predictor_missing_for_everyone_is_an_error(tmp_path: Path, method: str) -> None:
    clin, feats = _table()
    clin.loc[clin.cohort == "dev", "size_mm"] = np.nan
    study = load_study(_write(tmp_path, clin, feats, missing_data={"method": method}))
    with pytest.raises(DataError, match=r"\['size_mm'\] are missing for every patient"):
        prepare_data(study, feats)


# ------------------------------------------------------------------------- modelling
def test_models_pooled_and_predictions_averaged_over_imputations(study_file: Path) -> None:
    from radval.models.logistic import expit

    study, data = _data(study_file)
    sel = run_selection(study, data)
    fm = fit_models(study, data, sel, comparison=False)
    m = study.missing_data.n_imputations
    assert fm.completed is not None and len(fm.completed) == m
    assert len(fm.imputed["nomogram"]) == m and len(fm.imputed["clinical"]) == m
    names = ["age", "size_mm", "grade"]
    miss = data.patients[names].isna()
    for c in fm.completed:
        assert not c[names].isna().to_numpy().any()
        # observed values are never changed
        for v in ("age", "size_mm"):
            obs = ~miss[v]
            np.testing.assert_array_equal(c.loc[obs, v].astype(float),
                                          data.patients.loc[obs, v].astype(float))
    # the imputations differ where something was missing
    assert fm.completed[0].loc[miss["size_mm"], "size_mm"].to_numpy().tolist() != \
        fm.completed[1].loc[miss["size_mm"], "size_mm"].to_numpy().tolist()
    pred = fm.predict(data.patients, data.features, completed=fm.completed)
    inputs, pooled = fm.logistic["nomogram"]
    by_hand = np.mean([f.linear_predictor(fm.frame(c, data.features)[inputs].to_numpy())
                       for f, c in zip(fm.imputed["nomogram"], fm.completed, strict=True)],
                      axis=0)
    np.testing.assert_allclose(pred["nomogram"][0], by_hand, rtol=1e-12)
    np.testing.assert_allclose(pred["nomogram"][1], expit(by_hand), rtol=1e-12)
    # a patient with complete predictors gets the pooled (frozen) model's prediction
    complete = ~miss.any(axis=1).to_numpy()
    frozen = pooled.linear_predictor(fm.frame(data.patients, data.features)[inputs].to_numpy())
    np.testing.assert_allclose(pred["nomogram"][0][complete], frozen[complete], rtol=1e-10)
    assert not np.allclose(pred["nomogram"][0][~complete], frozen[~complete])


def test_selection_sees_harmonised_features(study_file: Path) -> None:
    study, data = _data(study_file)
    sel = run_selection(study, data)["radiomics"]
    dev = data.cohort_mask("dev")
    harm = data.features["radiomics"].loc[dev]
    raw = data.harmonisation.raw["radiomics"].loc[dev]
    rows = [r for r in sel["coefficients"] if r["feature"] != "(Intercept)"]
    assert rows
    for r in rows:
        assert r["mean"] == pytest.approx(harm[r["feature"]].mean(), rel=1e-9)
        assert r["mean"] != pytest.approx(raw[r["feature"]].mean(), rel=1e-3)


def test_resample_refits_combat_on_the_bootstrap_sample(study_file: Path) -> None:
    from radval.harmonize import ComBat

    study, data = _data(study_file)
    dev = data.subset(data.cohort_mask("dev"))
    idx = np.sort(np.random.default_rng(3).integers(0, len(dev.patients),
                                                    size=len(dev.patients)))
    test, _readers = resample_features(dev, dict(dev.features), dict(dev.reader_features),
                                       idx, set())
    raw = dev.harmonisation.raw["radiomics"].loc[dev.patients.index]
    b = dev.harmonisation.batch.loc[dev.patients.index].to_numpy()
    want = ComBat(reference_batch="A").fit(raw.iloc[idx], b[idx]).transform(raw, b)
    np.testing.assert_allclose(test["radiomics"].to_numpy(), want.to_numpy(), rtol=1e-12)
    # not the development harmonisation: the resample's own
    assert not np.allclose(test["radiomics"].to_numpy(), dev.features["radiomics"].to_numpy())


def test_optimism_resamples_impute_and_harmonise_again(study_file: Path,
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    from radval.harmonize import ComBat
    from radval.impute import ChainedImputer

    fits: list[pd.Index] = []
    combats: list[int] = []
    orig_fit, orig_cb = ChainedImputer.fit, ComBat.fit

    def spy_fit(self: Any, frame: pd.DataFrame, **kw: Any) -> Any:
        fits.append(frame.index)
        return orig_fit(self, frame, **kw)

    def spy_cb(self: Any, features: Any, batch: Any, covariates: Any = None) -> Any:
        combats.append(len(features))
        return orig_cb(self, features, batch, covariates)

    monkeypatch.setattr(ChainedImputer, "fit", spy_fit)
    monkeypatch.setattr(ComBat, "fit", spy_cb)
    study = load_study(study_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_study(study, study_file.parent / "out", jobs=1)
    res = json.loads((study_file.parent / "out" / "results.json").read_text())
    # resamples: imputed on the bootstrap rows (patient#copy labels), never the originals
    boot = [ix for ix in fits if str(ix[0]).count("#") == 1]
    assert len(boot) == study.evaluation.optimism
    n_dev = res["cohorts"][0]["n"]
    assert all(len(ix) == n_dev for ix in boot)
    assert all(len(set(ix)) == n_dev for ix in boot)  # unique labels per copy
    # ComBat: once for development, once per resample (plus none for the sites)
    assert combats.count(n_dev) >= 1 + study.evaluation.optimism
    refitted = " ".join(res["internal_validation"]["refitted"])
    assert "ComBat harmonisation" in refitted and "multiple imputation" in refitted


# --------------------------------------------------------------------------- guards
def _expect(tmp_path: Path, exc: type[Exception], match: str, edit: Any = None,
            **over: Any) -> None:
    clin, feats = _table()
    if edit is not None:
        edit(clin)
    study = load_study(_write(tmp_path, clin, feats, **over))
    with pytest.raises(exc, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", HarmonizationWarning)
        harmonise_data(study, prepare_data(study, feats))


def test_batch_column_that_does_not_exist(tmp_path: Path) -> None:
    _expect(tmp_path, ConfigError, "column 'site' is in neither the clinical table",
            harmonisation={"method": "combat", "batch": "site"})


def test_batch_with_one_patient(tmp_path: Path) -> None:
    def edit(c: pd.DataFrame) -> None:
        c.loc[c.patient_id == "dev_000", "scanner"] = "Z"
    _expect(tmp_path, DataError, r"\['Z'\].*single patient", edit)


def test_covariate_constant_within_a_batch(tmp_path: Path) -> None:
    def edit(c: pd.DataFrame) -> None:
        c["sex"] = np.where(c.index % 3 == 0, "F", "M")
        c.loc[c.scanner == "B", "sex"] = "M"
    _expect(tmp_path, DataError, "'sex' is constant within batch 'B'", edit,
            harmonisation={"method": "combat", "batch": "scanner", "covariates": ["sex"]})


def test_covariate_missing_and_reference_unknown_and_one_batch(tmp_path: Path) -> None:
    def edit(c: pd.DataFrame) -> None:
        c["sex"] = np.where(c.index % 2 == 0, "F", "M")
        c.loc[5, "sex"] = None
    _expect(tmp_path / "a", DataError, "miss a covariate", edit,
            harmonisation={"method": "combat", "batch": "scanner", "covariates": ["sex"]})
    _expect(tmp_path / "b", ConfigError, "'Q' is not a batch of the development cohort",
            harmonisation={"method": "combat", "batch": "scanner", "reference": "Q"})

    def one(c: pd.DataFrame) -> None:
        c.loc[c.cohort == "dev", "scanner"] = "A"
    _expect(tmp_path / "c", DataError, "has one batch", one)
    with pytest.raises(ConfigError, match="outcome column 'outcome' cannot be a ComBat"):
        _write(tmp_path / "d", *_table(), harmonisation={
            "method": "combat", "batch": "scanner", "covariates": ["outcome"]})
        load_study(tmp_path / "d" / "study.yaml")


def test_batch_outcome_association_is_flagged_with_its_statistic(tmp_path: Path) -> None:
    clin, feats = _table(n_dev=120)
    dev = clin.cohort == "dev"
    clin.loc[dev, "scanner"] = np.where(clin.loc[dev, "outcome"] == 1, "A", "B")
    clin.loc[dev & (clin.index % 7 == 0), "scanner"] = "A"
    study = load_study(_write(tmp_path, clin, feats))
    with pytest.warns(HarmonizationWarning, match="batch .scanner. and outcome are associated"):
        data = harmonise_data(study, prepare_data(study, feats))
    flag = next(w for w in data.warnings if w["code"] == "BATCH_OUTCOME_ASSOCIATION")
    assert flag["context"]["p_value"] < 0.05 and flag["context"]["statistic"] > 10
    assert data.harmonisation.record["batch_outcome"]["associated"] is True


# ------------------------------------------------------------------- whole run
def test_run_records_everything_and_is_the_same_with_one_or_two_workers(
        study_file: Path) -> None:
    study = load_study(study_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_study(study, study_file.parent / "out1", jobs=1)
        run_study(study, study_file.parent / "out2", jobs=2)
        # step by step: `radval evaluate` recovers the completed data sets of `radval fit`
        from radval.workflow import run_evaluate, run_fit, run_select

        out3 = study_file.parent / "out3"
        run_select(study, out3, jobs=1)
        run_fit(study, out3, jobs=1)
        run_evaluate(study, out3, jobs=2)
    a = json.loads((study_file.parent / "out1" / "results.json").read_text())
    b = json.loads((study_file.parent / "out2" / "results.json").read_text())
    c = json.loads((out3 / "results.json").read_text())
    assert strip_created(a) == strip_created(b) == strip_created(c)
    md = a["missing_data"]
    assert md["method"] == "multiple_imputation" and md["n_imputations"] == 4
    assert set(md["imputed_variables"]) == {"size_mm", "grade"}
    assert md["imputation_methods"]["grade"] == "polyreg"
    assert {r["model"] for r in md["pooled_coefficients"]} == {"clinical", "nomogram"}
    perf = pd.DataFrame(md["pooled_performance"])
    assert set(perf.metric) == {"auc", "calibration_intercept", "calibration_slope"}
    assert set(perf.cohort) == {"dev", "val", "ext"}
    tab = pd.DataFrame(md["table"]).set_index(["cohort", "variable"])
    clin = pd.read_csv(study_file.parent / "clinical.csv")
    assert tab.loc[("dev", "size_mm"), "n_missing"] == clin[clin.cohort == "dev"].size_mm \
        .isna().sum()
    assert md["deployment"]["fitted_without_outcome"] is True
    hm = a["harmonisation"]
    sep = {(r["scope"], r["stage"]): r["auc"] for r in hm["separability"]}
    assert sep[("development", "before")] > 0.9 > 0.6 > sep[("development", "after")]
    assert sep[("all_cohorts", "before")] > 0.9 > 0.6 > sep[("all_cohorts", "after")]
    assert "imputation" in a["methods"]["missing_data"]
    assert "ComBat" in a["methods"]["harmonisation"]
    # the bundle carries the frozen ComBat and the deployment imputer; its models are the
    # pooled ones
    sig = json.loads((study_file.parent / "out1" / "bundle" / "signature.json").read_text())
    assert sig["harmonisation"]["combat"]["batches"] == ["A", "B"]
    assert sig["imputation"]["imputer"]["format"] == "radval.impute.DeploymentImputer"
    pooled = {r["term"]: r["estimate"] for r in md["pooled_coefficients"]
              if r["model"] == "nomogram"}
    assert sig["models"]["nomogram"]["intercept"] == pytest.approx(pooled["(Intercept)"])
    for f in ("missing_data", "pooled_coefficients", "pooled_performance",
              "batch_separability", "missing_patterns"):
        assert (study_file.parent / "out1" / "tables" / f"{f}.csv").is_file()


def test_complete_development_and_incomplete_validation(tmp_path: Path) -> None:
    # the chains fitted on a complete development cohort complete the validation
    # cohorts; a model fitted without imputation is applied to every completed version
    from radval.workflow import predictions_table

    clin, feats = _table()
    ref = _table()[0]
    dev = clin.cohort == "dev"
    clin.loc[dev, ["size_mm", "grade"]] = ref.loc[dev, ["size_mm", "grade"]]
    clin.loc[dev, "size_mm"] = clin.loc[dev, "size_mm"].fillna(20.0)
    clin.loc[dev, "grade"] = clin.loc[dev, "grade"].fillna("G2")
    study, data = _data(_write(tmp_path, clin, feats))
    assert not data.patients.loc[data.cohort_mask("dev"), ["size_mm", "grade"]].isna() \
        .to_numpy().any()
    fm = fit_models(study, data, run_selection(study, data), comparison=False)
    assert fm.completed is not None
    data.completed = fm.completed
    preds = predictions_table(study, data, fm)
    assert np.isfinite(preds["probability"]).all()
    # in development the m fits are identical (nothing imputed there)
    q = np.vstack([f.coef for f in fm.imputed["nomogram"]])
    np.testing.assert_allclose(q, np.broadcast_to(q[0], q.shape), rtol=1e-12)
    # a single fit tested on completed versions averages over them
    single = fit_models(study, data.subset(data.cohort_mask("dev")),
                        run_selection(study, data), comparison=False)
    val = data.subset(data.cohort_mask("val"))
    out = single.predict(val.patients, val.features, completed=val.completed)
    assert np.isfinite(out["nomogram"][1]).all()
