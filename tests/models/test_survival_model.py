"""The frozen time-to-event model (radval.models.survival) and its place in the bundle."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval import stats
from radval.exceptions import BundleError, DataError, HorizonWarning, InputError
from radval.models.bundle import load_bundle, write_bundle
from radval.models.survival import SurvivalModel, fit_survival_model
from tests.models.test_signature import make_signature


def _data(rng: np.random.Generator, n: int = 150) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           pd.DataFrame]:
    lp = rng.normal(size=n)
    clin = pd.DataFrame({"age": rng.normal(60, 10, size=n).round(),
                         "grade": rng.choice(["G1", "G2", "G3"], size=n)})
    rate = 0.03 * np.exp(0.7 * lp + 0.02 * (clin["age"] - 60) + 0.4 * (clin["grade"] == "G3"))
    te = rng.exponential(1 / rate)
    tc = rng.uniform(5, 60, size=n)
    return np.minimum(te, tc).round(1), (te <= tc).astype(float), lp, clin


def test_cox_model_matches_cox_ph_and_its_baseline(rng: np.random.Generator) -> None:
    t, e, lp, clin = _data(rng)
    sm = fit_survival_model(t, e, lp, clin, kind="cox",
                            predictors=[("age", "numeric"), ("grade", "categorical")],
                            horizons=[12, 24, 36], cutoff=0.3, time_column="dfs",
                            event_column="ev")
    x = pd.DataFrame({"signature": lp, "age": clin["age"],
                      "grade[G2]": (clin["grade"] == "G2").astype(float),
                      "grade[G3]": (clin["grade"] == "G3").astype(float)})
    fit = stats.cox_ph(t, e, x)
    assert sm.inputs == list(x.columns)
    np.testing.assert_allclose(sm.coef, fit.coef, rtol=1e-12)
    np.testing.assert_allclose(sm.se, fit.se, rtol=1e-12)
    np.testing.assert_allclose(sm.means, x.mean().to_numpy(), rtol=1e-12)
    # the absolute risks are cox_ph's predicted survival at the horizons
    design = sm.design(lp, clin).to_numpy()
    np.testing.assert_allclose(sm.survival(design),
                               fit.predict_survival(x.to_numpy(), [12, 24, 36]), rtol=1e-12)
    np.testing.assert_allclose(sm.risk(design), 1 - sm.survival(design), rtol=0, atol=0)
    # baseline survival: the step function of the Breslow/Efron cumulative hazard at the means
    base = fit.baseline
    for h, s0 in zip([12, 24, 36], sm.baseline_survival):
        cum = base.loc[base["time"] <= h, "cumhaz"]
        assert s0 == pytest.approx(math.exp(-(cum.iloc[-1] if len(cum) else 0.0)), rel=1e-12)
    assert (sm.time, sm.event, sm.n, sm.events) == ("dfs", "ev", t.size, int(e.sum()))
    # JSON round trip is exact
    again = SurvivalModel.from_dict(json.loads(json.dumps(sm.to_dict())))
    assert again == sm


def test_score_model_has_the_signature_only(rng: np.random.Generator) -> None:
    t, e, lp, _ = _data(rng)
    sm = fit_survival_model(t, e, lp, horizons=[12], cutoff=0.4)
    assert sm.kind == "score" and sm.inputs == ["signature"] and sm.predictors == []
    fit = stats.cox_ph(t, e, lp)
    assert sm.coef[0] == pytest.approx(float(fit.coef[0]), rel=1e-12)
    with pytest.raises(InputError, match="no clinical predictors"):
        fit_survival_model(t, e, lp, kind="score", predictors=[("age", "numeric")], cutoff=0.4)


def test_horizon_beyond_development_follow_up_gives_no_risk(rng: np.random.Generator) -> None:
    t, e, lp, _ = _data(rng)
    with pytest.warns(HorizonWarning, match="days when the study says months"):
        sm = fit_survival_model(t, e, lp, horizons=[12, 365], cutoff=0.4)
    assert math.isnan(sm.baseline_survival[1]) and 0 < sm.baseline_survival[0] < 1
    risk = sm.risk(np.zeros((3, 1)))
    assert np.isnan(risk[:, 1]).all() and np.isfinite(risk[:, 0]).all()
    assert SurvivalModel.from_dict(json.loads(json.dumps(sm.to_dict()))).baseline_survival[0] \
        == sm.baseline_survival[0]


def test_bad_development_data(rng: np.random.Generator) -> None:
    t, e, lp, clin = _data(rng, n=40)
    with pytest.raises(DataError, match="no events"):
        fit_survival_model(t, np.zeros_like(e), lp, cutoff=0.4)
    bad = t.copy()
    bad[3] = -1
    with pytest.raises(InputError, match="non-negative"):
        fit_survival_model(bad, e, lp, cutoff=0.4)
    ev = e.copy()
    ev[0] = 2
    with pytest.raises(InputError, match="event"):
        fit_survival_model(t, ev, lp, cutoff=0.4)
    clin.loc[2, "age"] = np.nan
    with pytest.raises(InputError, match="missing predictor values"):
        fit_survival_model(t, e, lp, clin, kind="cox", predictors=[("age", "numeric")],
                           cutoff=0.4)
    for h in ([0, 12], [24, 12], [-3]):
        with pytest.raises(InputError, match="horizons"):
            fit_survival_model(t, e, lp, horizons=h, cutoff=0.4)


def _spec() -> dict:
    return {"kind": "cox", "time": "t", "event": "e", "time_unit": "months",
            "inputs": ["signature", "age", "grade[2]"],
            "predictors": [["age", "numeric"], ["grade", "categorical"]],
            "levels": {"grade": ["1", "2"]}, "coef": [0.5, 0.01, 0.3],
            "se": [0.1, 0.005, 0.2], "means": [0.0, 60.0, 0.4], "horizons": [12.0, 24.0],
            "baseline_survival": [0.8, 0.6], "cutoff": 0.3, "n": 100, "events": 40,
            "ties": "efron"}


@pytest.mark.parametrize(("change", "match"), [
    ({"kind": "weibull"}, "kind"),
    ({"inputs": ["age", "signature", "grade[2]"]}, "first input"),
    ({"coef": [0.5, 0.01]}, "same length"),
    ({"horizons": [24.0, 12.0]}, "increasing"),
    ({"baseline_survival": [0.8, 1.4]}, "baseline_survival"),
    ({"cutoff": 1.5}, "cutoff"),
    ({"inputs": ["signature", "age", "grade[3]"]}, "do not match"),
    ({"coef": [0.5, "x", 0.3]}, "numbers"),
    ({"extra": 1}, "unknown key"),
])
def test_malformed_survival_model_is_a_bundle_error(change: dict, match: str) -> None:
    with pytest.raises(BundleError, match=match):
        SurvivalModel.from_dict({**_spec(), **change})
    d = _spec()
    del d["coef"]
    with pytest.raises(BundleError, match="missing key"):
        SurvivalModel.from_dict(d)


def test_design_codes_categories_like_development() -> None:
    sm = SurvivalModel.from_dict(_spec())
    clin = pd.DataFrame({"age": [50.0, 70.0, np.nan], "grade": [1, 2, 3]})
    x = sm.design([0.1, -0.2, 0.3], clin)
    np.testing.assert_array_equal(x["grade[2]"].to_numpy()[:2], [0.0, 1.0])
    assert np.isnan(x.loc[2, "age"]) and np.isnan(x.loc[2, "grade[2]"])  # unknown level
    lp = sm.linear_predictor(x.to_numpy()[:2])
    np.testing.assert_allclose(lp, [(0.1 - 0) * 0.5 + (50 - 60) * 0.01 + (0 - 0.4) * 0.3,
                                    -0.2 * 0.5 + 10 * 0.01 + 0.6 * 0.3], rtol=1e-14)
    np.testing.assert_allclose(sm.survival(x.to_numpy()[:2]),
                               np.array([[0.8], [0.6]]).T ** np.exp(lp)[:, None], rtol=1e-14)
    with pytest.raises(InputError, match="clinical predictors"):
        sm.design([0.1])


def test_bundle_carries_the_model_and_old_bundles_still_load(tmp_path: Path) -> None:
    old = make_signature()
    assert "survival" not in old.to_dict()  # absent, not null: readable by older radval
    p_old = write_bundle(tmp_path / "old", old)
    assert load_bundle(p_old).signature.survival is None
    new = make_signature(survival=_spec())
    p_new = write_bundle(tmp_path / "new", new)
    loaded = load_bundle(p_new).signature
    assert SurvivalModel.from_dict(loaded.survival) == SurvivalModel.from_dict(_spec())
    # a bundle with a malformed survival model is refused when loaded
    bad = make_signature(survival={**_spec(), "coef": [0.5]})
    with pytest.raises(BundleError):
        load_bundle(write_bundle(tmp_path / "bad", bad))


def test_horizons_checked_quietly_within_follow_up(rng: np.random.Generator) -> None:
    t, e, lp, _ = _data(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HorizonWarning)
        fit_survival_model(t, e, lp, horizons=[6, 12], cutoff=0.4)
