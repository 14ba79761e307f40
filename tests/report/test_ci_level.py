"""Every interval in the report is labelled with the level it was computed at.

The level is results.json's ``study.confidence_level`` (the study file's
``evaluation.confidence_level``), read once as ``ReportData.ci_level``.  A run at 0.90 must
not say "95%" on any of its intervals (main text, supplement, CSV headers, figure text);
a run at the default level gives the same documents as before.  Labels of quantities at a
fixed level whatever the study (the sample-size targets, the development 5-95% range of
the shift check) stay as they are.
"""

from __future__ import annotations

import copy
import functools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

matplotlib.use("Agg")

from radval.contracts import ResultsFile  # noqa: E402
from radval.exceptions import ContractError  # noqa: E402
from radval.report import figures  # noqa: E402
from radval.report._data import ReportData, level_percent  # noqa: E402
from radval.report.document import build_report  # noqa: E402
from radval.report.tables import fmt_ci  # noqa: E402

from ..pool import test_survival_pool as SP  # noqa: E402
from . import test_calibration_utility as TC  # noqa: E402
from . import test_missing_harmonisation as TM  # noqa: E402
from . import test_survival_section as TS  # noqa: E402

WHEN = datetime(2024, 1, 1, tzinfo=UTC)
#: "95%" that belong to fixed-level quantities, not to an interval at the run's level
FIXED_95 = ("5-95%",           # development 5% and 95% quantiles (dataset shift)
            "(95% CI widths")  # Riley et al.'s sample-size targets


@pytest.fixture(autouse=True)
def _small_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 30)


@functools.cache
def _development_base() -> tuple[dict[str, Any], pd.DataFrame]:
    """A development run with every part that shows an interval: performance,
    comparisons, calibration bands, net-benefit differences, partial AUC, subgroup
    calibration, time to event, multiple imputation."""
    res, pred = TC._labelled_run()
    data = res.to_data()
    data["survival"] = TS._survival(("development", "external_1"))
    data.update(TM._blocks())
    return data, pred


def _development(level: float | None, *, wald: bool = True) -> dict[str, Any]:
    """The run at ``level`` (``None``: not recorded, as in older files); ``wald=False``
    drops the standard errors the report turns into Wald intervals itself."""
    data = copy.deepcopy(_development_base()[0])
    if level is not None:
        data["study"]["confidence_level"] = level
    if not wald:
        for r in data["survival"]["summary"]:
            r["c_index_se"] = None
        for r in data["subgroup_calibration"]:
            r.update(citl_se=None, slope_se=None, log_o_e_se=None)
    return data


def _site(level: float) -> dict[str, Any]:
    """A site's run (one document): sample size, imputation at the site, shift."""
    data = TC._results(np.random.default_rng(5), site=True).to_data()
    data.update(TM._site_blocks("radiomics_F1", "siteX"))
    data["study"]["confidence_level"] = level
    return data


def _build(results: dict[str, Any], pred: pd.DataFrame | None, out: Path,
           monkeypatch: pytest.MonkeyPatch, *, split: bool = True) -> dict[str, str]:
    """The documents as text: ``main``, ``supplement``, every CSV table by file name and
    every figure's text (titles, axis labels, legends, tick labels) by figure name."""
    texts: dict[str, str] = {}
    save = figures.save

    def spy(fig: Any, out_dir: Any, name: str) -> Path:
        from matplotlib.text import Text

        texts[f"figure {name}"] = "\n".join(t.get_text() for t in fig.findobj(Text))
        return save(fig, out_dir, name)

    monkeypatch.setattr(figures, "save", spy)
    parts = build_report(results, pred, out, jobs=1, split=split, when=WHEN)
    docs = {"main": parts.qmd, "supplement": parts.supplement or ""}
    docs.update({p.name: p.read_text() for p in sorted((out / "tables").glob("*.csv"))})
    docs.update(texts)
    return docs


