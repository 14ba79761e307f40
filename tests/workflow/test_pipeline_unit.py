"""The pipeline on a synthetic features table (no image extraction): patient flow, guards,
undefined metrics, models, determinism.  Fast; the image-based end-to-end test is in
test_pipeline_e2e.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radval.workflow import load_study, prepare_data, run_study
from tests._helpers import strip_created


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(42)
    rows, feats = [], []
    plan = [("dev", 90, 0.35), ("val", 50, 0.3), ("oneclass", 12, 0.0)]
    for cohort, n, prev in plan:
        for i in range(n):
            pid = f"{cohort}_{i:03d}"
            y = int(rng.random() < prev)
            size = float(np.round(rng.uniform(8, 40) + 6 * y, 1))
            rows.append({"patient_id": pid, "cohort": cohort, "age": float(rng.integers(40, 85)),
                         "size_mm": size, "grade": str(rng.choice(["G1", "G2", "G3"])),
                         "outcome": y, "time": float(rng.exponential(30) + 1),
                         "event": int(rng.random() < 0.5)})
            f = rng.normal(size=12)
            f[:3] += 1.1 * y
            feats.append({"patient_id": pid, "reader": "1", "cohort": cohort,
                          **{f"radiomics_original_firstorder_F{j}": f[j] for j in range(12)}})
            if cohort == "dev" and i < 20:  # second reader: small perturbation
                feats.append({"patient_id": pid, "reader": "2", "cohort": cohort,
                              **{f"radiomics_original_firstorder_F{j}":
                                 f[j] + rng.normal(scale=0.1) for j in range(12)}})
    clin = pd.DataFrame(rows)
    clin.loc[3, "age"] = np.nan            # missing clinical value -> excluded
    clin.loc[5, "outcome"] = np.nan        # missing outcome -> excluded
    features = pd.DataFrame(feats)
    features = features[features.patient_id != "val_007"]   # no features -> excluded
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    features.to_parquet(tmp_path / "features.parquet", index=False)
    doc = {
        "name": "unit", "outcome": {"column": "outcome"}, "clinical": "clinical.csv",
        "features": "features.parquet",
        "cohorts": [{"name": "dev", "role": "development"},
                    {"name": "val", "role": "external_validation"},
                    {"name": "oneclass", "role": "external_validation"}],
        "clinical_predictors": [{"name": "age", "timing": "pre-operative"},
                                {"name": "size_mm", "timing": "pre-operative"},
                                {"name": "grade", "timing": "post-operative",
                                 "kind": "categorical"}],
        "subgroups": [{"name": "size", "expr": "size_mm < 20"}],
        "selection": {"n_folds": 5},
        "models": {"comparison": ["logistic"]},
        "evaluation": {"bootstrap_ci": 50, "optimism": 4},
        "survival": {"time": "time", "event": "event"},
        "seed": 3,
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_prepare_data_flow_and_missing(study_dir: Path) -> None:
    study = load_study(study_dir / "study.yaml")
    feats = pd.read_parquet(study_dir / "features.parquet")
    data = prepare_data(study, feats)
    flow = pd.DataFrame(data.flow)
    dev = flow[flow.cohort == "dev"].set_index("stage")
    assert dev.loc["clinical_table", "n"] == 90
    assert dev.loc["missing_outcome", "n"] == 1
    assert dev.loc["missing_clinical", "n"] == 1
    assert "age 1" in dev.loc["missing_clinical", "reason"]
    assert dev.loc["analysed", "n"] == 88
    val = flow[flow.cohort == "val"].set_index("stage")
    assert val.loc["no_features", "n"] == 1 and val.loc["analysed", "n"] == 49
    assert (data.patients.groupby("cohort").size().to_dict()
            == {"dev": 88, "val": 49, "oneclass": 12})
    miss = data.missing.set_index(["variable", "cohort"])
    assert miss.loc[("age", "dev"), "missing"] == 1
    assert data.reader_features["radiomics"] is not None
    assert data.reader_features["radiomics"].reader.nunique() == 2
    assert {w["code"] for w in data.warnings} >= {"MISSING_VALUES"}


def test_run_study_synthetic(study_dir: Path) -> None:
    study = load_study(study_dir / "study.yaml")
    res = run_study(study, study_dir / "out", jobs=1, study_file=study_dir / "study.yaml")
    out = json.loads((study_dir / "out" / "results.json").read_text())
    perf = pd.DataFrame(out["performance"])
    oc = perf[(perf.cohort == "oneclass") & (perf.subgroup == "all")]
    assert oc.auc.isna().all() and oc.undefined_reason.str.contains("one outcome class").all()
    codes = [w["code"] for w in out["warnings"]]
    assert "UNDEFINED_METRIC" in codes and "POSTOP_PREDICTOR" in codes
    assert res.summary.loc["radiomics", "oneclass"].startswith("undefined")
    # models: radiomics, clinical (pre-op only), nomogram (all predictors), sklearn logistic
    models = {m["name"]: m for m in out["models"]}
    assert list(models) == ["radiomics", "clinical", "nomogram", "logistic"]
    assert models["clinical"]["predictors"] == ["age", "size_mm"]
    assert models["nomogram"]["predictors"] == ["rad_score", "age", "size_mm", "grade[G2]",
                                                "grade[G3]"]
    # rad-score formula reproduces the predictions
    preds = pd.read_parquet(study_dir / "out" / "predictions.parquet")
    feats = pd.read_parquet(study_dir / "features.parquet")
    feats = feats[feats.reader == "1"].set_index("patient_id")
    coefs = {r["feature"]: r["coef"] for r in out["selection"]["radiomics"]["coefficients"]}
    pr = preds[preds.model == "radiomics"].set_index("patient_id")
    manual = coefs.pop("(Intercept)") + sum(c * feats.loc[pr.index, f] for f, c in coefs.items())
    np.testing.assert_allclose(pr.score, manual, rtol=1e-10)
    # the cutoff of the development cohort is the Youden threshold there, frozen elsewhere
    from radval import stats

    dv = preds[(preds.cohort == "dev") & (preds.model == "radiomics")]
    assert out["cutoffs"]["radiomics"] == pytest.approx(
        stats.youden_threshold(dv.y_true, dv.probability), rel=1e-12)
    # Harrell optimism of the clinical model recomputed by hand with the same resamples
    from radval._rng import stable_rng
    from radval.models.logistic import expit, fit_logistic
    from radval.workflow import performance_indexes

    clin = pd.read_csv(study_dir / "clinical.csv", dtype={"patient_id": str})
    ids = preds[(preds.cohort == "dev") & (preds.model == "clinical")].patient_id
    dev = clin.set_index("patient_id").loc[ids]
    x = dev[["age", "size_mm"]].to_numpy(float)
    y = dev.outcome.to_numpy(int)
    opt = pd.DataFrame(out["optimism"])
    for metric in ("auc", "slope", "intercept", "brier"):
        diffs = []
        for b in range(4):
            r = stable_rng(3, "optimism", str(b))
            idx = np.sort(r.integers(0, y.size, size=y.size))
            fit = fit_logistic(x[idx], y[idx])
            tr = performance_indexes(y[idx], expit(fit.linear_predictor(x[idx])))[metric]
            te = performance_indexes(y, expit(fit.linear_predictor(x)))[metric]
            diffs.append(tr - te)
        got = opt[(opt.model == "clinical") & (opt.metric == metric)].iloc[0]
        assert got.optimism == pytest.approx(float(np.mean(diffs)), rel=1e-9, abs=1e-12)
        assert got.corrected == pytest.approx(got.apparent - got.optimism, rel=1e-12)
    # same inputs and seed -> identical results apart from "created"
    run_study(study, study_dir / "out2", jobs=1, study_file=study_dir / "study.yaml")
    a = json.loads((study_dir / "out" / "results.json").read_text())
    b = json.loads((study_dir / "out2" / "results.json").read_text())
    assert strip_created(a) == strip_created(b)


def test_deep_training_key_tracks_inputs(tmp_path: Path) -> None:
    from radval.workflow._extraction import _deep_training_key

    for name in ("a.nii.gz", "b.nii.gz", "ma.nii.gz", "mb.nii.gz"):
        (tmp_path / name).write_bytes(name.encode())
    rows = pd.DataFrame({"patient_id": ["p1", "p2"], "reader": ["1", "1"],
                         "image_path": [str(tmp_path / "a.nii.gz"), str(tmp_path / "b.nii.gz")],
                         "mask_path": [str(tmp_path / "ma.nii.gz"), str(tmp_path / "mb.nii.gz")],
                         "label": [1, 1]})
    k = _deep_training_key(rows, [0, 1], None, 5)
    assert k == _deep_training_key(rows, np.array([0, 1]), None, 5)
    assert k != _deep_training_key(rows, [1, 0], None, 5)
    assert k != _deep_training_key(rows, [0, 1], {"epochs": 3}, 5)
    assert k != _deep_training_key(rows, [0, 1], None, 6)
    (tmp_path / "b.nii.gz").write_bytes(b"changed")
    assert k != _deep_training_key(rows, [0, 1], None, 5)


@pytest.mark.parametrize(("step", "missing"), [("fit", "selection.json"),
                                               ("evaluate", "selection.json")])
def test_later_step_without_earlier_outputs_fails_before_extracting(
        study_dir: Path, step: str, missing: str, capsys: pytest.CaptureFixture[str]) -> None:
    from radval.cli import main

    out = study_dir / f"out_{step}"
    assert main([step, str(study_dir / "study.yaml"), "--out", str(out), "-q"]) == 66
    assert missing in capsys.readouterr().err
    assert not (out / "features").exists()     # nothing was extracted first
