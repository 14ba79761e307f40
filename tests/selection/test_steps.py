"""The selection funnel (radval.selection.steps).

Each step is checked against an independent computation: the ICC and Mann-Whitney
steps against radval.stats (themselves validated against psych and wilcox.test),
Spearman against scipy.stats.spearmanr, the greedy redundancy rule against its
definition, and the LASSO step against cv_lasso_logistic with the same fold ids.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from radval.exceptions import DataError, InputError
from radval.selection import cv_lasso_logistic, select_features, spearman_matrix
from radval.stats import icc, mann_whitney_table


def _study(seed: int = 0, n: int = 150, p: int = 30) -> tuple[pd.DataFrame, pd.Series,
                                                              pd.DataFrame]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, p))
    z[:, 1] = z[:, 0] + 0.05 * rng.normal(size=n)  # redundant copy of f0
    lp = 1.2 * z[:, 0] - 1.0 * z[:, 5] + 0.8 * z[:, 9]
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    ids = [f"P{i:03d}" for i in range(n)]
    cols = [f"radiomics_original_firstorder_f{j}" for j in range(p)]
    X = pd.DataFrame(z * 10.0 + 3.0, index=pd.Index(ids, name="patient_id"), columns=cols)
    X["radiomics_const"] = 2.0
    X["radiomics_nan"] = X[cols[2]]
    X.iloc[4, X.columns.get_loc("radiomics_nan")] = np.nan
    parts = []
    for reader, noise in (("1", 0.0), ("2", 1.0)):
        part = X.iloc[:40].copy()
        part[cols] = part[cols] + noise * rng.normal(size=(40, p))
        part["reader"] = reader
        parts.append(part)
    readers = pd.concat(parts)
    # features 20..24 are poorly reproducible
    bad = cols[20:25]
    readers.loc[readers["reader"] == "2", bad] = rng.normal(size=(40, 5)) * 10
    return X, pd.Series(y, index=X.index, name="ln_metastasis"), readers


@pytest.fixture(scope="module")
def result() -> tuple:
    X, y, readers = _study()
    return X, y, readers, select_features(X, y, reader_features=readers, rng=7)


def test_funnel_is_consistent(result: tuple) -> None:
    X, _, _, res = result
    f = res.funnel
    assert list(f["step"]) == ["checks", "icc", "univariate", "redundancy", "lasso"]
    assert f["n_in"].iloc[0] == X.shape[1]
    np.testing.assert_array_equal(f["n_in"].iloc[1:].to_numpy(), f["n_out"].iloc[:-1].to_numpy())
    assert f["n_out"].iloc[-1] == len(res.selected) > 0
    for step in f["step"]:
        sub = res.steps[res.steps["step"] == step]
        row = f[f["step"] == step].iloc[0]
        if row["status"] != "skipped":
            assert len(sub) == row["n_in"]
            assert int(sub["kept"].sum()) == row["n_out"]


def test_checks_step_reasons(result: tuple) -> None:
    *_, res = result
    s = res.steps[res.steps["step"] == "checks"].set_index("feature")
    assert not s.loc["radiomics_const", "kept"] and s.loc["radiomics_const", "reason"] == "constant"
    assert not s.loc["radiomics_nan", "kept"]
    assert "non-finite" in s.loc["radiomics_nan", "reason"]


def test_icc_step_matches_stats_icc(result: tuple) -> None:
    X, _, readers, res = result
    s = res.steps[res.steps["step"] == "icc"].set_index("feature")
    feats = list(s.index)
    r1 = readers[readers["reader"] == "1"].loc[:, feats].to_numpy().T
    r2 = readers[readers["reader"] == "2"].loc[:, feats].to_numpy().T
    expected = icc(np.stack([r1, r2], axis=2)).get("ICC2")["icc"].to_numpy()
    np.testing.assert_allclose(s["value"].to_numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(s["kept"].to_numpy(), expected > 0.75)
    for j in range(20, 25):
        assert not s.loc[f"radiomics_original_firstorder_f{j}", "kept"]
    assert res.icc_table is not None and set(res.icc_table["type"]) == {"ICC2"}


def test_univariate_step_matches_mann_whitney(result: tuple) -> None:
    X, y, _, res = result
    s = res.steps[res.steps["step"] == "univariate"].set_index("feature")
    mw = mann_whitney_table(X[list(s.index)], y.to_numpy()).set_index("feature")
    np.testing.assert_allclose(s["value"], mw.loc[s.index, "p_value"], rtol=1e-12)
    np.testing.assert_array_equal(s["kept"], mw.loc[s.index, "p_value"] < 0.05)


def test_redundancy_rule(result: tuple) -> None:
    X, _, _, res = result
    uni = res.steps[res.steps["step"] == "univariate"].set_index("feature")["value"]
    s = res.steps[res.steps["step"] == "redundancy"]
    kept = list(s.loc[s["kept"], "feature"])
    dropped = list(s.loc[~s["kept"], "feature"])
    rho = spearmanr(X[kept + dropped].to_numpy()).statistic
    rho = np.atleast_2d(rho)
    k = len(kept)
    # no kept pair above the threshold
    if k > 1:
        assert np.abs(rho[:k, :k][np.triu_indices(k, 1)]).max() <= 0.9
    # each dropped feature is highly correlated with a more significant kept one
    for i, f in enumerate(dropped):
        partners = [kept[j] for j in range(k) if abs(rho[k + i, j]) > 0.9]
        assert partners and min(uni[p] for p in partners) <= uni[f]
    # f0 and its copy f1: only one survives
    both = {"radiomics_original_firstorder_f0", "radiomics_original_firstorder_f1"}
    assert len(both & set(kept)) == 1


def test_lasso_step_reproduces_cv(result: tuple) -> None:
    X, y, _, res = result
    s = res.steps[res.steps["step"] == "lasso"]
    feats = list(s["feature"])
    cv = cv_lasso_logistic(X[feats], y.to_numpy(), foldid=res.cv.foldid)
    np.testing.assert_allclose(cv.cvm, res.cv.cvm, rtol=1e-12)
    fit = cv.fit_at("1se")
    assert res.lambda_used == cv.lambda_1se
    assert res.selected == [f for f, c in zip(feats, fit.coef) if c != 0]
    coefs = res.coefficients.set_index("feature")
    np.testing.assert_allclose(coefs.loc["(Intercept)", "coef"], fit.intercept, rtol=1e-12)
    np.testing.assert_allclose(coefs.loc[res.selected, "coef"], fit.coef[fit.coef != 0],
                               rtol=1e-12)
    np.testing.assert_allclose(coefs.loc[res.selected, "sd"], X[res.selected].std(ddof=0))
    # the rad-score is the linear predictor of that fit
    np.testing.assert_allclose(res.score(X), fit.predict_linear(X[feats]), rtol=1e-12)
    # the informative features are found
    assert "radiomics_original_firstorder_f5" in res.selected
    # stratified folds: each fold holds both classes
    for k in np.unique(res.cv.foldid):
        assert len(np.unique(y.to_numpy()[res.cv.foldid == k])) == 2


def test_deterministic_and_json(result: tuple) -> None:
    X, y, readers, res = result
    again = select_features(X, y, reader_features=readers, rng=7)
    assert again.selected == res.selected
    pd.testing.assert_frame_equal(again.coefficients, res.coefficients)
    text = json.dumps(res.to_dict())
    assert "radiomics_original_firstorder_f5" in text
    assert res.lasso_path.columns.tolist() == ["lambda", "feature", "coef"]


def test_icc_skipped_without_readers() -> None:
    X, y, _ = _study(seed=1)
    res = select_features(X, y, rng=3)
    row = res.funnel.set_index("step").loc["icc"]
    assert row["status"] == "skipped" and row["n_in"] == row["n_out"]
    assert res.icc_table is None
    assert not (res.steps["step"] == "icc").any()


def test_fallbacks_never_empty() -> None:
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(80, 6)), columns=[f"d{j}" for j in range(6)])
    y = rng.integers(0, 2, size=80)
    # nothing reaches p < 1e-9: the most significant feature is carried forward
    res = select_features(X, y, p_threshold=1e-9, rng=1, family="deep")
    assert len(res.selected) >= 1
    assert any("most significant" in w for w in res.warnings)
    assert res.funnel.set_index("step").loc["univariate", "status"] == "fallback"
    # pure noise through LASSO: lambda.1se selects nothing -> lambda.min or single feature
    res2 = select_features(X, y, p_threshold=1.0, rng=1)
    assert len(res2.selected) >= 1
    if res2.lasso_rule != "1se":
        assert res2.warnings
    assert np.isfinite(res2.score(X)).all()
    assert res2.family == "radiomics" and res.family == "deep"


def test_lambda_min_rule_selects_at_least_1se() -> None:
    X, y, _ = _study(seed=2)
    a = select_features(X, y, rng=5, lasso_rule="1se")
    b = select_features(X, y, rng=5, lasso_rule="min")
    np.testing.assert_array_equal(a.cv.cvm, b.cv.cvm)  # same folds, same CV curve
    assert a.lambda_used == a.cv.lambda_1se and b.lambda_used == b.cv.lambda_min
    assert b.lambda_used <= a.lambda_used


def test_spearman_matrix_matches_scipy(rng: np.random.Generator) -> None:
    v = rng.integers(0, 5, size=(40, 6)).astype(float)  # heavy ties
    np.testing.assert_allclose(spearman_matrix(v), spearmanr(v).statistic, rtol=1e-12)


def test_input_errors() -> None:
    X, y, readers = _study(seed=4, n=60, p=26)
    with pytest.raises(InputError, match="'features'"):
        select_features(X.to_numpy(), y)
    with pytest.raises(InputError, match="'y'.*P000"):
        select_features(X, y.drop("P000"))
    with pytest.raises(InputError, match="'reader_features'.*missing"):
        select_features(X, y, reader_features=readers.drop(columns=X.columns[3]))
    with pytest.raises(InputError, match="'lasso_rule'"):
        select_features(X, y, lasso_rule="best")
    with pytest.raises(DataError):
        select_features(pd.DataFrame({"a": np.ones(60)}, index=X.index), y)
    res = select_features(X, y, rng=0)
    # a bootstrap resample (repeated patients) is accepted
    idx = np.random.default_rng(1).integers(0, 60, size=60)
    boot = select_features(X.iloc[idx], y.iloc[idx], rng=0)
    assert boot.selected
    with pytest.raises(InputError, match="missing column"):
        res.score(X.drop(columns=res.selected[0]))


def test_groups_keep_the_copies_of_a_patient_in_one_fold() -> None:
    """A bootstrap resample's CV must not validate on a patient it trained on."""
    X, y, _ = _study(seed=3)
    X = X.drop(columns=["radiomics_nan"])
    rng = np.random.default_rng(5)
    idx = np.sort(rng.integers(0, len(X), size=len(X)))
    boot = X.iloc[idx].copy()
    ids = X.index.to_numpy()[idx]
    boot.index = pd.Index([f"{p}#{k}" for k, p in enumerate(ids)], name="patient_id")
    yb = y.to_numpy()[idx]
    res = select_features(boot, yb, rng=2, groups=ids)
    folds = pd.Series(res.cv.foldid).groupby(ids).nunique()
    assert (folds == 1).all()                       # every patient in one fold
    assert (pd.Series(ids).value_counts() > 1).any()    # and there were copies to keep
    for k in np.unique(res.cv.foldid):              # still stratified
        assert len(np.unique(yb[res.cv.foldid == k])) == 2
    plain = select_features(boot, yb, rng=2)
    assert (pd.Series(plain.cv.foldid).groupby(ids).nunique() > 1).any()   # rows split
    # every row its own group is the ungrouped default, fold for fold
    single = select_features(boot, yb, rng=2, groups=boot.index)
    np.testing.assert_array_equal(single.cv.foldid, plain.cv.foldid)
    assert single.selected == plain.selected
    with pytest.raises(InputError, match="groups.*one outcome per group"):
        select_features(boot, yb, rng=2, groups=["same"] * len(yb))
    with pytest.raises(InputError, match="groups"):
        select_features(boot, yb, rng=2, groups=ids[:-1])
