"""partial_auc against pROC 1.18 and hanley_mcneil_se against the paper."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from radval.exceptions import InputError, UndefinedMetricWarning
from radval.stats import bootstrap_indices, hanley_mcneil_se, partial_auc, roc_auc

REF = json.loads((Path(__file__).parents[1] / "reference" / "partial_auc.json").read_text())
CASES = REF["cases"]


def _id(c: dict) -> str:
    kind = "corr" if c["correct"] else "raw"
    return f"{c['data']}-{c['focus'][:4]}-{c['high']}-{c['low']}-{kind}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_partial_auc_matches_pROC(case: dict) -> None:
    d = REF["data"][case["data"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        res = partial_auc(d["y"], d["s"], correct=case["correct"],
                          **{case["focus"]: (case["high"], case["low"])})
    if case["value"] is None:
        assert math.isnan(res.estimate)
    else:
        assert_allclose(res.estimate, case["value"], rtol=1e-9, atol=1e-15)


def test_full_range_is_the_auc() -> None:
    d = REF["data"]["sim"]
    full = roc_auc(d["y"], d["s"])
    assert_allclose(partial_auc(d["y"], d["s"], specificity=(1, 0)).estimate, full, rtol=1e-13)
    assert_allclose(partial_auc(d["y"], d["s"], sensitivity=(1, 0)).estimate, full, rtol=1e-13)
    assert_allclose(partial_auc(d["y"], d["s"], specificity=(1, 0), correct=True).estimate,
                    full, rtol=1e-13)


def test_below_diagonal_correction_warns() -> None:
    d = REF["data"]["below_diagonal"]
    with pytest.warns(UndefinedMetricWarning, match="below the diagonal"):
        res = partial_auc(d["y"], d["s"], specificity=(1, 0.8), correct=True)
    assert math.isnan(res.estimate)


def test_bootstrap_equals_recomputation_on_the_same_resamples() -> None:
    d = REF["data"]["asah_s100b"]
    y, s = np.array(d["y"]), np.array(d["s"])
    res = partial_auc(y, s, specificity=(1, 0.8), n_bootstrap=300, rng=42)
    idx = bootstrap_indices(y, n_resamples=300, rng=42)
    vals = [partial_auc(y[i], s[i], specificity=(1, 0.8)).estimate for i in idx]
    lo, hi = np.quantile(vals, [0.025, 0.975])
    assert_allclose([res.ci_low, res.ci_high], [lo, hi], rtol=1e-12)
    assert res.ci_low <= res.estimate <= res.ci_high
    assert res.n_bootstrap == 300
    res_c = partial_auc(y, s, sensitivity=(0.9, 0.5), correct=True, n_bootstrap=300, rng=42)
    vals_c = [partial_auc(y[i], s[i], sensitivity=(0.9, 0.5), correct=True).estimate
              for i in idx]
    assert_allclose([res_c.ci_low, res_c.ci_high], np.quantile(vals_c, [0.025, 0.975]),
                    rtol=1e-12)


def test_result_frame() -> None:
    d = REF["data"]["tiny"]
    res = partial_auc(d["y"], d["s"])
    frame = res.to_frame()
    assert frame.loc[0, "focus"] == "specificity"
    assert (frame.loc[0, "high"], frame.loc[0, "low"]) == (1.0, 0.8)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"specificity": (0.8, 1.0)}, r"'specificity' parameter of partial_auc must be given as "
                                  r"\(high, low\)"),
    ({"specificity": (0.8, 0.8)}, "non-empty range"),
    ({"sensitivity": (1.2, 0.8)}, r"pair \(high, low\) of numbers in \[0, 1\]"),
    ({"sensitivity": (0.9,)}, r"pair \(high, low\)"),
    ({"specificity": (1, 0.8), "sensitivity": (1, 0.8)}, "'sensitivity' parameter"),
    ({"n_bootstrap": -1}, "'n_bootstrap'"),
])
def test_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        partial_auc([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], **kwargs)


def test_hanley_mcneil_paper_value() -> None:
    assert_allclose(hanley_mcneil_se(0.893, 51, 58), 0.0325116, atol=5e-8)
    # symmetry of the formula: swapping the groups changes Q1 <-> Q2 terms
    assert hanley_mcneil_se(0.893, 58, 51) != hanley_mcneil_se(0.893, 51, 58)
    assert hanley_mcneil_se(1.0, 10, 10) == 0.0
    with pytest.raises(InputError, match="'auc' parameter of hanley_mcneil_se"):
        hanley_mcneil_se(1.2, 10, 10)
    with pytest.raises(InputError, match="'n_neg'"):
        hanley_mcneil_se(0.7, 10, 0)


def test_standardised_partial_auc_equals_sklearn_max_fpr() -> None:
    """scikit-learn's roc_auc_score(max_fpr=f) is McClish's standardised pAUC over
    specificity (1, 1 - f)."""
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for n in (40, 400):
        y = rng.integers(0, 2, n)
        s = np.round(rng.normal(size=n) + 0.8 * y, 2)
        for f in (0.1, 0.2, 0.5):
            ours = partial_auc(y, s, specificity=(1.0, 1.0 - f), correct=True).estimate
            assert_allclose(ours, metrics.roc_auc_score(y, s, max_fpr=f), rtol=1e-12)
