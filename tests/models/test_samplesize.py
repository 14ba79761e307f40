"""Riley et al. (2020) criteria against the formulas in R (tests/reference/riley.R)
and the published worked example (P = 24, prevalence 0.174, R2_CS 0.288)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from radval.exceptions import InputError
from radval.models.samplesize import max_r2_cs, riley_sample_size

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "riley.json").read_text())


def test_published_worked_example() -> None:
    # pmsampsize(type="b", csrsquared=0.288, parameters=24, prevalence=0.174):
    # criterion 1 623, criterion 2 662, criterion 3 221 -> 662
    r = riley_sample_size(candidate_predictors=24, prevalence=0.174, r2_cs=0.288)
    assert (r.n_criterion1, r.n_criterion2, r.n_criterion3) == (623, 662, 221)
    assert r.n_required == 662
    assert_allclose(r.max_r2_cs, 0.603, atol=5e-4)


@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: f"P{c['P']}-phi{c['prevalence']}")
def test_against_r(case: dict[str, float]) -> None:
    r = riley_sample_size(candidate_predictors=int(case["P"]), prevalence=case["prevalence"],
                          r2_cs=case["r2_cs"])
    assert_allclose(r.max_r2_cs, case["max_r2_cs"], rtol=1e-12)
    assert_allclose(r.shrinkage_criterion2, case["S2"], rtol=1e-12)
    assert (r.n_criterion1, r.n_criterion2, r.n_criterion3) == (case["c1"], case["c2"],
                                                                 case["c3"])
    assert r.n_required == case["required"]


def test_default_r2_is_015_nagelkerke_and_ok_flag() -> None:
    r = riley_sample_size(candidate_predictors=10, prevalence=0.3, n=1000, events=300)
    assert_allclose(r.r2_cs, 0.15 * max_r2_cs(0.3), rtol=1e-12)
    assert r.ok and r.epp == 30.0
    assert not riley_sample_size(candidate_predictors=10, prevalence=0.3, n=100).ok
    for bad in ({"candidate_predictors": 0, "prevalence": 0.3},
                {"candidate_predictors": 5, "prevalence": 1.2},
                {"candidate_predictors": 5, "prevalence": 0.3, "r2_cs": 0.9}):
        with pytest.raises(InputError):
            riley_sample_size(**bad)  # type: ignore[arg-type]
