"""DeploymentImputer: JSON round trip, no patient rows, sensible conditional imputations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import InputError, NotFittedError
from radval.impute import DeploymentImputer


def _dev(rng: np.random.Generator, n: int = 300) -> pd.DataFrame:
    age = rng.normal(62, 9, n).round()
    # skewed, positive, correlated with age
    size = np.exp(2.8 + 0.03 * (age - 62) + rng.normal(0, 0.5, n))
    sex = rng.choice(["F", "M"], n)
    p_g3 = 1 / (1 + np.exp(-(size - 20) / 6))
    grade = np.where(rng.random(n) < p_g3, "G3", rng.choice(["G1", "G2"], n))
    df = pd.DataFrame({"age": age, "size": size, "sex": sex, "grade": grade,
                       "nodes": rng.poisson(2, n)})
    for col in ("age", "size", "grade"):
        df.loc[rng.random(n) < 0.1, col] = None
    return df


def _site(rng: np.random.Generator) -> pd.DataFrame:
    site = _dev(rng, n=60)
    site.loc[::3, "size"] = np.nan
    site.loc[1::5, ["age", "grade"]] = [np.nan, None]
    return site


def test_json_round_trip_gives_identical_imputations(rng: np.random.Generator) -> None:
    imp = DeploymentImputer(rng=1).fit(_dev(rng))
    text = json.dumps(imp.to_dict(), allow_nan=False)
    back = DeploymentImputer.from_dict(json.loads(text))
    site = _site(rng)
    a = imp.transform(site, n_imputations=3, rng=9)
    b = back.transform(site, n_imputations=3, rng=9)
    assert all(x.equals(z) for x, z in zip(a, b))
    assert imp.transform(site, mode="mean")[0].equals(back.transform(site, mode="mean")[0])
    assert back.to_dict() == imp.to_dict()
    # same seed, same draws; another seed, other draws
    assert imp.transform(site, rng=9)[0].equals(a[0])
    assert not imp.transform(site, rng=10)[0].equals(a[0])
    with pytest.raises(InputError, match="format"):
        DeploymentImputer.from_dict({"format": "radval.harmonize.ComBat"})


def test_no_patient_rows_are_stored(rng: np.random.Generator) -> None:
    small = DeploymentImputer(rng=1).fit(_dev(rng, n=300)).to_dict()
    big_dev = _dev(rng, n=3000)
    big = DeploymentImputer(rng=1).fit(big_dev).to_dict()
    # the stored size does not grow with the number of patients
    assert len(json.dumps(big)) < 1.2 * len(json.dumps(small))
    size = next(c for c in big["columns"] if c["name"] == "size")
    assert len(size["quantiles"]) == 100
    obs = big_dev["size"].dropna()
    assert min(size["quantiles"]) > obs.min() and max(size["quantiles"]) < obs.max()
    assert not set(size["quantiles"]) & set(obs.round(12))
    assert set(big) == {"format", "format_version", "options", "n_fit_rows", "columns",
                        "models"}


def test_imputations_respect_bounds_types_and_observed_values(
        rng: np.random.Generator) -> None:
    dev = _dev(rng)
    imp = DeploymentImputer(rng=2).fit(dev)
    site = _site(rng)
    for done in imp.transform(site, n_imputations=5, rng=3):
        assert done.notna().all().all()
        assert list(done.columns) == list(dev.columns) and done.index.equals(site.index)
        for col in site.columns:
            seen = site[col].notna()
            assert done.loc[seen, col].tolist() == site.loc[seen, col].tolist()
        assert (done["size"] > 0).all() and done["size"].max() <= dev["size"].max()
        assert np.all(done["age"] == np.round(done["age"]))
        assert set(done["grade"]) <= {"G1", "G2", "G3"}
    # extra columns in the site frame are ignored, absent ones are an error
    imp.transform(site.assign(extra=1.0))
    with pytest.raises(InputError, match="'nodes'"):
        imp.transform(site.drop(columns="nodes"))


def test_conditional_imputation_tracks_the_truth(rng: np.random.Generator) -> None:
    n = 600
    a = rng.normal(size=n)
    b = np.exp(0.9 * a + rng.normal(0, 0.4, n))         # skewed, strongly related to a
    c = np.where(a + rng.normal(0, 0.5, n) > 0, "high", "low")
    dev = pd.DataFrame({"a": a, "b": b, "c": c})
    imp = DeploymentImputer(rng=0).fit(dev)
    a2 = rng.normal(size=200)
    b2 = np.exp(0.9 * a2 + rng.normal(0, 0.4, 200))
    c2 = np.where(a2 + rng.normal(0, 0.5, 200) > 0, "high", "low")
    site = pd.DataFrame({"a": a2, "b": np.nan, "c": None})
    mean = imp.transform(site, mode="mean")[0]
    assert np.corrcoef(np.log(mean["b"]), np.log(b2))[0, 1] > 0.85
    assert (mean["c"] == c2).mean() > 0.75
    draws = imp.transform(site, n_imputations=20, rng=1)
    med = np.median(np.stack([np.log(d["b"].to_numpy()) for d in draws]), axis=0)
    assert abs(np.mean(med - np.log(b2))) < 0.1
    # draws vary around the conditional value; the spread is the residual one (~0.4 on log)
    spread = np.std(np.stack([np.log(d["b"].to_numpy()) for d in draws]), axis=0).mean()
    assert 0.25 < spread < 0.6


def test_each_patient_is_imputed_from_their_own_values(rng: np.random.Generator) -> None:
    imp = DeploymentImputer(rng=4).fit(_dev(rng))
    site = _site(rng)
    together = imp.transform(site, mode="mean")[0]
    alone = pd.concat([imp.transform(site.iloc[[i]], mode="mean")[0]
                       for i in range(len(site))])
    pd.testing.assert_frame_equal(together, alone, check_exact=False, rtol=1e-12)


def test_single_column_and_errors(rng: np.random.Generator) -> None:
    one = DeploymentImputer(rng=1).fit(pd.DataFrame({"x": rng.normal(size=50)}))
    done = one.transform(pd.DataFrame({"x": [np.nan, 1.0]}), mode="mean")[0]
    assert done.loc[1, "x"] == 1.0 and abs(done.loc[0, "x"]) < 0.5
    imp = DeploymentImputer(rng=1).fit(_dev(rng))
    with pytest.raises(InputError, match="levels of 'grade'"):
        imp.transform(pd.DataFrame({"age": [60.0], "size": [10.0], "sex": ["F"],
                                    "grade": ["G4"], "nodes": [1]}))
    with pytest.raises(InputError, match="non-empty"):
        imp.transform(_site(rng).iloc[:0])
    with pytest.raises(InputError, match="mode"):
        imp.transform(_site(rng), mode="median")
    with pytest.raises(NotFittedError):
        DeploymentImputer().transform(_site(rng))
    with pytest.raises(InputError, match="missing for all"):
        DeploymentImputer().fit(_dev(rng).assign(age=np.nan))
    with pytest.raises(InputError, match="at least one row"):
        DeploymentImputer().fit(_dev(rng).iloc[:0])
