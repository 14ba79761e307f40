"""Time-to-event validation statistics against R (tests/reference/survival_validation.R).

R riskRegression 2022.11.28 (Score: AUC and Brier with influence-function SEs, KM
censoring model), survival 3.5-3 (concordance n/G2, survfit medians, survdiff with
strata and rho, coxph with strata, survfit(coxph, newdata)), Hmisc rcspline.eval.
Every quantity is deterministic and compared with rtol 1e-9, except the Cox fits
(R iterates to eps = 1e-13, radval's Newton steps below 1e-12): also rtol 1e-9,
measured agreement ~1e-12.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import HorizonWarning, UndefinedMetricWarning
from radval.stats import (
    cox_ph,
    kaplan_meier,
    logrank_test,
    median_survival,
    survival_brier,
    survival_calibration,
    time_dependent_auc,
    uno_c,
)

REF = json.loads((Path(__file__).parents[1] / "reference"
                  / "survival_validation.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
NAMES = list(CASES)
RTOL = 1e-9


def _arr(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    c = CASES[name]
    return np.asarray(c["time"], dtype=float), np.asarray(c["event"], dtype=float)


def _quiet(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HorizonWarning)
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return fn(*args, **kwargs)


def test_reference_scenarios_are_what_they_claim() -> None:
    assert CASES["heavy_censoring"]["censored_fraction"] > 0.7
    t, e = _data("heavy_censoring")
    assert np.unique(t).size == t.size  # no ties of any kind
    t, e = _data("ties")
    assert np.unique(t[e == 1]).size < (e == 1).sum()  # tied event times
    assert np.intersect1d(t[e == 1], t[e == 0]).size > 0  # censoring tied with events
    c = CASES["beyond_last_event"]
    assert c["horizons"][2] > c["last_event"] and c["horizons"][2] < c["max_followup"]
    assert c["horizons"][3] > c["max_followup"]


@pytest.mark.parametrize("name", NAMES)
def test_time_dependent_auc_matches_riskregression(name: str) -> None:
    t, e = _data(name)
    c = CASES[name]
    ref = c["auc"]
    out = _quiet(time_dependent_auc, t, e, c["score"], c["horizons"])
    got = out.set_index("time").loc[ref["time"]]
    for col in ("auc", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(got[col].to_numpy(), _arr(ref[col]), rtol=RTOL,
                                   err_msg=col)
    assert list(out.columns[:5]) == ["time", "auc", "se", "ci_low", "ci_high"]


@pytest.mark.parametrize("name", NAMES)
def test_survival_brier_matches_riskregression(name: str) -> None:
    t, e = _data(name)
    c = CASES[name]
    ref = c["brier"]
    res = _quiet(survival_brier, t, e, np.asarray(c["survival_prob"]), c["horizons"])
    got = res.table.set_index("time").loc[ref["time"]]
    for col in ("brier", "se", "ci_low", "ci_high", "brier_null", "ipa"):
        np.testing.assert_allclose(got[col].to_numpy(), _arr(ref[col]), rtol=RTOL,
                                   atol=1e-15, err_msg=col)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("which", ["uno", "uno_tau"])
def test_uno_c_matches_concordance_n_g2(name: str, which: str) -> None:
    t, e = _data(name)
    c = CASES[name]
    ref = c[which]
    tau = ref["ymax"] if which == "uno_tau" else None
    res = uno_c(t, e, c["score"], tau=tau)
    np.testing.assert_allclose(res.estimate, ref["estimate"], rtol=RTOL)
    np.testing.assert_allclose(res.variance, ref["var"], rtol=RTOL)
    cnt = ref["count"]
    np.testing.assert_allclose([res.concordant, res.discordant, res.tied_score],
                               [cnt["concordant"], cnt["discordant"], cnt["tied.x"]],
                               rtol=RTOL)


def _list(v: object) -> list:
    """R's auto_unbox writes length-1 vectors as scalars."""
    return v if isinstance(v, list) else [v]


def _compare_medians(got: pd.DataFrame, ref: dict) -> None:
    assert [str(g) for g in got["group"]] == [str(g) for g in _list(ref["group"])]
    np.testing.assert_array_equal(got["n"], _list(ref["n"]))
    np.testing.assert_array_equal(got["events"], _list(ref["events"]))
    for col in ("median", "ci_low", "ci_high"):
        np.testing.assert_allclose(got[col].to_numpy(float), _arr(_list(ref[col])), rtol=RTOL,
                                   equal_nan=True, err_msg=col)


@pytest.mark.parametrize("name", NAMES)
def test_median_survival_matches_survfit(name: str) -> None:
    t, e = _data(name)
    c = CASES[name]
    _compare_medians(median_survival(t, e), c["median_all"])
    _compare_medians(median_survival(t, e, group=c["group"]), c["median_group"])


def test_median_veteran_midpoint_and_level() -> None:
    v = REF["veteran"]
    got = median_survival(v["time"], v["event"], group=v["trt"])
    assert got["median"].iloc[1] == 52.5  # S = 0.5 between two event times: midpoint
    _compare_medians(got, v["median_trt"])
    _compare_medians(median_survival(v["time"], v["event"]), v["median_all"])
    _compare_medians(median_survival(v["time"], v["event"], group=v["trt"],
                                     confidence_level=0.90), v["median_90"])
    km = kaplan_meier(v["time"], v["event"], group=v["trt"])
    assert km.attrs["median"]["2"]["median"] == 52.5
    assert km.attrs["median"]["1"]["ci_high"] == v["median_trt"]["ci_high"][0]


