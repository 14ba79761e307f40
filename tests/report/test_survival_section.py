"""The time-to-event validation of the report (radval.report._survival_section): its main
report part, its supplement part, the figure functions and the TRIPOD+AI values, all read
from the typed results."""

from __future__ import annotations

import json
import re
import string
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

from radval._results import jsonable
from radval.contracts._results import ResultsFile
from radval.exceptions import RadvalWarning
from radval.report import _main_sections, figures
from radval.report._data import ReportData
from radval.report._escape import md_text
from radval.report._sections import Section, SectionContext, SectionRegistry
from radval.report._survival_section import (
    SECTION,
    SUPPLEMENT_SECTION,
    main_horizon,
    survival_calibration_plot,
    survival_decision_plot,
    survival_tripod_values,
    td_auc_plot,
)
from radval.report.tables import fmt_ci
from radval.report.tripod import load_items, time_to_event_items
from radval.workflow._survival import SurvivalValidation, cohort_survival

from .fixtures import LABELS, make_results

HOSTILE = "<script>alert(1)</script> {{< include /etc/passwd >}} $\\input{x}$ | a |"
HORIZONS = [12.0, 24.0]
Z = 1.959963984540054


@pytest.fixture(autouse=True)
def _small_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures as SVG and a coarse PNG: what is tested is their content, not their size."""
    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("svg", "png"))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 30)


def _survival(cohorts: tuple[str, ...], *, all_high: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``survival`` block of a run validating a Cox model in ``cohorts`` (every patient
    high risk in the cohorts ``all_high``)."""
    rng = np.random.default_rng(3)
    parts = []
    for c in cohorts:
        n = 90
        s = rng.normal(size=n)
        t = np.minimum(rng.exponential(30 * np.exp(-0.6 * s)), rng.uniform(10, 60, n)).round(1)
        e = (t < 59).astype(float) * (rng.random(n) < 0.8)
        risk = 1 - np.array([0.8, 0.65])[None, :] ** np.exp(0.6 * s)[:, None]
        high = np.ones(n, bool) if c in all_high else s > 0.3
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            parts.append(cohort_survival(c, t, e, marker=s, high_risk=high, risk=risk,
                                         horizons=HORIZONS, thresholds=[0.1, 0.2, 0.3]))
    model = {"kind": "cox", "time": "dfs_months", "event": "dfs_event", "time_unit": "months",
             "inputs": ["signature", "age_years"], "predictors": [["age_years", "numeric"]],
             "levels": {}, "coef": [0.6, -0.01], "se": [0.1, 0.01], "means": [-0.2, 60.0],
             "horizons": HORIZONS, "baseline_survival": [0.8, 0.65], "cutoff": 0.4, "n": 90,
             "events": 50, "ties": "efron"}
    opt = pd.DataFrame({"metric": ["c_harrell", "c_uno", "auc", "auc"],
                        "horizon": [None, None, 12.0, 24.0], "apparent": [0.7, 0.69, 0.72, 0.7],
                        "optimism": [0.02, 0.02, 0.03, 0.02],
                        "corrected": [0.68, 0.67, 0.69, 0.68], "n_resamples": 50})
    val = SurvivalValidation(model="radiomics", cutoff=0.4, validated="cox",
                             marker="Cox linear predictor", time="dfs_months",
                             event="dfs_event", time_unit="months", horizons=HORIZONS,
                             survival_model=model, cohorts=parts, optimism=opt)
    return json.loads(json.dumps(jsonable(val.to_record())))


def _results(cohorts: tuple[str, ...] = ("development", HOSTILE), *, labels: bool = False,
             **kw: Any) -> dict[str, Any]:
    """A whole run (tests/report/fixtures.py) with the time-to-event block of ``cohorts``."""
    res, _ = make_results(7, labels=labels)
    res["survival"] = _survival(cohorts, **kw)
    return res


