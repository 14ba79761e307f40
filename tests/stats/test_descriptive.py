"""Table 1 (radval.stats.baseline_table) against R (tests/reference/table1.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import InputError
from radval.stats._descriptive import baseline_table

REF = json.loads((Path(__file__).parents[1] / "reference" / "table1.json").read_text())
RTOL = 1e-9


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.DataFrame(REF["data"]).astype({"age": float, "size": float})


def _p(tab: pd.DataFrame, var: str) -> tuple[str, float]:
    row = tab[(tab.variable == var) & (tab.cohort != "Overall")].iloc[0]
    return str(row["test"]), float(row["p_value"])


def test_three_cohorts_against_r(data: pd.DataFrame) -> None:
    tab = baseline_table(data, variables=["age", "size", "grade", "sex"],
                         nonnormal=["size"])
    test, p = _p(tab, "age")
    assert test == "Welch ANOVA"
    np.testing.assert_allclose(p, REF["three"]["welch_anova_age"], rtol=RTOL)
    test, p = _p(tab, "size")
    assert test == "Kruskal-Wallis"
    np.testing.assert_allclose(p, REF["three"]["kruskal_size"], rtol=RTOL)
    for var in ("grade", "sex"):
        test, p = _p(tab, var)
        assert test == "chi-square"
        np.testing.assert_allclose(p, REF["three"][f"chisq_{var}"], rtol=RTOL)
    a = tab[(tab.variable == "age") & (tab.cohort == "A")].iloc[0]
    np.testing.assert_allclose([a.stat_1, a.stat_2],
                               [REF["three"]["mean_age_A"], REF["three"]["sd_age_A"]], rtol=RTOL)
    assert a.missing == 1 and a.n == 39
    assert a.summary == f"{REF['three']['mean_age_A']:.1f} ± {REF['three']['sd_age_A']:.1f}"
    c = tab[(tab.variable == "size") & (tab.cohort == "C")].iloc[0]
    q1, med, q3 = REF["three"]["quantile_size_C"]
    np.testing.assert_allclose([c.stat_2, c.stat_1, c.stat_3], [q1, med, q3], rtol=RTOL)


def test_two_cohorts_against_r(data: pd.DataFrame) -> None:
    ab = data[data.cohort.isin(["A", "B"])]
    tab = baseline_table(ab, variables=["age", "size", "size_tied", "sex", "rare"],
                         nonnormal=["size", "size_tied"], categorical=["rare"])
    cases = {"age": ("Welch t-test", "t_age"), "size": ("Mann-Whitney U", "wilcox_size_exact"),
             "size_tied": ("Mann-Whitney U", "wilcox_size_tied"),
             "sex": ("chi-square", "chisq_sex_yates"), "rare": ("Fisher's exact", "fisher_rare")}
    for var, (name, key) in cases.items():
        test, p = _p(tab, var)
        assert test == name, var
        np.testing.assert_allclose(p, REF["two"][key], rtol=RTOL, err_msg=var)


def test_wilcox_normal_approximation_with_ties() -> None:
    big = pd.DataFrame(REF["big"]["data"]).rename(columns={"g": "cohort"})
    tab = baseline_table(big, nonnormal=["v"])
    test, p = _p(tab, "v")
    assert test == "Mann-Whitney U"
    np.testing.assert_allclose(p, REF["big"]["wilcox_normal"], rtol=RTOL)


def test_categorical_counts_and_missing(data: pd.DataFrame) -> None:
    tab = baseline_table(data, variables=["grade"])
    g = tab[tab.cohort != "Overall"]
    for c in ("A", "B", "C"):
        sub = data[data.cohort == c]
        rows = g[g.cohort == c]
        assert rows.n.sum() == sub.grade.notna().sum()
        assert set(rows.missing) == {int(sub.grade.isna().sum())}
        np.testing.assert_allclose(rows.percent.sum(), 100.0)
    overall = tab[tab.cohort == "Overall"]
    assert overall.n.sum() == data.grade.notna().sum()
    assert overall.test.eq("").all() and overall.p_value.isna().all()
    assert list(tab.columns[:9]) == ["variable", "level", "cohort", "summary", "n", "missing",
                                     "test", "p_value", "kind"]


def test_auto_normality_and_kinds(data: pd.DataFrame) -> None:
    tab = baseline_table(data, variables=["size", "rare"], overall=False)
    # size is log-normal: Shapiro-Wilk flags it, median [IQR] and Kruskal-Wallis follow
    size = tab[tab.variable == "size"]
    assert not size.normal.any() and size.test.eq("Kruskal-Wallis").all()
    assert size.summary.str.contains(r"\[").all()
    assert tab[tab.variable == "rare"].kind.eq("categorical").all()


def test_validation(data: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="'group' parameter of baseline_table"):
        baseline_table(data, group="site")
    with pytest.raises(InputError, match="'variables' parameter"):
        baseline_table(data, variables=["nope"])
    bad = data.copy()
    bad.loc[0, "cohort"] = None
    with pytest.raises(InputError, match="every patient needs a cohort"):
        baseline_table(bad)
