"""calibration_curve and optimism_corrected_curve against R (loess, rms, glm) and by simulation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, logit

from radval.exceptions import DataError, InputError
from radval.stats import calibration_curve, optimism_corrected_curve
from radval.stats._calibration_curve import r_seq, rcs_knots
from radval.stats._loess import loess_direct, loess_fit

REF = json.loads((Path(__file__).parents[1] / "reference" / "calibration_curve.json").read_text())
CASES = REF["cases"]
IDS = [c["name"] for c in CASES]


def _arr(v: list[float | None]) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in v], dtype=np.float64)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loess_matches_R_loess_interpolate(case: dict) -> None:
    p, y = np.array(case["p"]), np.array(case["y"])
    res = calibration_curve(y, p, method="loess", n_bootstrap=0, grid=case["grid"])
    assert_allclose(res.curve["observed"], case["loess_grid"], rtol=1e-9, atol=1e-12)
    assert_allclose(res.fitted, case["loess_fitted"], rtol=1e-9, atol=1e-12)
    fit = loess_fit(p, y.astype(float))
    assert fit.vertices.size == case["n_vertices"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loess_direct_surface_matches_R(case: dict) -> None:
    p, y = np.array(case["p"]), np.array(case["y"], dtype=float)
    got = loess_direct(p, y, np.array(case["grid"]))
    assert_allclose(got, case["loess_direct_grid"], rtol=1e-9, atol=1e-12)
    # the interpolated surface is not the direct one: they must differ somewhere
    assert np.max(np.abs(got - np.array(case["loess_grid"]))) > 1e-8


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_default_grid_and_ici_match_R(case: dict) -> None:
    p, y = np.array(case["p"]), np.array(case["y"])
    res = calibration_curve(y, p, n_bootstrap=0)
    assert_allclose(res.curve["predicted"], case["grid"], rtol=1e-14)
    for name in ("ici", "e50", "e90", "emax"):
        assert_allclose(getattr(res, name), case[name], rtol=1e-9, err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_spline_matches_R_glm_rcs(case: dict) -> None:
    p, y = np.array(case["p"]), np.array(case["y"])
    lp = logit(p)
    assert_allclose(rcs_knots(lp, 5), case["spline5_knots"], rtol=1e-12)
    assert_allclose(rcs_knots(lp, 3), case["spline3_knots"], rtol=1e-12)
    res = calibration_curve(y, p, method="spline", n_bootstrap=0, grid=case["grid"])
    assert_allclose(res.curve["observed"], case["spline5_grid"], rtol=1e-9)
    assert_allclose(res.ici, case["spline5_ici"], rtol=1e-9)
    assert_allclose(res.e90, case["spline5_e90"], rtol=1e-9)
    assert_allclose(res.emax, case["spline5_emax"], rtol=1e-9)
    res3 = calibration_curve(y, p, method="spline", n_knots=3, n_bootstrap=0, grid=case["grid"])
    assert_allclose(res3.curve["observed"], case["spline3_grid"], rtol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_lowess_matches_R_approx_lowess(case: dict) -> None:
    p, y = np.array(case["p"]), np.array(case["y"])
    grid = np.array(case["grid"])
    # points beyond the data are NaN, as approx(rule = 1)
    grid = np.concatenate([grid, [0.0, 1.0]])
    res = calibration_curve(y, p, method="lowess", n_bootstrap=0, grid=grid)
    ref = np.concatenate([_arr(case["lowess_grid"]), [np.nan, np.nan]])
    assert_allclose(res.curve["observed"], ref, rtol=1e-9, atol=1e-12)


def test_r_seq_is_r_arithmetic() -> None:
    got = r_seq(0.0123456789, 0.9387654321, 200)
    by = (0.9387654321 - 0.0123456789) / 199
    assert got[0] == 0.0123456789 and got[-1] == 0.9387654321
    assert got[57] == 0.0123456789 + 57 * by


def test_rms_calibrate_with_replayed_resamples() -> None:
    """Same resamples and refits as rms::calibrate(B = 40): corrected curve and errors."""
    k = REF["calibrate"]
    x = np.column_stack([np.ones(len(k["y"])), np.array(k["x"])])
    y = np.array(k["y"])
    p = expit(x @ np.array(k["coef"]))
    assert_allclose(p, k["predicted"], rtol=1e-12)
    grid = np.array(k["predy"])
    app = calibration_curve(y, p, method="lowess", n_bootstrap=0, grid=grid)
    assert_allclose(app.curve["observed"], k["calibrated_orig"], rtol=1e-9)
    train, test = [], []
    for idx, coef in zip(k["resample_index"], k["resample_coef"], strict=True):
        idx = np.array(idx)
        pb = expit(x @ np.array(coef))
        train.append(calibration_curve(y[idx], pb[idx], method="lowess", n_bootstrap=0,
                                       grid=grid).curve["observed"])
        test.append(calibration_curve(y, pb, method="lowess", n_bootstrap=0,
                                      grid=grid).curve["observed"])
    res = optimism_corrected_curve(p, grid, app.curve["observed"], np.array(train),
                                   np.array(test))
    assert_allclose(res.curve["corrected"], k["calibrated_corrected"], rtol=1e-9)
    assert_array_equal(res.curve["n_resamples"], k["n_used"])
    assert (res.curve["n_resamples"] < 40).any()  # NaN handling was exercised
    assert_allclose(res.mean_abs_error, k["mean_abs_error"], rtol=1e-9)
    assert_allclose(res.mean_squared_error, k["mean_squared_error"], rtol=1e-9)
    assert_allclose(res.q90_abs_error, k["q90_abs_error"], rtol=1e-9)
    assert res.n_resamples == 40


def test_optimism_formula_by_hand() -> None:
    grid = np.array([0.1, 0.2, 0.3])
    app = np.array([0.12, 0.22, 0.28])
    tr = np.array([[0.15, 0.25, np.nan], [0.11, 0.21, 0.31]])
    te = np.array([[0.10, 0.20, 0.30], [0.10, 0.20, 0.30]])
    res = optimism_corrected_curve([0.1, 0.15, 0.3, 0.9], grid, app, tr, te)
    assert_allclose(res.curve["optimism"], [0.03, 0.03, 0.01])
    assert_allclose(res.curve["corrected"], [0.09, 0.19, 0.27])
    assert_array_equal(res.curve["n_resamples"], [2, 2, 1])
    err = np.array([0.1 - 0.09, 0.15 - 0.14, 0.3 - 0.27])  # 0.9 lies outside the grid
    assert res.n_used == 3
    assert_allclose(res.mean_abs_error, np.mean(np.abs(err)))
    assert_allclose(res.q90_abs_error, np.quantile(np.abs(err), 0.9))


def test_optimism_bad_shapes() -> None:
    with pytest.raises(InputError, match="'train' parameter of optimism_corrected_curve"):
        optimism_corrected_curve([0.2], [0.1, 0.2], [0.1, 0.2], np.zeros((3, 5)),
                                 np.zeros((3, 2)))
    with pytest.raises(InputError, match="'test' parameter"):
        optimism_corrected_curve([0.2], [0.1, 0.2], [0.1, 0.2], np.zeros((3, 2)),
                                 np.zeros((4, 2)))
    with pytest.raises(InputError, match="strictly increasing"):
        optimism_corrected_curve([0.2], [0.2, 0.1], [0.1, 0.2], np.zeros((3, 2)),
                                 np.zeros((3, 2)))


def _sim(rng: np.random.Generator, n: int, truth: str) -> tuple[np.ndarray, np.ndarray]:
    p = expit(rng.normal(-0.8, 1.0, n))
    c = 0.05 + 0.8 * p if truth == "linear" else expit(-0.4 + 0.8 * logit(p))
    return (rng.uniform(size=n) < c).astype(int), p


def test_bootstrap_band_basic_properties() -> None:
    rng = np.random.default_rng(5)
    y, p = _sim(rng, 250, "linear")
    a = calibration_curve(y, p, n_bootstrap=200, rng=11)
    b = calibration_curve(y, p, n_bootstrap=200, rng=11)
    assert_array_equal(a.curve["ci_low"], b.curve["ci_low"])
    c = a.curve
    inside = (c["ci_low"] <= c["observed"]) & (c["observed"] <= c["ci_high"])
    assert inside.mean() > 0.9
    assert (c["n_resamples"] <= 200).all() and (c["n_resamples"].iloc[100] == 200)
    assert list(a.to_frame().columns[:5]) == ["method", "predicted", "observed", "ci_low",
                                              "ci_high"]
    assert {"ici", "e50", "e90", "emax"} <= set(a.summary_frame().columns)
    assert json.dumps(a.to_dict())


def test_spline_bootstrap_batch_equals_single_fits() -> None:
    from radval.stats._calibration_curve import _spline_curve, _spline_many

    rng = np.random.default_rng(8)
    y, p = _sim(rng, 120, "logistic")
    idx = rng.integers(0, 120, size=(15, 120))
    g = np.linspace(0.05, 0.8, 30)
    many = _spline_many(p[idx], y[idx].astype(float), g, 5)
    for i in range(15):
        one = _spline_curve(p[idx[i]], y[idx[i]].astype(float), g, 5)
        assert one is not None
        assert_allclose(many[i], one, rtol=1e-10)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::radval.exceptions.DegenerateBootstrapWarning")
@pytest.mark.parametrize(("method", "truth"), [("loess", "linear"), ("spline", "logistic")])
def test_band_covers_true_curve(method: str, truth: str) -> None:
    """95% pointwise band covers the true curve in 90-99% of 200 simulated data sets."""
    rng = np.random.default_rng(20240601)
    grid = np.array([0.15, 0.3, 0.5])
    true = 0.05 + 0.8 * grid if truth == "linear" else expit(-0.4 + 0.8 * logit(grid))
    hits = np.zeros(grid.size)
    n_sim = 200
    for _ in range(n_sim):
        # n = 400: with 200 patients the percentile band sits at 90-93% (small-sample
        # undercoverage of percentile bootstraps), at the edge of the window
        y, p = _sim(rng, 400, truth)
        res = calibration_curve(y, p, method=method, n_bootstrap=100, rng=rng, grid=grid)
        hits += (res.curve["ci_low"] <= true) & (true <= res.curve["ci_high"])
    coverage = hits / n_sim
    assert np.all((coverage >= 0.90) & (coverage <= 0.99)), coverage


@pytest.mark.filterwarnings("ignore::radval.exceptions.DegenerateBootstrapWarning")
def test_band_too_narrow_would_fail() -> None:
    """The coverage check can fail: a 50% band misses far more often."""
    rng = np.random.default_rng(3)
    grid = np.array([0.3])
    hits = 0
    for _ in range(40):
        y, p = _sim(rng, 200, "logistic")
        res = calibration_curve(y, p, method="spline", n_bootstrap=60, rng=rng, grid=grid,
                                confidence_level=0.5)
        true = expit(-0.4 + 0.8 * logit(0.3))
        hits += int(res.curve["ci_low"].iloc[0] <= true <= res.curve["ci_high"].iloc[0])
    assert hits / 40 < 0.8


def test_grouped_curve() -> None:
    rng = np.random.default_rng(4)
    y, p = _sim(rng, 500, "logistic")
    res = calibration_curve(y, p, method="grouped", n_bootstrap=0, n_groups=5)
    c = res.curve
    assert len(c) == 5 and c["n"].sum() == 500
    order = np.argsort(p)
    first = order[:100]
    assert_allclose(c["observed"].iloc[0], y[first].mean())
    assert_allclose(c["predicted"].iloc[0], p[first].mean())
    assert (c["ci_low"] <= c["observed"]).all() and (c["observed"] <= c["ci_high"]).all()
    boot = calibration_curve(y, p, method="grouped", n_bootstrap=300, n_groups=5, rng=1)
    assert_allclose(boot.curve["observed"], c["observed"])
    assert not np.allclose(boot.curve["ci_low"], c["ci_low"])
    assert_allclose(res.ici, np.mean(np.abs(p - res.fitted)))


def test_bad_input() -> None:
    y, p = [0, 1, 0, 1, 1, 0, 0, 1], [0.1, 0.8, 0.3, 0.6, 0.7, 0.2, 0.4, 0.9]
    with pytest.raises(InputError, match="'method' parameter of calibration_curve"):
        calibration_curve(y, p, method="gam")
    with pytest.raises(InputError, match="'grid' parameter of calibration_curve must be"):
        calibration_curve(y, p, grid=[0.2, 1.2], n_bootstrap=0)
    with pytest.raises(InputError, match="'n_bootstrap'"):
        calibration_curve(y, p, n_bootstrap=-1)
    with pytest.raises(InputError, match="'y_prob'.*strictly between 0 and 1"):
        calibration_curve(y, [0.0] + p[1:], method="spline", n_bootstrap=0)
    with pytest.raises(InputError, match="'span'"):
        calibration_curve(y, p, span=0.0, n_bootstrap=0)
    with pytest.raises(DataError, match="span"):
        calibration_curve(y, p, span=0.3, n_bootstrap=0)


def test_loess_port_matches_netlib_loess_on_random_data() -> None:
    """scikit-misc wraps the netlib dloess code that R's loess uses: random designs,
    spans, degrees and tied x values."""
    skl = pytest.importorskip("skmisc.loess")
    rng = np.random.default_rng(1)
    worst = 0.0
    for it in range(60):
        n = int(rng.integers(15, 400))
        span = float(rng.choice([0.3, 0.5, 0.75, 0.9, 1.0]))
        degree = int(rng.choice([1, 2]))
        x = rng.normal(size=n)
        if it % 3 == 0:
            x = np.round(x, 1)
        y = rng.normal(size=n) + (rng.uniform(size=n) < 0.3)
        ref = skl.loess(x, y, span=span, degree=degree)
        ref.fit()
        got = loess_fit(x, y, span=span, degree=degree).predict(x)
        worst = max(worst, float(np.max(np.abs(got - ref.outputs.fitted_values))))
    assert worst < 1e-9


def test_bootstrap_batch_equals_single_fits() -> None:
    from radval.stats._loess import loess_fit_many

    rng = np.random.default_rng(2)
    y, p = _sim(rng, 200, "linear")
    idx = rng.integers(0, 200, size=(40, 200))
    grid = np.linspace(p.min(), p.max(), 50)
    many = loess_fit_many(p[idx], y[idx].astype(float))
    for i in range(40):
        one = loess_fit(p[idx[i]], y[idx[i]].astype(float))
        assert_allclose(many[i].predict(grid), one.predict(grid), rtol=1e-9, atol=1e-12)