def _build(res: dict[str, Any] | ResultsFile, out: Path
           ) -> tuple[Section | None, Section | None, SectionContext]:
    """The main and supplement parts, built as the report builds them: after the
    secondary endpoint's Kaplan-Meier section (whose id they link to)."""
    ctx = SectionContext(ReportData.build(res), out)
    reg = SectionRegistry([s for s in _main_sections.SECTIONS if s.key == "survival"]
                          + [SECTION, SUPPLEMENT_SECTION])
    built = {spec.key: sec for spec, sec in reg.build(ctx)}
    return built.get("survival-validation"), built.get("survival-detail"), ctx


def _c_text(rec: dict[str, Any]) -> str:
    """Harrell's C with its Wald interval, as the discrimination table prints it."""
    c, se = rec["c_index"], rec["c_index_se"]
    return fmt_ci(c, c - Z * se, c + Z * se)


def test_sections_write_figures_and_tables_in_their_documents(tmp_path: Path) -> None:
    res = _results()
    before = dict(matplotlib.rcParams)
    main, supp, ctx = _build(res, tmp_path)
    assert dict(matplotlib.rcParams) == before  # no global matplotlib state changed
    assert main is not None and supp is not None
    assert SECTION.placement == "main" and SUPPLEMENT_SECTION.placement == "supplement"
    assert SECTION.order == 72 and 170 < SUPPLEMENT_SECTION.order < 180
    # the headline in the main report, the detail in the supplement
    assert set(main.figures) == {"fig-survival-horizon"}
    assert set(main.tables) == {"tbl-survival-discrimination", "tbl-survival-calibration-main"}
    assert set(supp.figures) == {"fig-survival-auc", "fig-survival-calibration",
                                 "fig-survival-dca"}
    assert set(supp.tables) == {"tbl-survival-risk-groups", "tbl-survival-optimism",
                                "tbl-survival-calibration", "tbl-survival-model",
                                "tbl-survival-tripod"}
    for sec in (main, supp):
        for label, png in sec.figures.items():
            assert png.is_file() and png.with_suffix(".svg").is_file(), label
            assert f"]({png.relative_to(tmp_path).as_posix()}){{#{label}" in sec.markdown
        for label, csv in sec.tables.items():
            assert f"{{#{label}}}" in sec.markdown and csv.is_file(), label
    assert main.section_ids == ["sec-survival-validation"]
    assert main.markdown.startswith("## ")  # a subsection of the secondary endpoint
    assert {"sec-survival-detail", "sec-survival-calibration-all", "sec-survival-model",
            "sec-survival-tripod"} <= set(supp.section_ids)
    # numbers come from the results: the development cohort's Harrell C with its CI
    dev = next(r for r in res["survival"]["summary"] if r["cohort"] == "development")
    assert _c_text(dev) in main.markdown
    # calibration at the main horizon (the later middle one of 12, 24) in the main report
    cal = next(r for r in res["survival"]["calibration"]
               if r["cohort"] == "development" and r["horizon"] == 24.0)
    row = pd.read_csv(main.tables["tbl-survival-calibration-main"]).iloc[0]
    assert row["O/E (95% CI)"] == fmt_ci(cal["o_e_ratio"], cal["o_e_ci_low"], cal["o_e_ci_high"])
    assert "Horizon, months" not in row.index
    assert "at 24 months, the later of the two horizons" in main.markdown
    full = pd.read_csv(supp.tables["tbl-survival-calibration"], dtype=str)
    assert list(full["Horizon, months"]) == ["12", "24", "12", "24"]
    # what the main report refers to exists in one of the two documents
    labels = set(re.findall(r"\{#((?:fig|tbl|sec)-[a-z0-9-]+)", main.markdown + supp.markdown))
    for ref in re.findall(r"@((?:fig|tbl|sec)-[a-z0-9-]*[a-z0-9])", main.markdown):
        assert ref in labels | {"fig-km", "sec-survival"}, ref