def _compare_logrank(res, ref: dict) -> None:  # noqa: ANN001
    np.testing.assert_allclose(res.statistic, ref["statistic"], rtol=RTOL)
    assert res.df == ref["df"]
    np.testing.assert_allclose(res.p_value, ref["p_value"], rtol=RTOL)
    np.testing.assert_allclose(res.table["observed"], ref["observed"], rtol=RTOL)
    np.testing.assert_allclose(res.table["expected"], ref["expected"], rtol=RTOL)


@pytest.mark.parametrize("name", NAMES)
def test_logrank_strata_rho_match_survdiff(name: str) -> None:
    t, e = _data(name)
    c = CASES[name]
    for ref in c["logrank"]:
        res = logrank_test(t, e, c["group"], rho=ref["rho"],
                           strata=c["stratum"] if ref["strata"] else None)
        _compare_logrank(res, ref)
        assert res.n_strata == (len(set(c["stratum"])) if ref["strata"] else 1)


def test_logrank_veteran_strata_rho() -> None:
    v = REF["veteran"]
    for ref in v["logrank"]:
        res = logrank_test(v["time"], v["event"], v["trt"], rho=ref["rho"],
                           strata=v["celltype"] if ref["strata"] else None)
        _compare_logrank(res, ref)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_strata_matches_coxph(ties: str) -> None:
    v = REF["veteran"]
    x = pd.DataFrame({"trt": v["trt"], "karno": v["karno"], "age": v["age"]}, dtype=float)
    ref = v["cox_strata"][ties]
    res = cox_ph(v["time"], v["event"], x, strata=v["celltype"], ties=ties)
    np.testing.assert_allclose(res.coef, ref["coef"], rtol=RTOL)
    np.testing.assert_allclose(res.se, ref["se"], rtol=RTOL)
    np.testing.assert_allclose([res.loglik_null, res.loglik], ref["loglik"], rtol=1e-12)
    assert res.n_strata == 4
    assert set(res.baseline["stratum"]) == set(v["celltype"])
    for name in NAMES:
        t, e = _data(name)
        c = CASES[name]
        xc = pd.DataFrame(np.asarray(c["x"], dtype=float), columns=c["x_names"])
        r = c["cox_strata"][ties]
        got = cox_ph(t, e, xc, strata=c["stratum"], ties=ties)
        np.testing.assert_allclose(got.coef, r["coef"], rtol=RTOL, err_msg=name)
        np.testing.assert_allclose(got.se, r["se"], rtol=RTOL, err_msg=name)


def test_cox_predict_survival_matches_survfit() -> None:
    c = CASES["pbc"]
    t, e = _data("pbc")
    x = pd.DataFrame(np.asarray(c["x"], dtype=float), columns=c["x_names"])
    fit = cox_ph(t, e, x)
    np.testing.assert_allclose(fit.coef, c["cox_predict"]["coef"], rtol=RTOL)
    got = fit.predict_survival(x.to_numpy(), c["horizons"])
    np.testing.assert_allclose(got, np.asarray(c["cox_predict"]["survival"]), rtol=RTOL)


@pytest.mark.parametrize("name", NAMES)
def test_survival_calibration_matches_r(name: str) -> None:
    t, e = _data(name)
    c = CASES[name]
    ref = c["calibration"]
    k = c["horizons"].index(ref["horizon"])
    risk = 1.0 - np.asarray(c["survival_prob"])[:, k]
    res = _quiet(survival_calibration, t, e, risk, ref["horizon"])
    for f in ("observed_risk", "mean_predicted", "o_e_ratio", "o_e_ci_low", "o_e_ci_high",
              "slope", "slope_se", "ici", "e50", "e90", "emax"):
        np.testing.assert_allclose(getattr(res, f), ref[f], rtol=RTOL, err_msg=f)
    np.testing.assert_allclose(res.knots, ref["knots"], rtol=RTOL)
    g = ref["grouped"]
    for col in ("group", "n", "events", "mean_predicted", "observed", "ci_low", "ci_high"):
        np.testing.assert_allclose(res.grouped[col].to_numpy(float), _arr(g[col]), rtol=RTOL,
                                   atol=1e-15, equal_nan=True, err_msg=col)
    # the curve: R's per-patient observed risks, one row per distinct predicted risk
    obs = pd.Series(ref["curve_observed"], index=risk[(risk > 0) & (risk < 1)])
    want = obs.groupby(level=0).first()
    np.testing.assert_allclose(res.curve["predicted"], want.index, rtol=0)
    np.testing.assert_allclose(res.curve["observed"], want.to_numpy(), rtol=RTOL)


def test_beyond_follow_up_is_nan_with_a_warning() -> None:
    c = CASES["beyond_last_event"]
    t, e = _data("beyond_last_event")
    h = c["horizons"]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = time_dependent_auc(t, e, c["score"], h)
    msgs = [str(w.message) for w in rec if issubclass(w.category, HorizonWarning)]
    assert any("days when the study says months" in m for m in msgs)
    assert any("beyond the last event" in m for m in msgs)
    assert np.isnan(out["auc"].iloc[-1]) and np.isnan(out["se"].iloc[-1])
    assert np.isfinite(out["auc"].iloc[:3]).all()
    with pytest.warns(HorizonWarning, match="beyond the last event"):
        time_dependent_auc(t, e, c["score"], h[:3])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = survival_brier(t, e, np.asarray(c["survival_prob"]), h)
    assert any("maximum follow-up" in str(w.message) for w in rec)
    assert np.isnan(res.table["brier"].iloc[-1]) and np.isfinite(res.table["brier"].iloc[2])
    with pytest.warns(HorizonWarning, match="maximum follow-up"):
        cal = survival_calibration(t, e, 1 - np.asarray(c["survival_prob"])[:, 3], h[3])
    assert np.isnan(cal.observed_risk) and np.isnan(cal.slope)
