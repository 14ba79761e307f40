"""Calibration and clinical utility in the evaluation: every number against the stats
functions called directly on the same patients (synthetic predictions, fast)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from radval._rng import stable_rng
from radval.exceptions import ConfigError
from radval.stats import (
    calibration_curve,
    decision_curve,
    decision_curve_difference,
    optimism_corrected_curve,
    optimism_corrected_net_benefit,
    partial_auc,
    threshold_metrics,
)
from radval.stats._calibration import calibration
from radval.stats._calibration_curve import r_seq
from radval.workflow import evaluate_predictions, study_from_dict
from radval.workflow._calibration import (
    apply_recalibration,
    corrected_tables,
    curve_spec,
    fit_recalibration,
    resample_curves,
)
from radval.workflow._study import PartialAucConfig

ROLES = {"dev": "development", "val": "external_validation"}


def _preds(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for cohort, n in (("dev", 160), ("val", 110)):
        x = rng.normal(size=n)
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.2 * x - 0.7)))).astype(int)
        ids = [f"{cohort}{i:03d}" for i in range(n)]
        lps = {"radiomics": 0.4 * x - 0.3,  # a shrunken score: slope ~3 in development
               "clinical": 0.8 * x - 0.6 + rng.normal(0, 0.9, n),
               "combined": 1.2 * x - 0.7,
               "nomogram": 1.1 * x - 0.6 + rng.normal(0, 0.3, n)}
        for model, lp in lps.items():
            rows.append(pd.DataFrame({"patient_id": ids, "cohort": cohort, "model": model,
                                      "score": lp, "probability": 1 / (1 + np.exp(-lp)),
                                      "y_true": y}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def evaluated() -> tuple[pd.DataFrame, dict[str, Any], Any]:
    rng = np.random.default_rng(42)
    preds = _preds(rng)
    ids = sorted(preds.patient_id.unique())
    # level "few" of the dev cohort holds only non-events: reported, not crashed
    dev = preds[(preds.model == "combined") & (preds.cohort == "dev")]
    few = set(dev[dev.y_true == 0].patient_id[:12])
    groups = {"half": {"odd": set(ids[1::2]), "even": set(ids[0::2])},
              "rare": {"few": few, "rest": set(ids) - few}}
    out = evaluate_predictions(preds, cutoffs={m: 0.3 for m in preds.model.unique()},
                               roles=ROLES, subgroup_ids=groups, n_bootstrap=100,
                               roc_band_resamples=20, dca_thresholds=[0.05, 0.1, 0.2, 0.3],
                               seed=9, calibration_band=60, net_benefit_bootstrap=80,
                               partial_auc=PartialAucConfig(specificity=(1.0, 0.8)))
    return preds, groups, out


def _cohort(preds: pd.DataFrame, cohort: str, model: str) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    p = preds[(preds.cohort == cohort) & (preds.model == model)].sort_values("patient_id")
    return (p.y_true.to_numpy(int), p.probability.to_numpy(float),
            p.patient_id.astype(str).to_numpy())


def test_score_models_are_calibrated_after_recalibration_on_development(evaluated) -> None:
    preds, _groups, out = evaluated
    cal = out.calibration.set_index(["cohort", "model"])
    y, p, _ = _cohort(preds, "dev", "radiomics")
    a, b, ok = fit_recalibration(y, p)
    assert ok and b > 2  # the raw score is far from calibrated (slope ~3)
    raw = calibration(y, p)
    assert raw.slope == pytest.approx(b, rel=1e-6)
    row = cal.loc[("dev", "radiomics")]
    assert row.risk_scale == "recalibrated_score"
    assert row.recalibration_intercept == pytest.approx(a, rel=1e-12)
    assert row.recalibration_slope == pytest.approx(b, rel=1e-12)
    # development: intercept 0 and slope 1 by construction
    assert row.intercept == pytest.approx(0.0, abs=1e-8)
    assert row.slope == pytest.approx(1.0, rel=1e-8)
    # validation: the calibration of the frozen recalibration, a genuine finding
    yv, pv, _ = _cohort(preds, "val", "radiomics")
    ref = calibration(yv, np.clip(apply_recalibration(pv, a, b), 1e-10, 1 - 1e-10))
    rv = cal.loc[("val", "radiomics")]
    assert_allclose([rv.intercept, rv.slope, rv.citl, rv.brier, rv.ici],
                    [ref.intercept, ref.slope, ref.citl, ref.brier, ref.ici], rtol=1e-10)
    # the other models keep their own probability
    assert (cal.loc[(slice(None), "combined"), "risk_scale"] == "model").all()
    assert math.isnan(cal.loc[("val", "combined"), "recalibration_slope"])


def test_calibration_band_is_the_stats_curve(evaluated) -> None:
    preds, _groups, out = evaluated
    band = out.curves["calibration_band"]
    for cohort, model in (("val", "combined"), ("dev", "radiomics")):
        y, p, _ = _cohort(preds, cohort, model)
        if model == "radiomics":
            a, b, _ok = fit_recalibration(*_cohort(preds, "dev", model)[:2])
            p = apply_recalibration(p, a, b)
        ref = calibration_curve(y, p, n_bootstrap=60, grid=r_seq(p.min(), p.max(), 100),
                                rng=stable_rng(9, "calband", cohort, model))
        got = band[(band.cohort == cohort) & (band.model == model)]
        assert len(got) == 100
        assert_allclose(got[["predicted", "observed", "ci_low", "ci_high"]].to_numpy(float),
                        ref.curve[["predicted", "observed", "ci_low", "ci_high"]]
                        .to_numpy(float), rtol=1e-12)
        row = out.calibration.set_index(["cohort", "model"]).loc[(cohort, model)]
        assert_allclose([row.curve_ici, row.curve_e50, row.curve_e90, row.curve_emax],
                        [ref.ici, ref.e50, ref.e90, ref.emax], rtol=1e-12)
        assert row.curve_method == "loess"


def test_subgroup_calibration_and_heterogeneity(evaluated) -> None:
    from scipy.stats import chi2

    preds, groups, out = evaluated
    sc = out.subgroup_calibration
    y, p, ids = _cohort(preds, "val", "combined")
    rows = sc[(sc.cohort == "val") & (sc.model == "combined") & (sc.subgroup == "half")]
    est, var = [], []
    for lvl in ("odd", "even"):
        m = np.isin(ids, list(groups["half"][lvl]))
        ref = calibration(y[m], p[m])
        r = rows[rows.level == lvl].iloc[0]
        assert_allclose([r.citl, r.citl_se, r.slope, r.slope_se],
                        [ref.citl, ref.citl_se, ref.slope, ref.slope_se], rtol=1e-10)
        o, e = y[m].sum(), p[m].sum()
        assert r.o_e == pytest.approx(o / e, rel=1e-12)
        assert r.log_o_e_se == pytest.approx(math.sqrt((1 - o / m.sum()) / o), rel=1e-12)
        est.append(ref.slope)
        var.append(ref.slope_se**2)
    w = 1 / np.array(var)
    mu = np.sum(w * est) / w.sum()
    q = float(np.sum(w * (np.array(est) - mu) ** 2))
    het = out.subgroup_heterogeneity
    h = het[(het.cohort == "val") & (het.model == "combined") & (het.subgroup == "half")
            & (het.measure == "slope")].iloc[0]
    assert h.statistic == pytest.approx(q, rel=1e-10)
    assert h.p_value == pytest.approx(chi2.sf(q, 1), rel=1e-10)
    assert h.pooled == pytest.approx(mu, rel=1e-12)
    curves = out.curves["calibration_subgroup"]
    assert set(curves[(curves.cohort == "val") & (curves.subgroup == "half")].level) == \
        {"odd", "even"}
    assert set(curves.model) == {"combined"}  # the signature model's curves only


def test_subgroup_with_one_class_is_reported_not_crashed(evaluated) -> None:
    _preds_, _groups, out = evaluated
    sc = out.subgroup_calibration
    few = sc[(sc.cohort == "dev") & (sc.level == "few")]
    assert len(few) == 4 and few.events.eq(0).all()
    assert few.undefined_reason.str.contains("only one outcome class").all()
    assert few.citl.isna().all()
    nb = out.subgroup_net_benefit
    few_nb = nb[(nb.cohort == "dev") & (nb.level == "few")]
    assert few_nb.net_benefit.isna().all()
    assert few_nb.undefined_reason.str.contains("one outcome class").all()
    het = out.subgroup_heterogeneity
    h = het[(het.cohort == "dev") & (het.subgroup == "rare")]
    assert h.statistic.isna().all() and h.undefined_reason.str.contains("few").all()
    # in the validation cohort the level is empty: no patients, reported too
    v = sc[(sc.cohort == "val") & (sc.level == "few")]
    assert (v.n == 0).all() and v.undefined_reason.eq("no patients").all()


def test_subgroup_net_benefit_matches_decision_curve_and_multinomial_se(evaluated) -> None:
    preds, groups, out = evaluated
    nb = out.subgroup_net_benefit
    y, p, ids = _cohort(preds, "dev", "nomogram")
    m = np.isin(ids, list(groups["half"]["odd"]))
    ref = decision_curve(y[m], p[m], thresholds=[0.1, 0.2, 0.3]).set_index("threshold")
    got = nb[(nb.cohort == "dev") & (nb.model == "nomogram") & (nb.level == "odd")]
    for r in got.itertuples():
        assert r.net_benefit == pytest.approx(ref.loc[r.threshold, "net_benefit"], rel=1e-12)
        a = np.mean((p[m] >= r.threshold) & (y[m] == 1))
        b = np.mean((p[m] >= r.threshold) & (y[m] == 0))
        w = r.threshold / (1 - r.threshold)
        se = math.sqrt((a * (1 - a) + w**2 * b * (1 - b) + 2 * w * a * b) / m.sum())
        assert r.se == pytest.approx(se, rel=1e-12)
        assert r.ci_low == pytest.approx(r.net_benefit - 1.959963984540054 * se, rel=1e-9)
    het = out.subgroup_heterogeneity
    assert set(het[het.measure == "net_benefit"].threshold) == {0.1, 0.2, 0.3}


def test_net_benefit_difference_and_partial_auc_and_ratios(evaluated) -> None:
    preds, _groups, out = evaluated
    d = out.net_benefit_difference
    # defaults: the signature (combined) and the nomogram against the clinical model
    assert set(zip(d.model_a, d.model_b, strict=True)) == {("combined", "clinical"),
                                                           ("nomogram", "clinical")}
    y, pa, _ = _cohort(preds, "val", "combined")
    _y, pb, _ = _cohort(preds, "val", "clinical")
    ref = decision_curve_difference(y, pa, pb, thresholds=[0.05, 0.1, 0.2, 0.3],
                                    n_bootstrap=80, rng=stable_rng(9, "nbdiff", "val",
                                                                   "combined", "clinical"))
    got = d[(d.cohort == "val") & (d.model_a == "combined")]
    assert_allclose(got[["threshold", "nb_a", "nb_b", "difference", "ci_low", "ci_high"]]
                    .to_numpy(float), ref.to_numpy(float), rtol=1e-12)
    pa_tab = out.partial_auc
    r = pa_tab[(pa_tab.cohort == "val") & (pa_tab.model == "combined")].iloc[0]
    ref_p = partial_auc(y, pa, specificity=(1.0, 0.8), n_bootstrap=100,
                        rng=stable_rng(9, "pauc", "val", "combined"))
    assert_allclose([r.estimate, r.ci_low, r.ci_high],
                    [ref_p.estimate, ref_p.ci_low, ref_p.ci_high], rtol=1e-12)
    tm = out.threshold_metrics
    got_lr = tm[(tm.cohort == "val") & (tm.model == "combined") & (tm.subgroup == "all")
                & tm.metric.isin(["lr_positive", "lr_negative", "dor"])].set_index("metric")
    ref_t = threshold_metrics(y, pa, threshold=0.3).to_frame().set_index("metric")
    for k in ("lr_positive", "lr_negative", "dor"):
        assert_allclose(got_lr.loc[k, ["estimate", "ci_low", "ci_high"]].to_numpy(float),
                        ref_t.loc[k, ["estimate", "ci_low", "ci_high"]].to_numpy(float),
                        rtol=1e-12)
        assert got_lr.loc[k, "numerator"] is None
    sens = tm[(tm.cohort == "val") & (tm.model == "combined") & (tm.subgroup == "all")
              & (tm.metric == "sensitivity")].iloc[0]
    assert isinstance(sens.numerator, int)


def test_explicit_pairs_and_signature_alias(rng: np.random.Generator) -> None:
    preds = _preds(rng)
    out = evaluate_predictions(preds, cutoffs={}, roles=ROLES, n_bootstrap=0,
                               dca_thresholds=[0.2], calibration_band=0,
                               net_benefit_pairs=[("signature", "radiomics"),
                                                  ("clinical", "missing")],
                               net_benefit_bootstrap=0)
    d = out.net_benefit_difference
    assert set(zip(d.model_a, d.model_b, strict=True)) == {("combined", "radiomics"),
                                                           ("clinical", "missing")}
    assert d[d.model_b == "missing"].undefined_reason.str.contains("no predictions").all()
    assert d[d.model_b == "radiomics"].ci_low.isna().all()  # no bootstrap asked


def test_corrected_curves_are_rms_calibrate_by_hand(rng: np.random.Generator) -> None:
    from radval.models.logistic import fit_logistic

    n = 120
    x = rng.normal(size=(n, 3))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(x[:, 0] - 0.5)))).astype(int)

    def fit_prob(xt: np.ndarray, yt: np.ndarray, xs: np.ndarray) -> np.ndarray:
        f = fit_logistic(xt, yt)
        return 1 / (1 + np.exp(-f.linear_predictor(xs)))

    p_app = fit_prob(x, y, x)
    thresholds = [0.1, 0.2, 0.3, 0.4]
    spec = curve_spec(method="loess", thresholds=thresholds, y=y, apparent={"m": p_app})
    recs, train, test, nb_tr, nb_te = [], [], [], [], []
    grid = spec.grids["m"]
    for b in range(15):
        idx = np.sort(stable_rng(1, "b", str(b)).integers(0, n, n))
        ptr, pte = fit_prob(x[idx], y[idx], x[idx]), fit_prob(x[idx], y[idx], x)
        recs.append({"curves": {"m": resample_curves(spec, "m", y[idx], ptr, y, pte)}})
        train.append(calibration_curve(y[idx], ptr, n_bootstrap=0, grid=grid).curve.observed)
        test.append(calibration_curve(y, pte, n_bootstrap=0, grid=grid).curve.observed)
        nb_tr.append(decision_curve(y[idx], ptr, thresholds=thresholds).net_benefit)
        nb_te.append(decision_curve(y, pte, thresholds=thresholds).net_benefit)
    got = corrected_tables(spec, y, {"m": p_app}, recs)
    apparent = calibration_curve(y, p_app, n_bootstrap=0, grid=grid).curve.observed
    ref = optimism_corrected_curve(p_app, grid, apparent, np.vstack(train), np.vstack(test))
    assert_allclose(got["calibration"][["predicted", "apparent", "optimism", "corrected"]]
                    .to_numpy(float),
                    ref.curve[["predicted", "apparent", "optimism", "corrected"]]
                    .to_numpy(float), rtol=1e-12, equal_nan=True)
    s = got["summary"].iloc[0]
    assert_allclose([s.mean_abs_error, s.q90_abs_error, s.mean_squared_error],
                    [ref.mean_abs_error, ref.q90_abs_error, ref.mean_squared_error],
                    rtol=1e-12)
    # the rms calibrate grid: p[5] .. p[n - 4] of the sorted apparent risks, 50 points
    srt = np.sort(p_app)
    assert_allclose(grid, r_seq(srt[4], srt[-5], 50), rtol=1e-15)
    nb_ref = optimism_corrected_net_benefit(
        thresholds, decision_curve(y, p_app, thresholds=thresholds).net_benefit,
        np.vstack(nb_tr), np.vstack(nb_te))
    assert_allclose(got["net_benefit"][["apparent", "optimism", "corrected"]].to_numpy(float),
                    nb_ref[["apparent", "optimism", "corrected"]].to_numpy(float),
                    rtol=1e-12)


def test_score_model_is_recalibrated_inside_each_resample(rng: np.random.Generator) -> None:
    n = 100
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.5 * x)))).astype(int)
    score = 0.4 * x  # shrunken
    p = 1 / (1 + np.exp(-score))
    spec = curve_spec(method="lowess", thresholds=[0.2], y=y, apparent={"radiomics": p})
    assert spec.score_models == ("radiomics",)
    idx = np.sort(stable_rng(2, "r").integers(0, n, n))
    rec = resample_curves(spec, "radiomics", y[idx], p[idx], y, p)
    a, b, _ = fit_recalibration(y[idx], p[idx])
    grid = spec.grids["radiomics"]
    ref = calibration_curve(y, apply_recalibration(p, a, b), method="lowess", n_bootstrap=0,
                            grid=grid)
    assert_allclose(rec["cal_test"], ref.curve.observed.to_numpy(float), rtol=1e-12,
                    equal_nan=True)
    # the grid comes from the risks recalibrated on development
    a0, b0, _ = fit_recalibration(y, p)
    srt = np.sort(apply_recalibration(p, a0, b0))
    assert grid[0] == pytest.approx(srt[4], rel=1e-12)


def _study(evaluation: dict[str, Any]) -> Any:
    return study_from_dict({
        "name": "s", "outcome": {"column": "y"}, "clinical": "c.csv", "manifest": "m.csv",
        "cohorts": [{"name": "d", "role": "development"}], "evaluation": evaluation})


@pytest.mark.parametrize(("evaluation", "match"), [
    ({"partial_auc": {"specificity": [0.8, 0.8]}}, "range .* is empty"),
    ({"partial_auc": {"specificity": [0.8, 1.0]}}, "reversed"),
    ({"partial_auc": {"specificity": [1.0, 0.8], "sensitivity": [1.0, 0.9]}},
     "exactly one of"),
    ({"partial_auc": {"sensitivity": [1.2, 0.9]}}, "bounds must be in"),
    ({"net_benefit_thresholds": [0.1, 1.0]}, "net_benefit_thresholds: thresholds must be in "
                                             r"\(0, 1\)"),
    ({"net_benefit_thresholds": [0.0]}, "thresholds must be in"),
    ({"dca_thresholds": [0.0, 0.5]}, "dca_thresholds: thresholds must be in"),
    ({"net_benefit_comparisons": [["signature", "signature"]]}, "two different models"),
    ({"net_benefit_comparisons": [["signature", "svm"]]}, r"\['svm'\] are not models"),
    ({"calibration_curve": "isotonic"}, "calibration_curve"),
    ({"calibration_band": -1}, "calibration_band"),
])
def test_study_options_bad_input(evaluation: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _study(evaluation)


def test_study_options_defaults_and_valid() -> None:
    s = _study({"partial_auc": {"sensitivity": [1.0, 0.9], "correct": True},
                "net_benefit_comparisons": [["signature", "clinical"]],
                "net_benefit_thresholds": [0.3, 0.1, 0.1]})
    ev = s.evaluation
    assert ev.partial_auc is not None and ev.partial_auc.sensitivity == (1.0, 0.9)
    assert ev.net_benefit_thresholds == [0.1, 0.3]
    d = _study({}).evaluation
    assert (d.calibration_curve, d.calibration_band, d.partial_auc) == ("loess", 500, None)
    assert d.net_benefit_thresholds == [0.1, 0.2, 0.3]


def test_optimism_indexes_of_a_score_are_those_of_its_recalibration(
        rng: np.random.Generator) -> None:
    from radval.workflow import performance_indexes
    from radval.workflow._calibration import recalibrated_indexes

    n = 150
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.4 * x - 0.5)))).astype(int)
    p_fit = 1 / (1 + np.exp(-(0.4 * x)))           # shrunken score, raw slope ~3.5
    x2 = rng.normal(size=n)
    y2 = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.0 * x2 - 0.5)))).astype(int)
    p_eval = 1 / (1 + np.exp(-(0.4 * x2)))
    raw_fit, raw_eval = performance_indexes(y, p_fit), performance_indexes(y2, p_eval)
    assert raw_fit["slope"] > 2.5
    fit, ev = recalibrated_indexes(y, p_fit, y2, p_eval, raw_fit, raw_eval)
    assert fit["slope"] == pytest.approx(1.0, rel=1e-8)
    assert fit["intercept"] == pytest.approx(0.0, abs=1e-8)
    a, b, _ = fit_recalibration(y, p_fit)
    ref = performance_indexes(y2, apply_recalibration(p_eval, a, b))
    assert_allclose([ev["slope"], ev["intercept"], ev["brier"]],
                    [ref["slope"], ref["intercept"], ref["brier"]], rtol=1e-10)
    assert ev["auc"] == raw_eval["auc"]  # discrimination is the score's
    # one outcome class in the fitting data: no recalibration, calibration indexes NaN
    f0, e0 = recalibrated_indexes(np.zeros(n, int), p_fit, y2, p_eval, raw_fit, raw_eval)
    assert math.isnan(e0["slope"]) and e0["auc"] == raw_eval["auc"]


def test_subgroup_calibration_matches_R_glm_and_metafor() -> None:
    import json
    from pathlib import Path

    from radval.workflow._calibration import subgroup_calibration

    ref = json.loads((Path(__file__).resolve().parents[1] / "reference"
                      / "subgroup_calibration.json").read_text())
    y = np.asarray(ref["y"], dtype=np.int64)
    p = np.asarray(ref["p"], dtype=float)
    level = np.asarray(ref["level"])
    ids = np.array([f"p{i}" for i in range(y.size)])
    groups = {"g": {lv: set(ids[level == lv]) for lv in ("a", "b", "c")}}
    rows, _curves, het = subgroup_calibration(
        y, p, ids, key={"cohort": "c", "model": "m"}, risk_scale="model",
        subgroup_ids=groups, method="loess", band=0, level=0.95, seed=1, curves=False)
    got = pd.DataFrame(rows).set_index("level").loc[["a", "b", "c"]]
    for col in ("citl", "citl_se", "slope", "slope_se", "log_o_e", "log_o_e_se"):
        assert_allclose(got[col].to_numpy(float), ref[col], rtol=1e-9, err_msg=col)
    h = pd.DataFrame(het).set_index("measure")
    for m in ("citl", "slope", "log_o_e"):
        r = ref[f"q_{m}"]
        assert_allclose([h.loc[m, "statistic"], h.loc[m, "p_value"], h.loc[m, "pooled"]],
                        [r["statistic"], r["p_value"], r["pooled"]], rtol=1e-9, err_msg=m)
