"""radval.stats._reclassification against Hmisc::improveProb (tests/reference/nri.json).

improveProb is closed-form: rtol 1e-9.  The categorical NRI is improveProb on
category indices from cut(right=FALSE, include.lowest=TRUE) (PredictABEL).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radval.exceptions import InputError, UndefinedMetricWarning
from radval.stats import idi, nri

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-9


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return json.loads((REF / "nri.json").read_text())


def _check_nri(res: Any, r: dict[str, Any]) -> None:
    np.testing.assert_allclose(
        [res.estimate, res.se, res.statistic, res.p_value, res.ci_low, res.ci_high],
        [r["nri"], r["se.nri"], r["z.nri"], r["p.nri"], *r["ci.nri"]], rtol=RTOL)
    np.testing.assert_allclose([res.nri_events, res.se_events, res.nri_nonevents,
                                res.se_nonevents],
                               [r["nri.ev"], r["se.nri.ev"], r["nri.ne"], r["se.nri.ne"]],
                               rtol=RTOL, atol=1e-15)
    assert res.n_events == r["na"] and res.n_nonevents == r["nb"]
    np.testing.assert_allclose([res.up_events / res.n_events, res.up_nonevents / res.n_nonevents,
                                res.down_events / res.n_events,
                                res.down_nonevents / res.n_nonevents],
                               [r["pup.ev"], r["pup.ne"], r["pdown.ev"], r["pdown.ne"]],
                               rtol=RTOL, atol=1e-15)


def _check_idi(res: Any, r: dict[str, Any]) -> None:
    np.testing.assert_allclose(
        [res.estimate, res.se, res.statistic, res.p_value, res.ci_low, res.ci_high],
        [r["idi"], r["se.idi"], r["z.idi"], r["p.idi"], *r["ci.idi"]], rtol=RTOL)
    np.testing.assert_allclose([res.idi_events, res.idi_nonevents],
                               [r["improveSens"], r["improveSpec"]], rtol=RTOL)


@pytest.mark.parametrize("data", ["asah", "synthetic"])
def test_continuous_nri_and_idi_match_hmisc(ref: dict[str, Any], data: str) -> None:
    d = ref[data]
    _check_nri(nri(d["y"], d["p_old"], d["p_new"]), d["continuous"])
    res = idi(d["y"], d["p_old"], d["p_new"])
    _check_idi(res, d["continuous"])
    assert res.estimate == pytest.approx(
        res.discrimination_slope_new - res.discrimination_slope_old, rel=1e-12)
    assert nri(d["y"], d["p_old"], d["p_new"]).kind == "continuous"


def test_confidence_level(ref: dict[str, Any]) -> None:
    d = ref["asah"]
    r = d["continuous_90"]
    _check_nri(nri(d["y"], d["p_old"], d["p_new"], confidence_level=0.9), r)
    _check_idi(idi(d["y"], d["p_old"], d["p_new"], confidence_level=0.9), r)


@pytest.mark.parametrize(("data", "key"), [("asah", "categorical_2"), ("asah", "categorical_3"),
                                           ("synthetic", "categorical")])
def test_categorical_nri_matches_hmisc(ref: dict[str, Any], data: str, key: str) -> None:
    d = ref[data]
    r = d[key]
    res = nri(d["y"], d["p_old"], d["p_new"], cutoffs=r["cutoffs"])
    _check_nri(res, r)
    assert res.kind == "categorical" and res.cutoffs == tuple(r["cutoffs"])


def test_category_boundaries_are_left_closed() -> None:
    # risk equal to a cut-off belongs to the upper category: 0.2 -> [0.2, 1]
    with pytest.warns(UndefinedMetricWarning, match="SE is 0"):
        res = nri([1, 0], [0.1, 0.2], [0.2, 0.1], cutoffs=[0.2])
    assert (res.up_events, res.down_nonevents) == (1, 1)
    assert res.estimate == 2.0


def test_brute_force_counts(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 80)
    y[:2] = [0, 1]
    a = rng.uniform(size=80)
    b = np.clip(a + rng.normal(0, 0.1, 80), 0, 1)
    res = nri(y, a, b)
    up_e = sum(1 for i in range(80) if y[i] == 1 and b[i] > a[i])
    dn_n = sum(1 for i in range(80) if y[i] == 0 and b[i] < a[i])
    assert res.up_events == up_e and res.down_nonevents == dn_n


def test_no_reclassification_warns() -> None:
    with pytest.warns(UndefinedMetricWarning, match="SE is 0"):
        res = nri([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])
    assert res.estimate == 0.0 and math.isnan(res.p_value)


def test_errors() -> None:
    with pytest.raises(InputError, match="'p_new'.*\\[0, 1\\]"):
        nri([0, 1], [0.1, 0.2], [0.1, 1.5])
    with pytest.raises(InputError, match="'p_old'.*finite"):
        idi([0, 1, 0, 1], [0.1, np.nan, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(InputError, match="'cutoffs'"):
        nri([0, 1], [0.1, 0.2], [0.1, 0.3], cutoffs=[0.5, 0.2])
    with pytest.raises(InputError, match="'cutoffs'"):
        nri([0, 1], [0.1, 0.2], [0.1, 0.3], cutoffs=[0.0, 0.5])
    with pytest.raises(InputError, match="'y_true'.*both classes"):
        nri([1, 1], [0.1, 0.2], [0.1, 0.3])
    with pytest.raises(InputError, match="at least 2 events"):
        idi([1, 0, 0], [0.1, 0.2, 0.3], [0.2, 0.1, 0.3])
    with pytest.raises(InputError, match="same length"):
        idi([0, 1, 0, 1], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4])
