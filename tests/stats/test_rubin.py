"""Rubin's rules against R mice::pool.scalar / mice::pool (tests/reference/rubin.R)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from radval.exceptions import InputError, UndefinedMetricWarning
from radval.impute._kernels import fit_multinomial
from radval.stats import pool_auc, rubin_pool, rubin_pool_many

HERE = Path(__file__).resolve().parents[1] / "reference"
REF = json.loads((HERE / "rubin.json").read_text())
SCALAR = {c["name"]: c for c in REF["scalar"]}

FIELDS = {"estimate": "qbar", "within": "ubar", "between": "b", "total": "t",
          "variance": "t", "df": "df", "riv": "r", "lambda_": "lambda", "fmi": "fmi",
          "ci_low": "ci_low", "ci_high": "ci_high", "p_value": "p_value"}


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_rubin_pool_matches_R_mice_pool_scalar(name: str) -> None:
    c = SCALAR[name]
    n = c["n"] if isinstance(c["n"], int | float) else None
    r = rubin_pool(c["Q"], c["U"], n_obs=n, confidence_level=c["level"])
    assert r.m == c["m"]
    for ours, theirs in FIELDS.items():
        assert_allclose(getattr(r, ours), c[theirs], rtol=1e-9, err_msg=ours)
    assert r.se == pytest.approx(math.sqrt(c["t"]), rel=1e-12)


def test_rubin_pool_many_matches_R_mice_pool_on_glm_fits() -> None:
    g = REF["glm_pool"]
    y = np.asarray(g["y"], dtype=float)
    x1 = np.asarray(g["x1"], dtype=float)
    missing = np.array([v is None or v == "NA" for v in g["x2_missing"]])
    assert 0 < missing.sum() < len(y)
    q, u = [], []
    for x2 in g["completed_x2"]:
        x2 = np.asarray(x2, dtype=float)
        design = np.column_stack([np.ones(y.size), x1, x2])
        coef, cov = fit_multinomial(design, y.astype(np.int64), np.ones(y.size), 2)
        q.append(coef[:, 0])
        u.append(cov)
    table = rubin_pool_many(np.array(q), np.array(u), names=["(Intercept)", "x1", "x2"],
                            dfcom=len(y) - 3)
    df = table.to_frame()
    assert list(df["term"]) == g["terms"]
    # our logistic fits agree with R glm to ~1e-11, which bounds the pooled agreement
    for ours, theirs in {"estimate": "estimate", "within": "ubar", "between": "b",
                         "total": "t", "df": "df", "riv": "riv", "lambda_": "lambda",
                         "fmi": "fmi", "se": "std_error", "statistic": "statistic",
                         "p_value": "p_value", "ci_low": "ci_low", "ci_high": "ci_high"}.items():
        assert_allclose(df[ours], g[theirs], rtol=1e-9, err_msg=ours)
    assert_allclose(df["dfcom"], g["dfcom"])
    one = table["x2"]
    assert one.estimate == pytest.approx(g["estimate"][2], rel=1e-8)


def test_rubin_pool_hand_computation_and_identities(rng: np.random.Generator) -> None:
    q = rng.normal(0.3, 0.2, 7)
    u = rng.uniform(0.01, 0.03, 7)
    r = rubin_pool(q, u)
    b = np.var(q, ddof=1)
    t = u.mean() + (1 + 1 / 7) * b
    assert r.total == pytest.approx(t, rel=1e-14)
    assert r.variance == r.total
    assert r.lambda_ == pytest.approx((1 + 1 / 7) * b / t, rel=1e-13)
    assert r.df == pytest.approx(6 / r.lambda_**2, rel=1e-13)
    assert r.ci_low < r.estimate < r.ci_high
    # small complete-data df shrinks the pooled df below the large-sample df
    assert rubin_pool(q, u, n_obs=20).df < r.df
    assert rubin_pool(q, u, n_obs=20).df == pytest.approx(rubin_pool(q, u, dfcom=19).df)
    # order of the imputations does not matter
    perm = rng.permutation(7)
    assert rubin_pool(q[perm], u[perm]).to_dict() == pytest.approx(r.to_dict())


def test_rubin_pool_many_equals_scalar_pooling(rng: np.random.Generator) -> None:
    q = rng.normal(size=(5, 3))
    u = rng.uniform(0.1, 0.2, size=(5, 3))
    table = rubin_pool_many(q, u, n_obs=80).to_frame()
    for j in range(3):
        one = rubin_pool(q[:, j], u[:, j], n_obs=80)
        for col in ("estimate", "total", "df", "fmi", "p_value", "ci_low"):
            assert table.loc[j, col] == pytest.approx(getattr(one, col), rel=1e-14)


def test_pool_auc_logit_scale(rng: np.random.Generator) -> None:
    aucs = np.array([0.78, 0.81, 0.80, 0.79, 0.82])
    var = np.array([0.0009, 0.0008, 0.00085, 0.0009, 0.0008])
    r = pool_auc(aucs, var, n_obs=250)
    lg = rubin_pool(np.log(aucs / (1 - aucs)), var / (aucs * (1 - aucs)) ** 2, n_obs=250)
    assert r.logit.estimate == pytest.approx(lg.estimate)
    assert r.estimate == pytest.approx(1 / (1 + math.exp(-lg.estimate)))
    assert r.ci_high == pytest.approx(1 / (1 + math.exp(-lg.ci_high)))
    assert 0 < r.ci_low < r.estimate < r.ci_high < 1
    # the logit interval is asymmetric around the AUC, shorter towards 1
    assert r.ci_high - r.estimate < r.estimate - r.ci_low
    assert set(r.to_frame().columns) >= {"estimate", "ci_low", "ci_high", "fmi", "df"}
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        pool_auc([0.8, 1.0], [0.001, 0.0])


@pytest.mark.parametrize(("q", "u", "kwargs", "match"), [
    ([1.0], [0.1], {}, "at least 2 imputations"),
    ([1.0, 2.0], [0.1, -0.1], {}, "non-negative"),
    ([1.0, np.nan], [0.1, 0.1], {}, "finite"),
    ([1.0, 2.0], [0.1, 0.1, 0.1], {}, "same shape"),
    ([1.0, 2.0], [0.1, 0.1], {"n_obs": 1}, "n_obs"),
    ([1.0, 2.0], [0.1, 0.1], {"n_obs": 10, "dfcom": 9}, "alternatives"),
    ([1.0, 2.0], [0.1, 0.1], {"confidence_level": 95}, "confidence_level"),
])
def test_rubin_pool_input_errors(q: list[float], u: list[float], kwargs: dict[str, float],
                                 match: str) -> None:
    with pytest.raises(InputError, match=match):
        rubin_pool(q, u, **kwargs)  # type: ignore[arg-type]


def test_rubin_pool_zero_variance_warns() -> None:
    with pytest.warns(UndefinedMetricWarning):
        r = rubin_pool([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert r.estimate == 1.0 and math.isnan(r.riv)


def test_rubin_result_is_frozen_and_serialisable() -> None:
    r = rubin_pool([1.0, 1.2], [0.1, 0.1], n_obs=40)
    with pytest.raises(AttributeError):
        r.estimate = 2.0  # type: ignore[misc]
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert list(r.to_frame().columns)[:3] == ["estimate", "variance", "within"]
