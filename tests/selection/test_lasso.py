"""radval.selection.lasso against R glmnet 4.1-6 (tests/reference/glmnet.R -> glmnet.json).

Tolerances.  glmnet is iterative: even with ``thresh = 1e-14`` its IRLS/coordinate
descent leaves KKT residuals of about 1e-9..1e-8 (measured below), while radval
solves the KKT conditions to 1e-10 or better.  The coefficients are therefore
compared on the standardised scale (beta_j * sd_j, where all predictors are
comparable) with an absolute tolerance of 2e-6 (measured maximum 1.7e-6 over all
cases), and CV curves with rtol 5e-5 (measured maximum 1.2e-5).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import ConvergenceWarning, InputError, SmallSampleWarning
from radval.selection.lasso import (
    _standardize,
    cv_lasso_logistic,
    glmnet_lambda_sequence,
    lasso_logistic,
    lasso_path,
)
from radval.stats._kernels import expit  # noqa: E402

REF = json.loads((Path(__file__).parents[1] / "reference" / "glmnet.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    c = CASES[name]
    return np.asarray(c["x"], dtype=float), np.asarray(c["y"], dtype=float)


def _kkt(x: np.ndarray, y: np.ndarray, lam: float, b0: float, coef: np.ndarray) -> float:
    """Largest violation of the lasso KKT conditions (standardised scale)."""
    z, _, xs = _standardize(x, True)
    r = y - expit(b0 + x @ coef)
    g = z.T @ r / y.size
    beta = coef * xs
    viol = np.where(beta != 0, np.abs(g - lam * np.sign(beta)), np.maximum(np.abs(g) - lam, 0))
    return float(max(viol.max(), abs(r.mean())))


SINGLE = [(c["name"], k) for c in REF["cases"] for k in range(len(c["single"]))]


@pytest.mark.parametrize(("name", "k"), SINGLE)
def test_lasso_logistic_matches_glmnet(name: str, k: int) -> None:
    x, y = _data(name)
    ref = CASES[name]["single"][k]
    res = lasso_logistic(x, y, lam=ref["lambda"])
    assert res.converged
    _, _, xs = _standardize(x, True)
    np.testing.assert_allclose(res.coef * xs, np.asarray(ref["coef"]) * xs, rtol=5e-6, atol=2e-6)
    np.testing.assert_allclose(res.intercept, ref["intercept"], rtol=0, atol=2e-5)
    # same support as glmnet
    np.testing.assert_array_equal(res.coef != 0, np.asarray(ref["coef"]) != 0)
    # radval's solution is at least as optimal as glmnet's
    ours = _kkt(x, y, ref["lambda"], res.intercept, res.coef)
    theirs = _kkt(x, y, ref["lambda"], ref["intercept"], np.asarray(ref["coef"]))
    assert ours <= 1e-10
    assert ours <= theirs + 1e-12


@pytest.mark.parametrize("name", list(CASES))
def test_default_path_matches_glmnet(name: str) -> None:
    x, y = _data(name)
    ref = CASES[name]["path"]
    path = lasso_path(x, y)
    # glmnet's lambda sequence and its early stopping
    assert path.n_lambda == len(ref["lambda"])
    np.testing.assert_allclose(path.lambdas, ref["lambda"], rtol=1e-12)
    np.testing.assert_allclose(glmnet_lambda_sequence(x, y)[: path.n_lambda], ref["lambda"],
                               rtol=1e-12)
    _, _, xs = _standardize(x, True)
    beta = np.asarray(ref["beta"]) * xs
    ours = path.coef * xs
    # glmnet's own convergence worsens as the fit approaches separation (dev.ratio -> 1):
    # compare relative to the size of the coefficient vector at each lambda
    scale = np.maximum(np.abs(beta).max(axis=1, keepdims=True), 1e-3)
    err = np.abs(ours - beta) / scale
    easy = np.asarray(ref["dev_ratio"]) < 0.9
    assert err[easy].max() < 5e-6
    assert err.max() < 1e-4
    np.testing.assert_array_equal(ours[1:] != 0, beta[1:] != 0)
    np.testing.assert_allclose(path.intercepts[easy], np.asarray(ref["a0"])[easy], rtol=0,
                               atol=5e-5)
    np.testing.assert_allclose(path.dev_ratio, ref["dev_ratio"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(path.null_deviance, ref["nulldev"], rtol=1e-12)
    np.testing.assert_array_equal(path.nzero[1:], np.asarray(ref["df"])[1:])


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("key", ["cv_deviance", "cv_given_lambda"])
def test_cv_deviance_matches_cv_glmnet(name: str, key: str) -> None:
    x, y = _data(name)
    ref = CASES[name][key]
    lambdas = ref["lambda"] if key == "cv_given_lambda" else None
    cv = cv_lasso_logistic(x, y, foldid=CASES[name]["foldid"], lambdas=lambdas)
    assert cv.type_measure == "deviance"
    np.testing.assert_allclose(cv.lambdas, ref["lambda"], rtol=1e-12)
    np.testing.assert_allclose(cv.cvm, ref["cvm"], rtol=5e-5)
    np.testing.assert_allclose(cv.cvsd, ref["cvsd"], rtol=5e-5)
    np.testing.assert_allclose(cv.lambda_min, ref["lambda_min"], rtol=1e-12)
    np.testing.assert_allclose(cv.lambda_1se, ref["lambda_1se"], rtol=1e-12)
    # at lambda_max exactly glmnet may keep one coefficient at ~1e-17; radval returns 0
    np.testing.assert_array_equal(cv.nzero[1:], np.asarray(ref["nzero"])[1:])
    np.testing.assert_allclose(cv.cvup, cv.cvm + cv.cvsd)
    np.testing.assert_allclose(cv.cvlo, cv.cvm - cv.cvsd)


@pytest.mark.parametrize("name", list(CASES))
def test_cv_auc_matches_cv_glmnet(name: str) -> None:
    x, y = _data(name)
    ref = CASES[name]["cv_auc"]
    n_folds = max(CASES[name]["foldid"])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        cv = cv_lasso_logistic(x, y, foldid=CASES[name]["foldid"], type_measure="auc")
    if y.size / n_folds < 10:  # cv.glmnet switches to deviance
        assert ref["name"] == "Binomial Deviance"
        assert cv.type_measure == "deviance"
        assert any(issubclass(w.category, SmallSampleWarning) for w in rec)
    else:
        assert ref["name"] == "AUC"
        assert cv.type_measure == "auc"
    # AUC is a rank statistic: a 1e-9 coefficient difference can break a tie in one fold
    # at one lambda; all other values agree to rounding
    diff = np.abs(cv.cvm - np.asarray(ref["cvm"]))
    assert np.sum(diff > 1e-9) <= 1
    assert diff.max() < 1e-2
    np.testing.assert_allclose(cv.lambda_min, ref["lambda_min"], rtol=1e-12)
    np.testing.assert_allclose(cv.lambda_1se, ref["lambda_1se"], rtol=1e-12)


def test_cv_rules_on_toy_curve() -> None:
    """lambda.min = largest lambda at the minimum; 1se = largest within one SE."""
    x, y = _data("radiomics_n160_p40")
    cv = cv_lasso_logistic(x[:, :12], y, rng=1, n_lambda=40)
    i_min = int(np.argmin(cv.cvm))
    assert cv.lambda_min == cv.lambdas[i_min]
    ok = cv.cvm <= cv.cvm[i_min] + cv.cvsd[i_min]
    assert cv.lambda_1se == cv.lambdas[np.flatnonzero(ok)[0]]
    assert cv.lambda_1se >= cv.lambda_min
    fit = cv.fit_at("1se")
    assert fit.lam == cv.lambda_1se


def test_cv_seeded_and_folds_balanced() -> None:
    x, y = _data("radiomics_n160_p40")
    a = cv_lasso_logistic(x[:, :8], y, rng=11, n_lambda=30)
    b = cv_lasso_logistic(x[:, :8], y, rng=np.random.default_rng(11), n_lambda=30)
    np.testing.assert_array_equal(a.foldid, b.foldid)
    np.testing.assert_array_equal(a.cvm, b.cvm)
    counts = np.bincount(a.foldid)[1:]
    assert counts.max() - counts.min() <= 1 and counts.size == 10


def test_dataframe_names_and_constant_column() -> None:
    x, y = _data("radiomics_n160_p40")
    df = pd.DataFrame(x[:, :5], columns=[f"f{j}" for j in range(5)])
    df["const"] = 3.0
    res = lasso_logistic(df, y, lam=0.01)
    assert res.feature_names == [*(f"f{j}" for j in range(5)), "const"]
    assert res.coef[-1] == 0.0
    ref = lasso_logistic(x[:, :5], y, lam=0.01)
    np.testing.assert_allclose(res.coef[:5], ref.coef, rtol=1e-10)
    s = res.coef_series()
    assert s.index[0] == "(Intercept)"
    np.testing.assert_allclose(res.predict_linear(df), res.intercept + df.to_numpy() @ res.coef)


def test_lambda_above_max_gives_intercept_only() -> None:
    x, y = _data("radiomics_n160_p40")
    lam_max = glmnet_lambda_sequence(x, y)[0]
    res = lasso_logistic(x, y, lam=lam_max * 1.01)
    assert not res.coef.any()
    np.testing.assert_allclose(res.intercept, np.log(y.mean() / (1 - y.mean())), rtol=1e-12)
    res2 = lasso_logistic(x, y, lam=lam_max * 0.95)
    assert np.count_nonzero(res2.coef) >= 1


def test_scale_equivariance() -> None:
    """Rescaling a column rescales its coefficient (standardize=TRUE)."""
    x, y = _data("wide_n60_p100")
    a = lasso_logistic(x, y, lam=0.03)
    x2 = x.copy()
    x2[:, 2] *= 1000.0
    x2[:, 49] += 50.0
    b = lasso_logistic(x2, y, lam=0.03)
    np.testing.assert_allclose(b.coef[2] * 1000.0, a.coef[2], rtol=1e-8)
    np.testing.assert_allclose(np.delete(b.coef, 2), np.delete(a.coef, 2), rtol=1e-8, atol=1e-14)


def test_validation_errors() -> None:
    x, y = _data("radiomics_n160_p40")
    with pytest.raises(InputError, match="'lam'"):
        lasso_logistic(x, y, lam=-1)
    with pytest.raises(InputError, match="'y'"):
        lasso_logistic(x, np.zeros(y.size), lam=0.1)
    with pytest.raises(InputError, match="same length"):
        lasso_logistic(x[:-1], y, lam=0.1)
    xn = x.copy()
    xn[3, 7] = np.nan
    with pytest.raises(InputError, match="'X'.*column"):
        lasso_logistic(xn, y, lam=0.1)
    with pytest.raises(InputError, match="'type_measure'"):
        cv_lasso_logistic(x, y, type_measure="mse")
    with pytest.raises(InputError, match="'foldid'"):
        cv_lasso_logistic(x, y, foldid=np.ones(y.size))
    with pytest.raises(InputError, match="'lambdas'"):
        lasso_path(x, y, lambdas=[0.1, -0.2])


def test_separable_data_warns_not_crash() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = lasso_logistic(x, y, lam=1e-3)
    assert np.isfinite(res.coef).all()
    assert res.coef[0] > 0


def test_coordinate_descent_fallback_agrees() -> None:
    """The robust fallback (proximal Newton + coordinate descent) reaches the same optimum."""
    from radval.selection.lasso import _Solver

    x, y = _data("BinomialExample")
    x = x[:, :10]
    lam = 0.02
    z, xm, xs = _standardize(x, True)
    solver = _Solver(z, y, 1e-10, 1000)
    ok, _ = solver.solve_cd(lam)
    assert ok
    ref = lasso_logistic(x, y, lam=lam)
    np.testing.assert_allclose(solver.beta / xs, ref.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(solver.b0 - (solver.beta / xs) @ xm, ref.intercept, rtol=1e-7)


def test_unpenalised_fit_matches_irls_oracle() -> None:
    """lam = 0 is plain maximum likelihood (checked against a textbook IRLS loop)."""
    x, y = _data("radiomics_n160_p40")
    x = x[:, :3]
    res = lasso_logistic(x, y, lam=0.0)
    a = np.column_stack([np.ones(y.size), x])
    b = np.zeros(4)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a @ b)))
        b = b + np.linalg.solve(a.T @ (a * (p * (1 - p))[:, None]), a.T @ (y - p))
    np.testing.assert_allclose(np.concatenate([[res.intercept], res.coef]), b, rtol=1e-8)
