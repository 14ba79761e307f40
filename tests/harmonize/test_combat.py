"""ComBat against R sva::ComBat (tests/reference/combat.R) and neuroCombat."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from radval.exceptions import DataError, HarmonizationWarning, InputError, NotFittedError
from radval.harmonize import ComBat

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "combat.json").read_text())
X = np.asarray(REF["features"], dtype=np.float64)
BATCH = np.asarray(REF["batch"], dtype=object)
COV = pd.DataFrame({"age": np.asarray(REF["age"], dtype=np.int64), "sex": REF["sex"]})
DEV = BATCH != "D"
CASES = {c["name"]: c for c in REF["cases"]}


def _ref(c: dict[str, Any]) -> str | None:
    return c["reference_batch"] if isinstance(c["reference_batch"], str) else None


@pytest.mark.parametrize("name", sorted(CASES))
def test_combat_matches_R_sva(name: str) -> None:
    c = CASES[name]
    cb = ComBat(parametric=c["parametric"], mean_only=c["mean_only"], reference_batch=_ref(c))
    expected = np.asarray(c["harmonised"])
    if name.startswith("unseen"):
        # fitted on A-C only; D is a new site harmonised from its own features
        cb.fit(X[DEV], BATCH[DEV])
        out = cb.transform(X, BATCH)
    else:
        rows = np.asarray(c["rows"])
        cov = COV.iloc[rows] if c["covariates"] else None
        out = cb.fit_transform(X[rows], BATCH[rows], cov)
    assert_allclose(out, expected, rtol=1e-8, atol=0)
    ref = _ref(c)
    if ref is not None:
        src, labels = (X, BATCH) if name.startswith("unseen") else (X[DEV], BATCH[DEV])
        rows = np.asarray([v == ref for v in labels])
        assert np.array_equal(out[rows], src[rows])


def _neurocombat(monkeypatch: pytest.MonkeyPatch, covariates: bool, **kw: Any
                 ) -> np.ndarray:
    nc = pytest.importorskip("neuroCombat")
    # neuroCombat 0.2.12 uses np.int (removed in numpy 1.24) on its reference-batch path
    monkeypatch.setattr(np, "int", int, raising=False)
    covars = pd.DataFrame({"batch": BATCH[DEV].astype(str)})
    if covariates:
        covars["age"] = COV["age"][DEV].to_numpy()
        covars["sex"] = COV["sex"][DEV].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = nc.neuroCombat(X[DEV].T.copy(), covars, "batch",
                             categorical_cols=["sex"] if covariates else None,
                             continuous_cols=["age"] if covariates else None, **kw)
    return np.asarray(out["data"]).T


NEURO = {
    "parametric": ({}, {}),
    "nonparametric": ({"parametric": False}, {"parametric": False}),
    "no_eb": ({"empirical_bayes": False}, {"eb": False}),
    "no_eb_mean_only": ({"empirical_bayes": False, "mean_only": True},
                        {"eb": False, "mean_only": True}),
    "mean_only": ({"mean_only": True}, {"mean_only": True}),
    "reference_B": ({"reference_batch": "B"}, {"ref_batch": "B"}),
    "nonparametric_reference_C_mean_only": (
        {"parametric": False, "reference_batch": "C", "mean_only": True},
        {"parametric": False, "ref_batch": "C", "mean_only": True}),
}


@pytest.mark.parametrize("covariates", [False, True])
@pytest.mark.parametrize("name", sorted(NEURO))
def test_combat_matches_neuroCombat(name: str, covariates: bool,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ours_kw, theirs_kw = NEURO[name]
    expected = _neurocombat(monkeypatch, covariates, **theirs_kw)
    out = ComBat(**ours_kw).fit_transform(X[DEV], BATCH[DEV],
                                          COV[DEV] if covariates else None)
    assert_allclose(out, expected, rtol=1e-8, atol=0)


def test_transform_of_new_patients_uses_frozen_parameters() -> None:
    cb = ComBat().fit(X[DEV], BATCH[DEV], COV[DEV])
    full = cb.transform(X[DEV], BATCH[DEV], COV[DEV])
    assert_allclose(full, cb.fit_transform(X[DEV], BATCH[DEV], COV[DEV]), rtol=1e-13)
    # each patient is harmonised on its own: a subset gives the same rows
    idx = np.array([3, 50, 71, 90])
    sub = cb.transform(X[DEV][idx], BATCH[DEV][idx], COV[DEV].iloc[idx])
    assert_allclose(sub, full[idx], rtol=1e-13)
    # one patient of a seen batch is fine
    one = cb.transform(X[DEV][:1], BATCH[DEV][:1], COV[DEV].iloc[:1])
    assert_allclose(one, full[:1], rtol=1e-13)


def test_dataframe_in_dataframe_out_and_column_check() -> None:
    cols = [f"radiomics_original_firstorder_f{j}" for j in range(X.shape[1])]
    df = pd.DataFrame(X[DEV], columns=cols, index=[f"p{i}" for i in range(DEV.sum())])
    cb = ComBat(reference_batch="A").fit(df, BATCH[DEV])
    out = cb.transform(df, BATCH[DEV])
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == cols and list(out.index) == list(df.index)
    with pytest.raises(InputError, match="columns of fit"):
        cb.transform(df[cols[::-1]], BATCH[DEV])


def test_unseen_batch_warns_when_small_and_errors_with_one_patient() -> None:
    cb = ComBat().fit(X[DEV], BATCH[DEV])
    d = np.flatnonzero(BATCH == "D")
    with pytest.warns(HarmonizationWarning, match="only 5 samples"):
        cb.transform(X[d[:5]], BATCH[d[:5]])
    with pytest.raises(InputError, match="at least 2 samples"):
        cb.transform(X[d[:1]], BATCH[d[:1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = cb.transform(X[d], BATCH[d])   # 25 patients: no warning
    # the site's shift is removed: its harmonised means are near the development ones
    dev_out = cb.transform(X[DEV], BATCH[DEV])
    raw_gap = np.abs(X[d].mean(axis=0) - X[DEV].mean(axis=0)).mean()
    new_gap = np.abs(out.mean(axis=0) - dev_out.mean(axis=0)).mean()
    assert new_gap < 0.25 * raw_gap
    est = cb.estimate_new_batch(X[d])
    assert est.gamma_star.shape == (X.shape[1],) and est.t2 > 0


def test_json_round_trip_gives_identical_harmonisation() -> None:
    for kw in ({}, {"parametric": False, "reference_batch": "B"}, {"mean_only": True}):
        cb = ComBat(**kw).fit(X[DEV], BATCH[DEV], COV[DEV])  # type: ignore[arg-type]
        text = json.dumps(cb.to_dict(), allow_nan=False)
        back = ComBat.from_dict(json.loads(text))
        for rows in (DEV, ~DEV):
            a = cb.transform(X[rows], BATCH[rows], COV[rows])
            b = back.transform(X[rows], BATCH[rows], COV[rows])
            assert np.array_equal(a, b)
        assert back.to_dict() == cb.to_dict()
        # no patient rows in the stored parameters
        stored = json.loads(text)
        assert set(stored) >= {"grand_mean", "var_pooled", "gamma_star", "delta_star"}
        assert all(len(v) == 3 for k, v in stored.items()
                   if k in ("gamma_star", "delta_star", "gamma_hat", "delta_hat"))
    with pytest.raises(InputError, match="format"):
        ComBat.from_dict({"format": "pickle"})


def test_constant_feature_within_a_batch_is_passed_through() -> None:
    x = X[DEV].copy()
    x[BATCH[DEV] == "B", 4] = 1.5
    with pytest.warns(HarmonizationWarning, match="constant within a batch"):
        cb = ComBat().fit(x, BATCH[DEV])
    out = cb.transform(x, BATCH[DEV])
    assert np.array_equal(out[:, 4], x[:, 4])
    assert not cb.adjusted_[4] and cb.adjusted_.sum() == x.shape[1] - 1


def test_combat_input_errors() -> None:
    x, b, cov = X[DEV], BATCH[DEV], COV[DEV].reset_index(drop=True)
    with pytest.raises(InputError, match="one label per row"):
        ComBat().fit(x, b[:-1])
    with pytest.raises(InputError, match="batch"):
        ComBat().fit(x, "site")
    b1 = b.copy()
    b1[0] = "lonely"
    with pytest.raises(InputError, match=r"one sample"):
        ComBat().fit(x, b1)
    xn = x.copy()
    xn[3, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        ComBat().fit(xn, b)
    with pytest.raises(InputError, match="reference_batch"):
        ComBat(reference_batch="Z").fit(x, b)
    with pytest.raises(InputError, match="at least two batches"):
        ComBat().fit(x, np.full(len(b), "A"))
    # a covariate constant within every batch is confounded with batch: named in the error
    conf = cov.assign(scanner_kv=pd.Series(b).map({"A": 120, "B": 100, "C": 140}).to_numpy())
    with pytest.raises(DataError, match=r"\['scanner_kv'\].*confounded with batch"):
        ComBat().fit(x, b, conf)
    with pytest.raises(DataError, match=r"\['site_copy'\]"):
        ComBat().fit(x, b, cov.assign(site_copy=b))
    with pytest.raises(DataError, match="singular"):
        ComBat().fit(x, b, cov.assign(constant=1.0))
    with pytest.raises(InputError, match="one row per row"):
        ComBat().fit(x, b, cov.iloc[:-1])
    with pytest.raises(NotFittedError):
        ComBat().transform(x, b)
    cb = ComBat().fit(x, b, cov)
    with pytest.raises(InputError, match="12 features"):
        cb.transform(x[:, :5], b)
    with pytest.raises(InputError, match="covariates"):
        cb.transform(x, b)
    with pytest.raises(InputError, match="levels of 'sex'"):
        cb.transform(x, b, cov.assign(sex="X"))
    with pytest.raises(InputError, match="min_unseen_size"):
        ComBat(min_unseen_size=1).fit(x, b)


def test_fit_is_deterministic_and_batch_order_invariant(rng: np.random.Generator) -> None:
    a = ComBat(parametric=False).fit(X[DEV], BATCH[DEV]).to_dict()
    assert ComBat(parametric=False).fit(X[DEV], BATCH[DEV]).to_dict() == a
    perm = rng.permutation(int(DEV.sum()))
    cb = ComBat().fit(X[DEV][perm], BATCH[DEV][perm])
    out = cb.transform(X[DEV], BATCH[DEV])
    assert_allclose(out, ComBat().fit_transform(X[DEV], BATCH[DEV]), rtol=1e-10)


def test_covariate_constant_within_one_batch_warns_but_fits() -> None:
    cov = COV[DEV].reset_index(drop=True).copy()
    cov.loc[BATCH[DEV] == "A", "sex"] = "F"
    with pytest.warns(HarmonizationWarning, match=r"'sex' is constant within batch\(es\) \['A'\]"):
        out = ComBat().fit_transform(X[DEV], BATCH[DEV], cov)
    assert np.isfinite(out).all()


def _site_sim(rng: np.random.Generator, n_site: int, p: int = 150
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Development batches A (reference), B, C and a new site D with known batch effects."""
    mu = rng.normal(0, 1, p)
    sd = np.exp(rng.normal(0, 0.3, p))
    x, labels = [], []
    for b, n in zip("ABC", (60, 50, 50)):
        g = 0.0 if b == "A" else rng.normal(0, 0.4, p)
        d = 1.0 if b == "A" else np.exp(rng.normal(0, 0.25, p))
        x.append(mu + sd * (g + d * rng.normal(size=(n, p))))
        labels += [b] * n
    z = rng.normal(size=(n_site, p))
    site = mu + sd * (rng.normal(0.3, 0.4, p) + np.exp(rng.normal(0.1, 0.25, p)) * z)
    return np.vstack(x), np.array(labels), site, mu + sd * z, sd


