"""Tests of radval.stats.adjust_pvalues against R's p.adjust."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from radval.exceptions import InputError
from radval.stats import adjust_pvalues

REF = json.loads((Path(__file__).parents[1] / "reference" / "padjust.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}


def _arr(v: object) -> np.ndarray:
    vals = v if isinstance(v, list) else [v]
    return np.array([math.nan if a is None else a for a in vals], dtype=float)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("method", ["holm", "bh", "bonferroni"])
def test_adjust_pvalues_matches_R_p_adjust(name: str, method: str) -> None:
    case = CASES[name]
    got = adjust_pvalues(_arr(case["p"]), method=method)
    assert_allclose(got, _arr(case[method]), rtol=1e-12, equal_nan=True)


def test_method_is_case_insensitive_and_none_returns_input() -> None:
    p = np.array([0.01, 0.2, np.nan])
    assert_allclose(adjust_pvalues(p, method="BH"), adjust_pvalues(p, method="bh"),
                    equal_nan=True)
    assert_allclose(adjust_pvalues(p, method="none"), p, equal_nan=True)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_adjusted_bounds_and_order(p: list[float]) -> None:
    arr = np.array(p)
    holm = adjust_pvalues(arr, method="holm")
    bh = adjust_pvalues(arr, method="bh")
    bonf = adjust_pvalues(arr, method="bonferroni")
    assert np.all(arr <= bh + 1e-15) and np.all(bh <= holm + 1e-15)
    assert np.all(holm <= bonf + 1e-15) and np.all(bonf <= 1.0)
    order = np.argsort(arr, kind="stable")
    assert np.all(np.diff(holm[order]) >= -1e-15) and np.all(np.diff(bh[order]) >= -1e-15)


@pytest.mark.parametrize(("p", "method", "match"),
                         [([0.1, 1.2], "holm", "p_values"), ([0.1], "fdr", "method")])
def test_adjust_pvalues_errors(p: list[float], method: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        adjust_pvalues(p, method=method)
