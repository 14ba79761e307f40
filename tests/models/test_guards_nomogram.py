"""Guards (duplicate patients, predictor timing, missing values) and nomogram points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from radval.exceptions import DataError, PredictorTimingWarning
from radval.models.guards import (
    check_duplicate_patients,
    check_predictor_timing,
    missing_by_variable,
)
from radval.models.logistic import DesignSpec, fit_logistic
from radval.workflow import nomogram_points


def test_duplicate_patients_error_lists_ids() -> None:
    df = pd.DataFrame({"patient_id": ["p1", "p2", "p1", "p3", "p3"],
                       "cohort": ["a", "a", "b", "b", "b"]})
    with pytest.raises(DataError, match=r"1 patient\(s\).*p1 \(a, b\)"):
        check_duplicate_patients(df, table="clinical")
    check_duplicate_patients(df.iloc[[0, 1, 3, 4]])  # same cohort twice is not this guard


def test_predictor_timing_flag() -> None:
    with pytest.warns(PredictorTimingWarning, match="grade"):
        flags = check_predictor_timing("nomogram", [("age", "pre-operative"),
                                                    ("grade", "post-operative")],
                                       prediction_moment="pre-operative")
    assert flags[0]["code"] == "POSTOP_PREDICTOR"
    assert flags[0]["context"]["predictors"] == ["grade"]
    assert check_predictor_timing("m", [("grade", "post-operative")],
                                  prediction_moment="post-operative") == []
    assert check_predictor_timing("m", [("age", "pre-operative")],
                                  prediction_moment="pre-operative") == []


def test_missing_by_variable() -> None:
    df = pd.DataFrame({"cohort": ["a", "a", "b"], "x": [1.0, None, None], "z": [1, 2, 3]})
    m = missing_by_variable(df, ["x", "z", "absent"])
    assert m[(m.variable == "x")]["missing"].tolist() == [1, 1]
    assert m[(m.variable == "z")]["missing"].tolist() == [0, 0]


def _points_total(nomo: dict, row: pd.Series, spec: DesignSpec, sig: str) -> float:
    """Total points of one patient read off the nomogram scales (oracle)."""
    total = 0.0
    for p in nomo["predictors"]:
        ticks = p["ticks"]
        if p["kind"] == "numeric":
            xs = [t["value"] for t in ticks]
            ps = [t["points"] for t in ticks]
            total += float(np.interp(row[p["column"]], xs, ps))
        else:
            value = str(row[p["column"]])
            total += next(t["points"] for t in ticks if t["value"] == value)
    return total


def test_nomogram_points_reproduce_the_model(rng: np.random.Generator) -> None:
    n = 150
    frame = pd.DataFrame({
        "signature": rng.normal(size=n),
        "age": rng.uniform(40, 80, n).round(1),
        "grade": rng.choice(["G1", "G2", "G3"], n),
    })
    eta = -0.5 + 1.2 * frame.signature + 0.03 * (frame.age - 60) + (frame.grade == "G3") * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    spec = DesignSpec.from_frame(frame, [("age", "numeric"), ("grade", "categorical")])
    design = pd.concat([frame[["signature"]], spec.transform(frame)], axis=1)
    inputs = ["signature", *spec.columns]
    fit = fit_logistic(design[inputs].to_numpy(), y, names=inputs)
    nomo = nomogram_points(fit, inputs, spec, design.assign(grade=frame.grade))
    # one predictor spans exactly 0..100 points, none exceeds it
    maxes = [p["max_points"] for p in nomo["predictors"]]
    assert_allclose(max(maxes), 100.0, rtol=1e-12)
    lp = fit.linear_predictor(design[inputs].to_numpy())
    for i in range(n):
        tot = _points_total(nomo, frame.iloc[i], spec, "signature")
        lp_pts = nomo["lp_at_zero_points"] + tot / nomo["points_per_unit_lp"]
        assert_allclose(lp_pts, lp[i], rtol=1e-10, atol=1e-10)
    # the probability axis is monotone and consistent with the formula
    tp = nomo["total_points"]
    assert all(a["points"] < b["points"] for a, b in zip(tp, tp[1:], strict=False))
    for t in tp:
        eta_t = nomo["lp_at_zero_points"] + t["points"] / nomo["points_per_unit_lp"]
        assert_allclose(1 / (1 + np.exp(-eta_t)), t["probability"], rtol=1e-10)
