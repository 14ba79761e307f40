"""Tests of radval.stats.mann_whitney(_table) against R wilcox.test, scipy and brute force."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from radval.exceptions import InputError, UndefinedMetricWarning
from radval.stats import _rank as rank_mod
from radval.stats import mann_whitney, mann_whitney_table

REF = json.loads((Path(__file__).parents[1] / "reference" / "wilcox.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}


def _nan(v: object) -> float:
    return math.nan if v is None else float(v)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(CASES))
def test_mann_whitney_matches_R_wilcox_test(name: str) -> None:
    case = CASES[name]
    if name == "all_tied":
        with pytest.warns(UndefinedMetricWarning, match="tied"):
            res = mann_whitney(case["x"], case["y"])
        assert math.isnan(res.p_value) and case["p_value"] is None
    else:
        res = mann_whitney(case["x"], case["y"], alternative=case["alternative"],
                           correct=case["correct"])
        assert_allclose(res.p_value, case["p_value"], rtol=1e-9)
    assert res.statistic == case["statistic"]
    assert res.n_x == len(case["x"]) and res.n_y == len(case["y"])
    assert res.auc == pytest.approx(res.statistic / (res.n_x * res.n_y), rel=1e-15)
    assert res.rank_biserial == pytest.approx(2 * res.auc - 1, abs=1e-15)


def test_mann_whitney_table_matches_R() -> None:
    t = REF["table"]
    features = pd.DataFrame(t["features"])[t["names"]]
    with pytest.warns(UndefinedMetricWarning, match="constant"):
        tab = mann_whitney_table(features, t["y"])
    assert list(tab.columns) == ["feature", "statistic", "p_value", "q_value", "auc", "n_pos",
                                 "n_neg"]
    assert list(tab["feature"]) == t["names"]
    assert_array_equal(tab["statistic"], t["statistic"])
    assert_allclose(tab["p_value"], [_nan(v) for v in t["p_value"]], rtol=1e-9)
    assert_allclose(tab["q_value"], [_nan(v) for v in t["q_value"]], rtol=1e-9)
    assert (tab["n_pos"] == t["n_pos"]).all() and (tab["n_neg"] == t["n_neg"]).all()
    # the constant column follows R: p (and q) NaN, not counted in the BH adjustment
    const = tab[tab["feature"] == "constant"].iloc[0]
    assert math.isnan(const["p_value"]) and math.isnan(const["q_value"])
    assert const["auc"] == 0.5


def _brute_u(x: np.ndarray, y: np.ndarray) -> float:
    diff = x[:, None] - y[None, :]
    return float(np.sum(diff > 0) + 0.5 * np.sum(diff == 0))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), nx=st.integers(1, 30), ny=st.integers(1, 30),
       decimals=st.sampled_from([0, 1, 3]),
       alternative=st.sampled_from(["two-sided", "less", "greater"]))
def test_mann_whitney_equals_scipy_and_brute_force(seed: int, nx: int, ny: int, decimals: int,
                                                   alternative: str) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0.3, 1, nx) * 2, decimals)
    y = np.round(rng.normal(0.0, 1, ny) * 2, decimals)
    if np.ptp(np.concatenate([x, y])) == 0:
        return
    res = mann_whitney(x, y, alternative=alternative)
    assert res.statistic == _brute_u(x, y)
    assert res.auc == pytest.approx(_brute_u(x, y) / (nx * ny), rel=1e-15)
    ref = stats.mannwhitneyu(x, y, alternative=alternative, method="asymptotic",
                             use_continuity=True)
    assert res.statistic == ref.statistic
    # scipy clips to 1 when |U - mn/2| < 1/2, where R (and radval) give a value
    # just below 1 (continuity correction larger than the deviation).
    if abs(res.statistic - nx * ny / 2) >= 0.5 or alternative != "two-sided":
        assert_allclose(res.p_value, ref.pvalue, rtol=1e-10, atol=1e-300)
    else:
        assert res.p_value <= 1.0 and ref.pvalue == 1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(4, 60), p=st.integers(1, 8))
def test_table_equals_loop_of_single_tests(seed: int, n: int, p: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, size=max(1, n // 3), replace=False)] = 1
    x = rng.normal(size=(n, p))
    x[:, ::2] = np.round(x[:, ::2])  # heavy ties in half the columns
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(p)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # constant columns
        tab = mann_whitney_table(frame, y, fdr="none")
    for j in range(p):
        if np.ptp(x[:, j]) == 0:
            continue
        single = mann_whitney(x[y == 1, j], x[y == 0, j])
        assert tab["statistic"].iloc[j] == single.statistic
        assert_allclose(tab["p_value"].iloc[j], single.p_value, rtol=1e-12)
        assert_allclose(tab["p_value"].iloc[j], tab["q_value"].iloc[j], rtol=0)


def test_rank_sums_equal_scipy_rankdata_and_tie_counts() -> None:
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=(200, 6)), 1)
    x[:, 5] = 3.0  # one constant column
    group = rng.uniform(size=200) < 0.3
    rank_sum, tie_sum = rank_mod._rank_sums(x, group)
    assert_array_equal(rank_sum, stats.rankdata(x, axis=0)[group].sum(axis=0))
    brute = [sum(t**3 - t for t in np.unique(x[:, j], return_counts=True)[1]) for j in range(6)]
    assert_array_equal(tie_sum, brute)


def test_table_drops_missing_values_per_column() -> None:
    rng = np.random.default_rng(8)
    y = np.array([0, 1] * 20)
    a = rng.normal(size=40) + y
    b = a.copy()
    b[[0, 3, 5]] = np.nan
    tab = mann_whitney_table(pd.DataFrame({"a": a, "b": b}), y)
    ok = ~np.isnan(b)
    single = mann_whitney(b[ok & (y == 1)], b[ok & (y == 0)])
    row = tab.iloc[1]
    assert row["statistic"] == single.statistic
    assert_allclose(row["p_value"], single.p_value, rtol=1e-12)
    assert (row["n_pos"], row["n_neg"]) == (18, 19)
    assert (tab.iloc[0]["n_pos"], tab.iloc[0]["n_neg"]) == (20, 20)


def test_table_accepts_array_and_holm() -> None:
    rng = np.random.default_rng(2)
    y = np.array([0, 1] * 15)
    x = rng.normal(size=(30, 3)) + y[:, None] * np.array([0, 1, 2])
    tab = mann_whitney_table(x, y, fdr="holm")
    assert list(tab["feature"]) == [0, 1, 2]
    assert (tab["q_value"] >= tab["p_value"]).all()


@pytest.mark.parametrize(
    ("features", "y", "match"),
    [
        (pd.DataFrame({"a": [1.0, 2, 3, 4], "s": ["x", "y", "z", "w"]}), [0, 1, 0, 1],
         "non-numeric"),
        (pd.DataFrame({"a": [1.0, 2, 3, 4]}), [1, 1, 1, 1], "both classes"),
        (pd.DataFrame({"a": [1.0, 2, 3, 4]}), [0, 1, 0], "same length"),
        (pd.DataFrame({"a": [1.0, np.inf, 3, 4]}), [0, 1, 0, 1], "infinite"),
        (pd.DataFrame({"a": [1.0, 2, 3, 4]}), [0, 2, 0, 1], "binary"),
    ],
)
def test_table_input_errors(features: pd.DataFrame, y: list[int], match: str) -> None:
    with pytest.raises(InputError, match=match):
        mann_whitney_table(features, y)


def test_mann_whitney_input_errors() -> None:
    with pytest.raises(InputError, match="'x'"):
        mann_whitney([], [1.0, 2.0])
    with pytest.raises(InputError, match="'y'"):
        mann_whitney([1.0], [1.0, np.nan])
    with pytest.raises(InputError, match="alternative"):
        mann_whitney([1.0], [2.0], alternative="two.sided")


EXACT = json.loads((Path(__file__).resolve().parents[1] / "reference" /
                    "wilcox_exact.json").read_text())


@pytest.mark.parametrize("case", EXACT["cases"],
                         ids=[f"{c['name']}-{c['alternative']}-{c['correct']}"
                              for c in EXACT["cases"]])
def test_exact_matches_R_wilcox_exact(case: dict) -> None:
    res = mann_whitney(np.atleast_1d(case["x"]), case["y"], alternative=case["alternative"],
                       correct=case["correct"], method="exact")
    assert res.statistic == case["statistic"]
    np.testing.assert_allclose(res.p_value, case["p_value"], rtol=1e-9)
    assert res.method == "exact" and math.isnan(res.z)


def test_exact_counts_are_the_mann_whitney_distribution() -> None:
    """Brute force over every split of 4 + 5 ranks."""
    from itertools import combinations

    from radval.stats._rank import _u_counts

    counts = np.zeros(21, dtype=int)
    for xs in combinations(range(9), 4):
        u = sum(r - i for i, r in enumerate(xs))  # ranks below each x not in x
        counts[u] += 1
    assert _u_counts(4, 5) == counts.tolist()
    assert _u_counts(5, 4) == counts.tolist()


def test_exact_auto_and_ties() -> None:
    x, y = [1.5, 3.2, 4.1], [0.2, 2.2, 2.7, 5.0]
    assert mann_whitney(x, y, method="auto").method == "exact"
    tied = [1.5, 2.2, 4.1]
    assert mann_whitney(tied, y, method="auto").method == "asymptotic"
    with pytest.raises(InputError, match="'method' parameter of mann_whitney must be "
                                         "'asymptotic' or 'auto' when the values have ties"):
        mann_whitney(tied, y, method="exact")
    big = np.arange(60.0)
    assert mann_whitney(big, big + 0.5, method="auto").method == "asymptotic"
    with pytest.raises(InputError, match="10000 pairs"):
        mann_whitney(np.arange(101.0), np.arange(100.0) + 0.5, method="exact")
    # the default is unchanged
    assert mann_whitney(x, y).method == "asymptotic"