def _stray_95(docs: dict[str, str]) -> list[str]:
    """Every "95%" that is not one of the fixed-level labels, with its context."""
    out = []
    for name, text in docs.items():
        for fixed in FIXED_95:
            text = text.replace(fixed, "")
        out += [f"{name}: ...{text[max(m.start() - 60, 0):m.end() + 20]}..."
                for m in re.finditer("95%", text)]
    return out


def _cell(csv: str, column: str, row: int = 0) -> str:
    from io import StringIO

    # a leading "'" keeps a spreadsheet from reading "-0.50 (...)" as a formula
    return str(pd.read_csv(StringIO(csv), dtype=str)[column].iloc[row]).removeprefix("'")


# ------------------------------------------------------------------------- the level
def test_the_level_is_recorded_and_read_once() -> None:
    data = _development(0.9)
    d = ReportData.build(data)
    assert (d.ci_level, d.ci) == (0.9, "90%")
    assert d.ci_z == pytest.approx(norm.ppf(0.95), rel=1e-15)
    # a file written before the level was recorded: its study file's level, else 0.95
    old = _development(None)
    assert ReportData.build(old).ci_level == 0.95
    old["provenance"]["study"]["evaluation"]["confidence_level"] = 0.99
    assert ReportData.build(old).ci == "99%"
    assert ReportData.build(data).ci_z != ReportData.build(old).ci_z
    # the recorded level wins over the study file's
    data["provenance"]["study"]["evaluation"]["confidence_level"] = 0.99
    assert ReportData.build(data).ci_level == 0.9
    assert [level_percent(x) for x in (0.95, 0.9, 0.975, 0.8, 0.999)] == \
        ["95%", "90%", "97.5%", "80%", "99.9%"]
    for bad in (95, 95.0, 0.0, 1.0, "0.95"):
        data["study"]["confidence_level"] = bad
        with pytest.raises(ContractError, match="confidence_level"):
            ResultsFile.from_data(data)


