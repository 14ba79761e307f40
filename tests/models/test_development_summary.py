"""The bundle's development summary carries no single development patient's value, and the
dataset-shift diagnostics use its 5-95% range (old bundles with min/max still load)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import DatasetShiftWarning
from radval.models.bundle import load_bundle, write_bundle
from radval.models.shift import dataset_shift
from radval.models.signature import Signature, development_summary_from
from tests.models.test_signature import make_signature

K = 5  # patients per window, as documented in development_summary_from
LEVELS = {"q05": 0.05, "q25": 0.25, "median": 0.5, "q75": 0.75, "q95": 0.95}


def _cohort(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A development cohort like a radiomics study's: skewed, heavy-tailed, rounded and
    correlated features."""
    base = rng.normal(size=n)
    df = pd.DataFrame({
        "patient_id": [f"dev{i:04d}" for i in range(n)],
        "radiomics_shape_Volume": np.round(np.exp(rng.normal(9.0, 0.8, size=n)), 1),
        "radiomics_firstorder_Mean": np.round(40 + 25 * base + rng.normal(0, 5, size=n), 3),
        "radiomics_glcm_Contrast": rng.gamma(1.5, 20.0, size=n),
        "radiomics_firstorder_Kurtosis": 3 + rng.standard_t(3, size=n) ** 2,
        "deep_0": 0.7 * base + rng.normal(0, 0.5, size=n),
    })
    lp = -1.0 + 0.9 * base
    prob = 1 / (1 + np.exp(-lp))
    y = (rng.uniform(size=n) < prob).astype(int)
    return df, prob, y


def _numbers(obj: object) -> list[float]:
    if isinstance(obj, dict):
        return [v for x in obj.values() for v in _numbers(x)]
    if isinstance(obj, list):
        return [v for x in obj for v in _numbers(x)]
    if isinstance(obj, bool) or obj is None:
        return []
    return [float(obj)] if isinstance(obj, int | float) else []


@pytest.mark.parametrize("n", [60, 151, 400])
def test_no_summary_value_is_one_patients_value(n: int, rng: np.random.Generator) -> None:
    df, prob, y = _cohort(rng, n)
    feats = [c for c in df.columns if c != "patient_id"]
    summary = development_summary_from(df, feats, prob, y_true=y)
    # what travels: the JSON text of the bundle's development_summary
    shared = json.loads(json.dumps(make_signature(development_summary=summary)
                                   .to_dict()["development_summary"]))
    for name in feats:
        values = set(df[name].dropna().astype(float))
        block = shared["features"][name]
        for key, v in block.items():
            if key != "n" and v is not None:
                assert float(v) not in values, (name, key, v)
        assert {"q05", "q25", "median", "q75", "q95", "mean", "sd"} <= set(block)
        assert block["q05"] is not None and block["q95"] is not None
    risks = set(prob.astype(float))
    for key, v in shared["predicted_risk"].items():
        if key != "n" and v is not None:
            assert float(v) not in risks, ("predicted_risk", key)
    # and nowhere else in the summary either
    everything = set().union(*(set(df[c].dropna().astype(float)) for c in feats), risks)
    assert not everything & {v for v in _numbers(shared) if not float(v).is_integer()}


def _windows_by_hand(n: int) -> dict[str, list[int]]:
    out = {}
    for name, q in LEVELS.items():
        h = (n - 1) * q + 1
        ranks = [j for j in range(1, n + 1) if abs(j - h) <= K / 2 + 1e-9]
        if len(ranks) >= K:
            out[name] = ranks
    return out


def _isolates(rows: list[np.ndarray], n: int) -> list[int]:
    """Ranks whose value is a linear combination of the published sums (brute force over
    the full n-dimensional space)."""
    a = np.vstack(rows)
    found = []
    for i in range(n):
        unit = np.zeros(n)
        unit[i] = 1.0
        coef, *_ = np.linalg.lstsq(a.T, unit, rcond=None)
        if np.allclose(a.T @ coef, unit, atol=1e-8):
            found.append(i + 1)
    return found


def test_the_published_sums_never_isolate_a_patient() -> None:
    """For every cohort size: the published quantiles are the documented local means, and
    no linear combination of them and n * mean gives one patient's value back."""
    rng = np.random.default_rng(11)
    dropped = []
    for n in range(1, 121):
        x = rng.normal(size=n)
        s = development_summary_from(pd.DataFrame({"x": x}), ["x"], np.full(n, 0.5))
        block = s["features"]["x"]
        xs = np.sort(x)
        if n < K:
            assert all(block[k] is None for k in ("mean", "sd", *LEVELS)), n
            continue
        rows = [np.ones(n)]
        for name, ranks in _windows_by_hand(n).items():
            if block[name] is None:
                dropped.append((n, name))
                continue
            assert block[name] == pytest.approx(xs[np.array(ranks) - 1].mean(), rel=1e-12)
            row = np.zeros(n)
            row[np.array(ranks) - 1] = 1.0
            rows.append(row)
        for name in LEVELS:
            if name not in _windows_by_hand(n):
                assert block[name] is None, (n, name)
        assert _isolates(rows, n) == [], n
        # the unguarded set does isolate someone for the sizes where levels were dropped
        if any(d[0] == n for d in dropped):
            full = [np.ones(n)] + [np.isin(np.arange(1, n + 1), r).astype(float)
                                   for r in _windows_by_hand(n).values()]
            assert _isolates(full, n), n
    assert {d[0] for d in dropped} == {9, 11}


