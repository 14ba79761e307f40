"""The time-to-event endpoint in the study workflow, on a synthetic features table.

Every number of results.json's ``survival`` block is recomputed from predictions.parquet
and the clinical table with the radval.stats functions directly (themselves checked
against R); bad follow-up data fail with messages naming the patients; horizons beyond the
follow-up are flagged; the optimism comes from the binary bootstrap and does not depend on
the number of workers.  The image-based end-to-end test is test_survival_e2e.py.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from radval import stats
from radval.exceptions import ConfigError, DataError, HorizonWarning, InputError, RadvalWarning
from radval.workflow import load_study, run_study
from radval.workflow._survival import cohort_survival, follow_up
from tests._helpers import strip_created

HORIZONS = [12.0, 24.0, 36.0]


def write_study(root: Path, *, model: str = "cox", optimism: int = 4, seed: int = 42,
                days: bool = False, **survival: Any) -> Path:
    """A two-cohort study with a features table, an outcome and follow-up."""
    rng = np.random.default_rng(seed)
    rows, feats = [], []
    for cohort, n, prev in (("dev", 120, 0.35), ("val", 80, 0.3)):
        for i in range(n):
            pid = f"{cohort}_{i:03d}"
            y = int(rng.random() < prev)
            f = rng.normal(size=10)
            f[:3] += 1.1 * y
            grade = str(rng.choice(["G1", "G2", "G3"]))
            rate = 0.02 * np.exp(0.8 * y + 0.3 * f[0] + 0.3 * (grade == "G3"))
            te, tc = rng.exponential(1 / rate), rng.uniform(10, 80)
            t = round(min(te, tc), 2) * (30.4 if days else 1.0)
            rows.append({"patient_id": pid, "cohort": cohort,
                         "age": float(rng.integers(40, 85)), "grade": grade, "outcome": y,
                         "time": t, "event": int(te <= tc)})
            feats.append({"patient_id": pid, "reader": "1", "cohort": cohort,
                          **{f"radiomics_original_firstorder_F{j}": f[j] for j in range(10)}})
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / "clinical.csv", index=False)
    pd.DataFrame(feats).to_parquet(root / "features.parquet", index=False)
    surv = {"time": "time", "event": "event", "horizons": HORIZONS, "model": model,
            "predictors": ["age", "grade"] if model == "cox" else [], **survival}
    doc = {"name": "surv", "outcome": {"column": "outcome"}, "clinical": "clinical.csv",
           "features": "features.parquet",
           "cohorts": [{"name": "dev", "role": "development"},
                       {"name": "val", "role": "external_validation"}],
           "clinical_predictors": [{"name": "age"},
                                   {"name": "grade", "kind": "categorical"}],
           "selection": {"n_folds": 5}, "models": {"nomogram": False},
           "evaluation": {"bootstrap_ci": 20, "optimism": optimism,
                          "dca_thresholds": [0.1, 0.2, 0.3, 0.4, 0.5]},
           "survival": surv, "seed": 3}
    (root / "study.yaml").write_text(yaml.safe_dump(doc))
    return root / "study.yaml"


def _run(study_file: Path, out: Path, jobs: int = 1) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        run_study(load_study(study_file), out, jobs=jobs, study_file=study_file)
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def cox_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("cox")
    study = write_study(root, model="cox")
    return root, _run(study, root / "out")


def _cohort_data(root: Path, res: dict[str, Any], cohort: str
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    clin = pd.read_csv(root / "clinical.csv", dtype={"patient_id": str})
    preds = pd.read_parquet(root / "out" / "predictions.parquet")
    sig = res["survival"]["model"]
    p = preds[(preds.model == sig) & (preds.cohort == cohort)].set_index("patient_id")
    c = clin.set_index("patient_id").loc[p.index]
    return c, p


def test_cox_model_is_fitted_on_development_and_frozen(cox_run: tuple[Path, dict]) -> None:
    root, res = cox_run
    surv = res["survival"]
    model = surv["survival_model"]
    c, p = _cohort_data(root, res, "dev")
    x = pd.DataFrame({"signature": p["score"], "age": c["age"],
                      "grade[G2]": (c["grade"] == "G2").astype(float),
                      "grade[G3]": (c["grade"] == "G3").astype(float)})
    fit = stats.cox_ph(c["time"].to_numpy(), c["event"].to_numpy(), x)
    np.testing.assert_allclose(model["coef"], fit.coef, rtol=1e-10)
    np.testing.assert_allclose(model["baseline_survival"],
                               fit.predict_survival(fit.means[None, :], HORIZONS)[0], rtol=1e-10)
    assert model["kind"] == "cox" and model["horizons"] == HORIZONS
    assert model["cutoff"] == res["cutoffs"][surv["model"]]
    # the same model in models.json and the bundle
    models = json.loads((root / "out" / "models.json").read_text())
    signature = json.loads((root / "out" / "bundle" / "signature.json").read_text())
    assert models["survival_model"] == model == signature["survival"]


def test_every_number_matches_the_stats_functions(cox_run: tuple[Path, dict]) -> None:
    root, res = cox_run
    surv = res["survival"]
    model = surv["survival_model"]
    for cohort in ("dev", "val"):
        c, p = _cohort_data(root, res, cohort)
        t, e = c["time"].to_numpy(float), c["event"].to_numpy(float)
        x = np.column_stack([p["score"], c["age"], c["grade"] == "G2", c["grade"] == "G3"])
        lp = (x - np.asarray(model["means"])) @ np.asarray(model["coef"])
        risk = 1 - np.asarray(model["baseline_survival"])[None, :] ** np.exp(lp)[:, None]
        summ = next(r for r in surv["summary"] if r["cohort"] == cohort)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            assert summ["c_index"] == pytest.approx(
                stats.concordance_index(t, e, lp).estimate, rel=1e-12)
            uno = stats.uno_c(t, e, lp, tau=36.0)
            assert summ["c_uno"] == pytest.approx(uno.estimate, rel=1e-12)
            assert summ["c_uno_se"] == pytest.approx(uno.se, rel=1e-12)
            auc = stats.time_dependent_auc(t, e, lp, HORIZONS)
            got = pd.DataFrame([r for r in surv["time_dependent_auc"] if r["cohort"] == cohort])
            np.testing.assert_allclose(got["auc"], auc["auc"], rtol=1e-12)
            np.testing.assert_allclose(got["se"], auc["se"], rtol=1e-12)
            assert summ["integrated_auc"] == pytest.approx(auc.attrs["integrated_auc"], rel=1e-12)
            bs = stats.survival_brier(t, e, 1 - risk, HORIZONS)
            got = pd.DataFrame([r for r in surv["brier"] if r["cohort"] == cohort])
            np.testing.assert_allclose(got["brier"], bs.table["brier"], rtol=1e-12)
            np.testing.assert_allclose(got["ipa"], bs.table["ipa"], rtol=1e-12)
            for k, h in enumerate(HORIZONS):
                cal = stats.survival_calibration(t, e, risk[:, k], h)
                row = next(r for r in surv["calibration"] if r["cohort"] == cohort
                           and r["horizon"] == h)
                for key in ("o_e_ratio", "o_e_ci_low", "slope", "slope_se", "ici", "emax"):
                    assert row[key] == pytest.approx(getattr(cal, key), rel=1e-10), key
                dca = stats.survival_decision_curve(t, e, risk[:, k], h,
                                                    thresholds=[0.1, 0.2, 0.3, 0.4, 0.5])
                got = pd.DataFrame([r for r in surv["decision"] if r["cohort"] == cohort
                                    and r["horizon"] == h])
                np.testing.assert_allclose(got["net_benefit"], dca["net_benefit"], rtol=1e-12)
            # risk groups at the frozen signature cutoff: KM medians, log-rank, HR high vs low
            hi = p["probability"].to_numpy() >= surv["cutoff"]
            grp = np.where(hi, "high risk", "low risk")
            lr = stats.logrank_test(t, e, grp)
            assert summ["logrank_statistic"] == pytest.approx(lr.statistic, rel=1e-12)
            cox = stats.cox_ph(t, e, hi.astype(float))
            high = next(r for r in surv["risk_groups"] if r["cohort"] == cohort
                        and r["group"] == "high risk")
            assert high["hr"] == pytest.approx(float(cox.hr[0]), rel=1e-10)
            assert high["n"] == int(hi.sum()) and high["events"] == int(e[hi].sum())
            med = stats.median_survival(t, e, group=grp).set_index("group")
            assert (high["median"] is None and math.isnan(med.loc["high risk", "median"])) or \
                high["median"] == pytest.approx(med.loc["high risk", "median"], rel=1e-12)
            fu = stats.median_survival(t, 1 - e)["median"].iloc[0]
            assert summ["median_follow_up"] == pytest.approx(fu, rel=1e-12)
    # the KM table is the one of stats.kaplan_meier by risk group
    assert {r["cohort"] for r in surv["km"]} == {"dev", "val"}
    assert surv["validated"] == "cox" and surv["marker"] == "Cox linear predictor"


def test_optimism_of_c_and_auc(cox_run: tuple[Path, dict]) -> None:
    _root, res = cox_run
    opt = pd.DataFrame(res["survival"]["optimism"])
    assert list(opt["metric"]) == ["c_harrell", "c_uno", "auc", "auc", "auc"]
    assert opt["horizon"].iloc[2:].tolist() == HORIZONS
    dev = next(r for r in res["survival"]["summary"] if r["cohort"] == "dev")
    assert opt["apparent"].iloc[0] == dev["c_index"] and opt["apparent"].iloc[1] == dev["c_uno"]
    np.testing.assert_allclose(opt["corrected"], opt["apparent"] - opt["optimism"], rtol=1e-15)
    assert (opt["n_resamples"] == 4).all() and np.isfinite(opt["optimism"]).all()


def test_optimism_is_the_same_with_one_or_two_workers(cox_run: tuple[Path, dict],
                                                      tmp_path: Path) -> None:
    root, res = cox_run
    again = _run(root / "study.yaml", tmp_path / "two", jobs=2)
    assert again["survival"]["optimism"] == res["survival"]["optimism"]
    assert strip_created(again["survival"]) == strip_created(res["survival"])


def test_signature_mode_uses_the_score_and_its_calibration(tmp_path: Path) -> None:
    study = write_study(tmp_path, model="signature", optimism=0)
    res = _run(study, tmp_path / "out")
    surv = res["survival"]
    assert surv["validated"] == "signature" and surv["survival_model"]["kind"] == "score"
    c, p = _cohort_data(tmp_path, res, "val")
    t, e = c["time"].to_numpy(float), c["event"].to_numpy(float)
    summ = next(r for r in surv["summary"] if r["cohort"] == "val")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        # discrimination of the signature's own score
        assert summ["c_index"] == pytest.approx(
            stats.concordance_index(t, e, p["score"].to_numpy()).estimate, rel=1e-12)
        # absolute risks from the one-covariate Cox model of the score on development
        cd, pdv = _cohort_data(tmp_path, res, "dev")
        fit = stats.cox_ph(cd["time"].to_numpy(), cd["event"].to_numpy(), pdv["score"].to_numpy())
        risk = 1 - fit.predict_survival(p["score"].to_numpy(), HORIZONS)
        bs = stats.survival_brier(t, e, 1 - risk, HORIZONS)
    got = [r["brier"] for r in surv["brier"] if r["cohort"] == "val"]
    np.testing.assert_allclose(got, bs.table["brier"], rtol=1e-10)
    assert surv["optimism"] == []  # no bootstrap, no optimism


def test_report_tables_written(cox_run: tuple[Path, dict]) -> None:
    root, _res = cox_run
    for name in ("summary", "km", "risk_groups", "time_dependent_auc", "brier", "calibration",
                 "decision", "optimism"):
        assert (root / "out" / "tables" / f"survival_{name}.csv").is_file(), name


# ------------------------------------------------------------------------- bad input
def test_study_file_checks_the_survival_block(tmp_path: Path) -> None:
    for change, match in (({"horizons": [12, 0]}, "positive"),
                          ({"horizons": [24, 12]}, "sorted"),
                          ({"horizons": [12, 12]}, "distinct"),
                          ({"model": "signature", "predictors": ["age"]}, "model: cox"),
                          ({"predictors": ["weight"]}, "not listed in clinical_predictors"),
                          ({"model": "weibull"}, "must be one of"),
                          ({"time_unit": "fortnights"}, "must be one of")):
        study = write_study(tmp_path / "s", **change)
        with pytest.raises(ConfigError, match=match):
            load_study(study)


def _clin(**cols: Any) -> pd.DataFrame:
    return pd.DataFrame(cols, index=pd.Index([f"p{i}" for i in range(len(next(iter(
        cols.values()))))], name="patient_id"))


def test_follow_up_rejects_bad_values_naming_patients() -> None:
    t, e, ok = follow_up(_clin(time=[1.0, np.nan, 3.0, 4.0], event=[1, 0, np.nan, True]),
                         "time", "event", source="clinical table")
    assert ok.tolist() == [True, False, False, True] and e[3] == 1.0
    with pytest.raises(InputError, match=r"negative follow-up.*p1"):
        follow_up(_clin(time=[1.0, -2.0], event=[1, 0]), "time", "event", source="x")
    with pytest.raises(InputError, match=r"must be 0/1.*\['2'\].*p0"):
        follow_up(_clin(time=[1.0, 2.0], event=[2, 0]), "time", "event", source="x")
    with pytest.raises(InputError, match=r"must hold follow-up times.*p1"):
        follow_up(_clin(time=["3", "soon"], event=[1, 0]), "time", "event", source="x")
    with pytest.raises(InputError, match="no column 'dfs'"):
        follow_up(_clin(time=[1.0], event=[1]), "dfs", "event", source="x")


def test_run_fails_clearly_on_negative_time_and_all_censored(tmp_path: Path) -> None:
    study = write_study(tmp_path / "neg")
    clin = pd.read_csv(tmp_path / "neg" / "clinical.csv")
    clin.loc[5, "time"] = -1.0
    clin.to_csv(tmp_path / "neg" / "clinical.csv", index=False)
    with pytest.raises(InputError, match="negative follow-up time.*dev_005"):
        _run(study, tmp_path / "neg" / "out")
    study = write_study(tmp_path / "cens")
    clin = pd.read_csv(tmp_path / "cens" / "clinical.csv")
    clin.loc[clin.cohort == "dev", "event"] = 0
    clin.to_csv(tmp_path / "cens" / "clinical.csv", index=False)
    with pytest.raises(DataError, match="every patient is censored"):
        _run(study, tmp_path / "cens" / "out")


def test_missing_follow_up_is_left_out_and_counted(tmp_path: Path) -> None:
    study = write_study(tmp_path, optimism=0)
    clin = pd.read_csv(tmp_path / "clinical.csv")
    clin.loc[clin.index[clin.cohort == "val"][:3], "time"] = np.nan
    clin.loc[clin.index[clin.cohort == "val"][3], "grade"] = np.nan  # a Cox predictor
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    res = _run(study, tmp_path / "out")
    val = next(r for r in res["survival"]["summary"] if r["cohort"] == "val")
    # the binary endpoint needs grade too (clinical model): 79 analysed, 3 without time
    n_val = next(c["n"] for c in res["cohorts"] if c["name"] == "val")
    assert val["n_excluded"] == 3 and val["n"] == n_val - 3


def test_all_censored_validation_cohort_is_undefined_not_fatal() -> None:
    rng = np.random.default_rng(1)
    t = rng.uniform(1, 50, size=30)
    res = cohort_survival("c", t, np.zeros(30), marker=rng.normal(size=30),
                          high_risk=rng.random(30) > 0.5, risk=rng.uniform(0.1, 0.5, (30, 2)),
                          horizons=[12, 24])
    assert res.events == 0 and "every patient censored" in res.summary["undefined_reason"]
    assert res.summary["c_index"] is None and res.td_auc.empty and res.brier.empty
    assert len(res.km) and len(res.risk_groups) == 2


def test_horizon_beyond_follow_up_is_nan_and_flagged(tmp_path: Path) -> None:
    # times in days while the study says months: every horizon lies within the follow-up
    # of days, so nothing is flagged; the reverse (months, horizons in days) is flagged
    study = write_study(tmp_path, optimism=0, horizons=[12.0, 365.0])
    with pytest.warns(HorizonWarning, match="days when the study says months"):
        run_study(load_study(study), tmp_path / "out", jobs=1)
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    codes = [w["code"] for w in res["warnings"]]
    assert "HORIZON_BEYOND_FOLLOW_UP" in codes
    auc = {(r["cohort"], r["horizon"]): r for r in res["survival"]["time_dependent_auc"]}
    assert auc[("val", 365.0)]["auc"] is None
    assert auc[("val", 365.0)]["undefined_reason"] == "beyond the follow-up"
    assert auc[("val", 12.0)]["auc"] is not None
    cal = {(r["cohort"], r["horizon"]): r for r in res["survival"]["calibration"]}
    assert cal[("dev", 365.0)]["o_e_ratio"] is None
    assert "beyond the development follow-up" in cal[("dev", 365.0)]["undefined_reason"]
    assert res["survival"]["survival_model"]["baseline_survival"][1] is None


def test_cohort_survival_no_event_before_horizon() -> None:
    # every event after the first horizon: AUC and calibration undefined there, defined later
    rng = np.random.default_rng(4)
    n = 60
    t = np.concatenate([rng.uniform(20, 40, 20), rng.uniform(41, 80, 40)])
    e = np.concatenate([np.ones(20), np.zeros(40)])
    s = rng.normal(size=n) + e
    res = cohort_survival("c", t, e, marker=s, high_risk=s > 0.5,
                          risk=np.tile([0.05, 0.3], (n, 1)), horizons=[10, 45])
    assert res.td_auc["auc"].isna().tolist() == [True, False]
    cal = res.calibration.set_index("horizon")
    assert "no event at or before the horizon" in cal.loc[10.0, "undefined_reason"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        ref = stats.survival_calibration(t, e, np.full(n, 0.3), 45)
    assert cal.loc[45.0, "o_e_ratio"] == pytest.approx(ref.o_e_ratio, rel=1e-12)
    assert any(f["code"] == "SURVIVAL_UNDEFINED" for f in res.flags)
    # 45 lies beyond the last event (39.7): estimated, and said so
    assert any(f["code"] == "SURVIVAL_HORIZON" and "beyond the last event" in f["message"]
               for f in res.flags)


# ------------------------------------------------------------------------- at a site
def _validate(root: Path, out: Path, clinical: Path | None = None, **kw: Any) -> dict:
    from radval.workflow import validate_bundle

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        validate_bundle(kw.pop("bundle", root / "out" / "bundle"),
                        manifest=None, features=root / "features.parquet",
                        clinical=clinical or root / "clinical.csv", out=out, cohort="val",
                        site="val", report_formats=None, n_bootstrap=20, **kw)
    return {"results": json.loads((out / "results.json").read_text()),
            "share": json.loads((out / "share.json").read_text())}


def test_site_validation_reproduces_the_development_run(cox_run: tuple[Path, dict],
                                                        tmp_path: Path) -> None:
    root, res = cox_run
    site = _validate(root, tmp_path / "site")
    got = site["results"]["survival"]
    run_val = next(r for r in res["survival"]["summary"] if r["cohort"] == "val")
    for key in ("n", "events", "c_index", "c_uno", "integrated_auc", "integrated_brier",
                "integrated_ipa", "logrank_statistic"):
        assert got["summary"][0][key] == pytest.approx(run_val[key], rel=1e-12), key
    assert got["survival_model"] == res["survival"]["survival_model"]
    share = site["share"]["survival"]
    assert share["c_harrell"] == run_val["c_index"] and share["events"] == run_val["events"]
    assert [r["horizon"] for r in share["horizons"]] == HORIZONS


def test_site_columns_by_name(cox_run: tuple[Path, dict], tmp_path: Path) -> None:
    root, _res = cox_run
    clin = pd.read_csv(root / "clinical.csv")
    renamed = tmp_path / "renamed.csv"
    clin.rename(columns={"time": "fu_m", "event": "relapse"}).to_csv(renamed, index=False)
    # without the bundle's column names: no time-to-event validation, the rest runs
    plain = _validate(root, tmp_path / "a", clinical=renamed)
    assert "survival" not in plain["results"] and "survival" not in plain["share"]
    named = _validate(root, tmp_path / "b", clinical=renamed, survival_time="fu_m",
                      survival_event="relapse")
    assert named["results"]["survival"]["time"] == "fu_m"
    assert named["share"]["survival"]["events"] == int(clin[clin.cohort == "val"]["event"].sum())
    with pytest.raises(InputError, match="no follow-up column"):
        _validate(root, tmp_path / "c", clinical=renamed, survival_time="months",
                  survival_event="relapse")
    # a site without the Cox model's predictors: skipped unless asked for
    no_age = tmp_path / "no_age.csv"
    clin.drop(columns=["age"]).to_csv(no_age, index=False)
    assert "survival" not in _validate(root, tmp_path / "d", clinical=no_age)["share"]
    with pytest.raises(InputError, match="lacks the predictor"):
        _validate(root, tmp_path / "e", clinical=no_age, survival_time="time",
                  survival_event="event")


def test_site_with_a_bundle_without_survival_model(cox_run: tuple[Path, dict],
                                                   tmp_path: Path) -> None:
    from radval.models.bundle import load_bundle, write_bundle

    root, res = cox_run
    sig = load_bundle(root / "out" / "bundle").signature
    import dataclasses

    old = write_bundle(tmp_path / "old", dataclasses.replace(sig, survival=None))
    site = _validate(root, tmp_path / "v", bundle=old, survival_time="time",
                     survival_event="event")
    got = site["results"]["survival"]
    assert got["survival_model"] is None and got["horizons"] == []
    assert got["time_dependent_auc"] == [] and got["brier"] == []
    c, p = _cohort_data(root, res, "val")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        ci = stats.concordance_index(c["time"].to_numpy(), c["event"].to_numpy(),
                                     p["score"].to_numpy())
    assert got["summary"][0]["c_index"] == pytest.approx(ci.estimate, rel=1e-12)
    assert site["share"]["survival"]["horizons"] == []
    assert "survival" not in _validate(root, tmp_path / "w", bundle=old)["share"]
