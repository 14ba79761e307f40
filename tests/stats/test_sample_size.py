"""external_validation_sample_size against R pmvalsampsize 0.1.0 (Riley et al. 2021)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radval.exceptions import InputError
from radval.stats import check_validation_sample_size, external_validation_sample_size

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" /
                  "pmvalsampsize.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
_ARGS = {"prevalence": "prevalence", "cstatistic": "cstatistic", "lpnormal": "lp_normal",
         "lpbeta": "lp_beta", "oeciwidth": "oe_ci_width", "csciwidth": "cslope_ci_width",
         "cstatciwidth": "cstatistic_ci_width", "threshold": "threshold",
         "sensitivity": "sensitivity", "specificity": "specificity",
         "nbciwidth": "nb_ci_width"}


def _ours(case: dict[str, Any], **extra: Any) -> Any:
    kwargs = {_ARGS[k]: v for k, v in case["args"].items() if k in _ARGS}
    return external_validation_sample_size(**kwargs, **extra)


@pytest.mark.parametrize("name", list(CASES))
def test_pmvalsampsize_rounding_reproduces_its_deterministic_criteria(name: str) -> None:
    """With pmvalsampsize's grids and roundings, criteria 1, 3 and (from given or
    rounded Se/Sp) 4 are identical; criterion 2 is its simulation, within 1%."""
    case = CASES[name]
    r = _ours(case, rounding="pmvalsampsize")
    assert r.n_oe == case["sample_size"][0]
    assert r.se_oe == pytest.approx(case["se_oe"], rel=1e-12)
    assert r.n_cstatistic == case["sample_size"][2]
    assert r.n_cslope == pytest.approx(case["sample_size"][1], rel=0.01)
    if r.n_net_benefit is not None:
        assert (r.sensitivity, r.specificity) == (case["sensitivity"], case["specificity"])
        assert r.n_net_benefit == case["sample_size"][3]


@pytest.mark.parametrize("name", list(CASES))
def test_criteria_match_pmvalsampsize(name: str) -> None:
    case = CASES[name]
    r = _ours(case)
    n_oe, n_cs, n_c = case["sample_size"][:3]
    # criterion 3 is deterministic in both: identical
    assert r.n_cstatistic == n_c
    assert r.se_cstatistic == pytest.approx(case["se_cstat"], rel=1e-9)
    # criterion 1: pmvalsampsize's grid of SE(ln O/E) in steps of 1e-4 stops at an SE
    # at or above the exact one, so its n is at most ours, and within 1%
    assert 0 <= r.n_oe - n_oe <= 0.01 * n_oe
    # criterion 2: pmvalsampsize simulates 1e6 linear predictors; ours integrates
    assert r.n_cslope == pytest.approx(n_cs, rel=0.01)
    assert r.se_cslope == pytest.approx(case["se_cslope"], rel=1e-12)
    assert r.n_final == max(r.n_oe, r.n_cslope, r.n_cstatistic,
                            r.n_net_benefit or 0)


def test_net_benefit_with_sensitivity_and_specificity() -> None:
    case = CASES["normal_sens_spec"]
    r = _ours(case)
    # pmvalsampsize rounds the SE of the standardised NB to 3 decimals (0.051 for the
    # exact 0.2 / 3.92 = 0.05102): at most a patient apart
    assert abs(r.n_net_benefit - case["sample_size"][3]) <= 1
    assert r.standardised_net_benefit == pytest.approx(case["standardised_nb"], rel=1e-12)


@pytest.mark.parametrize("name", ["normal_threshold", "beta_threshold"])
def test_net_benefit_from_threshold(name: str) -> None:
    """Se/Sp implied by the LP distribution: pmvalsampsize simulates and rounds them to two
    decimals, radval integrates; with pmvalsampsize's rounded Se/Sp the formula agrees."""
    case = CASES[name]
    r = _ours(case)
    assert abs(r.sensitivity - case["sensitivity"]) <= 0.006
    assert abs(r.specificity - case["specificity"]) <= 0.006
    # pmvalsampsize's roundings (Se/Sp to 2 decimals, the NB SE to 3) move n by up to
    # ~1.5% in these examples; rounding="pmvalsampsize" reproduces them (test above)
    assert r.n_net_benefit == pytest.approx(case["sample_size"][3], rel=0.02)


def test_riley_2021_worked_example() -> None:
    """Mechanical heart valve example (prevalence 1.8%, C 0.8, LP ~ N(-5, 2.5), O/E CI
    width 1): 905 (O/E, 906 exactly: at 905 the CI is 1.00003 wide) and 4252 (C)."""
    r = external_validation_sample_size(prevalence=0.018, cstatistic=0.8,
                                        lp_normal=(-5, 2.5), oe_ci_width=1)
    assert r.n_cstatistic == 4252
    assert r.n_oe == 906
    se = math.sqrt((1 - 0.018) / (0.018 * 905))
    assert 2 * math.sinh(1.96 * se) > 1 > 2 * math.sinh(1.96 * math.sqrt(
        (1 - 0.018) / (0.018 * 906)))
    frame = r.to_frame()
    assert frame["criterion"].tolist() == ["oe", "cslope", "cstatistic", "final"]
    assert frame["sample_size"].iloc[-1] == r.n_final
    assert r.events_final == pytest.approx(r.n_final * 0.018)


