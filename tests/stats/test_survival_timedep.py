"""Time-dependent AUC, Uno's C, survival Brier, calibration and DCA: oracles, other tools,
invariances and bad input.

* scikit-survival (same process) where its conventions agree with R's: no censoring
  time equal to an event time, and ``tied_tol=0`` (by default it calls scores within
  1e-8 tied).
* brute-force O(n^2) formulas written independently of the vectorised code.
* dcurves' R benchmark results (tests/reference/dcurves_*.csv, Apache-2.0, see
  dcurves_LICENSE.txt).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import DataError, HorizonWarning, InputError, UndefinedMetricWarning
from radval.stats import (
    concordance_index,
    median_survival,
    survival_brier,
    survival_calibration,
    survival_decision_curve,
    time_dependent_auc,
    uno_c,
)
from radval.stats._timedep import _weighted_concordance

REFDIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REFDIR / "survival_validation.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}


def _case(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[float]]:
    c = CASES[name]
    return (np.asarray(c["time"], float), np.asarray(c["event"], float),
            np.asarray(c["score"], float), np.asarray(c["survival_prob"], float),
            list(c["horizons"]))


def _simulate(rng: np.random.Generator, n: int, *, integer: bool = False
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    t_ev = rng.exponential(10.0 * np.exp(-0.8 * x))
    t_c = rng.uniform(0.0, 25.0, size=n)
    t = np.minimum(t_ev, t_c)
    if integer:
        t = np.maximum(1.0, np.round(t))
        x = np.round(x, 1)
    return t, (t_ev <= t_c).astype(float), x


# ------------------------------------------------------------------ independent oracles
def _reverse_km_left(t: np.ndarray, e: np.ndarray, s: float) -> float:
    """G(s-): censoring KM just before s, events leave before censorings at a tie."""
    g = 1.0
    for u in np.unique(t[(e == 0) & (t < s)]):
        at_risk = np.sum(t >= u) - np.sum((t == u) & (e == 1))
        g *= 1.0 - np.sum((t == u) & (e == 0)) / at_risk
    return g


def _reverse_km(t: np.ndarray, e: np.ndarray, s: float) -> float:
    return _reverse_km_left(t, e, np.nextafter(s, np.inf))


def _auc_bruteforce(t: np.ndarray, e: np.ndarray, s: np.ndarray, tau: float) -> float:
    num = den = 0.0
    g_tau = _reverse_km(t, e, tau)
    for i in np.flatnonzero((t <= tau) & (e == 1)):
        wi = 1.0 / _reverse_km_left(t, e, t[i])
        for j in np.flatnonzero(t > tau):
            w = wi / g_tau
            den += w
            num += w * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
    return num / den


def _uno_bruteforce(t: np.ndarray, e: np.ndarray, s: np.ndarray, tau: float) -> float:
    num = den = 0.0
    for i in np.flatnonzero((e == 1) & (t <= tau)):
        w = 1.0 / _reverse_km_left(t, e, t[i]) ** 2
        for j in range(t.size):
            if t[j] > t[i] or (t[j] == t[i] and e[j] == 0):
                den += w
                num += w * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
    return num / den


@pytest.mark.parametrize("integer", [False, True])
def test_auc_and_uno_match_bruteforce(rng: np.random.Generator, integer: bool) -> None:
    t, e, x = _simulate(rng, 80, integer=integer)
    taus = [float(np.quantile(t[e == 1], q)) for q in (0.3, 0.7)]
    out = time_dependent_auc(t, e, x, taus)
    for tau, got in zip(taus, out["auc"]):
        assert got == pytest.approx(_auc_bruteforce(t, e, x, tau), rel=1e-12)
    for tau in (math.inf, taus[1]):
        res = uno_c(t, e, x, tau=None if math.isinf(tau) else tau)
        assert res.estimate == pytest.approx(_uno_bruteforce(t, e, x, tau), rel=1e-12)


def test_harrell_c_counts_and_variance_match_bruteforce(rng: np.random.Generator) -> None:
    # the O(n log^2 n) pair counting (shared by concordance_index and uno_c) against
    # explicit loops over all pairs, with heavy ties in time and score
    n = 150
    t = rng.integers(1, 12, size=n).astype(float)
    e = rng.integers(0, 2, size=n).astype(float)
    s = rng.integers(0, 6, size=n).astype(float)
    nc = nd = ntx = nty = ntxy = 0
    a = np.zeros(n)
    b = np.zeros(n)
    for i in range(n):
        for j in range(n):
            if e[i] == 1 and (t[i] < t[j] or (t[i] == t[j] and e[j] == 0)):
                score = 1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0
                nc += s[i] > s[j]
                nd += s[i] < s[j]
                ntx += s[i] == s[j]
                for k in (i, j):
                    a[k] += score
                    b[k] += 1
            if i < j and e[i] == 1 and e[j] == 1 and t[i] == t[j]:
                ntxy += s[i] == s[j]
                nty += s[i] != s[j]
    est = (nc + 0.5 * ntx) / (nc + nd + ntx)
    var = float(np.sum(((a - est * b) / (nc + nd + ntx)) ** 2))
    res = concordance_index(t, e, s)
    assert (res.concordant, res.discordant, res.tied_score, res.tied_time, res.tied_both) == (
        nc, nd, ntx, nty, ntxy)
    assert res.estimate == pytest.approx(est, rel=1e-14)
    assert res.variance == pytest.approx(var, rel=1e-12)
    w = rng.uniform(0.5, 2.0, size=n)  # event-time weights, as uno_c's 1/G(T-)^2
    c_w, d_w, t_w, _ = _weighted_concordance(t, e, s, w)
    num = sum(w[i] * ((s[i] > s[j]) + 0.5 * (s[i] == s[j])) for i in range(n) for j in range(n)
              if e[i] == 1 and (t[i] < t[j] or (t[i] == t[j] and e[j] == 0)))
    assert (c_w + 0.5 * t_w) == pytest.approx(num, rel=1e-12)


# ------------------------------------------------------------------ scikit-survival
def test_auc_and_brier_equal_scikit_survival_without_censor_event_ties() -> None:
    import sksurv.metrics as sksurv_metrics
    from sksurv.util import Surv

    t, e, s, sp, h = _case("heavy_censoring")
    y = Surv.from_arrays(e.astype(bool), t)
    auc_ref, mean_ref = sksurv_metrics.cumulative_dynamic_auc(y, y, s, h, tied_tol=0.0)
    out = time_dependent_auc(t, e, s, h)
    np.testing.assert_allclose(out["auc"], auc_ref, rtol=1e-12)
    assert out.attrs["mean_auc"] == pytest.approx(mean_ref, rel=1e-12)
    _, bs_ref = sksurv_metrics.brier_score(y, y, sp, h)
    res = survival_brier(t, e, sp, h)
    np.testing.assert_allclose(res.table["brier"], bs_ref, rtol=1e-12)
    ibs_ref = sksurv_metrics.integrated_brier_score(y, y, sp, h)
    assert res.integrated_brier == pytest.approx(ibs_ref, rel=1e-12)


def test_censor_event_ties_follow_r_not_scikit_survival() -> None:
    # with censorings tied to events scikit-survival weights cases by G(T) instead of G(T-)
    import sksurv.metrics as sksurv_metrics
    from sksurv.util import Surv

    t, e, s, _, h = _case("ties")
    y = Surv.from_arrays(e.astype(bool), t)
    auc_sk, _ = sksurv_metrics.cumulative_dynamic_auc(y, y, s, h, tied_tol=0.0)
    out = time_dependent_auc(t, e, s, h)
    np.testing.assert_allclose(out["auc"], CASES["ties"]["auc"]["auc"], rtol=1e-9)
    diff = np.abs(out["auc"].to_numpy() - auc_sk)
    assert diff.max() > 1e-9 and diff.max() < 1e-2


# ------------------------------------------------------------------ invariances
def test_auc_invariances(rng: np.random.Generator) -> None:
    t, e, x = _simulate(rng, 200, integer=True)
    h = [5.0, 10.0]
    base = time_dependent_auc(t, e, x, h)
    mono = time_dependent_auc(t, e, np.exp(3 * x) + 1, h)
    np.testing.assert_allclose(mono[["auc", "se"]], base[["auc", "se"]], rtol=1e-12)
    flipped = time_dependent_auc(t, e, -x, h)
    np.testing.assert_allclose(flipped["auc"], 1 - base["auc"], rtol=1e-12)
    np.testing.assert_allclose(flipped["se"], base["se"], rtol=1e-9)
    perm = rng.permutation(t.size)
    shuffled = time_dependent_auc(t[perm], e[perm], x[perm], h[::-1])
    np.testing.assert_allclose(shuffled[["auc", "se"]], base[["auc", "se"]], rtol=1e-12)
    u1, u2 = uno_c(t, e, x), uno_c(t[perm], e[perm], x[perm])
    assert u1.estimate == pytest.approx(u2.estimate, rel=1e-12)
    assert u1.variance == pytest.approx(u2.variance, rel=1e-12)
    assert uno_c(t, e, -x).estimate == pytest.approx(1 - u1.estimate, rel=1e-12)
    assert base["ci_low"].min() >= 0.0 and base["ci_high"].max() <= 1.0
    assert (base["ci_low"] <= base["auc"]).all() and (base["auc"] <= base["ci_high"]).all()


def test_brier_perfect_and_null_predictions() -> None:
    t, e, _, _, h = _case("pbc")
    # the null model itself has IPA 0; perfect knowledge of the 0/1 status has Brier 0
    res = survival_brier(t, e, np.tile([0.5, 0.5, 0.5, 0.5], (t.size, 1)), h)
    km = [float(np.prod([1 - np.sum((t == u) & (e == 1)) / np.sum(t >= u)
                         for u in np.unique(t[(e == 1) & (t <= hh)])])) for hh in h]
    null = survival_brier(t, e, np.tile(km, (t.size, 1)), h)
    np.testing.assert_allclose(null.table["ipa"], 0.0, atol=1e-12)
    np.testing.assert_allclose(null.table["brier"], res.table["brier_null"], rtol=1e-12)
    truth = np.column_stack([(t > hh).astype(float) for hh in h])
    assert np.allclose(survival_brier(t, e, truth, h).table["brier"], 0.0)
    json.dumps(res.to_dict())  # JSON-safe for results.json
    assert list(res.to_frame().columns) == ["time", "brier", "se", "ci_low", "ci_high",
                                            "brier_null", "ipa"]


def test_brier_columns_follow_the_given_horizon_order() -> None:
    t, e, _, sp, h = _case("pbc")
    a = survival_brier(t, e, sp, h)
    b = survival_brier(t, e, sp[:, ::-1], h[::-1])
    pd.testing.assert_frame_equal(a.table, b.table)
    one = survival_brier(t, e, sp[:, 1], [h[1]])
    assert one.table["brier"].iloc[0] == pytest.approx(a.table["brier"].iloc[1], rel=1e-14)
    assert math.isnan(one.integrated_brier)


# ------------------------------------------------------------------ decision curve
def test_survival_dca_matches_dcurves_r_benchmarks() -> None:
    d = pd.read_csv(REFDIR / "dcurves_df_surv.csv")
    t, e = d["ttcancer"], d["cancer"].astype(int)
    for fname, var, horizon in [("dcurves_r_case2_results.csv", "cancerpredmarker", 1.0),
                                ("dcurves_r_simple_surv_dca_result_df.csv", "famhistory",
                                 1.5)]:
        ref = pd.read_csv(REFDIR / fname)
        out = survival_decision_curve(t, e, d[var], horizon)
        model = ref[ref["variable"] == var].reset_index(drop=True)
        treat_all = ref[ref["variable"] == "all"].reset_index(drop=True)
        np.testing.assert_allclose(out["threshold"], model["threshold"], rtol=0, atol=1e-15)
        for ours, theirs in [("net_benefit", "net_benefit"), ("tp_rate", "tp_rate"),
                             ("fp_rate", "fp_rate")]:
            np.testing.assert_allclose(out[ours], model[theirs], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(out["treat_all"], treat_all["net_benefit"], rtol=1e-9)
        assert out.attrs["event_rate"] == pytest.approx(model["pos_rate"].iloc[0], rel=1e-12)
        if "net_intervention_avoided" in model:
            np.testing.assert_allclose(out["net_interventions_avoided"].iloc[1:],
                                       model["net_intervention_avoided"].iloc[1:], rtol=1e-9)
    # STATS-REFERENCE section 5: at pt = 0.25 all -0.13695058, model 0.05695371
    out = survival_decision_curve(t, e, d["cancerpredmarker"], 1, thresholds=[0.25])
    assert out["treat_all"].iloc[0] == pytest.approx(-0.13695058, abs=5e-9)
    assert out["net_benefit"].iloc[0] == pytest.approx(0.05695371, abs=5e-9)


def test_survival_dca_edges() -> None:
    t = np.array([1.0, 2, 3, 4, 5, 6])
    e = np.array([1.0, 0, 1, 0, 1, 0])
    risk = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.0])
    out = survival_decision_curve(t, e, risk, 3.5, thresholds=[0.0, 0.95])
    # nobody at risk >= 0.95: no test positive, net benefit 0; a risk of 0 is never treated
    assert out["net_benefit"].iloc[1] == 0.0 and out["pos_rate"].iloc[1] == 0.0
    assert out["pos_rate"].iloc[0] == pytest.approx(5 / 6)
    with pytest.warns(HorizonWarning, match="days when the study says months"):
        far = survival_decision_curve(t, e, risk, 30)
    assert far["treat_all"].isna().all()
    assert far.loc[far["pos_rate"] > 0, "net_benefit"].isna().all()


# ------------------------------------------------------------------ calibration
def test_survival_calibration_structure_and_perfect_model(rng: np.random.Generator) -> None:
    # risks from the true exponential model: slope near 1, O/E near 1 (n = 4000)
    n = 4000
    x = rng.normal(size=n)
    rate = 0.05 * np.exp(0.7 * x)
    t_ev = rng.exponential(1 / rate)
    t_c = rng.uniform(5, 40, size=n)
    t, e = np.minimum(t_ev, t_c), (t_ev <= t_c).astype(float)
    risk = 1 - np.exp(-rate * 10)
    res = survival_calibration(t, e, risk, 10, n_groups=5)
    assert abs(res.slope - 1) < 3 * res.slope_se
    assert res.o_e_ci_low < 1 < res.o_e_ci_high
    assert res.ici < 0.02
    assert list(res.grouped["group"]) == [1, 2, 3, 4, 5]
    assert (res.grouped["ci_low"] <= res.grouped["observed"]).all()
    assert res.curve["predicted"].is_monotonic_increasing
    json.dumps(res.to_dict())
    # predictions twice too extreme on the cloglog scale: slope about 1/2
    ext = 1 - np.exp(-np.exp(2 * np.log(rate * 10)))
    assert survival_calibration(t, e, ext, 10).slope == pytest.approx(0.5, abs=0.05)


# ------------------------------------------------------------------ medians
def test_median_by_hand_and_never_reached() -> None:
    got = median_survival([1, 2, 3, 4], [1, 1, 0, 0])  # S: 0.75, then 0.5 to the end
    assert got["median"].iloc[0] == 2.0  # at 0.5 but never below: the first time (R)
    got = median_survival([1, 2, 3, 4], [1, 1, 1, 0])
    assert got["median"].iloc[0] == 2.5  # S = 0.5 on [2, 3): midpoint
    got = median_survival([1, 2, 3], [0, 0, 0])
    assert math.isnan(got["median"].iloc[0])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("fn", ["auc", "uno", "brier", "cal", "dca"])
def test_bad_input(fn: str) -> None:
    def call(t: object, e: object, h: object = 2.0) -> object:
        n = len(t)  # type: ignore[arg-type]
        if fn == "auc":
            return time_dependent_auc(t, e, np.linspace(0, 1, n), [h])
        if fn == "uno":
            return uno_c(t, e, np.linspace(0, 1, n), tau=h)
        if fn == "brier":
            return survival_brier(t, e, np.full((n, 1), 0.5), [h])
        if fn == "cal":
            return survival_calibration(t, e, np.linspace(0.1, 0.9, n), h)
        return survival_decision_curve(t, e, np.linspace(0.1, 0.9, n), h)

    t = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    e = [1, 0, 1, 1, 0, 1]
    with pytest.raises(InputError, match="'time'.*non-negative"):
        call([-1.0, 2, 3, 4, 5, 6], e)
    with pytest.raises(InputError, match="'time'.*finite"):
        call([np.nan, 2, 3, 4, 5, 6], e)
    with pytest.raises(InputError, match="'event'.*0 and 1"):
        call(t, [1, 2, 1, 0, 1, 0])
    with pytest.raises(InputError, match="'event'"):
        call(t, ["yes", "no", "yes", "no", "yes", "no"])
    with pytest.raises(InputError, match="'(times|tau|horizon)'.*positive"):
        call(t, e, 0.0)
    with pytest.raises(InputError, match="'(times|tau|horizon)'"):
        call(t, e, -3.0)
    with pytest.raises(DataError, match="censored|no event"):
        call(t, [0, 0, 0, 0, 0, 0])
    with warnings.catch_warnings():  # six patients: fits may be degenerate, not the point
        warnings.simplefilter("ignore")
        call(t, [True, False, True, True, False, True])  # booleans are events


def test_bad_prediction_shapes() -> None:
    t, e = [1.0, 2, 3, 4], [1, 0, 1, 0]
    with pytest.raises(InputError, match="'survival_prob'.*shape"):
        survival_brier(t, e, np.full((4, 2), 0.5), [1.0])
    with pytest.raises(InputError, match="'survival_prob'.*\\[0, 1\\]"):
        survival_brier(t, e, np.full(4, 1.5), [1.0])
    with pytest.raises(InputError, match="'times'.*distinct"):
        survival_brier(t, e, np.full((4, 2), 0.5), [1.0, 1.0])
    with pytest.raises(InputError, match="'risk'"):
        survival_calibration(t, e, [0.1, 0.2, 1.2, 0.3], 2.0)
    with pytest.raises(InputError, match="same length"):
        time_dependent_auc(t, e, [0.1, 0.2], [2.0])


def test_undefined_horizon_warns() -> None:
    t = np.array([2.0, 3, 4, 5, 6])
    e = np.array([1.0, 1, 0, 1, 0])
    with pytest.warns(UndefinedMetricWarning, match="no case"):
        out = time_dependent_auc(t, e, [1, 2, 3, 4, 5], [1.0])
    assert math.isnan(out["auc"].iloc[0])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = time_dependent_auc(t, e, [1, 2, 3, 4, 5], [5.5, 7.0])
    msgs = [str(w.message) for w in rec]
    assert any("beyond the last event" in m for m in msgs)
    assert any("maximum follow-up" in m for m in msgs)
