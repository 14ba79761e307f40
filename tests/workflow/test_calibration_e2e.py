"""Calibration and clinical utility end to end on the small built-in study: `radval run`,
`radval validate` at a site, `radval pool` with a published validation, and the report.

Radiomics only: the signature is the rad-score itself (no combined model), so the
development run recalibrates it for its calibration and the site, which cannot, labels it
as a raw score.

The numbers in results.json are recomputed from predictions.parquet with the stats
functions; the bias-corrected curves are checked to be the same with 1 and 2 workers.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose

from radval.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.radiomics]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("radiomics")
    from radval.io.synth import generate_study

    root = tmp_path_factory.mktemp("calstudy")
    generate_study(root, small=True, seed=20231024)
    doc = {
        "name": "small-calibration", "outcome": {"column": "ln_metastasis"},
        "manifest": "manifest.csv", "clinical": "clinical.csv",
        "radiomics": {"enabled": True}, "deep": {"enabled": False},
        "cohorts": [{"name": "centre1_train", "role": "development"},
                    {"name": "centre1_test", "role": "internal_validation"},
                    {"name": "centre2", "role": "external_validation"}],
        "clinical_predictors": [
            {"name": "age_years", "timing": "pre-operative", "kind": "numeric"},
            {"name": "tumour_size_mm", "timing": "pre-operative", "kind": "numeric"}],
        "subgroups": [{"name": "size", "expr": "tumour_size_mm < 15"}],
        "selection": {"n_folds": 5},
        "models": {"nomogram": True},
        "evaluation": {"bootstrap_ci": 50, "optimism": 6, "calibration_band": 40,
                       "net_benefit_bootstrap": 60,
                       "dca_thresholds": [0.05, 0.1, 0.2, 0.3, 0.4, 0.5],
                       "net_benefit_comparisons": [["signature", "clinical"],
                                                   ["nomogram", "clinical"]],
                       "partial_auc": {"specificity": [1.0, 0.8]}},
        "compute": {"jobs": 2}, "seed": 7, "output": "out",
    }
    (root / "study.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "study.yaml"


@pytest.fixture(scope="module")
def run(study: Path) -> Path:
    out = study.parent / "run"
    assert main(["run", str(study), "--out", str(out), "--jobs", "2", "-q"]) == 0
    return out


def _pred(run: Path, cohort: str, model: str) -> pd.DataFrame:
    p = pd.read_parquet(run / "predictions.parquet")
    return p[(p.cohort == cohort) & (p.model == model)].sort_values("patient_id")


def test_results_hold_the_calibration_and_utility_tables(run: Path) -> None:
    from radval._rng import stable_rng
    from radval.stats import calibration_curve, decision_curve_difference, partial_auc
    from radval.stats._calibration_curve import r_seq
    from radval.workflow._calibration import apply_recalibration, fit_recalibration

    res = json.loads((run / "results.json").read_text())
    cal = pd.DataFrame(res["calibration"]).set_index(["cohort", "model"])
    # the rad-score: calibration after the recalibration frozen on development
    dev = _pred(run, "centre1_train", "radiomics")
    a, b, ok = fit_recalibration(dev.y_true, dev.probability)
    assert ok
    r = cal.loc[("centre2", "radiomics")]
    assert r.risk_scale == "recalibrated_score"
    assert r.recalibration_slope == pytest.approx(b, rel=1e-9)
    assert cal.loc[("centre1_train", "radiomics"), "slope"] == pytest.approx(1.0, rel=1e-6)
    assert cal.loc[("centre2", "nomogram"), "risk_scale"] == "model"
    # the band of the nomogram at the external site
    ext = _pred(run, "centre2", "nomogram")
    y, p = ext.y_true.to_numpy(int), ext.probability.to_numpy(float)
    ref = calibration_curve(y, p, n_bootstrap=40, grid=r_seq(p.min(), p.max(), 100),
                            rng=stable_rng(7, "calband", "centre2", "nomogram"))
    band = pd.DataFrame(res["curves"]["calibration_band"])
    got = band[(band.cohort == "centre2") & (band.model == "nomogram")]
    assert_allclose(got.observed.to_numpy(float), ref.curve.observed.to_numpy(float),
                    rtol=1e-9)
    assert_allclose(got.ci_high.to_numpy(float), ref.curve.ci_high.to_numpy(float),
                    rtol=1e-9)
    # the recalibrated rad-score's band at the site
    rad = _pred(run, "centre2", "radiomics")
    pr = apply_recalibration(rad.probability.to_numpy(float), a, b)
    ref = calibration_curve(rad.y_true, pr, n_bootstrap=40,
                            grid=r_seq(pr.min(), pr.max(), 100),
                            rng=stable_rng(7, "calband", "centre2", "radiomics"))
    got = band[(band.cohort == "centre2") & (band.model == "radiomics")]
    assert_allclose(got.observed.to_numpy(float), ref.curve.observed.to_numpy(float),
                    rtol=1e-9)
    # the net-benefit differences asked for in the study file
    diff = pd.DataFrame(res["net_benefit_difference"])
    assert set(zip(diff.model_a, diff.model_b, strict=True)) == {("radiomics", "clinical"),
                                                                 ("nomogram", "clinical")}
    clin = _pred(run, "centre2", "clinical")
    ref_d = decision_curve_difference(y, p, clin.probability.to_numpy(float),
                                      thresholds=[0.05, 0.1, 0.2, 0.3, 0.4, 0.5],
                                      n_bootstrap=60,
                                      rng=stable_rng(7, "nbdiff", "centre2", "nomogram",
                                                     "clinical"))
    got = diff[(diff.cohort == "centre2") & (diff.model_a == "nomogram")]
    assert_allclose(got[["difference", "ci_low", "ci_high"]].to_numpy(float),
                    ref_d[["difference", "ci_low", "ci_high"]].to_numpy(float), rtol=1e-9)
    pa = pd.DataFrame(res["partial_auc"])
    row = pa[(pa.cohort == "centre2") & (pa.model == "nomogram")].iloc[0]
    ref_p = partial_auc(y, p, specificity=(1.0, 0.8), n_bootstrap=50,
                        rng=stable_rng(7, "pauc", "centre2", "nomogram"))
    assert row.estimate == pytest.approx(ref_p.estimate, rel=1e-12)
    # per subgroup: calibration, net benefit, heterogeneity (rows for every level)
    sc = pd.DataFrame(res["subgroup_calibration"])
    assert set(sc.level) == {"tumour_size_mm < 15", "tumour_size_mm >= 15"}
    het = pd.DataFrame(res["subgroup_heterogeneity"])
    assert {"citl", "slope", "log_o_e", "net_benefit"} <= set(het.measure)
    assert len(pd.DataFrame(res["subgroup_net_benefit"]))
    tm = pd.DataFrame(res["threshold_metrics"])
    assert {"lr_positive", "lr_negative", "dor"} <= set(tm.metric)
    # the tables are written for people too
    for name in ("subgroup_calibration", "net_benefit_difference", "optimism_calibration",
                 "curve_calibration_band"):
        assert (run / "tables" / f"{name}.csv").is_file(), name


def test_corrected_curves_from_the_optimism_resamples(run: Path) -> None:
    res = json.loads((run / "results.json").read_text())
    cc = pd.DataFrame(res["optimism_calibration"])
    summ = pd.DataFrame(res["optimism_calibration_summary"]).set_index("model")
    assert {"radiomics", "nomogram", "clinical"} <= set(cc.model)
    assert summ.loc["radiomics", "risk_scale"] == "recalibrated_score"
    assert (summ.n_resamples == 6).all()
    c = cc[cc.model == "nomogram"]
    assert len(c) == 50
    ok = c.corrected.notna()
    assert_allclose(c.corrected[ok], (c.apparent - c.optimism)[ok], rtol=1e-12)
    # apparent curve = the lowess curve (rms calibrate) of the final model on the grid
    from radval.stats import calibration_curve

    assert set(cc.method) == {"lowess"}
    dev = _pred(run, "centre1_train", "nomogram")
    ref = calibration_curve(dev.y_true, dev.probability, method="lowess", n_bootstrap=0,
                            grid=c.predicted.to_numpy(float))
    assert_allclose(c.apparent.to_numpy(float), ref.curve.observed.to_numpy(float),
                    rtol=1e-9, equal_nan=True)
    # the optimism table: the rad-score's calibration indexes after its recalibration
    opt = pd.DataFrame(res["optimism"]).set_index(["model", "metric"])
    assert opt.loc[("radiomics", "slope"), "apparent"] == pytest.approx(1.0, rel=1e-8)
    assert opt.loc[("radiomics", "slope"), "risk_scale"] == "recalibrated_score"
    assert opt.loc[("radiomics", "auc"), "risk_scale"] == "model"
    assert opt.loc[("nomogram", "slope"), "risk_scale"] == "model"
    nb = pd.DataFrame(res["optimism_net_benefit"])
    assert set(nb.threshold) == {0.05, 0.1, 0.2, 0.3, 0.4, 0.5}
    assert_allclose(nb.corrected, nb.apparent - nb.optimism, rtol=1e-12)


def test_corrected_curves_do_not_depend_on_the_workers(study: Path, run: Path) -> None:
    out = study.parent / "run_one_worker"
    shutil.copytree(run / "features", out / "features")
    assert main(["run", str(study), "--out", str(out), "--jobs", "1", "-q"]) == 0
    a = json.loads((run / "results.json").read_text())
    b = json.loads((out / "results.json").read_text())
    for key in ("optimism_calibration", "optimism_calibration_summary",
                "optimism_net_benefit", "optimism"):
        assert a[key] == b[key], key


def test_site_sample_size_and_report(study: Path, run: Path, tmp_path: Path) -> None:
    from radval.stats import check_validation_sample_size

    sig = json.loads((run / "bundle" / "signature.json").read_text())
    summ = sig["development_summary"]
    dev = _pred(run, "centre1_train", "radiomics")  # the signature
    from radval.stats import roc_auc

    # the bundle carries the development C and LP mean/SD, no patient value
    assert summ["cstatistic"] == pytest.approx(roc_auc(dev.y_true, dev.probability),
                                               rel=1e-12)
    lp = np.log(dev.probability / (1 - dev.probability))
    assert summ["linear_predictor"]["mean"] == pytest.approx(lp.mean(), rel=1e-9)
    assert set(summ["linear_predictor"]) == {"n", "mean", "sd"}
    site = tmp_path / "site"
    assert main(["validate", str(run / "bundle"), "--features",
                 str(run / "features" / "features_all.parquet"), "--clinical",
                 str(study.parent / "clinical.csv"), "--cohort", "centre2", "--out",
                 str(site), "--formats", "none", "-q"]) == 0
    res = json.loads((site / "results.json").read_text())
    ss = res["validation_sample_size"]
    ref = check_validation_sample_size(
        ss["n"], ss["events"], cstatistic=summ["cstatistic"],
        lp_normal=(summ["linear_predictor"]["mean"], summ["linear_predictor"]["sd"]),
        threshold=sig["cutoff"])
    assert ss["required"] == ref.required and ss["meets"] is ref.meets
    assert ss["cstatistic_source"] == "development (bundle)"
    assert ss["meets"] is False  # 25-odd patients cannot meet Riley's criteria
    assert any(w["code"] == "SMALL_VALIDATION_SAMPLE" for w in res["warnings"])
    # a single-score signature cannot be recalibrated at the site: labelled as raw
    assert res["calibration"][0]["risk_scale"] == "raw_score"
    qmd = (site / "report" / "report.qmd").read_text()
    assert "Sample size of this site" in qmd and "does not meet it" in qmd
    assert "not a calibrated probability" in qmd
    assert "fig-calibration-band" in qmd
    assert (site / "report" / "figures" / "fig-calibration-band.png").is_file()
    # the site's share.json carries the net-benefit SEs; pool it with a published value
    share = json.loads((site / "share.json").read_text())
    assert all("net_benefit_se" in e for e in share["net_benefit"])
    table = tmp_path / "published.csv"
    pd.DataFrame([{"study": "Gu 2023", "auc": 0.81, "auc_ci_low": 0.74,
                   "auc_ci_high": 0.88}]).to_csv(table, index=False)
    assert main(["pool", str(site / "share.json"), "--published", str(table), "--out",
                 str(tmp_path / "pooled"), "--formats", "none", "-q"]) == 0
    pooled = json.loads((tmp_path / "pooled" / "pooled.json").read_text())
    auc = pooled["measures"]["auc"]
    if share["discrimination"]["auc"] is not None:
        assert auc["k"] == 2 and math.isfinite(auc["result"]["pooled"])


def test_report_shows_the_new_curves(run: Path, tmp_path: Path) -> None:
    from radval.report.document import build_report

    res = json.loads((run / "results.json").read_text())
    parts = build_report(res, pd.read_parquet(run / "predictions.parquet"), tmp_path, jobs=1)
    assert parts.supplement is not None
    # the signature's bias-corrected curve in the main text, every model's in the supplement
    for label, doc in (("fig-calibration-corrected-main", parts.qmd),
                       ("fig-calibration-band", parts.supplement),
                       ("fig-calibration-corrected", parts.supplement),
                       ("fig-dca-corrected", parts.supplement),
                       ("fig-nb-difference", parts.supplement),
                       ("fig-calibration-subgroup", parts.supplement)):
        assert label in parts.figures, label
        assert f"#{label}" in doc
        assert parts.figures[label].is_file()
    for label in ("tbl-calibration-curve", "tbl-calibration-corrected", "tbl-nb-difference",
                  "tbl-subgroup-calibration", "tbl-subgroup-net-benefit",
                  "tbl-subgroup-heterogeneity", "tbl-partial-auc"):
        assert f"#{label}" in parts.supplement, label
    # the signature is the rad-score: what its calibration is, next to it in the main text
    assert "recalibration frozen on the development cohort" in parts.qmd
    assert "recalibration frozen on the development cohort" in parts.supplement
