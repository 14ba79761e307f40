"""radval.stats._discrimination against R pROC (tests/reference/proc.json) and
brute-force O(n^2) oracles.

pROC conventions: ``roc(y, s, levels = c(0, 1), direction = "<")``.
Deterministic quantities are compared with rtol 1e-9 (the JSON holds 15
significant digits).
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

from radval.exceptions import DegenerateBootstrapWarning, InputError, UndefinedMetricWarning
from radval.stats import (
    adjust_pvalues,
    bootstrap_auc,
    bootstrap_auc_test,
    delong_ci,
    delong_test,
    delong_test_many,
    delong_test_unpaired,
    roc_auc,
    roc_curve,
)
from radval.stats._discrimination import (
    bootstrap_indices,
    delong_covariance,
    delong_placements,
)

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-9
MARKERS = ("wfns", "s100b", "ndka")
ALTS = {"two.sided": "two-sided", "greater": "greater", "less": "less"}


@pytest.fixture(scope="module")
def proc() -> dict[str, Any]:
    return json.loads((REF / "proc.json").read_text())


@pytest.fixture(scope="module")
def asah() -> pd.DataFrame:
    return pd.read_csv(REF / "asah.csv")


def _f(v: Any) -> Any:
    """JSON null -> nan, lists -> float arrays."""
    if isinstance(v, list):
        return np.array([np.nan if x is None else x for x in v], dtype=float)
    return np.nan if v is None else float(v)


# ----------------------------------------------------------------- brute-force oracles


def brute_placements(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """O(m n) DeLong placements straight from the definition."""
    x = s[y == 1][:, None]
    c = s[y == 0][None, :]
    psi = (x > c) + 0.5 * (x == c)
    return psi.mean(axis=1), psi.mean(axis=0)


def brute_auc(y: np.ndarray, s: np.ndarray) -> float:
    v10, _ = brute_placements(y, s)
    return float(v10.mean())


def brute_var(y: np.ndarray, s: np.ndarray) -> float:
    v10, v01 = brute_placements(y, s)
    return float(np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size)


# ----------------------------------------------------------------- aSAH vs pROC


@pytest.mark.parametrize("marker", MARKERS)
def test_asah_auc_var_ci_match_proc(proc: dict[str, Any], asah: pd.DataFrame,
                                    marker: str) -> None:
    ref = proc["asah"][marker]
    y, s = asah["y"].to_numpy(), asah[marker].to_numpy(dtype=float)
    assert roc_auc(y, s) == pytest.approx(ref["auc"], rel=RTOL)
    r = delong_ci(y, s)
    np.testing.assert_allclose(r.estimate, ref["auc"], rtol=RTOL)
    np.testing.assert_allclose(r.variance, ref["var"], rtol=RTOL)
    np.testing.assert_allclose(r.se, math.sqrt(ref["var"]), rtol=RTOL)
    np.testing.assert_allclose([r.ci_low, r.estimate, r.ci_high], ref["ci_delong"], rtol=RTOL)
    r90 = delong_ci(y, s, confidence_level=0.9)
    np.testing.assert_allclose([r90.ci_low, r90.estimate, r90.ci_high], ref["ci_delong_90"],
                               rtol=RTOL)
    assert (r.n_cases, r.n_controls) == (41, 72)


def test_asah_published_proc_values(asah: pd.DataFrame) -> None:
    """Numbers printed in pROC's own testthat files (STATS-REFERENCE §1.3)."""
    y = asah["y"].to_numpy()
    assert roc_auc(y, asah["wfns"]) == pytest.approx(0.823678861788618, rel=1e-12)
    assert delong_ci(y, asah["ndka"]).ci_low == pytest.approx(0.501244999271703, rel=1e-12)
    t = delong_test(y, asah["wfns"], asah["ndka"])
    assert t.statistic == pytest.approx(2.79777591868904, rel=1e-12)
    assert t.p_value == pytest.approx(0.00514557970691098, rel=1e-10)