def test_shift_uses_the_5_95_range(rng: np.random.Generator) -> None:
    sig = make_signature()
    n = 200
    df = pd.DataFrame({"patient_id": [f"s{i}" for i in range(n)],
                       "radiomics_a": rng.normal(1.0, 0.5, size=n),
                       "radiomics_b": rng.normal(2.0, 1.5, size=n) * 2.2,
                       "deep_0": rng.normal(0.0, 1.0, size=n)})
    prob = rng.uniform(0.01, 0.99, size=n)
    with pytest.warns(DatasetShiftWarning, match="radiomics_b"):
        res = dataset_shift(df, sig, probabilities=prob)
    rows = res.features.set_index("feature")
    for feat in ("radiomics_a", "radiomics_b", "deep_0"):
        x = df[feat].to_numpy()
        dev = sig.development_summary["features"][feat]
        below, above = np.mean(x < dev["q05"]), np.mean(x > dev["q95"])
        assert rows.loc[feat, "share_below_q05"] == pytest.approx(below, rel=1e-12)
        assert rows.loc[feat, "share_above_q95"] == pytest.approx(above, rel=1e-12)
        assert rows.loc[feat, "share_outside_q05_q95"] == pytest.approx(below + above,
                                                                        rel=1e-12)
    assert "outside the development 5-95% range" in rows.loc["radiomics_b", "reason"]
    assert not bool(rows.loc["radiomics_a", "flagged"])
    risk = sig.development_summary["predicted_risk"]
    assert res.predicted_risk["share_outside_q05_q95"] == pytest.approx(
        np.mean((prob < risk["q05"]) | (prob > risk["q95"])), rel=1e-12)
    assert not {"share_out_of_range", "share_below_min"} & set(res.features.columns)


def _old_style(sig: Signature) -> dict[str, object]:
    """The development summary as radval < 0.2 wrote it: min, max, type-7 quantiles."""
    summary: dict[str, object] = {"n": 100, "events": 30, "prevalence": 0.3}
    feats = {}
    for f, m, s in [("radiomics_a", 1.0, 0.5), ("radiomics_b", 2.0, 1.5), ("deep_0", 0.0, 1.0)]:
        feats[f] = {"n": 100, "mean": m, "sd": s, "min": m - 0.1 * s, "max": m + 0.1 * s,
                    "q01": m - 0.05 * s, "q25": m - 0.03 * s, "median": m,
                    "q75": m + 0.03 * s, "q99": m + 0.05 * s}
    summary["features"] = feats
    summary["predicted_risk"] = {"n": 100, "mean": 0.3, "sd": 0.2, "min": 0.29, "max": 0.31,
                                 "q01": 0.295, "q25": 0.298, "median": 0.3, "q75": 0.302,
                                 "q99": 0.305}
    doc = sig.to_dict()
    doc["development_summary"] = summary
    return doc


def test_old_bundle_with_min_max_loads_and_min_max_are_ignored(
        tmp_path: Path, rng: np.random.Generator) -> None:
    doc = _old_style(make_signature(deep=None))
    old = Signature.from_dict(json.loads(json.dumps(doc)))
    bundle = load_bundle(write_bundle(tmp_path / "bundle", old))
    assert bundle.signature.development_summary["features"]["radiomics_a"]["min"] == 0.95
    n = 150
    df = pd.DataFrame({"patient_id": [f"s{i}" for i in range(n)],
                       "radiomics_a": rng.normal(1.0, 0.5, size=n),
                       "radiomics_b": rng.normal(2.0, 1.5, size=n),
                       "deep_0": rng.normal(0.0, 1.0, size=n)})
    with warnings.catch_warnings():
        # no shift by SMD; the (very narrow) old min-max range would flag every feature
        warnings.simplefilter("error", DatasetShiftWarning)
        res = dataset_shift(df, bundle.signature, probabilities=rng.uniform(size=n))
    assert res.flagged == []
    assert res.features["share_outside_q05_q95"].isna().all()
    assert math.isnan(res.predicted_risk.get("share_outside_q05_q95", math.nan))
    # the same data with a real mean shift is still flagged, by the SMD
    df["radiomics_b"] += 3.0
    with pytest.warns(DatasetShiftWarning, match="radiomics_b"):
        shifted = dataset_shift(df, bundle.signature)
    assert shifted.flagged == ["radiomics_b"]
