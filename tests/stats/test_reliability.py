"""Tests of radval.stats.icc against R psych::ICC(lmer=FALSE), exact arithmetic and invariances."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from radval.exceptions import InputError, UndefinedMetricWarning
from radval.stats import icc
from radval.stats._reliability import ICC_TYPES, mean_squares

REF = json.loads((Path(__file__).parents[1] / "reference" / "psych.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}

SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float)


@pytest.mark.parametrize("name", sorted(CASES))
def test_icc_matches_R_psych(name: str) -> None:
    case = CASES[name]
    x = np.array(case["data"], dtype=float)
    res = icc(x, confidence_level=case["confidence_level"])
    tab = res.to_frame()
    assert list(tab["type"]) == case["type"] == list(ICC_TYPES)
    # R's aov() works on the uncentred data (QR); with values ~1e6 it loses about
    # 1e-11 relative precision (our centred sums are checked against exact
    # rational arithmetic below), so that one case is compared at 1e-8.
    rtol = 1e-8 if name == "large_offset" else 1e-9
    assert_allclose(tab["icc"], case["icc"], rtol=rtol)
    assert_allclose(tab["F"], case["F"], rtol=rtol)
    assert_allclose(tab["p_value"], case["p"], rtol=rtol)
    assert_allclose(tab["ci_low"], case["lower"], rtol=rtol)
    assert_allclose(tab["ci_high"], case["upper"], rtol=rtol)
    assert_array_equal(tab["df1"], case["df1"])
    assert_array_equal(tab["df2"], case["df2"])
    ms = res.mean_squares.iloc[0]
    assert_allclose([ms["msb"], ms["msj"], ms["mse"]], [case["msb"], case["msj"], case["mse"]],
                    rtol=rtol)


def test_icc_shrout_fleiss_published_table() -> None:
    """Shrout & Fleiss (1979) Table 4: .17 .29 .71 .44 .62 .91."""
    got = icc(SHROUT_FLEISS).to_frame()["icc"].round(2).tolist()
    assert got == [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]


def _exact_mean_squares(x: np.ndarray) -> tuple[float, float, float]:
    """Brute-force two-way ANOVA mean squares in exact rational arithmetic."""
    n, k = x.shape
    v = [[Fraction(float(a)) for a in row] for row in x]
    grand = sum(sum(r) for r in v) / (n * k)
    rows = [sum(r) / k for r in v]
    cols = [sum(v[i][j] for i in range(n)) / n for j in range(k)]
    ssr = k * sum((r - grand) ** 2 for r in rows)
    ssc = n * sum((c - grand) ** 2 for c in cols)
    sse = sum((v[i][j] - rows[i] - cols[j] + grand) ** 2 for i in range(n) for j in range(k))
    return (float(ssr / (n - 1)), float(ssc / (k - 1)), float(sse / ((n - 1) * (k - 1))))


@pytest.mark.parametrize("name", ["large_offset", "shrout_fleiss_1979", "synthetic_n5_k3"])
def test_mean_squares_match_exact_arithmetic(name: str) -> None:
    x = np.array(CASES[name]["data"], dtype=float)
    msb, msj, mse, _ = mean_squares(x[None])
    assert_allclose([msb[0], msj[0], mse[0]], _exact_mean_squares(x), rtol=1e-12)


def test_vectorised_features_equal_single_feature_calls() -> None:
    rng = np.random.default_rng(3)
    arr = rng.normal(size=(5, 12, 3)) + rng.normal(size=(5, 12, 1)) * 2
    arr[2] = arr[2] * 1e-3 + 50.0
    multi = icc(arr).to_frame()
    assert list(multi["feature"].unique()) == [0, 1, 2, 3, 4]
    for f in range(5):
        single = icc(arr[f]).to_frame().drop(columns="feature")
        got = multi[multi["feature"] == f].drop(columns="feature").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, single, check_exact=False, rtol=1e-12)


def test_long_dataframe_input_and_get() -> None:
    rows = []
    names = ["firstorder_Mean", "glcm_Contrast"]
    for f, name in enumerate(names):
        for i in range(SHROUT_FLEISS.shape[0]):
            for j in range(SHROUT_FLEISS.shape[1]):
                rows.append({"feat": name, "patient": f"p{i}", "reader": f"r{j}",
                             "value": SHROUT_FLEISS[i, j] * (f + 1)})
    long = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # shuffled rows
    res = icc(long, targets="patient", raters="reader", values="value", feature="feat")
    assert set(res.features) == set(names)
    icc2 = res.get("ICC2")
    assert list(icc2.columns) == ["icc", "F", "df1", "df2", "p_value", "ci_low", "ci_high"]
    ref = CASES["shrout_fleiss_1979"]
    assert_allclose(icc2["icc"].to_numpy(), [ref["icc"][1]] * 2, rtol=1e-12)
    one = icc(long[long["feat"] == names[0]], targets="patient", raters="reader",
              values="value")
    assert_allclose(one.get("ICC3")["icc"].to_numpy(), [ref["icc"][2]], rtol=1e-12)


def test_wide_dataframe_input_as_psych() -> None:
    wide = pd.DataFrame(SHROUT_FLEISS, columns=["J1", "J2", "J3", "J4"],
                        index=[f"s{i}" for i in range(6)])
    tab = icc(wide).to_frame()
    assert_allclose(tab["icc"], CASES["shrout_fleiss_1979"]["icc"], rtol=1e-12)
    wide.iloc[3, 2] = np.nan
    with pytest.raises(InputError, match="subject 's3'"):
        icc(wide)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 15), k=st.integers(2, 5))
def test_icc_invariant_to_subject_and_rater_order(seed: int, n: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(n, 1)) + rng.normal(size=(n, k)), 2)
    if np.ptp(x) == 0:
        return
    base = icc(x).to_frame()
    perm = icc(x[rng.permutation(n)][:, rng.permutation(k)]).to_frame()
    cols = ["icc", "F", "p_value", "ci_low", "ci_high"]
    assert_allclose(perm[cols].to_numpy(float), base[cols].to_numpy(float), rtol=1e-9,
                    atol=1e-12, equal_nan=True)
    # ICCs are invariant to a positive affine change of scale
    scaled = icc(3.5 * x - 7.0).to_frame()
    assert_allclose(scaled["icc"], base["icc"], rtol=1e-9, atol=1e-12)


def test_ci_contains_estimate() -> None:
    rng = np.random.default_rng(11)
    arr = rng.normal(size=(50, 20, 2)) + rng.normal(size=(50, 20, 1))
    tab = icc(arr).to_frame()
    assert (tab["ci_low"] <= tab["icc"]).all()
    assert (tab["icc"] <= tab["ci_high"]).all()


def test_missing_rating_is_refused_with_feature_and_subject() -> None:
    rows = [{"f": "shape_Volume", "id": f"pt{i}", "rater": r, "v": float(i + r)}
            for i in range(5) for r in range(2)]
    long = pd.DataFrame(rows).iloc[:-1]  # drop (pt4, rater 1)
    with pytest.raises(InputError, match=r"'shape_Volume', subject 'pt4'"):
        icc(long, targets="id", raters="rater", values="v", feature="f")
    x = SHROUT_FLEISS.copy()
    x[2, 1] = np.nan
    with pytest.raises(InputError, match="subject 2"):
        icc(x)


@pytest.mark.parametrize(
    ("ratings", "kwargs", "match"),
    [
        (np.ones((1, 3)), {}, "at least 2 subjects"),
        (np.ones((4, 1)), {}, "at least 2 raters"),
        (np.ones(5), {}, "2-d"),
        (SHROUT_FLEISS, {"confidence_level": 1.5}, "confidence_level"),
        (pd.DataFrame({"a": [1], "b": [1], "c": [1.0]}), {"targets": "a", "raters": "b"},
         "'values'"),
        (pd.DataFrame({"r1": [1.0, 2.0], "r2": ["x", "y"]}), {}, "non-numeric"),
        (pd.DataFrame({"a": [1], "b": [1], "c": [1.0]}),
         {"targets": "a", "raters": "zz", "values": "c"}, "'raters'"),
        (pd.DataFrame({"a": [1, 1], "b": [1, 1], "c": [1.0, 2.0]}),
         {"targets": "a", "raters": "b", "values": "c"}, "duplicated"),
    ],
)
def test_icc_input_errors(ratings: object, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        icc(ratings, **kwargs)  # type: ignore[arg-type]


def test_constant_feature_warns_and_gives_nan() -> None:
    arr = np.stack([SHROUT_FLEISS, np.full_like(SHROUT_FLEISS, 4.0)])
    with pytest.warns(UndefinedMetricWarning, match="constant"):
        tab = icc(arr).to_frame()
    assert tab.loc[tab["feature"] == 1, "icc"].isna().all()
    assert tab.loc[tab["feature"] == 0, "icc"].notna().all()


def test_result_is_frozen() -> None:
    res = icc(SHROUT_FLEISS)
    with pytest.raises(AttributeError):
        res.n_subjects = 3  # type: ignore[misc]
    with pytest.raises(InputError):
        res.get("ICC4")


def _nist_anova(name: str) -> tuple[np.ndarray, float, float, float]:
    import scipy

    path = Path(scipy.__file__).parent / "stats" / "tests" / "data" / "nist_anova" / f"{name}.dat"
    if not path.exists():
        pytest.skip("scipy was installed without its NIST StRD test data")
    lines = path.read_text().splitlines()
    between = next(ln for ln in lines if ln.strip().startswith("Between")).split()
    within = next(ln for ln in lines if ln.strip().startswith("Within")).split()
    rows: dict[int, list[float]] = {}
    for ln in lines[60:]:
        parts = ln.split()
        if len(parts) == 2:
            rows.setdefault(int(parts[0]), []).append(float(parts[1]))
    arr = np.array([rows[g] for g in sorted(rows)])
    return arr, float(between[-2]), float(within[-1]), float(between[-1])


@pytest.mark.parametrize(
    ("name", "rtol"),
    [("SiRstv", 1e-9), ("SmLs01", 1e-9), ("SmLs02", 1e-9), ("SmLs03", 1e-9),
     ("SmLs04", 1e-9), ("SmLs05", 1e-9), ("SmLs06", 1e-9), ("AtmWtAg", 1e-9),
     # values 1e12 + 0.x: the decimal data are not representable in binary
     # (ulp(1e12) = 1.2e-4 against deviations of 0.1), so no double-precision
     # algorithm can reach the certified digits; 1e-4 is the data's own limit.
     ("SmLs07", 1e-4), ("SmLs08", 1e-4), ("SmLs09", 1e-4)],
)
def test_icc1_matches_nist_strd_certified_anova(name: str, rtol: float) -> None:
    """NIST StRD one-way ANOVA (groups = subjects, replicates = raters): ICC1 from the
    certified mean squares, F = MSB / MSW certified to 15 digits."""
    arr, msb, msw, f_cert = _nist_anova(name)
    k = arr.shape[1]
    tab = icc(arr).to_frame()
    assert_allclose(tab["F"].iloc[0], f_cert, rtol=rtol)
    assert_allclose(tab["icc"].iloc[0], (msb - msw) / (msb + (k - 1) * msw), rtol=rtol)