@pytest.mark.parametrize("marker", MARKERS)
def test_asah_roc_curve_matches_proc(proc: dict[str, Any], asah: pd.DataFrame,
                                     marker: str) -> None:
    ref = proc["asah"][marker]
    curve = roc_curve(asah["y"], asah[marker])
    thr = _f(ref["thresholds"])
    thr[0], thr[-1] = -np.inf, np.inf
    np.testing.assert_allclose(curve["threshold"], thr, rtol=RTOL)
    np.testing.assert_allclose(curve["tpr"], ref["tpr"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(curve["fpr"], ref["fpr"], rtol=RTOL, atol=1e-15)
    assert list(curve.columns) == ["threshold", "fpr", "tpr"]


@pytest.mark.parametrize("pair", ["wfns_s100b", "wfns_ndka", "ndka_s100b"])
def test_asah_paired_and_unpaired_tests_match_proc(proc: dict[str, Any], asah: pd.DataFrame,
                                                   pair: str) -> None:
    a_name, b_name = pair.split("_")
    y = asah["y"].to_numpy()
    a, b = asah[a_name].to_numpy(float), asah[b_name].to_numpy(float)
    ref = proc["asah_pairs"][pair]
    for r_alt, alt in ALTS.items():
        p = ref[f"paired_{r_alt}"]
        t = delong_test(y, a, b, alternative=alt)  # type: ignore[arg-type]
        np.testing.assert_allclose(t.statistic, p["statistic"], rtol=RTOL)
        np.testing.assert_allclose(t.p_value, p["p_value"], rtol=RTOL)
        np.testing.assert_allclose([t.auc_a, t.auc_b], [p["auc_a"], p["auc_b"]], rtol=RTOL)
        np.testing.assert_allclose([t.ci_low, t.ci_high], p["ci"], rtol=RTOL)
        u = ref[f"unpaired_{r_alt}"]
        tu = delong_test_unpaired(y, a, y, b, alternative=alt)  # type: ignore[arg-type]
        np.testing.assert_allclose(tu.statistic, u["statistic"], rtol=RTOL)
        np.testing.assert_allclose(tu.p_value, u["p_value"], rtol=RTOL)
        np.testing.assert_allclose(tu.df, u["df"], rtol=RTOL)
    aucs, cov = delong_covariance(y, np.vstack([a, b]))
    np.testing.assert_allclose(cov[0, 1], ref["cov"], rtol=RTOL)
    np.testing.assert_allclose(np.diag(cov), [proc["asah"][a_name]["var"],
                                              proc["asah"][b_name]["var"]], rtol=RTOL)


def test_asah_unpaired_different_patients(proc: dict[str, Any], asah: pd.DataFrame) -> None:
    """Women vs men, s100b: two samples of different size (pROC paired=FALSE)."""
    fem = (asah["gender"] == "Female").to_numpy()
    y, s = asah["y"].to_numpy(), asah["s100b"].to_numpy(float)
    for r_alt, alt in ALTS.items():
        ref = proc["asah_unpaired_gender"][r_alt]
        t = delong_test_unpaired(y[fem], s[fem], y[~fem], s[~fem],
                                 alternative=alt)  # type: ignore[arg-type]
        np.testing.assert_allclose([t.statistic, t.p_value, t.df, t.auc_a, t.auc_b],
                                   [ref["statistic"], ref["p_value"], ref["df"],
                                    ref["auc_a"], ref["auc_b"]], rtol=RTOL)
        assert t.method == "delong-unpaired"


def test_asah_covariance_matrix(proc: dict[str, Any], asah: pd.DataFrame) -> None:
    y = asah["y"].to_numpy()
    names = ["wfns", "ndka", "s100b"]
    aucs, cov = delong_covariance(y, {n: asah[n] for n in names})
    np.testing.assert_allclose(aucs, [proc["asah"][n]["auc"] for n in names], rtol=RTOL)
    ref = proc["asah_cov"]
    np.testing.assert_allclose([cov[0, 1], cov[1, 2], cov[2, 0]],
                               [ref["wfns_ndka"], ref["ndka_s100b"], ref["s100b_wfns"]],
                               rtol=RTOL)
    np.testing.assert_allclose(cov, cov.T, rtol=1e-14)


# ----------------------------------------------------------------- synthetic vs pROC

SYNTH = ("heavy_ties", "n5", "n20", "unbalanced", "reversed", "identical")


@pytest.mark.parametrize("name", SYNTH)
def test_synthetic_curves_match_proc(proc: dict[str, Any], name: str) -> None:
    d = proc["synthetic"][name]
    y = np.asarray(d["y"], dtype=int)
    for key, curve in (("a", "curve_a"), ("b", "curve_b")):
        s = np.asarray(d[key], dtype=float)
        ref = d[curve]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            r = delong_ci(y, s)
        np.testing.assert_allclose(r.estimate, ref["auc"], rtol=RTOL)
        np.testing.assert_allclose(r.variance, ref["var"], rtol=RTOL)
        np.testing.assert_allclose([r.ci_low, r.estimate, r.ci_high], ref["ci_delong"],
                                   rtol=RTOL, atol=1e-15)
        np.testing.assert_allclose(r.estimate, brute_auc(y, s), rtol=1e-13)
        np.testing.assert_allclose(r.variance, brute_var(y, s), rtol=1e-12, atol=1e-18)
        curve_df = roc_curve(y, s)
        thr = _f(ref["thresholds"])
        np.testing.assert_allclose(curve_df["threshold"].to_numpy()[1:-1], thr[1:-1],
                                   rtol=RTOL)
        np.testing.assert_allclose(curve_df["tpr"], ref["tpr"], rtol=RTOL, atol=1e-15)
        np.testing.assert_allclose(curve_df["fpr"], ref["fpr"], rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("name", SYNTH)
def test_synthetic_tests_match_proc(proc: dict[str, Any], name: str) -> None:
    d = proc["synthetic"][name]
    y = np.asarray(d["y"], dtype=int)
    a, b = np.asarray(d["a"], dtype=float), np.asarray(d["b"], dtype=float)
    ref = d["tests"]
    for r_alt, alt in ALTS.items():
        p = ref[f"paired_{r_alt}"]
        t = delong_test(y, a, b, alternative=alt)  # type: ignore[arg-type]
        np.testing.assert_allclose([t.statistic, t.p_value], [p["statistic"], p["p_value"]],
                                   rtol=RTOL, atol=1e-15)
        np.testing.assert_allclose([t.ci_low, t.ci_high], p["ci"], rtol=RTOL, atol=1e-15)
        u = ref[f"unpaired_{r_alt}"]
        tu = delong_test_unpaired(y, a, y, b, alternative=alt)  # type: ignore[arg-type]
        np.testing.assert_allclose([tu.statistic, tu.p_value], [u["statistic"], u["p_value"]],
                                   rtol=RTOL, atol=1e-15)
        if u["df"] is not None:
            np.testing.assert_allclose(tu.df, u["df"], rtol=RTOL)


def test_identical_scores_give_z0_p1(proc: dict[str, Any]) -> None:
    d = proc["synthetic"]["identical"]
    t = delong_test(d["y"], d["a"], d["b"])
    assert t.statistic == 0.0
    assert t.p_value == 1.0
    assert d["tests"]["paired_two.sided"]["p_value"] == 1.0


def test_reversed_score_has_auc_below_half(proc: dict[str, Any]) -> None:
    d = proc["synthetic"]["reversed"]
    assert roc_auc(d["y"], d["a"]) < 0.5
    assert roc_auc(d["y"], d["a"]) == pytest.approx(d["curve_a"]["auc"], rel=RTOL)


def test_single_case_gives_nan_ci_with_warning(proc: dict[str, Any]) -> None:
    d = proc["synthetic"]["one_case"]
    assert roc_auc(d["y"], d["a"]) == pytest.approx(d["curve_a"]["auc"], rel=RTOL)
    with pytest.warns(UndefinedMetricWarning, match="at least 2 cases"):
        r = delong_ci(d["y"], d["a"])
    assert math.isnan(r.variance) and math.isnan(r.ci_low) and math.isnan(r.ci_high)
    assert all(v is None for v in d["curve_a"]["ci_delong"])  # pROC gives NA
    with pytest.raises(InputError, match="at least 2 cases"):
        delong_test(d["y"], d["a"], d["a"])


def test_placements_match_brute_force(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200), 1)
    v10, v01 = delong_placements(y, s)
    b10, b01 = brute_placements(y, s)
    np.testing.assert_allclose(v10, b10, rtol=1e-15)
    np.testing.assert_allclose(v01, b01, rtol=1e-15)


# ----------------------------------------------------------------- delong_test_many


def test_delong_test_many_equals_pairwise(asah: pd.DataFrame) -> None:
    y = asah["y"].to_numpy()
    scores = {m: asah[m].to_numpy(float) for m in MARKERS}
    tab = delong_test_many(y, scores, adjust="holm")
    assert list(tab.columns) == ["model_a", "model_b", "auc_a", "auc_b", "difference",
                                 "statistic", "p_value", "p_adjusted", "ci_low", "ci_high"]
    assert list(zip(tab.model_a, tab.model_b, strict=True)) == [
        ("wfns", "s100b"), ("wfns", "ndka"), ("s100b", "ndka")]
    for row in tab.itertuples():
        t = delong_test(y, scores[row.model_a], scores[row.model_b])
        np.testing.assert_allclose([row.statistic, row.p_value, row.ci_low, row.ci_high],
                                   [t.statistic, t.p_value, t.ci_low, t.ci_high], rtol=1e-12)
    np.testing.assert_allclose(tab.p_adjusted, adjust_pvalues(tab.p_value, method="holm"))
    bh = delong_test_many(y, scores, adjust="bh")
    np.testing.assert_allclose(bh.p_adjusted, adjust_pvalues(tab.p_value, method="bh"))


def test_delong_test_many_needs_two_models(asah: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="at least 2 models"):
        delong_test_many(asah["y"], {"wfns": asah["wfns"]})
    with pytest.raises(InputError, match="mapping"):
        delong_test_many(asah["y"], [asah["wfns"], asah["ndka"]])  # type: ignore[arg-type]


# ----------------------------------------------------------------- bootstrap


def brute_percentile(y: np.ndarray, s: np.ndarray, idx: np.ndarray,
                     level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    aucs = np.array([brute_auc(y[i], s[i]) for i in idx])
    a = 1 - level
    return aucs, np.quantile(aucs, [a / 2, 0.5, 1 - a / 2], method="linear")


@pytest.mark.parametrize("stratified", [True, False])
def test_bootstrap_same_interval_as_loop_over_same_indices(asah: pd.DataFrame,
                                                           stratified: bool) -> None:
    y, s = asah["y"].to_numpy(), asah["ndka"].to_numpy(float)
    idx = bootstrap_indices(y, n_resamples=300, stratified=stratified, rng=5)
    assert idx.shape == (300, y.size)
    if stratified:  # controls first, then cases, each with its original count
        assert (y[idx[:, :72]] == 0).all() and (y[idx[:, 72:]] == 1).all()
    r = bootstrap_auc(y, s, resample_indices=idx, stratified=stratified)
    aucs, (lo, med, hi) = brute_percentile(y, s, idx)
    np.testing.assert_allclose(r.distribution, aucs, rtol=1e-13)
    np.testing.assert_allclose([r.ci_low, r.median, r.ci_high], [lo, med, hi], rtol=1e-13)
    assert r.estimate == roc_auc(y, s)
    assert r.se == pytest.approx(np.std(aucs, ddof=1), rel=1e-12)


def test_bootstrap_rng_reproducible_and_matches_own_indices(asah: pd.DataFrame) -> None:
    y, s = asah["y"].to_numpy(), asah["s100b"].to_numpy(float)
    r1 = bootstrap_auc(y, s, n_resamples=500, rng=11)
    r2 = bootstrap_auc(y, s, n_resamples=500, rng=np.random.default_rng(11))
    assert r1 == r2
    np.testing.assert_array_equal(r1.distribution, r2.distribution)
    r3 = bootstrap_auc(y, s, n_resamples=500, rng=12)
    assert r3.ci_low != r1.ci_low
    # internal draws are a valid stratified bootstrap: check with a brute loop
    # on the same generator stream is not possible, but the distribution must be
    # made of AUCs of stratified resamples: values on the grid k / (2 m n)
    grid = r1.distribution * 2 * 41 * 72
    np.testing.assert_allclose(grid, np.round(grid), atol=1e-6)


def test_bootstrap_unstratified_drops_single_class_resamples() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0])
    s = np.arange(8.0)
    with pytest.warns(DegenerateBootstrapWarning, match="dropped"):
        r = bootstrap_auc(y, s, n_resamples=400, stratified=False, rng=3)
    assert 0 < r.n_dropped < 400
    assert r.n_resamples == 400 - r.n_dropped


def test_bootstrap_agrees_with_proc_in_distribution(proc: dict[str, Any],
                                                    asah: pd.DataFrame) -> None:
    """pROC ci.auc(method="bootstrap", boot.n=20000) vs radval with B=20000.

    Monte-Carlo tolerance: for B=20000 the SD of a 2.5% / 97.5% bootstrap
    quantile of the AUC is at most 0.0014 here (measured over 8 radval seeds:
    0.0002-0.0014), so the difference of two independent runs has SD <= 0.002;
    the tolerance 0.007 is ~3.5 SD (observed differences: <= 0.0018).  The median
    (middle value) uses the same tolerance, the bootstrap variance a relative
    tolerance of 5% (its relative MC SD is sqrt(2/B) = 1%).
    """
    y = asah["y"].to_numpy()
    for m in MARKERS:
        ref = proc["asah_bootstrap"][m]
        s = asah[m].to_numpy(float)
        for key, strat in (("stratified", True), ("unstratified", False)):
            r = bootstrap_auc(y, s, n_resamples=20000, stratified=strat, rng=2024)
            np.testing.assert_allclose([r.ci_low, r.median, r.ci_high], ref[key], atol=0.007)
        r = bootstrap_auc(y, s, n_resamples=20000, rng=99)
        np.testing.assert_allclose(r.se**2, ref["var_boot"], rtol=0.05)


def test_bootstrap_test_agrees_with_proc_in_distribution(proc: dict[str, Any],
                                                         asah: pd.DataFrame) -> None:
    """pROC roc.test(method="bootstrap", boot.n=20000): D = 2.2028.

    D = d / sd(Δ*); measured MC SD of D over 8 radval seeds: 0.013, so the
    difference of two runs has SD ~0.019; tolerance 0.06 (~3 SD).
    """
    y = asah["y"].to_numpy()
    ref = proc["asah_bootstrap"]["test_wfns_s100b"]
    t = bootstrap_auc_test(y, asah["wfns"], asah["s100b"], n_resamples=20000, rng=1)
    assert t.statistic == pytest.approx(ref["statistic"], abs=0.06)
    assert t.p_value == pytest.approx(ref["p_value"], abs=0.004)


def test_bootstrap_test_equals_loop_over_same_indices(asah: pd.DataFrame) -> None:
    y = asah["y"].to_numpy()
    a, b = asah["wfns"].to_numpy(float), asah["s100b"].to_numpy(float)
    idx = bootstrap_indices(y, n_resamples=200, rng=8)
    t = bootstrap_auc_test(y, a, b, resample_indices=idx)
    diffs = np.array([brute_auc(y[i], a[i]) - brute_auc(y[i], b[i]) for i in idx])
    np.testing.assert_allclose(t.distribution, diffs, rtol=1e-12, atol=1e-15)
    d = roc_auc(y, a) - roc_auc(y, b)
    assert t.statistic == pytest.approx(d / np.std(diffs, ddof=1), rel=1e-12)
    assert t.p_value == pytest.approx(2 * (1 - __import__("scipy").stats.norm.cdf(
        abs(t.statistic))), rel=1e-9)
    np.testing.assert_allclose([t.ci_low, t.ci_high],
                               np.quantile(diffs, [0.025, 0.975]), rtol=1e-12)


def test_bootstrap_test_identical_scores() -> None:
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.5, 0.3, 0.9, 0.2, 0.4, 0.8, 0.6])
    t = bootstrap_auc_test(y, s, s, n_resamples=100, rng=1)
    assert (t.statistic, t.p_value, t.difference) == (0.0, 1.0, 0.0)


