"""radval.stats._threshold against R (tests/reference/threshold.json): binom.test
(Clopper-Pearson), prop.test(correct=FALSE) (Wilson), epiR::epi.tests, and pROC
coords(x="best", best.method="youden").

Beta quantiles (qbeta / scipy betaincinv) are computed iteratively by both R
and scipy; they agree to ~1e-14, so rtol 1e-9 applies to every interval.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import InputError, UndefinedMetricWarning
from radval.stats import threshold_metrics, youden_threshold
from radval.stats._threshold import binomial_ci

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-9
EPIR = {"sensitivity": "se", "specificity": "sp", "ppv": "pv.pos", "npv": "pv.neg",
        "accuracy": "diag.ac"}


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return json.loads((REF / "threshold.json").read_text())


@pytest.fixture(scope="module")
def asah() -> pd.DataFrame:
    return pd.read_csv(REF / "asah.csv")


def _nan(v: Any) -> Any:
    if isinstance(v, list):
        return [np.nan if x is None else x for x in v]
    return np.nan if v is None else v


@pytest.mark.parametrize("case", ["s100b_0205", "wfns_35", "ndka_1108_90", "s100b_all_pos",
                                  "s100b_none_pos"])
@pytest.mark.parametrize("ci_method", ["wilson", "clopper-pearson"])
def test_threshold_metrics_match_r(ref: dict[str, Any], asah: pd.DataFrame, case: str,
                                   ci_method: str) -> None:
    r = ref["metrics"][case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        res = threshold_metrics(asah["y"], asah[r["marker"]], threshold=r["threshold"],
                                ci_method=ci_method,  # type: ignore[arg-type]
                                confidence_level=r["conf"])
    assert (res.tp, res.fp, res.tn, res.fn) == (r["tp"], r["fp"], r["tn"], r["fn"])
    frame = res.to_frame()
    assert list(frame.columns) == ["metric", "estimate", "ci_low", "ci_high", "numerator",
                                   "denominator"]
    assert list(frame.metric) == ["sensitivity", "specificity", "ppv", "npv", "accuracy",
                                  "lr_positive", "lr_negative", "dor"]
    frame = frame.iloc[:5]
    key = "wilson" if ci_method == "wilson" else "clopper_pearson"
    for row in frame.itertuples():
        m = r["metrics"][row.metric]
        assert (row.numerator, row.denominator) == (m["numerator"], m["denominator"])
        np.testing.assert_allclose(row.estimate, _nan(m["estimate"]), rtol=RTOL)
        np.testing.assert_allclose([row.ci_low, row.ci_high], _nan(m[key]), rtol=RTOL,
                                   atol=1e-15)
        assert getattr(res, row.metric) == pytest.approx(row.estimate, nan_ok=True)
    # epiR's epi.tests on the same 2x2 table (only defined without empty margins)
    epir = r["epir"] or {}  # an empty R list is written as []
    epi = epir.get("wilson" if ci_method == "wilson" else "exact")
    if epi:
        for row in frame.itertuples():
            i = epi["statistic"].index(EPIR[row.metric])
            np.testing.assert_allclose([row.estimate, row.ci_low, row.ci_high],
                                       [epi["est"][i], epi["lower"][i], epi["upper"][i]],
                                       rtol=RTOL)


def test_published_s100b_values(asah: pd.DataFrame) -> None:
    """STATS-REFERENCE §6: s100b at 0.205, sens 26/41 CP 0.469363-0.778772."""
    res = threshold_metrics(asah["y"], asah["s100b"], threshold=0.205,
                            ci_method="clopper-pearson")
    f = res.to_frame().set_index("metric")
    assert f.loc["sensitivity", "ci_low"] == pytest.approx(0.469363, abs=1e-6)
    assert f.loc["sensitivity", "ci_high"] == pytest.approx(0.778772, abs=1e-6)
    assert f.loc["accuracy", "numerator"] == 84


def test_zero_denominator_is_nan_with_warning(asah: pd.DataFrame) -> None:
    with pytest.warns(UndefinedMetricWarning, match="ppv"):
        res = threshold_metrics(asah["y"], asah["s100b"], threshold=100.0)
    assert math.isnan(res.ppv)
    f = res.to_frame().set_index("metric")
    assert math.isnan(f.loc["ppv", "ci_low"]) and f.loc["ppv", "denominator"] == 0
    assert res.sensitivity == 0.0


def test_single_class_allowed_with_warning() -> None:
    with pytest.warns(UndefinedMetricWarning, match="sensitivity"):
        res = threshold_metrics([0, 0, 0], [0.2, 0.6, 0.7], threshold=0.5)
    assert res.specificity == pytest.approx(1 / 3)


def test_positive_iff_greater_or_equal() -> None:
    res = threshold_metrics([0, 1, 1], [0.5, 0.5, 0.4], threshold=0.5)
    assert (res.tp, res.fp, res.tn, res.fn) == (1, 1, 0, 1)


def test_binomial_ci_edges() -> None:
    assert binomial_ci(0, 10, method="clopper-pearson")[0] == 0.0
    assert binomial_ci(10, 10, method="clopper-pearson")[1] == 1.0
    lo, hi = binomial_ci(0, 10)
    assert lo == 0.0 and 0 < hi < 1
    assert all(math.isnan(v) for v in binomial_ci(0, 0))
    with pytest.raises(InputError, match="'x'"):
        binomial_ci(5, 3)


def test_threshold_metrics_errors() -> None:
    with pytest.raises(InputError, match="'ci_method'"):
        threshold_metrics([0, 1], [0.1, 0.9], threshold=0.5,
                          ci_method="wald")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'threshold'"):
        threshold_metrics([0, 1], [0.1, 0.9], threshold=float("nan"))
    with pytest.raises(InputError, match="'y_prob'"):
        threshold_metrics([0, 1], [0.1, np.nan], threshold=0.5)
    with pytest.raises(InputError, match="same length"):
        threshold_metrics([0, 1, 1], [0.1, 0.9], threshold=0.5)


@pytest.mark.parametrize("name", ["asah_s100b", "asah_wfns", "asah_ndka", "asah_age", "ties",
                                  "multi", "reversed", "random40"])
def test_youden_matches_proc_first_listed(ref: dict[str, Any], name: str) -> None:
    r = ref["youden"][name]
    thr = np.atleast_1d(np.asarray(_nan(r["threshold"]), dtype=float))
    t = youden_threshold(r["y"], r["s"])
    # pROC lists all tied optima in increasing threshold order; we return the first
    if np.isnan(thr[0]):  # JSON null = -Inf (pROC best at -Inf)
        assert t == -np.inf
    else:
        assert t == pytest.approx(thr[0], rel=RTOL)
    sp = np.atleast_1d(r["specificity"])[0]
    se = np.atleast_1d(r["sensitivity"])[0]
    with warnings.catch_warnings():  # "reversed": best is -inf, NPV undefined
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        res = threshold_metrics(r["y"], r["s"], threshold=t)
    assert res.specificity == pytest.approx(sp, rel=RTOL)
    assert res.sensitivity == pytest.approx(se, rel=RTOL)


def test_youden_ties_returns_lowest(ref: dict[str, Any]) -> None:
    r = ref["youden"]["multi"]
    assert len(r["threshold"]) == 4  # pROC returns all four tied optima
    assert youden_threshold(r["y"], r["s"]) == min(r["threshold"])


def test_youden_published(asah: pd.DataFrame) -> None:
    """pROC test-coords.R: s100b best threshold 0.205; wfns 3.5; ndka 11.08."""
    assert youden_threshold(asah["y"], asah["s100b"]) == pytest.approx(0.205)
    assert youden_threshold(asah["y"], asah["wfns"]) == pytest.approx(3.5)
    assert youden_threshold(asah["y"], asah["ndka"]) == pytest.approx(11.08)


LR = json.loads((REF / "epitests_lr.json").read_text())


def _r_value(v: Any) -> float:
    return float(v) if isinstance(v, str) else v  # "NaN", "Inf", "-Inf"


@pytest.mark.parametrize("case", LR["cases"], ids=[f"{c['name']}-{c['conf']}"
                                                    for c in LR["cases"]])
def test_likelihood_ratios_match_epiR(case: dict[str, Any]) -> None:
    """LR+, LR-, DOR and their intervals = epiR 2.0.57 epi.tests (incl. zero cells)."""
    assert LR["epiR_version"] == "2.0.57"
    tp, fp, tn, fn = case["tp"], case["fp"], case["tn"], case["fn"]
    y = [1] * tp + [0] * fp + [0] * tn + [1] * fn
    prob = [0.9] * (tp + fp) + [0.1] * (tn + fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        res = threshold_metrics(y, prob, threshold=0.5, confidence_level=case["conf"])
    assert (res.tp, res.fp, res.tn, res.fn) == (tp, fp, tn, fn)
    frame = res.to_frame().set_index("metric")
    for name in ("lr_positive", "lr_negative", "dor"):
        want = [_r_value(v) for v in case[name]]
        got = frame.loc[name, ["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, want, rtol=RTOL, err_msg=name)
        assert frame.loc[name, "numerator"] is None
        np.testing.assert_allclose(getattr(res, name), want[0], rtol=RTOL)
    # the proportions keep their integer counts
    assert frame.loc["sensitivity", "numerator"] == tp
    assert isinstance(frame.loc["sensitivity", "denominator"], int)


def test_likelihood_ratio_json_is_strict() -> None:
    res = threshold_metrics([1, 1, 0, 0], [0.9, 0.8, 0.1, 0.2], threshold=0.5)
    d = res.to_dict()
    assert d["lr_positive"] is None and d["dor"] is None  # infinite -> null
    assert json.dumps(d, allow_nan=False)