# ---------------------------------------------------------------------- a 90% report
def test_a_90_percent_development_report_says_90(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _data, pred = _development_base()
    res = _development(0.9)
    docs = _build(res, pred, tmp_path, monkeypatch)
    assert _stray_95(docs) == []
    main, supp = docs["main"], docs["supplement"]
    for text in ("had an AUC (90% CI) of", "AUC (90% DeLong CI)", "(90% Wilson CIs)",
                 "the 90% confidence band of the signature", "difference in AUC (90% CI)",
                 "risk groups with 90% CIs", "DeLong 90% confidence intervals",
                 "s C (90% Wald CI, infinitesimal-jackknife SE)"):
        assert text in main, text
    for text in ("stratified bootstrap 90% CIs;", "AUC (90% CI) by cohort and subgroup level",
                 "pointwise 90% bootstrap percentile bands", "bootstrap 90% CI at every",
                 "Difference in net benefit (90% bootstrap CI)",
                 "Time-dependent AUC (90% CI)", "O/E (90% CIs)", "Net benefit (90% CI)",
                 "Time-to-event performance with 90% CIs"):
        assert text in supp, text
    headers = {name: text.splitlines()[0] for name, text in docs.items()
               if name.endswith(".csv")}
    for name, column in (("tbl-performance.csv", "AUC (90% CI)"),
                         ("tbl-subgroups.csv", "AUC (90% CI)"),
                         ("tbl-partial-auc.csv", "Partial AUC (90% CI)"),
                         ("tbl-survival.csv", "HR (90% CI)"),
                         ("tbl-survival-discrimination.csv", "Harrell's C (90% CI)"),
                         ("tbl-survival-discrimination.csv", "AUC at 12 months (90% CI)"),
                         ("tbl-survival-calibration.csv", "O/E (90% CI)"),
                         ("tbl-survival-risk-groups.csv", "HR (90% CI)"),
                         ("tbl-pooled-coefficients.csv", "Estimate (90% CI)"),
                         ("tbl-pooled-performance.csv", "Calibration slope (90% CI)")):
        assert column in headers[name], (name, headers[name])
    assert "AUC (90% CI)" in docs["figure fig-forest"]
    assert "AUC(t) (90% CI)" in docs["figure fig-survival-auc"]
    # the intervals the report builds from a standard error are at the run's level
    z = float(norm.ppf(0.95))
    s = res["survival"]["summary"][0]
    assert _cell(docs["tbl-survival-discrimination.csv"], "Harrell's C (90% CI)") == \
        fmt_ci(s["c_index"], s["c_index"] - z * s["c_index_se"],
               s["c_index"] + z * s["c_index_se"])
    sc = next(r for r in res["subgroup_calibration"] if r["model"] == "nomogram")
    assert _cell(docs["tbl-subgroup-calibration.csv"], "CITL") == \
        fmt_ci(sc["citl"], sc["citl"] - z * sc["citl_se"], sc["citl"] + z * sc["citl_se"])


def test_a_90_percent_site_report_says_90(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _build(_site(0.9), None, tmp_path, monkeypatch, split=False)
    assert _stray_95(docs) == []
    main = docs["main"]
    assert "(DeLong 90% CI of the AUC" in main and "AUC (90% CI)" in main
    assert "AUC (90% CI)" in docs["tbl-site-imputation.csv"].splitlines()[0]
    # fixed-level quantities keep their labels
    assert "(95% CI widths 0.2 for O/E" in main
    assert "Outside development 5-95%" in docs["tbl-shift.csv"].splitlines()[0]


# ------------------------------------------------------------- the default is as before
def test_only_the_labels_follow_the_level(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that does not record its level (0.95) and the same run at 0.80 give the same
    documents, tables and figure text once "80%" is read as "95%": every label that
    follows the level is "95%" at the default, and nothing else moved.  (The Wald
    intervals the report computes from standard errors are left out: their numbers
    follow the level too, see the test above.)"""
    _data, pred = _development_base()
    default = _build(_development(None, wald=False), pred, tmp_path / "a", monkeypatch)
    other = _build(_development(0.8, wald=False), pred, tmp_path / "b", monkeypatch)
    assert not any("80%" in text for text in default.values())
    n = sum(text.count("80%") for text in other.values())
    assert n >= 40
    assert sum(text.count("95%") for text in default.values()) >= n
    assert set(other) == set(default)
    for name, text in other.items():
        assert text.replace("80%", "95%") == default[name], name


# ---------------------------------------------------------------- pooled report, CLI
def test_the_pooled_report_states_the_level_of_the_pooling(tmp_path: Path) -> None:
    from radval.pool.pooling import pool_shares

    rng = np.random.default_rng(8)
    paths = [SP._write(tmp_path, f"site{i}", SP._site(rng, n, st), rng)
             for i, (n, st) in enumerate([(120, 0.8), (90, 0.5), (150, 0.6)])]
    texts = {}
    for level in (0.95, 0.9):
        out = tmp_path / f"pooled_{level}"
        pool_shares(paths, out=out, figures=False, report_formats=(), confidence_level=level)
        texts[level] = (out / "report" / "pooled.qmd").read_text()
    assert texts[0.95].count("| 95% CI | 95% PI |") == 2
    assert "the 95% prediction interval" in texts[0.95]
    assert texts[0.9].count("| 90% CI | 90% PI |") == 2
    assert "the 90% prediction interval" in texts[0.9] and "95%" not in texts[0.9]


def test_the_run_summary_states_the_study_level(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from radval._commands.run import print_summary

    table = pd.DataFrame({"development": ["0.800 (0.700-0.900)"]}, index=["combined"])
    args = argparse.Namespace(json=False, quiet=False)
    print_summary(table, Path("out"), args)
    assert "AUC (95% CI, DeLong)" in capsys.readouterr().out
    print_summary(table, Path("out"), args, confidence_level=0.9)
    assert "AUC (90% CI, DeLong)" in capsys.readouterr().out