def test_model_formula_and_coefficients(tmp_path: Path) -> None:
    res = _results(("development",))
    _main, supp, _ = _build(res, tmp_path)
    assert supp is not None
    model = pd.read_csv(supp.tables["tbl-survival-model"], dtype=str)
    assert list(model["Term"]) == ["Radiomics signature (linear predictor)", "age_years"]
    assert list(model["HR"]) == [f"{np.exp(0.6):.3f}", f"{np.exp(-0.01):.3f}"]
    values = survival_tripod_values(res)
    # signs written out: a negative coefficient or mean is not "+ -0.01" / "− -0.2"
    assert ("lp = 0.6000 × (Radiomics signature (linear predictor) + 0.2000) − 0.0100 × "
            "(age_years − 60.0000)") in values["model_formula"]
    assert md_text(values["model_formula"]) in supp.markdown


def test_labels_of_the_study_file_replace_the_names(tmp_path: Path) -> None:
    res = _results(("development", "external_1"), labels=True)
    main, supp, _ = _build(res, tmp_path)
    assert main is not None and supp is not None
    disc = pd.read_csv(main.tables["tbl-survival-discrimination"])
    cohorts = LABELS["cohorts"]
    assert list(disc["Cohort"]) == [cohorts["development"], cohorts["external_1"]]
    rg = pd.read_csv(supp.tables["tbl-survival-risk-groups"])
    assert set(rg["Cohort"]) == {cohorts["development"], cohorts["external_1"]}
    model = pd.read_csv(supp.tables["tbl-survival-model"])
    assert list(model["Term"]) == ["Rad-score (linear predictor)", "Age"]
    for text in (main.markdown, supp.markdown):
        assert "external_1" not in text and "age_years" not in text
    assert "Age" in main.markdown  # the Cox model's predictor in the first paragraph
    values = survival_tripod_values(res)
    assert "Training cohort: Harrell's C" in values["performance"]


def test_risk_group_reference_and_a_cohort_of_one_group(tmp_path: Path) -> None:
    res = _results(("development", "external_1"), all_high=("external_1",))
    rows = res["survival"]["risk_groups"]
    assert [r["group"] for r in rows if r["cohort"] == "external_1"] == ["high risk"]
    _main, supp, _ = _build(res, tmp_path)
    assert supp is not None
    rg = pd.read_csv(supp.tables["tbl-survival-risk-groups"], dtype=str)
    dev = rg[rg["Cohort"] == "development"].set_index("Risk group")
    assert dev.loc["low risk", "HR (95% CI)"] == "1 (reference)"
    high = next(r for r in rows if r["cohort"] == "development" and r["group"] == "high risk")
    assert dev.loc["high risk", "HR (95% CI)"] == fmt_ci(high["hr"], high["hr_ci_low"],
                                                          high["hr_ci_high"])
    # every patient high risk: no hazard ratio, not a reference group
    ext = rg[rg["Cohort"] == "external_1"]
    assert list(ext["HR (95% CI)"]) == ["–"]


def test_hostile_text_is_escaped_in_markdown_and_figures(tmp_path: Path) -> None:
    res = _results()
    main, supp, ctx = _build(res, tmp_path)
    assert main is not None and supp is not None
    for text in (main.markdown, supp.markdown):
        assert HOSTILE not in text and "<script>" not in text
        assert "{{<" not in text and not re.search(r"^\s*(```|~~~)", text, re.M)
        assert md_text(HOSTILE) in text
    # figure labels: mathtext is escaped, so the text is drawn literally
    ax = td_auc_plot(ctx.data.survival_auc, time_unit="$months$")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("\\$\\input{x}\\$" in x for x in labels)
    assert "\\$months\\$" in ax.get_xlabel()


