"""Dataset shift, recalibration and `radval validate` on a precomputed features table."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from radval.cli import main
from radval.exceptions import DatasetShiftWarning, RadvalWarning
from radval.models.bundle import write_bundle
from radval.models.recalibration import recalibrate
from radval.models.shift import dataset_shift
from radval.pool import pseudonymise
from radval.stats._calibration import calibration
from tests.models.test_signature import make_signature


def _site(rng: np.random.Generator, n: int = 120, shift_b: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": [f"x{i:03d}" for i in range(n)],
        "radiomics_a": rng.normal(1.0, 0.5, size=n),
        "radiomics_b": rng.normal(2.0 + shift_b, 1.5, size=n),
        "deep_0": rng.normal(0.0, 1.0, size=n),
    })


def test_shift_statistics_by_hand(rng: np.random.Generator) -> None:
    sig = make_signature()
    df = _site(rng, shift_b=3.0)
    with pytest.warns(DatasetShiftWarning, match="radiomics_b"):
        res = dataset_shift(df, sig)
    row = res.features.set_index("feature").loc["radiomics_b"]
    x = df["radiomics_b"].to_numpy()
    dev = sig.development_summary["features"]["radiomics_b"]
    smd = (x.mean() - dev["mean"]) / math.sqrt((x.std(ddof=1) ** 2 + dev["sd"] ** 2) / 2)
    assert row["smd"] == pytest.approx(smd, rel=1e-12)
    assert row["share_out_of_range"] == pytest.approx(
        np.mean((x < dev["min"]) | (x > dev["max"])), rel=1e-12)
    assert bool(row["flagged"]) and res.flagged == ["radiomics_b"]
    ok = res.features.set_index("feature").loc["radiomics_a"]
    assert not bool(ok["flagged"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetShiftWarning)
        quiet = dataset_shift(_site(rng), sig)  # same distribution: no warning
    assert quiet.flagged == []


def _negll(theta: np.ndarray, y: np.ndarray, eta: np.ndarray, citl: bool) -> float:
    lin = theta[0] + eta if citl else theta[0] + theta[1] * eta
    return float(np.sum(np.logaddexp(0, lin) - y * lin))


def test_recalibration_matches_likelihood_oracle(rng: np.random.Generator) -> None:
    n = 300
    eta = rng.normal(-0.4, 1.3, size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.5 + 0.6 * eta)))).astype(int)
    r = recalibrate(y, eta)
    o1 = optimize.minimize(_negll, [0.0], args=(y, eta, True), method="BFGS",
                           options={"gtol": 1e-10})
    o2 = optimize.minimize(_negll, [0.0, 1.0], args=(y, eta, False), method="BFGS",
                           options={"gtol": 1e-10})
    assert r.citl_intercept == pytest.approx(o1.x[0], abs=1e-6)
    assert r.logistic_intercept == pytest.approx(o2.x[0], abs=1e-6)
    assert r.logistic_slope == pytest.approx(o2.x[1], abs=1e-6)
    # SEs: inverse of the analytic information X'WX at the optimum
    p = 1 / (1 + np.exp(-(o2.x[0] + o2.x[1] * eta)))
    x = np.column_stack([np.ones(n), eta])
    cov = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    assert r.logistic_slope_se == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-5)
    # independent implementation in radval.stats._calibration (rms val.prob conventions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        c = calibration(y, 1 / (1 + np.exp(-eta)))
    assert r.logistic_slope == pytest.approx(c.slope, rel=1e-8)
    assert r.citl_intercept == pytest.approx(c.citl, rel=1e-8)
    assert r.citl_intercept_se == pytest.approx(c.citl_se, rel=1e-6)
    comp = r.comparison.set_index("model")
    # a monotone update leaves the AUC unchanged; logistic update is calibrated in-sample
    assert comp.loc["recalibrated_logistic", "auc"] == pytest.approx(comp.loc["original", "auc"])
    assert comp.loc["recalibrated_logistic", "slope"] == pytest.approx(1.0, abs=1e-6)
    assert comp.loc["recalibrated_citl", "citl"] == pytest.approx(0.0, abs=1e-6)


def test_validate_from_features_table(tmp_path: Path, rng: np.random.Generator,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    sig = make_signature(deep=None)
    bundle = write_bundle(tmp_path / "bundle", sig)
    feats = _site(rng, n=150, shift_b=2.5)
    feats["cohort"] = "hospB"
    pred = sig.predict(feats)
    lp = pred["linear_predictor"].to_numpy()
    y = (rng.uniform(size=150) < 1 / (1 + np.exp(-(lp - lp.mean() - 0.5)))).astype(int)
    clin = pd.DataFrame({"patient_id": feats["patient_id"], "ln_metastasis": y})
    clin.loc[3, "ln_metastasis"] = np.nan  # one missing outcome: excluded and counted
    feats.to_csv(tmp_path / "features.csv", index=False)
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    key = b"site-secret-key-0123456789"
    (tmp_path / "key.txt").write_bytes(key + b"\n")
    with pytest.warns(DatasetShiftWarning):
        code = main(["validate", str(bundle), "--features", str(tmp_path / "features.csv"),
                     "--pseudonym-key-file", str(tmp_path / "key.txt"),
                     "--clinical", str(tmp_path / "clinical.csv"), "--out",
                     str(tmp_path / "out"), "--bootstrap", "20", "--no-report",
                     "--thresholds", "0.15,0.25", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["site"] == "hospB" and summary["n"] == 149
    assert summary["flagged_features"] == ["radiomics_b"]
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    flow = {r["stage"]: r["n"] for r in res["patient_flow"]}
    assert flow["missing_clinical"] == 1 and flow["analysed"] == 149
    share = json.loads((tmp_path / "out" / "share.json").read_text())
    assert [r["threshold"] for r in share["net_benefit"]] == [0.15, 0.25]
    assert share["threshold_metrics"]["cutoff"] == sig.cutoff
    preds = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    expect = pred.set_index("patient_id").loc[preds["patient_id"], "probability"]
    np.testing.assert_allclose(preds["probability"], expect.to_numpy(), rtol=1e-14)
    assert res["updating"]["logistic_slope"] == pytest.approx(
        recalibrate(preds["y_true"], preds["score"]).logistic_slope, rel=1e-12)
    assert not (tmp_path / "out" / "report").exists()
    ret = pd.read_csv(tmp_path / "out" / "return_predictions.csv")
    assert set(ret["pseudonym"]) == set(pseudonymise(preds["patient_id"], key, site="hospB"))
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert key not in data, f
            if f.name in ("return_predictions.csv", "share.json"):
                assert b"x00" not in data, f


def test_one_class_site_writes_results_but_no_share(tmp_path: Path,
                                                    rng: np.random.Generator) -> None:
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None))
    feats = _site(rng, n=40)
    feats.to_csv(tmp_path / "features.csv", index=False)
    pd.DataFrame({"patient_id": feats["patient_id"], "ln_metastasis": 0}).to_csv(
        tmp_path / "clinical.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        code = main(["validate", str(bundle), "--features", str(tmp_path / "features.csv"),
                     "--clinical", str(tmp_path / "clinical.csv"), "--out",
                     str(tmp_path / "out"), "--site", "one", "--no-report", "--bootstrap", "0"])
    assert code == 65
    assert (tmp_path / "out" / "results.json").is_file()
    assert not (tmp_path / "out" / "share.json").exists()
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["performance"][0]["undefined_reason"]


def test_cli_argument_errors(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None))
    base = ["validate", str(bundle), "--features", "f.csv", "--clinical", "c.csv",
            "--out", str(tmp_path / "o")]
    assert main([*base, "--thresholds", "0.1,2"]) == 2  # usage error
    assert main([*base, "--site", "St Mary's"]) == 65  # free text refused before any work
    assert main([*base, "--site", "ok"]) == 66  # missing clinical file
    assert not (tmp_path / "o" / "share.json").exists()