def test_bca_matches_manual_formula_with_brute_jackknife(rng: np.random.Generator) -> None:
    from scipy import stats

    y = np.r_[np.zeros(25, int), np.ones(15, int)]
    s = np.round(rng.normal(size=40) + 0.8 * y, 1)
    r = bootstrap_auc(y, s, n_resamples=3000, method="bca", rng=4)
    theta = brute_auc(y, s)
    loo = np.array([brute_auc(np.delete(y, i), np.delete(s, i)) for i in range(40)])
    dev = loo.mean() - loo
    acc = np.sum(dev**3) / (6 * np.sum(dev**2) ** 1.5)
    assert r.acceleration == pytest.approx(acc, rel=1e-10)
    dist = r.distribution
    tie = np.isclose(dist, theta, rtol=0, atol=1e-12)
    z0 = stats.norm.ppf((np.sum((dist < theta) & ~tie) + 0.5 * np.sum(tie)) / dist.size)
    assert r.bias_correction == pytest.approx(z0, rel=1e-12)
    za = stats.norm.ppf([0.025, 0.975])
    q = stats.norm.cdf(z0 + (z0 + za) / (1 - acc * (z0 + za)))
    np.testing.assert_allclose([r.ci_low, r.ci_high], np.quantile(dist, q), rtol=1e-12)
    pct = bootstrap_auc(y, s, n_resamples=3000, method="percentile", rng=4)
    np.testing.assert_array_equal(pct.distribution, dist)


