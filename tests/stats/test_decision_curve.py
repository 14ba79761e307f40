"""radval.stats._decision_curve against the dcurves formulas written in plain R
(tests/reference/dca.json) and against dcurves' published numbers.

Data: df_binary from Python dcurves 1.1.7 (Apache-2.0), the data of the
dcurves examples and of R dcurves' own tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import InputError
from radval.stats._decision_curve import decision_curve

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-9


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return json.loads((REF / "dca.json").read_text())


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    d = pd.read_csv(REF / "dcurves_df_binary.csv")
    d["y"] = d["cancer"].astype(str).str.upper().eq("TRUE").astype(int)
    return d


def _arr(v: list[Any]) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in v], dtype=float)


@pytest.mark.parametrize("marker", ["cancerpredmarker", "famhistory"])
def test_default_thresholds_match_r(ref: dict[str, Any], df: pd.DataFrame, marker: str) -> None:
    r = ref[marker]
    out = decision_curve(df["y"], df[marker])
    assert list(out.columns[:5]) == ["threshold", "net_benefit", "treat_all", "treat_none",
                                     "net_interventions_avoided"]
    assert len(out) == 100
    np.testing.assert_allclose(out["threshold"], r["threshold"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(out["net_benefit"], r["net_benefit"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(out["treat_all"], r["treat_all"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(out["tp_rate"], r["tp_rate"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(out["fp_rate"], r["fp_rate"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(out["net_interventions_avoided"],
                               _arr(r["net_interventions_avoided"]), rtol=RTOL, atol=1e-13)
    assert (out["treat_none"] == 0).all()


def test_harm_and_prevalence_match_r(ref: dict[str, Any], df: pd.DataFrame) -> None:
    r = ref["harm"]
    out = decision_curve(df["y"], df["cancerpredmarker"], thresholds=r["threshold"], harm=0.01)
    np.testing.assert_allclose(out["net_benefit"], r["net_benefit"], rtol=RTOL)
    r = ref["prevalence"]
    out = decision_curve(df["y"], df["cancerpredmarker"], prevalence=0.15, nper=100)
    np.testing.assert_allclose(out["net_benefit"], r["net_benefit"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(out["treat_all"], r["treat_all"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(out["net_interventions_avoided"],
                               _arr(r["net_interventions_avoided"]), rtol=RTOL, atol=1e-12)


def test_published_dcurves_numbers(df: pd.DataFrame) -> None:
    """R dcurves tests/testthat/test-dca.R and the dcurves tutorial (STATS-REFERENCE §5)."""
    out = decision_curve(df["y"], df["cancerpredmarker"]).set_index("threshold")
    t = out.index.to_numpy()

    def at(pt: float) -> pd.Series:
        return out.iloc[int(np.argmin(np.abs(t - pt)))]

    assert at(0.25)["treat_all"] == pytest.approx(-0.1466667, abs=5e-8)
    assert at(0.25)["net_benefit"] == pytest.approx(0.0640000, abs=5e-8)
    assert at(0.1)["net_benefit"] == pytest.approx(0.0874074, abs=5e-8)
    assert at(0.1)["net_interventions_avoided"] * 100 == pytest.approx(38.67, abs=5e-3)
    assert at(0.5)["net_benefit"] == pytest.approx(0.0213333, abs=5e-8)
    fam = decision_curve(df["y"], df["famhistory"])
    assert fam.loc[0, "net_benefit"] == pytest.approx(0.032, abs=1e-12)
    assert fam.loc[0, "treat_all"] == pytest.approx(0.140, abs=1e-12)


def test_risk_zero_never_treated_and_one_always() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.0, 0.0, 1.0, 1.0])
    out = decision_curve(y, p, thresholds=[0.0, 0.5])
    # positives: only the risk-1 patients, also at pt = 0 (dcurves' -eps rule)
    np.testing.assert_allclose(out["tp_rate"], [0.25, 0.25])
    np.testing.assert_allclose(out["fp_rate"], [0.25, 0.25])
    np.testing.assert_allclose(out["net_benefit"], [0.25, 0.0])  # odds 0 at pt = 0
    assert np.isnan(out["net_interventions_avoided"].to_numpy()[0])


def test_bootstrap_bands(df: pd.DataFrame) -> None:
    a = decision_curve(df["y"], df["cancerpredmarker"], thresholds=[0.05, 0.1, 0.2],
                       n_resamples=300, rng=3)
    b = decision_curve(df["y"], df["cancerpredmarker"], thresholds=[0.05, 0.1, 0.2],
                       n_resamples=300, rng=3)
    pd.testing.assert_frame_equal(a, b)
    assert (a["nb_ci_low"] <= a["net_benefit"]).all()
    assert (a["net_benefit"] <= a["nb_ci_high"]).all()


def test_bootstrap_bands_equal_brute_loop(df: pd.DataFrame) -> None:
    """Same generator stream -> same resamples -> same bands as a plain loop."""
    y = df["y"].to_numpy()
    p = df["cancerpredmarker"].to_numpy()
    thr = np.array([0.05, 0.15, 0.3])
    out = decision_curve(y, p, thresholds=thr, n_resamples=50, rng=7)
    gen = np.random.default_rng(7)
    idx = gen.integers(0, y.size, size=(50, y.size))
    nbs = []
    for i in idx:
        yy, pp = y[i], p[i]
        nbs.append([np.mean((pp >= t) & (yy == 1)) - np.mean((pp >= t) & (yy == 0)) * t / (1 - t)
                    for t in thr])
    q = np.quantile(np.array(nbs), [0.025, 0.975], axis=0)
    np.testing.assert_allclose(out["nb_ci_low"], q[0], rtol=1e-12)
    np.testing.assert_allclose(out["nb_ci_high"], q[1], rtol=1e-12)


def test_public_name_is_the_function() -> None:
    """Importing the private module never shadows the public function."""
    import radval.stats
    import radval.stats._calibration
    import radval.stats._decision_curve

    assert radval.stats.decision_curve is decision_curve
    assert radval.stats.calibration is radval.stats._calibration.calibration


def test_errors() -> None:
    with pytest.raises(InputError, match="'y_prob'.*\\[0, 1\\]"):
        decision_curve([0, 1], [0.2, 1.2])
    with pytest.raises(InputError, match="'thresholds'"):
        decision_curve([0, 1], [0.2, 0.3], thresholds=[0.5, 1.0])
    with pytest.raises(InputError, match="'y_true'"):
        decision_curve([1, 1], [0.2, 0.3])
    with pytest.raises(InputError, match="'prevalence'"):
        decision_curve([0, 1], [0.2, 0.3], prevalence=1.5)
    with pytest.raises(InputError, match="'n_resamples'"):
        decision_curve([0, 1], [0.2, 0.3], n_resamples=-1)
    with pytest.raises(InputError, match="same length"):
        decision_curve([0, 1, 1], [0.2, 0.3])


def _two_models(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    a = np.clip(0.3 + 0.35 * y + rng.normal(0, 0.18, n), 0, 1)
    b = np.clip(0.35 + 0.15 * y + rng.normal(0, 0.18, n), 0, 1)
    return y, a, b


def test_difference_point_estimates_equal_decision_curve() -> None:
    from radval.stats import decision_curve_difference

    y, a, b = _two_models()
    a[:3] = [0.0, 1.0, 0.5]  # the boundary rule for risks of exactly 0 and 1
    t = np.array([0.05, 0.2, 0.5, 0.8])
    d = decision_curve_difference(y, a, b, thresholds=t, n_bootstrap=0)
    da = decision_curve(y, a, thresholds=t)["net_benefit"].to_numpy()
    db = decision_curve(y, b, thresholds=t)["net_benefit"].to_numpy()
    np.testing.assert_allclose(d["nb_a"], da, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d["nb_b"], db, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d["difference"], da - db, rtol=1e-12, atol=1e-15)
    assert d["ci_low"].isna().all()


def test_difference_bootstrap_equals_recomputation_on_the_same_resamples() -> None:
    from radval.stats import bootstrap_indices, decision_curve_difference

    y, a, b = _two_models(3, 150)
    t = np.array([0.1, 0.3, 0.6])
    d = decision_curve_difference(y, a, b, thresholds=t, n_bootstrap=250, rng=9)
    idx = bootstrap_indices(y, n_resamples=250, rng=9)  # same stratified draws
    diffs = np.array([decision_curve(y[i], a[i], thresholds=t)["net_benefit"].to_numpy()
                      - decision_curve(y[i], b[i], thresholds=t)["net_benefit"].to_numpy()
                      for i in idx])
    lo, hi = np.quantile(diffs, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(d["ci_low"], lo, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(d["ci_high"], hi, rtol=1e-10, atol=1e-14)
    assert (d["ci_low"] <= d["difference"]).all() and (d["difference"] <= d["ci_high"]).all()


def test_difference_of_a_model_with_itself_is_zero() -> None:
    from radval.stats import decision_curve_difference

    y, a, _ = _two_models(5)
    d = decision_curve_difference(y, a, a, n_bootstrap=50, rng=1)
    assert len(d) == 99 and d["threshold"].iloc[0] == 0.01
    assert (d["difference"] == 0).all() and (d["ci_low"] == 0).all()


@pytest.mark.parametrize("bad", [[0.0, 0.2], [0.2, 1.0], [-0.1], [], [0.3, float("nan")]])
def test_difference_thresholds_outside_open_interval(bad: list[float]) -> None:
    from radval.stats import decision_curve_difference

    y, a, b = _two_models()
    with pytest.raises(InputError, match="'thresholds' parameter of "
                                         "decision_curve_difference must be"):
        decision_curve_difference(y, a, b, thresholds=bad, n_bootstrap=0)


def test_optimism_corrected_net_benefit() -> None:
    from radval.stats import optimism_corrected_net_benefit

    t = [0.1, 0.2]
    out = optimism_corrected_net_benefit(t, [0.30, 0.20], [[0.32, 0.25], [0.30, np.nan]],
                                         [[0.28, 0.20], [0.27, 0.18]])
    np.testing.assert_allclose(out["optimism"], [0.035, 0.05])
    np.testing.assert_allclose(out["corrected"], [0.265, 0.15])
    assert out["n_resamples"].tolist() == [2, 1]
    with pytest.raises(InputError, match="'thresholds' parameter of "
                                         "optimism_corrected_net_benefit"):
        optimism_corrected_net_benefit([0.0, 0.2], [0.3, 0.2], [[0.3, 0.2]], [[0.3, 0.2]])
    with pytest.raises(InputError, match="'apparent'"):
        optimism_corrected_net_benefit(t, [0.3], [[0.3, 0.2]], [[0.3, 0.2]])