def test_figure_functions_draw_into_a_given_axes() -> None:
    from matplotlib.figure import Figure

    d = ReportData.build(_results(("internal", "external_1")))
    fig = Figure()
    axes = fig.subplots(1, 3)
    assert td_auc_plot(d.survival_auc, ax=axes[0]) is axes[0]
    grouped, curve = d.survival_calibration_grouped, d.survival_calibration_curve
    ax = survival_calibration_plot(grouped[grouped.horizon == 12.0],
                                   curve[curve.horizon == 12.0], ax=axes[1], title="12",
                                   labels={"internal": "Internal"})
    assert ax is axes[1] and len(ax.lines) >= 2 and ax.get_title() == "12"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Internal", "external_1"]
    dca = d.survival_decision
    ax = survival_decision_plot(dca[dca.horizon == 24.0], ax=axes[2])
    assert ax is axes[2] and len(ax.get_legend().get_texts()) == 2
    # one colour per cohort whatever the panel holds: ``order`` fixes it
    one = survival_decision_plot(dca[(dca.horizon == 24.0) & (dca.cohort == "external_1")],
                                 order=["internal", "external_1"])
    assert one.lines[0].get_color() == ax.lines[2].get_color()


def test_main_horizon_is_the_middle_one_assessed() -> None:
    res = _results(("development",))
    assert main_horizon(ReportData.build(res)) == 24.0
    surv = res["survival"]
    for key in ("calibration", "decision"):
        surv[key] = [r for r in surv[key] if r["horizon"] == 12.0]
    assert main_horizon(ReportData.build(res)) == 12.0
    surv["calibration"], surv["decision"] = [], []
    assert main_horizon(ReportData.build(res)) is None


def test_tripod_items_filled_from_the_run() -> None:
    res = _results(("development", "external_1"))
    values = survival_tripod_values(res)
    typed = ResultsFile.from_data(res)
    assert survival_tripod_values(typed) == values == \
        survival_tripod_values(ReportData.build(typed))
    tri = time_to_event_items(typed, values).set_index("item")
    items = [i["item"] for i in load_items() if "time_to_event" in i]
    assert list(tri.index) == items and {"8a", "12e", "20a", "22", "23a"} <= set(items)
    assert (tri["status"] != "needs author input").all()
    assert "12, 24 months" in tri.loc["8a", "text"]
    assert "S0(12) = 0.8000" in tri.loc["22", "text"]
    dev = next(r for r in res["survival"]["summary"] if r["cohort"] == "development")
    assert f"{dev['events']} events in {dev['n']} patients" in tri.loc["20a", "text"]
    assert str(res["internal_validation"]["n_resamples"]) in tri.loc["12c", "text"]
    # every template field has a value (no placeholder dash, no brace left)
    fields = {f for i in load_items() if "time_to_event" in i
              for _, f, _, _ in string.Formatter().parse(i["time_to_event"]["text"]) if f}
    assert fields <= set(values) and "{" not in " ".join(tri["text"])
    # without the survival block the items need the authors
    plain, _ = make_results(7, survival=False)
    assert survival_tripod_values(plain) == {}
    empty = time_to_event_items(plain, values)
    assert (empty["status"] == "needs author input").all() and (empty["text"] == "").all()


def test_results_of_an_older_run_degrade_to_a_short_section(tmp_path: Path) -> None:
    res, _ = make_results(7)  # survival: Kaplan-Meier and summary only
    assert res["survival"].get("horizons") is None
    main, supp, _ = _build(res, tmp_path)
    assert main is not None and "{#sec-survival-validation}" in main.markdown
    assert not main.figures and set(main.tables) == {"tbl-survival-discrimination"}
    assert "sec-survival-detail" not in main.markdown  # nothing but the checklist there
    assert supp is not None and not supp.figures
    assert set(supp.tables) == {"tbl-survival-tripod"}
    disc = pd.read_csv(main.tables["tbl-survival-discrimination"], dtype=str)
    assert list(disc.columns) == ["Cohort", "n (events)", "Harrell's C (95% CI)",
                                  "Uno's C (95% CI)"]
    assert list(disc["Harrell's C (95% CI)"]) == ["0.66", "0.66"]
    plain, _ = make_results(7, survival=False)
    assert _build(plain, tmp_path)[:2] == (None, None)


