"""radval.stats._survival against R survival 3.5-3 (tests/reference/survival.R -> survival.json).

Kaplan-Meier, log-rank and the C-index are closed-form: rtol 1e-9.  coxph is
iterative; R was run with eps = 1e-13 and radval iterates Newton-Raphson to a step
below 1e-12, so coefficients, SEs and p-values are compared with rtol 1e-9 as well
(measured agreement ~1e-13).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import ConvergenceWarning, DataError, InputError
from radval.stats._survival import concordance_index, cox_ph, kaplan_meier, logrank_test

REF = json.loads((Path(__file__).parents[1] / "reference" / "survival.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
NAMES = list(CASES)


def _arr(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame, np.ndarray]:
    c = CASES[name]
    x = pd.DataFrame(np.asarray(c["x"], dtype=float), columns=c["x_names"])
    return (np.asarray(c["time"], dtype=float), np.asarray(c["event"]),
            np.asarray(c["group"]), x, np.asarray(c["score"], dtype=float))


def _compare_km(km: pd.DataFrame, ref: dict) -> None:
    assert len(km) == len(ref["time"])
    assert [str(g) for g in km["group"]] == [str(g) for g in ref["group"]]
    for col in ("time", "at_risk", "n_event", "n_censor"):
        np.testing.assert_array_equal(km[col].to_numpy(float), _arr(ref[col]))
    for col in ("survival", "std_err", "ci_low", "ci_high"):
        want = _arr(ref[col])
        if col == "std_err":  # R: Inf once S(t) = 0 (written to JSON as null)
            want[np.isnan(want)] = np.inf
        np.testing.assert_allclose(km[col].to_numpy(float), want, rtol=1e-9,
                                   equal_nan=True, err_msg=col)


@pytest.mark.parametrize("name", NAMES)
def test_kaplan_meier_matches_survfit(name: str) -> None:
    t, e, g, _, _ = _data(name)
    km_all = kaplan_meier(t, e)
    assert (km_all["group"] == "all").all()
    _compare_km(km_all, CASES[name]["km_all"])
    _compare_km(kaplan_meier(t, e, group=g), CASES[name]["km_group"])


@pytest.mark.parametrize("name", NAMES)
def test_logrank_matches_survdiff(name: str) -> None:
    t, e, g, _, _ = _data(name)
    ref = CASES[name]["logrank"]
    res = logrank_test(t, e, g)
    np.testing.assert_allclose(res.statistic, ref["statistic"], rtol=1e-9)
    assert res.df == ref["df"]
    np.testing.assert_allclose(res.p_value, ref["p_value"], rtol=1e-9)
    np.testing.assert_allclose(res.table["observed"], ref["observed"], rtol=1e-12)
    np.testing.assert_allclose(res.table["expected"], ref["expected"], rtol=1e-9)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_matches_coxph(name: str, ties: str) -> None:
    t, e, _, x, _ = _data(name)
    ref = CASES[name][f"cox_{ties}"]
    res = cox_ph(t, e, x, ties=ties)
    assert res.terms == list(x.columns)
    np.testing.assert_allclose(res.coef, ref["coef"], rtol=1e-9)
    np.testing.assert_allclose(res.se, ref["se"], rtol=1e-9)
    np.testing.assert_allclose(res.p_value, ref["p_value"], rtol=1e-9)
    np.testing.assert_allclose(res.hr_ci_low, ref["hr_ci_low"], rtol=1e-9)
    np.testing.assert_allclose(res.hr_ci_high, ref["hr_ci_high"], rtol=1e-9)
    np.testing.assert_allclose([res.loglik_null, res.loglik], ref["loglik"], rtol=1e-12)
    np.testing.assert_allclose(res.lr_statistic, ref["lr_statistic"], rtol=1e-9)
    one = cox_ph(t, e, x.iloc[:, 0], ties=ties)
    np.testing.assert_allclose(one.coef, CASES[name][f"cox1_{ties}"]["coef"], rtol=1e-9)
    np.testing.assert_allclose(one.se, CASES[name][f"cox1_{ties}"]["se"], rtol=1e-9)
    frame = res.to_frame()
    assert list(frame.columns[:8]) == ["term", "coef", "hr", "se", "z", "p_value", "hr_ci_low",
                                       "hr_ci_high"]


@pytest.mark.parametrize("name", NAMES)
def test_concordance_matches_r(name: str) -> None:
    t, e, _, _, s = _data(name)
    ref = CASES[name]["concordance"]
    res = concordance_index(t, e, s)
    np.testing.assert_allclose(res.estimate, ref["estimate"], rtol=1e-12)
    cnt = ref["count"]
    assert (res.concordant, res.discordant, res.tied_score, res.tied_time, res.tied_both) == (
        cnt["concordant"], cnt["discordant"], cnt["tied.x"], cnt["tied.y"], cnt["tied.xy"])
    np.testing.assert_allclose(res.variance, ref["var"], rtol=1e-9)


def test_concordance_bruteforce_and_direction(rng: np.random.Generator) -> None:
    t = rng.integers(1, 20, size=60).astype(float)
    e = rng.integers(0, 2, size=60)
    s = rng.integers(0, 5, size=60).astype(float)
    num = den = 0.0
    for i in range(60):
        for j in range(60):
            if e[i] == 1 and (t[i] < t[j] or (t[i] == t[j] and e[j] == 0)):
                den += 1
                num += 1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0
    res = concordance_index(t, e, s)
    np.testing.assert_allclose(res.estimate, num / den, rtol=1e-12)
    flipped = concordance_index(t, e, -s)
    np.testing.assert_allclose(flipped.estimate, 1 - res.estimate, rtol=1e-12)


def test_km_simple_by_hand() -> None:
    # times 1,2,2,3+,4 ; events at 1, 2, 2, 4
    km = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 1, 0, 1])
    np.testing.assert_allclose(km["survival"], [0.8, 0.8 * 2 / 4, 0.4, 0.0])
    np.testing.assert_array_equal(km["at_risk"], [5, 4, 2, 1])
    assert np.isnan(km["ci_low"].iloc[-1])


def test_errors() -> None:
    with pytest.raises(InputError, match="'time'"):
        kaplan_meier([1, -2, 3], [1, 0, 1])
    with pytest.raises(InputError, match="'event'"):
        kaplan_meier([1, 2, 3], [1, 2, 1])
    with pytest.raises(InputError, match="same length"):
        kaplan_meier([1, 2, 3], [1, 0])
    with pytest.raises(InputError, match="'group'"):
        logrank_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    with pytest.raises(DataError, match="no events"):
        cox_ph([1, 2, 3], [0, 0, 0], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="'ties'"):
        cox_ph([1, 2, 3], [1, 0, 1], [1.0, 2.0, 3.0], ties="exact")


def test_cox_monotone_likelihood_warns() -> None:
    # every event has a higher x than everyone still at risk: beta -> infinity
    t = np.arange(1.0, 11.0)
    e = np.ones(10)
    x = -t
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        cox_ph(t, e, x, max_iter=30)
    assert any(issubclass(w.category, ConvergenceWarning) for w in rec)
