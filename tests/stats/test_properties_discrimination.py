"""Hypothesis property tests for radval.stats._discrimination.

Invariances: AUC under strictly increasing transforms and row permutations,
AUC(y, s) = 1 - AUC(y, -s), swapping models flips the sign of z, DeLong
variance >= 0, ci_low <= estimate <= ci_high, same rng -> same result, and
agreement with the O(n^2) oracle.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radval.exceptions import UndefinedMetricWarning
from radval.stats import (
    bootstrap_auc,
    delong_ci,
    delong_test,
    delong_test_unpaired,
    roc_auc,
)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def labelled_scores(draw: st.DrawFn, min_size: int = 4, max_size: int = 40,
                    n_models: int = 1) -> tuple[np.ndarray, list[np.ndarray]]:
    n = draw(st.integers(min_size, max_size))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    # at least two of each class (DeLong variance)
    y[:2], y[2:4] = 0, 1
    tied = draw(st.booleans())
    elems = (st.integers(-3, 3).map(float) if tied else
             st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32))
    scores = [np.array(draw(st.lists(elems, min_size=n, max_size=n)), dtype=float)
              for _ in range(n_models)]
    return y, scores


def _brute_auc(y: np.ndarray, s: np.ndarray) -> float:
    x = s[y == 1][:, None]
    c = s[y == 0][None, :]
    return float(((x > c) + 0.5 * (x == c)).mean())


@SETTINGS
@given(labelled_scores())
def test_auc_matches_oracle_and_is_order_invariant(
        data: tuple[np.ndarray, list[np.ndarray]]) -> None:
    y, (s,) = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        auc = roc_auc(y, s)
        assert abs(auc - _brute_auc(y, s)) <= 1e-12
        perm = np.random.default_rng(len(y)).permutation(len(y))
        assert abs(roc_auc(y[perm], s[perm]) - auc) <= 1e-12
        # strictly increasing transforms (exact in floating point) keep every order and tie
        u = np.unique(s)
        steps = np.random.default_rng(u.size).uniform(0.5, 3.0, u.size)
        mapped = np.log1p(np.cumsum(steps))[np.searchsorted(u, s)]
        assert abs(roc_auc(y, mapped) - auc) <= 1e-12
        assert abs(roc_auc(y, s * 8.0) - auc) <= 1e-12
        # label flip: scores negated
        assert abs(roc_auc(y, -s) - (1.0 - auc)) <= 1e-12


@SETTINGS
@given(labelled_scores())
def test_delong_variance_nonnegative_and_ci_contains_estimate(
        data: tuple[np.ndarray, list[np.ndarray]]) -> None:
    y, (s,) = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        r = delong_ci(y, s)
    assert r.variance >= 0.0
    assert 0.0 <= r.ci_low <= r.estimate <= r.ci_high <= 1.0
    neg = delong_ci(y, -s) if s.min() != s.max() else r
    assert abs(neg.variance - r.variance) <= 1e-12


@SETTINGS
@given(labelled_scores(n_models=2))
def test_swapping_models_flips_z(data: tuple[np.ndarray, list[np.ndarray]]) -> None:
    y, (a, b) = data
    ab = delong_test(y, a, b)
    ba = delong_test(y, b, a)
    assert ab.statistic == -ba.statistic or (np.isnan(ab.statistic) and np.isnan(ba.statistic))
    assert abs(ab.p_value - ba.p_value) <= 1e-12
    assert ab.difference == -ba.difference
    assert ab.ci_low <= ab.difference <= ab.ci_high
    assert 0.0 <= ab.p_value <= 1.0
    u_ab = delong_test_unpaired(y, a, y, b)
    u_ba = delong_test_unpaired(y, b, y, a)
    assert u_ab.statistic == -u_ba.statistic
    assert abs(u_ab.p_value - u_ba.p_value) <= 1e-12


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labelled_scores(min_size=6, max_size=30), st.integers(0, 2**31 - 1),
       st.sampled_from(["percentile", "bca"]))
def test_bootstrap_same_rng_same_result(data: tuple[np.ndarray, list[np.ndarray]], seed: int,
                                        method: str) -> None:
    y, (s,) = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r1 = bootstrap_auc(y, s, n_resamples=200, rng=seed, method=method)  # type: ignore[arg-type]
        r2 = bootstrap_auc(y, s, n_resamples=200, rng=seed, method=method)  # type: ignore[arg-type]
    assert r1 == r2
    np.testing.assert_array_equal(r1.distribution, r2.distribution)
    if method == "percentile":
        assert r1.ci_low <= r1.median <= r1.ci_high
        assert r1.distribution.min() <= r1.ci_low and r1.ci_high <= r1.distribution.max()