def test_slope_information_by_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    lp = rng.normal(-1.6, 1.1, 2_000_000)
    p = 1 / (1 + np.exp(-lp))
    w = p * (1 - p)
    r = external_validation_sample_size(prevalence=0.2, cstatistic=0.75,
                                        lp_normal=(-1.6, 1.1))
    np.testing.assert_allclose([r.i00, r.i01, r.i11],
                               [w.mean(), (lp * w).mean(), (lp * lp * w).mean()], rtol=3e-3)


def test_anticipated_slope_enters_the_information() -> None:
    base = external_validation_sample_size(prevalence=0.2, cstatistic=0.75,
                                           lp_normal=(-1.6, 1.1))
    shrunk = external_validation_sample_size(prevalence=0.2, cstatistic=0.75,
                                             lp_normal=(-1.6, 1.1), cslope=0.8)
    assert shrunk.n_cslope != base.n_cslope


def test_cstatistic_based_lp_matches_pmvalsampsize_lpcstat() -> None:
    case = CASES["cstat_lp"]
    r = external_validation_sample_size(prevalence=0.1, cstatistic=0.7)
    assert r.lp_distribution.startswith("cstatistic(")
    assert r.n_cslope == pytest.approx(case["sample_size"][1], rel=0.01)
    assert r.n_cstatistic == case["sample_size"][2]


def test_check_site() -> None:
    rng = np.random.default_rng(3)
    lp = rng.normal(-1.6, 1.1, 200_000)
    emp = check_validation_sample_size(4000, 800, cstatistic=0.75, lp=lp)
    ref = external_validation_sample_size(prevalence=0.2, cstatistic=0.75,
                                          lp_normal=(-1.6, 1.1))
    assert emp.criteria.n_cslope == pytest.approx(ref.n_cslope, rel=0.01)
    assert emp.required == emp.criteria.n_final
    assert emp.meets is (emp.required <= 4000)
    assert emp.meets_cstatistic and emp.meets_oe
    small = check_validation_sample_size(300, 60, cstatistic=0.75, threshold=0.15, lp=lp)
    assert not small.meets and small.meets_net_benefit is not None
    assert small.to_frame()["meets"].tolist() == [False] * 5
    assert json.dumps(small.to_dict())


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"prevalence": 0.0, "cstatistic": 0.8}, "'prevalence' parameter of "
                                             "external_validation_sample_size"),
    ({"prevalence": 0.1, "cstatistic": 0.45}, "'cstatistic'"),
    ({"prevalence": 0.1, "cstatistic": 0.8, "lp_normal": (0, 1), "lp_beta": (1, 1)},
     "'lp_beta'"),
    ({"prevalence": 0.1, "cstatistic": 0.8, "sensitivity": 0.8}, "'specificity'"),
    ({"prevalence": 0.1, "cstatistic": 0.8, "sensitivity": 0.8, "specificity": 0.7},
     "'threshold'"),
    ({"prevalence": 0.1, "cstatistic": 0.8, "threshold": 1.0}, "'threshold'"),
    ({"prevalence": 0.1, "cstatistic": 0.8, "lp_normal": (0, -1)}, "'lp_normal'"),
])
def test_bad_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        external_validation_sample_size(**kwargs)
    with pytest.raises(InputError, match="'events' parameter of check_validation_sample_size"):
        check_validation_sample_size(100, 100, cstatistic=0.7)


def test_check_site_with_normal_lp() -> None:
    # the site check with the development LP distribution equals the criteria computed at
    # the site's prevalence with that distribution
    chk = check_validation_sample_size(400, 60, cstatistic=0.78, lp_normal=(-1.9, 1.2),
                                       threshold=0.2)
    ref = external_validation_sample_size(prevalence=60 / 400, cstatistic=0.78,
                                          lp_normal=(-1.9, 1.2), threshold=0.2)
    assert chk.criteria.n_final == ref.n_final and chk.required == ref.n_final
    assert chk.criteria.n_cslope == ref.n_cslope
    assert chk.criteria.n_net_benefit == ref.n_net_benefit
    assert chk.meets is (ref.n_final <= 400)
    with pytest.raises(InputError, match="'lp_normal' parameter of check_validation_sample"):
        check_validation_sample_size(400, 60, cstatistic=0.78, lp=[0.1, 0.2],
                                     lp_normal=(0, 1))
    with pytest.raises(InputError, match="'lp_normal'"):
        check_validation_sample_size(400, 60, cstatistic=0.78, lp_normal=(0, 0))
