"""End to end on the small built-in study: `radval run`, separate steps, determinism, guards.

One session fixture generates the small study (48 patients) and extracts its radiomics
once (cached in the first run's output folder); later runs reuse the cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radval.cli import main
from tests._helpers import strip_created

pytestmark = [pytest.mark.slow, pytest.mark.radiomics]


@pytest.fixture(scope="module")
def small_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("radiomics")
    from radval.io.synth import generate_study

    root = tmp_path_factory.mktemp("study")
    generate_study(root, small=True, seed=20231024)
    doc = {
        "name": "small-e2e", "outcome": {"column": "ln_metastasis", "positive_label": 1},
        "manifest": "manifest.csv", "clinical": "clinical.csv",
        "radiomics": {"enabled": True}, "deep": {"enabled": False},
        "cohorts": [{"name": "centre1_train", "role": "development"},
                    {"name": "centre1_test", "role": "internal_validation"},
                    {"name": "centre2", "role": "external_validation"}],
        "clinical_predictors": [
            {"name": "age_years", "timing": "pre-operative", "kind": "numeric"},
            {"name": "tumour_size_mm", "timing": "pre-operative", "kind": "numeric"},
            {"name": "grade", "timing": "post-operative", "kind": "categorical"}],
        "subgroups": [{"name": "size", "expr": "tumour_size_mm < 15"}],
        "selection": {"n_folds": 5},
        "models": {"nomogram_predictors": ["grade"], "comparison": ["logistic"]},
        "evaluation": {"bootstrap_ci": 100, "optimism": 6},
        "survival": {"time": "dfs_months", "event": "dfs_event"},
        "compute": {"jobs": 2}, "seed": 11, "output": "out",
    }
    (root / "study.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "study.yaml"


@pytest.fixture(scope="module")
def first_run(small_study: Path) -> Path:
    out = small_study.parent / "run1"
    code = main(["run", str(small_study), "--out", str(out), "--jobs", "2", "-q"])
    assert code == 0
    return out


def test_run_outputs(first_run: Path) -> None:
    out = first_run
    for name in ("results.json", "predictions.parquet", "selection.json", "models.json",
                 "patient_flow.csv", "tables/performance.csv", "tables/selection_funnel.csv",
                 "tables/selection_size.csv",
                 "bundle/signature.json", "bundle/SHA256SUMS", "features/features.parquet"):
        assert (out / name).is_file(), name
    res = json.loads((out / "results.json").read_text())
    preds = pd.read_parquet(out / "predictions.parquet")
    assert list(preds.columns) == ["patient_id", "cohort", "model", "score", "probability",
                                   "y_true"]
    models = list(dict.fromkeys(preds.model))
    assert models[:3] == ["radiomics", "clinical", "nomogram"] and "logistic" in models
    # every cohort x model has a performance row; AUCs recomputed from predictions agree
    from radval import stats

    perf = pd.DataFrame(res["performance"])
    allp = perf[perf.subgroup == "all"]
    assert len(allp) == 3 * len(models)
    for rec in allp.itertuples():
        sub = preds[(preds.cohort == rec.cohort) & (preds.model == rec.model)]
        if rec.auc is not None and not np.isnan(rec.auc):
            assert rec.auc == pytest.approx(stats.roc_auc(sub.y_true, sub.probability),
                                            rel=1e-12)
        else:
            assert isinstance(rec.undefined_reason, str)
    # the cutoff is frozen: the same value for a model in every cohort
    assert (allp.groupby("model")["cutoff"].nunique() == 1).all()
    # post-operative predictor in the nomogram is flagged
    codes = {w["code"] for w in res["warnings"]}
    assert "POSTOP_PREDICTOR" in codes and "SMALL_SAMPLE" in codes
    # patient flow adds up
    flow = pd.DataFrame(res["patient_flow"])
    for c in res["cohorts"]:
        f = flow[flow.cohort == c["name"]]
        assert f[f.stage == "analysed"].n.item() == c["n"]
    # optimism table, stability, subgroups, heterogeneity, survival, nomogram, sample size
    opt = pd.DataFrame(res["optimism"])
    assert set(opt.metric) == {"auc", "slope", "intercept", "brier"}
    row = opt[(opt.model == "radiomics") & (opt.metric == "auc")].iloc[0]
    assert row.corrected == pytest.approx(row.apparent - row.optimism)
    # Harrell optimism of the clinical model recomputed by hand (no selection involved):
    # the same resample indices, fit on the resample, test on the original cohort
    from radval._rng import stable_rng
    from radval.models.logistic import fit_logistic
    from radval.workflow import performance_indexes

    clin = pd.read_csv(out.parent / "clinical.csv", dtype={"patient_id": str})
    dev = clin[clin.cohort == "centre1_train"].sort_values("patient_id")
    x = dev[["age_years", "tumour_size_mm"]].to_numpy(float)
    y = dev.ln_metastasis.to_numpy(int)
    diffs = {m: [] for m in ("auc", "slope", "intercept", "brier")}
    for b in range(6):
        r = stable_rng(11, "optimism", str(b))
        idx = np.sort(r.integers(0, y.size, size=y.size))
        fit = fit_logistic(x[idx], y[idx])
        tr = performance_indexes(y[idx], 1 / (1 + np.exp(-fit.linear_predictor(x[idx]))))
        te = performance_indexes(y, 1 / (1 + np.exp(-fit.linear_predictor(x))))
        for m in diffs:
            diffs[m].append(tr[m] - te[m])
    for m, d in diffs.items():
        got = opt[(opt.model == "clinical") & (opt.metric == m)].iloc[0]
        assert got.optimism == pytest.approx(float(np.nanmean(d)), rel=1e-8, abs=1e-12)
    assert res["stability"]["selection_frequency"]
    assert {r["level"] for r in res["subgroups"]} == {"tumour_size_mm < 15",
                                                      "tumour_size_mm >= 15"}
    assert res["heterogeneity"]
    assert res["survival"]["summary"]
    assert res["nomogram"]["predictors"]
    assert res["sample_size"]["riley"]["n_required"] > res["sample_size"]["n"]
    assert res["provenance"]["seed"] == 11
    assert set(res["provenance"]["input_sha256"]) >= {"clinical", "manifest", "study_file"}
    # the bundle reproduces the rad-score predictions
    from radval.models.bundle import load_bundle

    bundle = load_bundle(out / "bundle")
    feats = pd.read_parquet(out / "features" / "features.parquet")
    feats = feats[feats.reader.astype(str) == "1"].set_index("patient_id")
    pr = preds[preds.model == "radiomics"].set_index("patient_id")
    sig = bundle.signature if hasattr(bundle, "signature") else bundle
    got = sig.scores["rad_score"].compute(feats.loc[pr.index].reset_index())
    np.testing.assert_allclose(got, pr.score.to_numpy(), rtol=1e-10)


def test_rerun_is_byte_identical_and_steps_match(small_study: Path, first_run: Path) -> None:
    out2 = small_study.parent / "run2"
    # reuse the extraction cache of the first run
    shutil.copytree(first_run / "features", out2 / "features")
    base = ["--out", str(out2), "--jobs", "1", "-q"]
    assert main(["select", str(small_study), *base]) == 0
    assert main(["fit", str(small_study), *base]) == 0
    assert main(["evaluate", str(small_study), *base]) == 0
    a = json.loads((first_run / "results.json").read_text())
    b = json.loads((out2 / "results.json").read_text())
    assert a["created"] != "" and b["created"] != ""
    assert strip_created(a) == strip_created(b)
    ta = (first_run / "results.json").read_text().splitlines()
    tb = (out2 / "results.json").read_text().splitlines()
    diff = [(x, y) for x, y in zip(ta, tb, strict=True) if x != y]
    assert all('"created"' in x for x, _ in diff)


def test_cli_errors(small_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                    ) -> None:
    assert main(["run", str(tmp_path / "missing.yaml"), "--json"]) == 66
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["errors"][0]["type"] == "MissingInputError"
    bad = tmp_path / "bad.yaml"
    doc = yaml.safe_load(small_study.read_text())
    doc["cohorts"][1]["role"] = "training"
    doc["manifest"] = str(small_study.parent / "manifest.csv")
    doc["clinical"] = str(small_study.parent / "clinical.csv")
    bad.write_text(yaml.safe_dump(doc))
    assert main(["run", str(bad), "--json"]) == 78
    err = json.loads(capsys.readouterr().out)["errors"][0]["message"]
    assert "cohorts[1].role" in err
    # the same patient in two cohorts: invalid data (65) listing the ID
    clin = pd.read_csv(small_study.parent / "clinical.csv", dtype={"patient_id": str})
    dup = pd.concat([clin, clin.iloc[[0]].assign(cohort="centre2")], ignore_index=True)
    dup.to_csv(tmp_path / "clinical_dup.csv", index=False)
    doc["cohorts"][1]["role"] = "internal_validation"
    doc["clinical"] = str(tmp_path / "clinical_dup.csv")
    bad.write_text(yaml.safe_dump(doc))
    assert main(["run", str(bad), "--json", "--out", str(tmp_path / "o")]) == 65
    err = json.loads(capsys.readouterr().out)["errors"][0]["message"]
    assert clin.patient_id.iloc[0] in err and "more than one cohort" in err


@pytest.mark.slow
def test_report_of_the_real_run(first_run: Path, tmp_path: Path) -> None:
    """The report of this real run renders in HTML, PDF and DOCX and reads right."""
    pytest.importorskip("pypandoc")
    pytest.importorskip("typst")
    from tests.report.test_render import check_real_run_report

    check_real_run_report(first_run, tmp_path)


def test_an_interrupted_run_leaves_the_complete_previous_run(
        small_study: Path, first_run: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT during the optimism step (or a full disk while writing results.json) used to
    leave new predictions and a new bundle beside the previous results.json."""
    from radval.workflow import _run
    from radval.workflow._outputs import RunFolder

    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    # the run's outputs: every file run.json records, and run.json itself (the extraction
    # cache in features/ and deep/ is not an output: it is keyed by content)
    recorded = [*json.loads((out / "run.json").read_text())["files"], "run.json"]
    before = {name: (out / name).read_bytes() for name in recorded}
    doc = yaml.safe_load(small_study.read_text())
    doc["seed"] = 12  # another run: new selection, models and bundle
    for key in ("manifest", "clinical"):
        doc[key] = str(small_study.parent / doc[key])
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(doc))

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_run, "optimism_bootstrap", interrupted)
    assert main(["run", str(other), "--out", str(out), "--jobs", "1", "-q"]) == 130
    assert {name: (out / name).read_bytes() for name in recorded} == before
    RunFolder(out).verify("evaluate", action="radval run")

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.undo()
    monkeypatch.setattr("radval.contracts._base.atomic_write_json", disk_full)
    assert main(["run", str(other), "--out", str(out), "--jobs", "1", "-q"]) != 0
    RunFolder(out).verify("evaluate", action="radval run")
    assert (out / "results.json").read_bytes() == before["results.json"]