# ----------------------------------------------------------------- degenerate input


def test_errors_name_the_argument() -> None:
    y = np.array([0, 1, 0, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(InputError, match="'y_true'.*both classes"):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="'y_score'.*finite"):
        roc_auc(y, [0.1, np.nan, 0.3, 0.4])
    with pytest.raises(InputError, match="same length"):
        roc_auc(y, s[:3])
    with pytest.raises(InputError, match="'y_true'.*binary"):
        roc_auc([0, 1, 2, 1], s)
    with pytest.raises(InputError, match="'alternative'"):
        delong_test(y, s, s, alternative="both")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'confidence_level'"):
        delong_ci(y, s, confidence_level=95)
    with pytest.raises(InputError, match="'score_b'"):
        delong_test(y, s, [0.1, 0.2, np.inf, 0.3])
    with pytest.raises(InputError, match="'y_true_b'"):
        delong_test_unpaired(y, s, [0, 1, 1, 1], s)
    with pytest.raises(InputError, match="'method'"):
        bootstrap_auc(y, s, method="basic")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'n_resamples'"):
        bootstrap_auc(y, s, n_resamples=0)
    with pytest.raises(InputError, match="'rng'"):
        bootstrap_auc(y, s, rng="seed")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'resample_indices'"):
        bootstrap_auc(y, s, resample_indices=np.zeros((3, 5), dtype=int))
    with pytest.raises(InputError, match="'resample_indices'.*stratified"):
        bootstrap_auc(y, s, resample_indices=np.zeros((3, 4), dtype=int))


def test_constant_score_warns() -> None:
    with pytest.warns(UndefinedMetricWarning, match="constant"):
        assert roc_auc([0, 1, 0, 1], [2.0, 2.0, 2.0, 2.0]) == 0.5
    with pytest.warns(UndefinedMetricWarning, match="constant"):
        r = delong_ci([0, 1, 0, 1], [2.0, 2.0, 2.0, 2.0])
    assert (r.ci_low, r.estimate, r.ci_high, r.variance) == (0.5, 0.5, 0.5, 0.0)


def test_results_are_json_safe(asah: pd.DataFrame) -> None:
    r = bootstrap_auc(asah["y"], asah["wfns"], n_resamples=50, rng=1)
    d = r.to_dict()
    json.dumps(d)
    assert d["method"] == "percentile" and len(d["distribution"]) == 50
    frame = delong_ci(asah["y"], asah["wfns"]).to_frame()
    assert {"estimate", "variance", "se", "ci_low", "ci_high"} <= set(frame.columns)


@pytest.mark.parametrize("name", SYNTH)
def test_synthetic_youden_matches_proc_first_listed(proc: dict[str, Any], name: str) -> None:
    from radval.stats import youden_threshold

    d = proc["synthetic"][name]
    for key, curve in (("a", "curve_a"), ("b", "curve_b")):
        ref = np.atleast_1d(_f(d[curve]["youden"]["threshold"]))
        t = youden_threshold(d["y"], d[key])
        if np.isnan(ref[0]):  # JSON null: pROC's best threshold is -Inf
            assert t == -np.inf
        else:
            assert t == pytest.approx(ref[0], rel=RTOL)


def test_near_tie_thresholds_match_proc(proc: dict[str, Any]) -> None:
    """A midpoint that rounds onto the lower value is replaced by the upper one."""
    d = proc["synthetic"]["near_tie"]
    s = np.array([float(v) for v in d["a"]])
    assert np.unique(s).size == 4  # 1 and 1 + eps are distinct doubles
    curve = roc_curve(d["y"], s)
    ref_t = np.array([float(v) for v in d["thresholds"]])  # "-Inf"/"Inf" parse as floats
    np.testing.assert_array_equal(curve["threshold"].to_numpy(), ref_t)
    np.testing.assert_allclose(curve["tpr"], d["tpr"], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(curve["fpr"], d["fpr"], rtol=RTOL, atol=1e-15)
    assert roc_auc(d["y"], s) == pytest.approx(d["auc"], rel=RTOL)
    assert roc_auc(d["y"], s) == brute_auc(np.asarray(d["y"]), s)


def _with_ulp_neighbours(s: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Make 50 values one ulp above 50 others (repair path of the fast argsort)."""
    idx = gen.choice(s.size, 100, replace=False)
    s[idx[:50]] = np.nextafter(s[idx[50:]], np.inf)
    return s


@pytest.mark.parametrize("kind", ["normal", "ties", "near_ties", "many_near_ties", "signed_zero",
                                  "huge"])
def test_fast_argsort_sorts_exactly(kind: str) -> None:
    """The packed-key argsort (n >= 50,000) sorts exactly, including its repair
    path (values equal in all but the lowest bits) and its fallback."""
    from radval.stats._discrimination import _argsort

    gen = np.random.default_rng(5)
    n = 60_000
    s = {
        "normal": gen.normal(size=n),
        "ties": np.round(gen.normal(size=n), 2),
        "near_ties": _with_ulp_neighbours(gen.normal(size=n), gen),
        "many_near_ties": 1.0 + gen.integers(0, 2**16, n) * 2.2e-16,
        "signed_zero": np.where(gen.uniform(size=n) < 0.5, -0.0, 0.0)
        + np.where(gen.uniform(size=n) < 0.1, gen.normal(size=n), 0.0),
        "huge": gen.normal(size=n) * 1e300,
    }[kind]
    order, sv = _argsort(s)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    np.testing.assert_array_equal(s[order], np.sort(s))
    np.testing.assert_array_equal(sv, s[order])
    y = (gen.uniform(size=n) < 0.3).astype(int)
    v10, v01 = delong_placements(y, s)
    # same placements as the two-sorts + searchsorted route
    xs, ys = np.sort(s[y == 1]), np.sort(s[y == 0])
    c2 = np.searchsorted(ys, s[y == 1], "left") + np.searchsorted(ys, s[y == 1], "right")
    np.testing.assert_array_equal(v10, c2 / (2.0 * ys.size))
    d2 = np.searchsorted(xs, s[y == 0], "left") + np.searchsorted(xs, s[y == 0], "right")
    np.testing.assert_allclose(v01, 1.0 - d2 / (2.0 * xs.size), rtol=0, atol=1e-15)