def test_hostile_sections_parse_without_code_raw_or_math(tmp_path: Path) -> None:
    """pandoc reads the sections with hostile cohort names: no code, raw, math or note."""
    pytest.importorskip("pypandoc")
    from .test_injection import check_qmd

    main, supp, _ = _build(_results(), tmp_path)
    assert main is not None and supp is not None
    qmd = tmp_path / "section.qmd"
    # the secondary endpoint's heading and figure are what the main part refers to
    qmd.write_text("# Secondary endpoint {#sec-survival}\n\n![KM](k.png){#fig-km}\n\n"
                   + main.markdown + "\n" + supp.markdown, encoding="utf-8")
    check_qmd(qmd)


def test_optimism_rows_without_horizon(tmp_path: Path) -> None:
    """C-index rows carry no horizon: when no AUC row is present the horizon column holds only
    None (as read back from results.json) and the table still names each index."""
    res = _results()
    res["survival"]["optimism"] = [r for r in res["survival"]["optimism"]
                                   if r["metric"] != "auc"]
    assert all(r["horizon"] is None for r in res["survival"]["optimism"])
    main, supp, _ = _build(res, tmp_path)
    assert main is not None and supp is not None
    table = pd.read_csv(supp.tables["tbl-survival-optimism"])
    assert list(table["Index"]) == ["Harrell's C", "Uno's C"]
    assert "Harrell's C was 0.68 and Uno's C 0.67 in the development cohort" \
        in main.markdown


def test_the_report_places_and_links_both_parts(tmp_path: Path) -> None:
    """Through the report's registry: the validation follows the Kaplan-Meier section in
    the main report, the detail sits in the supplement before the checklists, and the
    main report's references to it become links into the supplement."""
    from radval.report.document import build_report

    res = _results(("development", "external_1"))
    parts = build_report(res, None, tmp_path, jobs=1)
    assert parts.supplement is not None
    main, supp = parts.qmd, parts.supplement
    assert main.index("{#sec-survival}") < main.index("{#sec-survival-validation}") \
        < main.index("# References")
    assert "{#sec-survival-detail}" not in main and "{#tbl-survival-tripod}" in supp
    assert supp.index("{#sec-subgroups}") < supp.index("{#sec-survival-detail}") \
        < supp.index("{#sec-checklists}")
    assert "@tbl-survival-optimism" not in main
    assert re.search(r"\[Supplementary Table S\d+\]\(supplement\.html#tbl-survival-optimism\)",
                     main)
    assert re.search(r"\[Section \d+(\.\d+)* of the main report\]\(report\.html"
                     r"#sec-survival-validation\)", supp)


def test_what_is_not_estimable_is_explained(tmp_path: Path) -> None:
    res = _results(("development", "external_1"))
    surv = res["survival"]
    surv["summary"][1]["median_follow_up"] = None
    auc = next(r for r in surv["time_dependent_auc"]
               if r["cohort"] == "development" and r["horizon"] == 12.0)
    auc.update(auc=None, se=None, ci_low=None, ci_high=None, undefined_reason="no case")
    main, _supp, _ = _build(res, tmp_path)
    assert main is not None
    disc = pd.read_csv(main.tables["tbl-survival-discrimination"], dtype=str)
    assert list(disc["Median follow-up, months"])[1] == "–"
    assert disc.loc[0, "AUC at 12 months (95% CI)"] == "–"
    note = main.markdown.split("::: {.table-note}")[1].split(":::")[0]
    assert "AUC at 12 months in development\\: no case" in note
    assert "median follow-up in external\\_1" in note
