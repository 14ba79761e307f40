"""The time-to-event section of the report (radval.report._survival_section)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

from radval._results import jsonable
from radval.exceptions import RadvalWarning
from radval.report import figures
from radval.report._escape import md_text
from radval.report._survival_section import (
    survival_calibration_plot,
    survival_decision_plot,
    survival_section,
    survival_tripod_values,
    td_auc_plot,
)
from radval.report.tripod import load_items, time_to_event_items
from radval.workflow._survival import SurvivalValidation, cohort_survival

HOSTILE = "<script>alert(1)</script> {{< include /etc/passwd >}} $\\input{x}$ | a |"
HORIZONS = [12.0, 24.0]


def _results(cohorts: tuple[str, ...] = ("dev", HOSTILE)) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    parts = []
    for c in cohorts:
        n = 90
        s = rng.normal(size=n)
        t = np.minimum(rng.exponential(30 * np.exp(-0.6 * s)), rng.uniform(10, 60, n)).round(1)
        e = (t < 59).astype(float) * (rng.random(n) < 0.8)
        risk = 1 - np.array([0.8, 0.65])[None, :] ** np.exp(0.6 * s)[:, None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            parts.append(cohort_survival(c, t, e, marker=s, high_risk=s > 0.3, risk=risk,
                                         horizons=HORIZONS, thresholds=[0.1, 0.2, 0.3]))
    model = {"kind": "cox", "time": "dfs_months", "event": "dfs_event", "time_unit": "months",
             "inputs": ["signature", "age"], "predictors": [["age", "numeric"]], "levels": {},
             "coef": [0.6, 0.01], "se": [0.1, 0.01], "means": [0.0, 60.0],
             "horizons": HORIZONS, "baseline_survival": [0.8, 0.65], "cutoff": 0.4, "n": 90,
             "events": 50, "ties": "efron"}
    opt = pd.DataFrame({"metric": ["c_harrell", "c_uno", "auc", "auc"],
                        "horizon": [None, None, 12.0, 24.0], "apparent": [0.7, 0.69, 0.72, 0.7],
                        "optimism": [0.02, 0.02, 0.03, 0.02],
                        "corrected": [0.68, 0.67, 0.69, 0.68], "n_resamples": 50})
    val = SurvivalValidation(model="combined", cutoff=0.4, validated="cox",
                             marker="Cox linear predictor", time="dfs_months",
                             event="dfs_event", time_unit="months", horizons=HORIZONS,
                             survival_model=model, cohorts=parts, optimism=opt)
    return {"survival": jsonable(val.to_record()), "internal_validation": {"n_resamples": 50},
            "cohorts": [{"name": c} for c in cohorts]}


def test_section_writes_figures_tables_and_tripod(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 40)
    before = dict(matplotlib.rcParams)
    sec = survival_section(_results(), tmp_path)
    assert dict(matplotlib.rcParams) == before  # no global matplotlib state changed
    assert set(sec.figures) == {"fig-survival-auc", "fig-survival-calibration",
                                "fig-survival-dca"}
    for label, png in sec.figures.items():
        assert png.is_file() and png.with_suffix(".svg").is_file(), label
        assert f"]({png.relative_to(tmp_path).as_posix()}){{#{label}" in sec.markdown
    for label in ("tbl-survival-risk-groups", "tbl-survival-discrimination",
                  "tbl-survival-optimism", "tbl-survival-calibration", "tbl-survival-model",
                  "tbl-survival-tripod"):
        assert f"{{#{label}}}" in sec.markdown and sec.tables[label].is_file(), label
    assert {"sec-survival-validation", "sec-survival-tripod"} <= sec.sections
    # numbers come from the results: the development cohort's Harrell C in the table
    c = next(r for r in _results()["survival"]["summary"] if r["cohort"] == "dev")
    assert f"{c['c_index']:.3f}" in sec.markdown


def test_hostile_text_is_escaped_in_markdown_and_figures(tmp_path: Path) -> None:
    res = _results()
    sec = survival_section(res, tmp_path)
    assert HOSTILE not in sec.markdown and "<script>" not in sec.markdown
    assert "{{<" not in sec.markdown and not re.search(r"^\s*(```|~~~)", sec.markdown, re.M)
    assert md_text(HOSTILE) in sec.markdown
    # figure labels: mathtext is escaped, so the text is drawn literally
    auc = pd.DataFrame(res["survival"]["time_dependent_auc"])
    ax = td_auc_plot(auc, time_unit="$months$")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("\\$\\input{x}\\$" in x for x in labels)
    assert "\\$months\\$" in ax.get_xlabel()


def test_figure_functions_draw_into_a_given_axes() -> None:
    from matplotlib.figure import Figure

    res = _results(("a", "b"))["survival"]
    fig = Figure()
    axes = fig.subplots(1, 3)
    assert td_auc_plot(pd.DataFrame(res["time_dependent_auc"]), ax=axes[0]) is axes[0]
    grouped = pd.DataFrame(res["calibration_grouped"])
    curve = pd.DataFrame(res["calibration_curve"])
    ax = survival_calibration_plot(grouped[grouped.horizon == 12.0],
                                   curve[curve.horizon == 12.0], ax=axes[1], title="12")
    assert ax is axes[1] and len(ax.lines) >= 2 and ax.get_title() == "12"
    dca = pd.DataFrame(res["decision"])
    ax = survival_decision_plot(dca[dca.horizon == 24.0], ax=axes[2])
    assert ax is axes[2] and len(ax.get_legend().get_texts()) == 2


def test_tripod_items_filled_from_the_run() -> None:
    res = _results(("dev", "val"))
    values = survival_tripod_values(res)
    tri = time_to_event_items(res, values).set_index("item")
    items = [i["item"] for i in load_items() if "time_to_event" in i]
    assert list(tri.index) == items and {"8a", "12e", "20a", "22", "23a"} <= set(items)
    assert (tri["status"] != "needs author input").all()
    assert "12, 24 months" in tri.loc["8a", "text"]
    assert "S0(12) = 0.8000" in tri.loc["22", "text"]
    dev = next(r for r in res["survival"]["summary"] if r["cohort"] == "dev")
    assert f"{dev['events']} events in {dev['n']} patients" in tri.loc["20a", "text"]
    # every template field has a value (no placeholder dash, no brace left)
    import string

    fields = {f for i in load_items() if "time_to_event" in i
              for _, f, _, _ in string.Formatter().parse(i["time_to_event"]["text"]) if f}
    assert fields <= set(values) and "{" not in " ".join(tri["text"])
    # without the survival block the items need the authors
    empty = time_to_event_items({}, values)
    assert (empty["status"] == "needs author input").all() and (empty["text"] == "").all()


def test_results_of_an_older_run_degrade_to_a_short_section(tmp_path: Path) -> None:
    old = {"survival": {"model": "nomogram", "cutoff": 0.4, "hr_per": "1 unit",
                        "km": [], "summary": [{"cohort": "a", "model": "nomogram", "n": 80,
                                               "events": 30, "c_index": 0.66}]}}
    sec = survival_section(old, tmp_path)
    assert "{#sec-survival-validation}" in sec.markdown and not sec.figures
    assert "tbl-survival-discrimination" in sec.tables
    assert survival_section({}, tmp_path).markdown == ""


def test_hostile_section_parses_without_code_raw_or_math(tmp_path: Path) -> None:
    """pandoc reads the section with hostile cohort names: no code, raw, math or note."""
    pytest.importorskip("pypandoc")
    from .test_injection import check_qmd

    sec = survival_section(_results(), tmp_path)
    qmd = tmp_path / "section.qmd"
    qmd.write_text(sec.markdown, encoding="utf-8")
    check_qmd(qmd)


def test_optimism_rows_without_horizon(tmp_path: Path) -> None:
    """C-index rows carry no horizon: when no AUC row is present the horizon column holds only
    None (as read back from results.json) and the table still names each index."""
    import json

    res = json.loads(json.dumps(_results()))
    res["survival"]["optimism"] = [r for r in res["survival"]["optimism"]
                                   if r["metric"] != "auc"]
    assert all(r["horizon"] is None for r in res["survival"]["optimism"])
    sec = survival_section(res, tmp_path)
    table = pd.read_csv(sec.tables["tbl-survival-optimism"])
    assert list(table["Index"]) == ["Harrell's C", "Uno's C"]
