"""Published validations as meta-analysis inputs against metamisc 0.4.0 ccalc/oecalc."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import InputError
from radval.pool import meta_analysis, published_auc, published_oe, published_validations

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "valmeta.json")
                 .read_text())
AUC, OE = REF["auc_input"], REF["oe_input"]


def _row(table: dict[str, list[Any]], i: int) -> dict[str, Any]:
    return {k: v[i] for k, v in table.items()}


@pytest.mark.parametrize("i", range(len(AUC["study"])), ids=AUC["study"])
def test_auc_matches_metamisc_ccalc(i: int) -> None:
    r = _row(AUC, i)
    ci = None if r["cilb"] is None else (r["cilb"], r["ciub"])
    res = published_auc(r["study"], r["cstat"], se=r["se"], ci=ci, ci_level=r["cilv"],
                        n=r["N"], events=r["O"])
    assert res.source == REF["auc"]["source"][i]
    assert res.theta == pytest.approx(REF["auc"]["theta"][i], rel=1e-9)
    assert res.theta_se == pytest.approx(REF["auc"]["theta_se"][i], rel=1e-9)
    assert res.estimate == r["cstat"] and res.measure == "auc"
    if r["N"] is not None:
        m2 = published_auc(r["study"], r["cstat"], n=r["N"], events=r["O"], se_method=2)
        assert m2.theta_se == pytest.approx(REF["auc_method2"]["theta_se"][i], rel=1e-9)
        assert m2.source == "Newcombe (Method 2)"


@pytest.mark.parametrize("i", range(len(OE["study"])), ids=OE["study"])
def test_oe_matches_metamisc_oecalc(i: int) -> None:
    r = _row(OE, i)
    ci = None if r["cilb"] is None else (r["cilb"], r["ciub"])
    res = published_oe(r["study"], oe=r["OE"], se=r["se"], ci=ci, ci_level=r["cilv"],
                       observed=r["O"], expected=r["E"], n=r["N"])
    assert res.source == REF["oe"]["source"][i]
    assert res.theta == pytest.approx(REF["oe"]["theta"][i], rel=1e-9)
    assert res.theta_se == pytest.approx(REF["oe"]["theta_se"][i], rel=1e-9)


def test_table_and_pooling() -> None:
    table = pd.DataFrame({
        "study": ["A 2019", "B 2020", "C 2021", "D 2022"],
        "auc": [0.78, 0.71, np.nan, 0.69],
        "auc_ci_low": [np.nan, 0.64, np.nan, np.nan],
        "auc_ci_high": [np.nan, 0.78, np.nan, np.nan],
        "auc_se": [0.035, np.nan, np.nan, np.nan],
        "n": [np.nan, np.nan, 500, 412],
        "events": [np.nan, np.nan, np.nan, 97],
        "observed": [np.nan, np.nan, 57, np.nan],
        "expected": [np.nan, np.nan, 61.4, np.nan],
    })
    out = published_validations(table)
    assert list(out.columns) == ["study", "measure", "estimate", "theta", "theta_se", "source"]
    assert out[["study", "measure"]].values.tolist() == [
        ["A 2019", "auc"], ["B 2020", "auc"], ["C 2021", "oe"], ["D 2022", "auc"]]
    auc = out[out.measure == "auc"]
    assert auc["theta"].iloc[0] == pytest.approx(math.log(0.78 / 0.22))
    pooled = meta_analysis(auc["theta"], auc["theta_se"] ** 2, method="REML")
    assert 0.6 < 1 / (1 + math.exp(-pooled.pooled)) < 0.8


def test_ci_that_excludes_its_estimate_names_the_study() -> None:
    with pytest.raises(InputError, match=r"The 'ci' parameter of published_auc must be an "
                                         r"interval containing the estimate of study "
                                         r"'Smith 2020' \(AUC 0.81\)\. Got \(0.82, 0.9\)"):
        published_auc("Smith 2020", 0.81, ci=(0.82, 0.90))
    with pytest.raises(InputError, match="study 'Jones 2018' .O/E 1.3."):
        published_oe("Jones 2018", oe=1.3, ci=(0.8, 1.2))
    table = pd.DataFrame({"study": ["ok", "bad one"], "auc": [0.7, 0.8],
                          "auc_ci_low": [0.6, 0.81], "auc_ci_high": [0.8, 0.9]})
    with pytest.raises(InputError, match="'bad one'"):
        published_validations(table)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: published_auc("S", 0.7), "'se' parameter of published_auc.*study 'S'"),
    (lambda: published_auc("S", 1.2, se=0.1), "'auc' parameter.*study 'S'"),
    (lambda: published_auc("S", 0.7, ci=(0.6, 1.0)), r"0 < low < high < 1 \(study 'S'\)"),
    (lambda: published_auc("S", 0.7, n=50, events=60), "'events' parameter.*study 'S'"),
    (lambda: published_auc("S", 0.7, n=50, events=10, se_method=3), "'se_method'"),
    (lambda: published_oe("S", oe=0.9), "'oe' parameter of published_oe.*study 'S'"),
    (lambda: published_oe("S", oe=-0.9, se=0.1), "'oe' parameter.*study 'S'"),
    (lambda: published_oe("S", observed=60, expected=50, n=40), "at most n = 40"),
    (lambda: published_auc("", 0.7, se=0.1), "'study' parameter"),
    (lambda: published_validations(pd.DataFrame({"study": ["a", "a"], "auc": [0.7, 0.8]})),
     "one row per study"),
])
def test_bad_input(call: Any, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()
