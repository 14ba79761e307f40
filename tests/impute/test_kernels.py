"""mice's regression kernels against R mice 3.15 (tests/reference/rubin.R, section kernels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from radval.impute._kernels import (
    augment,
    draw_categories,
    estimice,
    fit_multinomial,
    norm_draw,
    pmm_match,
)

K = json.loads((Path(__file__).resolve().parents[1] / "reference" / "rubin.json").read_text()
               )["kernels"]
Y = np.asarray(K["y"], dtype=float)
RY = np.asarray(K["ry"], dtype=bool)
X = np.asarray(K["x"], dtype=float)
XI = np.column_stack([np.ones(Y.size), X])


def test_norm_draw_replays_R_mice_norm_draw() -> None:
    coef, beta, sigma = norm_draw(XI[RY], Y[RY], chisq=K["chisq"], z=np.asarray(K["z"]))
    assert_allclose(coef, K["coef"], rtol=1e-12)
    assert_allclose(beta, K["beta"], rtol=1e-12)
    assert sigma == pytest.approx(K["sigma"], rel=1e-12)


def test_estimice_and_norm_predict_match_R() -> None:
    ls = estimice(XI[RY], Y[RY])
    assert ls.df == K["df"]
    assert_allclose(ls.v, K["v"], rtol=1e-11)
    assert_allclose(XI[~RY] @ ls.coef, K["norm_predict"], rtol=1e-12)


def test_pmm_predicted_means_match_R() -> None:
    coef, beta, _ = norm_draw(XI[RY], Y[RY], chisq=K["chisq"], z=np.asarray(K["z"]))
    assert_allclose(XI[RY] @ coef, K["pmm_yhatobs"], rtol=1e-12)
    assert_allclose(XI[~RY] @ beta, K["pmm_yhatmis"], rtol=1e-12)


def test_logreg_augment_and_weighted_fit_match_R_glm_fit() -> None:
    lr = K["logreg"]
    yb = np.asarray(lr["y"], dtype=float)
    d, e, w = augment(yb, X, np.array([0, 1]))
    assert RY.sum() + e.size == lr["n_augmented"]
    xa = np.vstack([XI[RY], np.column_stack([np.ones(e.size), d])])
    ya = np.concatenate([yb[RY], e]).astype(np.int64)
    wa = np.concatenate([np.ones(RY.sum()), w])
    coef, cov = fit_multinomial(xa, ya, wa, 2)
    assert_allclose(coef[:, 0], lr["coef"], rtol=1e-10)
    assert_allclose(cov, lr["cov_unscaled"], rtol=1e-9)


def test_rank_deficient_design_uses_mice_ridge(rng: np.random.Generator) -> None:
    x = rng.normal(size=(40, 2))
    xd = np.column_stack([np.ones(40), x, x[:, 0] * 2.0])   # aliased last column
    y = x @ [1.0, -1.0] + rng.normal(size=40)
    ls = estimice(xd, y)
    assert ls.coef[3] == 0.0
    full = estimice(xd[:, :3], y)
    assert_allclose(ls.coef[:3], full.coef, rtol=1e-10)
    xtx = xd.T @ xd
    assert_allclose(ls.v, np.linalg.inv(xtx + np.diag(1e-5 * np.diag(xtx))), rtol=1e-10)


def test_pmm_match_draws_among_the_nearest_donors(rng: np.random.Generator) -> None:
    yhat_obs = rng.normal(size=200)
    yhat_mis = rng.normal(size=50)
    for donors in (1, 3, 5):
        idx = pmm_match(yhat_obs, yhat_mis, donors, rng)
        dist = np.abs(yhat_obs[None, :] - yhat_mis[:, None])
        kth = np.sort(dist, axis=1)[:, donors - 1]
        assert np.all(dist[np.arange(50), idx] <= kth + 1e-15)
    # with 5 donors every one of the 5 nearest gets picked over many draws
    one = np.array([0.0])
    picks = {int(pmm_match(yhat_obs, one, 5, rng)[0]) for _ in range(300)}
    assert picks == set(np.argsort(np.abs(yhat_obs))[:5].tolist())
    # ties are broken at random, not by position
    tied = np.zeros(10)
    picks = {int(pmm_match(tied, one, 1, rng)[0]) for _ in range(200)}
    assert len(picks) == 10
    # fewer observed cases than donors
    assert pmm_match(np.array([1.0, 2.0]), np.array([1.4]), 5, rng)[0] in (0, 1)


def test_multinomial_three_classes_recovers_probabilities(rng: np.random.Generator) -> None:
    n = 3000
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    true = np.array([[0.2, -0.5], [1.0, 0.8]])            # (p, K-1)
    eta = np.column_stack([np.zeros(n), x @ true])
    prob = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    y = draw_categories(prob, rng)
    coef, cov = fit_multinomial(x, y, np.ones(n), 3)
    se = np.sqrt(np.diag(cov)).reshape(2, 2).T
    assert np.all(np.abs(coef - true) < 4 * se)
    # the weighted fit equals the fit on replicated rows
    w = rng.integers(1, 3, size=n).astype(float)
    c_w, _ = fit_multinomial(x, y, w, 3)
    rep = np.repeat(np.arange(n), w.astype(int))
    c_r, _ = fit_multinomial(x[rep], y[rep], np.ones(rep.size), 3)
    assert_allclose(c_w, c_r, rtol=1e-8)
