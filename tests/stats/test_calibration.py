"""Tests of radval.stats._calibration / hosmer_lemeshow against rms::val.prob, glm, lowess
and a plain-R ResourceSelection::hoslem.test."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from radval.exceptions import (
    ConvergenceWarning,
    DataError,
    InputError,
    SmallSampleWarning,
    UndefinedMetricWarning,
)
from radval.stats._calibration import calibration, hosmer_lemeshow, quantile_type7
from radval.stats._kernels import wilson_interval
from radval.stats._lowess import lowess

HERE = Path(__file__).parents[1] / "reference"
RMS = {c["name"]: c for c in json.loads((HERE / "rms.json").read_text())["cases"]}
HOSLEM = {c["name"]: c for c in json.loads((HERE / "hoslem.json").read_text())["cases"]}


def _calib(case: dict) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # p = 0 / 1 case
        return calibration(np.array(case["y"]), np.array(case["p"]))


@pytest.mark.parametrize("name", sorted(RMS))
def test_calibration_matches_R_rms_val_prob(name: str) -> None:
    case = RMS[name]
    vp = case["val_prob"]
    res = _calib(case)
    # deterministic statistics: 1e-9
    assert_allclose(res.brier, vp["Brier"], rtol=1e-9)
    assert_allclose(res.emax, vp["Emax"], rtol=1e-9)
    assert_allclose(res.e90, vp["E90"], rtol=1e-9)
    assert_allclose(res.eavg, vp["Eavg"], rtol=1e-9)
    assert res.ici == res.eavg  # lowess-based ICI
    assert_allclose(res.spiegelhalter_z, vp["S:z"], rtol=1e-9)
    assert_allclose(res.spiegelhalter_p, vp["S:p"], rtol=1e-9)
    # val.prob fits the recalibration with lrm.fit, whose default stopping rule
    # (change in -2 log L < 0.025) leaves ~1e-9 relative error: compare at 1e-6.
    # The same model fitted by glm to epsilon = 1e-15 is the 1e-9 reference.
    assert_allclose([res.intercept, res.slope], [vp["Intercept"], vp["Slope"]], rtol=1e-6)
    assert_allclose([res.intercept, res.slope], case["recal_coef"], rtol=1e-9)


@pytest.mark.parametrize("name", sorted(RMS))
def test_calibration_se_ci_citl_match_R_glm(name: str) -> None:
    case = RMS[name]
    res = _calib(case)
    assert_allclose([res.intercept_se, res.slope_se], case["recal_se"], rtol=1e-9)
    ci = np.array(case["recal_ci"])  # rows: intercept, slope; cols: 2.5 %, 97.5 %
    assert_allclose([res.intercept_ci_low, res.intercept_ci_high], ci[0], rtol=1e-9)
    assert_allclose([res.slope_ci_low, res.slope_ci_high], ci[1], rtol=1e-9)
    assert_allclose(res.citl, case["citl"], rtol=1e-9)
    assert_allclose(res.citl_se, case["citl_se"], rtol=1e-9)
    assert_allclose([res.citl_ci_low, res.citl_ci_high], np.ravel(case["citl_ci"]), rtol=1e-9)
    assert_allclose(res.o_e_ratio, case["o_e"], rtol=1e-12)
    assert res.n == len(case["y"]) and res.events == int(np.sum(case["y"]))


@pytest.mark.parametrize("name", sorted(RMS))
def test_lowess_matches_R(name: str) -> None:
    case = RMS[name]
    xs, fit = lowess(case["p"], case["y"], iter=0)
    assert_array_equal(xs, case["lowess_x"])
    assert_allclose(fit, case["lowess_y"], rtol=0, atol=1e-12)


def test_lowess_robust_iterations_and_ties() -> None:
    """Robustness iterations, delta = 0 and ties, against R 4.2.2 lowess().

    R: x <- c(1, 2, 2, 3, 5, 8, 8, 8, 9, 12); y <- c(2, 1, 4, 3, 8, 5, 13, 6, 9, 30)
    round(lowess(x, y)$y, 10); round(lowess(x, y, f = 0.8, iter = 0, delta = 0)$y, 10)
    """
    x = [1, 2, 2, 3, 5, 8, 8, 8, 9, 12]
    y = [2, 1, 4, 3, 8, 5, 13, 6, 9, 30]
    _, fit = lowess(x, y)
    _, fit0 = lowess(x, y, f=0.8, iter=0, delta=0.0)
    assert fit[1] == fit[2] and fit0[5] == fit0[6] == fit0[7]
    assert_allclose(fit, R_LOWESS_ROBUST, atol=1e-10)
    assert_allclose(fit0, R_LOWESS_F08, atol=1e-10)


R_LOWESS_ROBUST = [1.2669174097, 2.6790702720, 2.6790702720, 4.1740500855, 8.0000000000,
                   7.4041297990, 7.4041297990, 7.4041297990, 11.3887325697, 29.5665780112]
R_LOWESS_F08 = [1.2501993056, 2.6596440618, 2.6596440618, 4.1544283752, 6.2201862226,
                9.6315095278, 9.6315095278, 9.6315095278, 13.3215457913, 26.1746065265]


def test_calibration_drops_zero_and_one_with_warning() -> None:
    case = RMS["zeros_and_ones_n150"]
    with pytest.warns(UndefinedMetricWarning, match="4 observation"):
        res = calibration(case["y"], case["p"])
    assert res.n_logistic == len(case["y"]) - 4


def test_grouped_and_smooth_curves() -> None:
    case = RMS["overfit_n500"]
    res = _calib(case)
    g = res.grouped
    assert list(g.columns) == ["group", "mean_predicted", "observed", "ci_low", "ci_high", "n"]
    assert g["n"].sum() == 500 and len(g) == 10
    assert (g["ci_low"] <= g["observed"]).all() and (g["observed"] <= g["ci_high"]).all()
    # the same groups as the Hosmer-Lemeshow table
    hl = hosmer_lemeshow(case["y"], case["p"])
    assert_array_equal(g["n"], hl.table["n"])
    assert_allclose(g["observed"] * g["n"], hl.table["observed_events"], rtol=1e-12)
    s = res.smooth
    assert list(s.columns) == ["predicted", "observed"]
    assert np.all(np.diff(s["predicted"]) > 0)
    assert len(s) == len(np.unique(case["p"]))


def test_wilson_interval_published_example() -> None:
    """Newcombe (1998) Stat Med 17:857, Table I: 81/263 -> 0.2553 to 0.3662."""
    lo, hi = wilson_interval(np.array([81.0]), np.array([263.0]), confidence_level=0.95)
    assert (round(float(lo[0]), 4), round(float(hi[0]), 4)) == (0.2553, 0.3662)


def test_constant_probabilities() -> None:
    y = np.array([0, 1, 1, 0, 1])
    with pytest.warns(UndefinedMetricWarning, match="all probabilities are equal"):
        res = calibration(y, np.full(5, 0.3))
    assert math.isnan(res.slope) and math.isnan(res.intercept)
    assert res.emax == pytest.approx(0.3) and res.eavg == pytest.approx(0.3)
    # CITL with an offset is still defined: logit(mean y) - logit(p)
    assert res.citl == pytest.approx(math.log(0.6 / 0.4) - math.log(0.3 / 0.7), rel=1e-12)


def test_separation_warns() -> None:
    with pytest.warns(ConvergenceWarning):
        calibration([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])


@pytest.mark.parametrize(
    ("y", "p", "kwargs", "match"),
    [
        ([0, 1, 1], [0.2, 1.2, 0.5], {}, "probabilities in"),
        ([1, 1, 1], [0.2, 0.3, 0.5], {}, "both classes"),
        ([0, 1], [0.2, 0.3, 0.5], {}, "same length"),
        ([0, 1, 0], [0.2, np.nan, 0.5], {}, "finite"),
        ([0, 1, 0], [0.2, 0.3, 0.5], {"n_groups": 1}, "n_groups"),
        ([0, 1, 0], [0.2, 0.3, 0.5], {"smoother": "loess"}, "smoother"),
    ],
)
def test_calibration_input_errors(y: list[int], p: list[float], kwargs: dict[str, object],
                                  match: str) -> None:
    with pytest.raises(InputError, match=match):
        calibration(y, p, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- Hosmer-Lemeshow
@pytest.mark.parametrize("name", sorted(HOSLEM))
def test_hosmer_lemeshow_matches_R(name: str) -> None:
    case = HOSLEM[name]
    g = case["g"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        res = hosmer_lemeshow(case["y"], case["p"], n_groups=g)
        ext = hosmer_lemeshow(case["y"], case["p"], n_groups=g, df=g)
    assert_allclose(res.statistic, case["statistic"], rtol=1e-9)
    assert res.df == case["df"] and res.n_groups == case["G"]
    # R computes 1 - pchisq(); radval the upper tail directly (equal above ~1e-15)
    assert_allclose(res.p_value, case["p_value"], rtol=1e-9, atol=1e-15)
    assert_allclose(ext.p_value, case["p_value_df_g"], rtol=1e-9)
    assert ext.df == g
    obs = np.array(case["observed"])  # columns y0, y1
    exp = np.array(case["expected"])
    assert_allclose(res.table["observed_nonevents"], obs[:, 0])
    assert_allclose(res.table["observed_events"], obs[:, 1])
    assert_allclose(res.table["expected_nonevents"], exp[:, 0], rtol=1e-12)
    assert_allclose(res.table["expected_events"], exp[:, 1], rtol=1e-12)
    # (the JSON holds R's breaks to 15 significant digits)
    assert_allclose(np.unique(np.r_[res.table["lower"], res.table["upper"]]), case["breaks"],
                    rtol=1e-14)


def test_hosmer_lemeshow_tied_probabilities_warn() -> None:
    case = HOSLEM["tied_probs_n200_g10"]
    with pytest.warns(SmallSampleWarning, match="only 8 of the 10"):
        hosmer_lemeshow(case["y"], case["p"])


def test_hosmer_lemeshow_degenerate() -> None:
    with pytest.raises(DataError, match="at least 2 distinct"):
        hosmer_lemeshow([0, 1, 1], [0.4, 0.4, 0.4])
    with pytest.warns(UndefinedMetricWarning, match="degrees of freedom"):
        res = hosmer_lemeshow([0, 1, 1, 0], [0.2, 0.2, 0.7, 0.7], n_groups=2)
    assert res.df == 0 and math.isnan(res.p_value)
    with pytest.raises(InputError, match="'df'"):
        hosmer_lemeshow([0, 1, 1, 0], [0.2, 0.3, 0.7, 0.8], df=0)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40),
       probs=st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_quantile_type7_equals_numpy_linear(seed: int, n: int, probs: list[float]) -> None:
    x = np.round(np.random.default_rng(seed).normal(size=n), 2)
    assert_allclose(quantile_type7(x, probs), np.quantile(x, probs), rtol=1e-14, atol=1e-15)


def test_calibration_survives_perfect_separation() -> None:
    # Perfectly separated predictions: the logistic recalibration diverges and its
    # information matrix is singular; the metrics that do not need it stay defined.
    import warnings

    from radval.exceptions import ConvergenceWarning

    # Extreme, perfectly separated risks (a LASSO score in a bootstrap resample): the
    # inverse information matrix has a negative diagonal, which once raised
    # "math domain error".
    gen = np.random.default_rng(1)
    n = int(gen.integers(6, 60))
    y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(int)
    p = 1.0 / (1.0 + np.exp(-np.sort(gen.normal(0.0, gen.uniform(1, 300), n))))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = calibration(y, p)
    assert any(issubclass(w.category, ConvergenceWarning | UndefinedMetricWarning)
               for w in caught)
    assert res.brier == pytest.approx(float(np.mean((p - y) ** 2)), rel=1e-12)
    for se in (res.intercept_se, res.slope_se, res.citl_se):
        assert math.isnan(se) or (math.isfinite(se) and se >= 0)
