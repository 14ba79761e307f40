"""Tests of radval.models.signature (frozen linear scores and the combined model)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import BundleError, InputError
from radval.models.signature import (
    LinearScore,
    LogisticModel,
    Signature,
    development_summary_from,
)

PARAMS = "imageType:\n  Original: {}\nsetting:\n  binWidth: 25\n"


def make_signature(**over: object) -> Signature:
    """A small hand-made signature used by several test modules."""
    rad = LinearScore(name="rad_score", features=["radiomics_a", "radiomics_b"],
                      intercept=-0.5, coef=[0.8, -1.2], means=[1.0, 2.0], sds=[0.5, 1.5])
    dl = LinearScore(name="dl_score", features=["deep_0"], intercept=0.1, coef=[2.0],
                     means=[0.0], sds=[1.0])
    combined = LogisticModel(name="combined", inputs=["rad_score", "dl_score"],
                             intercept=-1.0, coef=[1.1, 0.7])
    summary = {
        "n": 100, "events": 30, "prevalence": 0.3,
        "features": {f: {"n": 100, "mean": m, "sd": s, "q05": m - 1.645 * s,
                         "q25": m - 0.674 * s, "median": m, "q75": m + 0.674 * s,
                         "q95": m + 1.645 * s}
                     for f, m, s in [("radiomics_a", 1.0, 0.5), ("radiomics_b", 2.0, 1.5),
                                     ("deep_0", 0.0, 1.0)]},
        "predicted_risk": {"n": 100, "mean": 0.3, "sd": 0.2, "q05": 0.04, "q25": 0.14,
                           "median": 0.27, "q75": 0.43, "q95": 0.7},
    }
    kw: dict[str, object] = dict(
        schema_version="1", radval_version="0.1.0",
        outcome={"name": "ln_metastasis", "positive_label": 1},
        intended_use="pre-operative prediction of lymph-node metastasis",
        population="adults with resectable tumours", prediction_moment="pre-operative",
        predictors=[{"name": "rad_score", "kind": "radiomics", "timing": "pre-operative"},
                    {"name": "dl_score", "kind": "deep", "timing": "pre-operative"}],
        radiomics={"params_yaml": PARAMS, "params_sha256": ""},
        deep={"config": {"arch": "tiny"}, "weights_file": None, "weights_sha256": None},
        scores={"rad_score": rad, "dl_score": dl}, combined=combined, cutoff=0.35,
        development_summary=summary,
    )
    kw.update(over)
    return Signature(**kw)  # type: ignore[arg-type]


def _features() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": ["p1", "p2", "p3"],
                         "radiomics_a": [1.0, 0.0, 2.5], "radiomics_b": [2.0, -1.0, 0.5],
                         "deep_0": [0.3, -0.2, 1.0], "unused": [9.0, 9.0, 9.0]})


def test_predict_matches_hand_computation() -> None:
    sig = make_signature()
    df = _features()
    out = sig.predict(df)
    assert list(out.columns) == ["patient_id", "rad_score", "dl_score", "linear_predictor",
                                 "probability"]
    rad = -0.5 + 0.8 * df["radiomics_a"] - 1.2 * df["radiomics_b"]
    dl = 0.1 + 2.0 * df["deep_0"]
    lp = -1.0 + 1.1 * rad + 0.7 * dl
    np.testing.assert_allclose(out["rad_score"], rad, rtol=1e-14)
    np.testing.assert_allclose(out["dl_score"], dl, rtol=1e-14)
    np.testing.assert_allclose(out["linear_predictor"], lp, rtol=1e-14)
    np.testing.assert_allclose(out["probability"], 1 / (1 + np.exp(-lp)), rtol=1e-14)
    assert out["patient_id"].tolist() == ["p1", "p2", "p3"]


def test_extreme_linear_predictor_is_stable() -> None:
    m = LogisticModel(name="m", inputs=["x"], intercept=0.0, coef=[1.0])
    p = m.predict_proba(pd.DataFrame({"x": [-800.0, 0.0, 800.0]}))
    np.testing.assert_allclose(p, [0.0, 0.5, 1.0])
    assert np.all(np.isfinite(p))


def test_missing_column_is_named() -> None:
    sig = make_signature()
    with pytest.raises(InputError, match="radiomics_b"):
        sig.predict(_features().drop(columns="radiomics_b"))


def test_nan_patient_is_named() -> None:
    df = _features()
    df.loc[1, "deep_0"] = np.nan
    with pytest.raises(InputError, match=r"p2 \(deep_0\)"):
        make_signature().predict(df)


def test_roundtrip_through_json() -> None:
    sig = make_signature()
    doc = json.loads(json.dumps(sig.to_dict()))
    back = Signature.from_dict(doc)
    assert back == sig
    pd.testing.assert_frame_equal(back.predict(_features()), sig.predict(_features()))


def test_unknown_schema_version_refused() -> None:
    doc = make_signature().to_dict()
    doc["schema_version"] = "99"
    with pytest.raises(BundleError, match="schema_version"):
        Signature.from_dict(doc)


def test_unknown_key_refused() -> None:
    doc = make_signature().to_dict()
    doc["surprise"] = 1
    with pytest.raises(BundleError, match="surprise"):
        Signature.from_dict(doc)
    doc = make_signature().to_dict()
    doc["scores"]["rad_score"]["typo"] = 1
    with pytest.raises(BundleError, match="typo"):
        Signature.from_dict(doc)


def test_inconsistent_models_refused() -> None:
    with pytest.raises(InputError, match="same length"):
        LinearScore(name="r", features=["a", "b"], intercept=0, coef=[1.0], means=[0, 0],
                    sds=[1, 1])
    with pytest.raises(InputError, match="cutoff"):
        make_signature(cutoff=1.5)
    bad = LogisticModel(name="combined", inputs=["rad_score", "other"], intercept=0,
                        coef=[1.0, 1.0])
    with pytest.raises(InputError, match="other"):
        make_signature(combined=bad)


def test_development_summary_from() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"patient_id": [f"p{i}" for i in range(50)],
                       "a": rng.normal(size=50), "b": rng.normal(3, 2, size=50)})
    p = rng.uniform(0.05, 0.9, size=50)
    y = (rng.uniform(size=50) < p).astype(int)
    s = development_summary_from(df, ["a", "b"], p, y_true=y)
    assert s["n"] == 50 and s["events"] == int(y.sum())
    assert s["prevalence"] == pytest.approx(y.mean(), rel=1e-15)
    fb = s["features"]["b"]
    assert fb["mean"] == pytest.approx(np.mean(df["b"]), rel=1e-14)
    assert fb["sd"] == pytest.approx(np.std(df["b"], ddof=1), rel=1e-14)
    # local means of the order statistics within 2.5 ranks of the type-7 position
    # h = 49 q + 1, worked out by hand for 50 values:
    # q05 h=3.45 -> ranks 1-5; q25 h=13.25 -> 11-15; median h=25.5 -> 23-28 (six);
    # q75 h=37.75 -> 36-40; q95 h=47.55 -> 46-50
    xs = np.sort(df["b"].to_numpy())
    for name, lo, hi in [("q05", 1, 5), ("q25", 11, 15), ("median", 23, 28), ("q75", 36, 40),
                         ("q95", 46, 50)]:
        assert fb[name] == pytest.approx(xs[lo - 1:hi].mean(), rel=1e-14), name
    assert not {"min", "max", "q01", "q99"} & set(fb)
    ps = np.sort(p)
    assert s["predicted_risk"]["q95"] == pytest.approx(ps[45:].mean(), rel=1e-14)
    assert s["predicted_risk"]["mean"] == pytest.approx(p.mean(), rel=1e-14)
    with pytest.raises(InputError):
        development_summary_from(df, ["a"], p[:10])


def test_unknown_means_roundtrip_as_null() -> None:
    import math

    s = LinearScore(name="rad_score", features=["a"], intercept=0.0, coef=[1.0],
                    means=[math.nan], sds=[math.nan])
    d = json.loads(json.dumps(s.to_dict()))
    assert d["means"] == [None]
    back = LinearScore.from_dict(d)
    assert math.isnan(back.means[0])
    with pytest.raises(InputError, match="coef"):
        LinearScore(name="r", features=["a"], intercept=0.0, coef=[math.nan], means=[0.0],
                    sds=[1.0])