def test_unseen_site_is_mapped_to_the_reference_and_development_prior_helps_small_sites(
        ) -> None:
    rng = np.random.default_rng(1)
    err: dict[tuple[int, str], list[float]] = {}
    for n_site in (5, 60):
        for _ in range(15):
            x, labels, site, truth, sd = _site_sim(rng, n_site)
            err.setdefault((n_site, "raw"), []).append(
                float(np.sqrt(np.mean(((site - truth) / sd) ** 2))))
            for prior in ("site", "development"):
                cb = ComBat(reference_batch="A", unseen_prior=prior).fit(x, labels)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", HarmonizationWarning)
                    h = cb.transform(site, ["D"] * n_site)
                err.setdefault((n_site, prior), []).append(
                    float(np.sqrt(np.mean(((h - truth) / sd) ** 2))))
    mean = {k: float(np.mean(v)) for k, v in err.items()}
    for n_site in (5, 60):
        assert mean[(n_site, "site")] < 0.7 * mean[(n_site, "raw")]
        assert mean[(n_site, "development")] < 0.7 * mean[(n_site, "raw")]
    # small site: the development dispersions shrink more and win; large site: no difference
    assert mean[(5, "development")] < 0.95 * mean[(5, "site")]
    assert abs(mean[(60, "development")] / mean[(60, "site")] - 1) < 0.02
    cb = ComBat(unseen_prior="development").fit(x, labels)
    assert ComBat.from_dict(cb.to_dict()).unseen_prior == "development"
    with pytest.raises(InputError, match="unseen_prior"):
        ComBat(unseen_prior="pooled").fit(x, labels)
