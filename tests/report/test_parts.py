"""Report building blocks: formatting, tables, checklists, qmd text (no rendering)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from radval.report import tables as T
from radval.report._escape import md_text
from radval.report.ibsi import extraction_params, ibsi_items
from radval.report.rqs import rqs_items
from radval.report.tripod import tripod_checklist

from .fixtures import make_results, make_run_dir


@pytest.fixture(scope="module")
def results() -> dict:
    return make_results(7)[0]


def test_formatting() -> None:
    assert T.fmt_ci(0.8123, 0.7711, 0.8534) == "0.81 (0.77–0.85)"
    assert T.fmt_ci(0.8, None, 0.9) == "0.80"
    assert T.fmt_ci(None, 0.1, 0.2) == "–"
    assert T.fmt_p(0.0004) == "<0.001"
    assert T.fmt_p(0.0123) == "0.012"
    assert T.fmt_p(0.456) == "0.46"
    assert T.fmt_p(float("nan")) == "–"
    assert T.fmt_num(1.23456, 3) == "1.235"


def test_to_pipe_is_a_captioned_pandoc_table() -> None:
    df = pd.DataFrame({"a|b": ["x|y", "z"], "n": [1, 2]})
    text = T.to_pipe(df, "My caption.", "tbl-x")
    lines = text.strip().splitlines()
    assert lines[0] == "| a\\|b | n |"
    assert re.fullmatch(r"\|:-+\|:-+\|", lines[1])
    assert lines[-1] == ": My caption. {#tbl-x}"
    with pytest.raises(ValueError, match="tbl-"):
        T.to_pipe(df, "c", "x")


def test_performance_table_reads_results(results: dict) -> None:
    tab = T.performance_table(results)
    perf = [r for r in results["performance"] if r["subgroup"] == "all"]
    assert len(tab) == len(perf)
    first = perf[0]
    row = tab[(tab["Cohort"] == first["cohort"])
              & (tab["Model"] == T.model_labels(results)[first["model"]])].iloc[0]
    assert row["AUC (95% CI)"] == T.fmt_ci(first["auc"], first["auc_ci_low"],
                                           first["auc_ci_high"])
    sens = next(r for r in results["threshold_metrics"] if r["cohort"] == first["cohort"]
                and r["model"] == first["model"] and r["metric"] == "sensitivity")
    assert row["Sensitivity"] == T.fmt_ci(sens["estimate"], sens["ci_low"], sens["ci_high"])
    assert list(tab.columns[-5:]) == ["Accuracy", "Sensitivity", "Specificity", "PPV", "NPV"]


def test_baseline_wide_has_one_column_per_cohort(results: dict) -> None:
    tab = T.baseline_table_wide(results)
    cohorts = [c["name"] for c in results["cohorts"]]
    for c in cohorts:
        assert any(col.startswith(c) for col in tab.columns)
    assert tab["Characteristic"].str.contains("mean ± SD").any()
    assert tab["Characteristic"].str.contains("median").any()
    assert "— G2" in set(tab["Characteristic"])


def test_missing_parts_give_empty_tables() -> None:
    for fn in (T.performance_table, T.comparison_table, T.calibration_table,
               T.baseline_table_wide, T.funnel_table, T.coefficients_table,
               T.subgroup_table, T.survival_table, T.optimism_table, T.flow_table):
        assert fn({}).empty


def test_tripod_statuses(results: dict) -> None:
    full = tripod_checklist(results)
    assert len(full) == 52
    assert set(full["status"]) <= {"reported", "partly", "needs author input"}
    # items that only the authors can fill never count as reported
    for item in ("3a", "17", "18a", "19", "25"):
        assert full.loc[full["item"] == item, "status"].item() == "needs author input"
    assert full.loc[full["item"] == "20a", "status"].item() == "reported"
    assert full.loc[full["item"] == "20a", "where"].item() == "sec-flow"
    minimal = tripod_checklist({"performance": results["performance"]})
    assert minimal.loc[minimal["item"] == "20a", "status"].item() == "needs author input"
    assert (minimal["status"] == "reported").sum() < (full["status"] == "reported").sum()


def test_rqs_follows_cohort_structure(results: dict) -> None:
    rq = rqs_items(results).set_index("item")
    assert rq.loc["12", "points"] == 4          # two external cohorts
    assert rq.loc["5", "points"] == 3
    assert rq.loc["13", "points"] == 2 and rq.loc["14", "points"] == 2
    assert rq.loc["2", "points"] == 1
    assert pd.isna(rq.loc["11", "points"])       # prospective registration: authors
    one = dict(results, cohorts=[c for c in results["cohorts"]
                                 if c["role"] != "external_validation"])
    assert rqs_items(one).set_index("item").loc["12", "points"] == 2
    none = rqs_items({"cohorts": [{"name": "d", "role": "development"}]}).set_index("item")
    assert none.loc["12", "points"] == -5 and none.loc["5", "points"] == -3


def test_ibsi_reads_parameter_file(results: dict) -> None:
    params = extraction_params(results["extraction"])  # nested {radiomics: {params_yaml}}
    assert params is not None and params["setting"]["binWidth"] == 25
    ib = ibsi_items(results)
    disc = ib[ib["item"] == "discretisation"].iloc[0]
    assert disc["value"].startswith("25") and disc["source"] == "parameter file"
    reseg = ib[ib["item"] == "re-segmentation"].iloc[0]
    assert reseg["value"] == "-150 × 250"
    assert ibsi_items({}).empty
    counted = ibsi_items({"extraction": {"params_text": "setting:\n  binCount: 32\n",
                                         "version": "3.0.1"}})
    assert "32 bins" in counted[counted["item"] == "discretisation"].iloc[0]["value"]


def _refs_and_labels(qmd: str) -> tuple[set[str], set[str]]:
    refs = set(re.findall(r"(?<![\w{#])@((?:fig|tbl|sec)-[\w-]+)", qmd))
    labels = set(re.findall(r"\{#((?:fig|tbl|sec)-[\w-]+)", qmd))
    return refs, labels


@pytest.mark.parametrize("minimal", [False, True])
def test_qmd_refs_resolve_and_parts_degrade(tmp_path: Path, minimal: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.report import figures
    from radval.report.document import build_report

    run = make_run_dir(tmp_path, minimal=minimal)
    results = json.loads((run / "results.json").read_text())
    pred = pd.read_parquet(run / "predictions.parquet")
    if not minimal:  # the full set in all formats is drawn by the slow render test
        monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
        monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 50)
    parts = build_report(results, pred, run / "report", jobs=1)
    refs, labels = _refs_and_labels(parts.qmd)
    assert refs and refs <= labels, refs - labels
    assert "```{python" not in parts.qmd and "```{r" not in parts.qmd
    for label, png in parts.figures.items():
        for ext in ("png", "svg", "pdf") if minimal else ("png",):
            assert png.with_suffix(f".{ext}").stat().st_size > 1000, (label, ext)
    for label, csv in parts.tables.items():
        assert len(pd.read_csv(csv)) > 0, label
    if minimal:
        assert "not part of this run" in parts.qmd.lower()
        # a site run has a patient flow, but no nomogram, survival or selection
        assert "fig-roc" in parts.figures and "fig-flow" in parts.figures
        assert not {"fig-nomogram", "fig-km", "fig-lasso-radiomics"} & set(parts.figures)
    else:
        assert {"fig-roc", "fig-calibration", "fig-dca", "fig-forest", "fig-nomogram",
                "fig-km", "fig-flow", "fig-scores", "fig-lasso-radiomics",
                "fig-instability"} <= set(parts.figures)
        assert "tbl-stability" in parts.tables
        assert "only the number of deep features selected is comparable" in parts.qmd
        assert "::: {.callout-warning}" in parts.qmd
        assert "rad-score = " in parts.qmd


@pytest.mark.parametrize("shape", ["pipeline", "flat"])
def test_nomogram_accepts_both_shapes(tmp_path: Path, shape: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.report import figures

    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 40)
    if shape == "pipeline":
        nomo = make_results(7)[0]["nomogram"]
    else:
        nomo = {"variables": [{"name": "x", "values": [0, 1], "points": [0, 100]}],
                "total_points": [0, 50, 100], "probability": [0.2, 0.8],
                "probability_points": [10, 90]}
    assert figures.nomogram_figure({"nomogram": nomo}, tmp_path).is_file()
    assert figures.nomogram_figure({"nomogram": {"predictors": []}}, tmp_path) is None
    assert figures.nomogram_figure({}, tmp_path) is None


def test_undefined_comparisons_are_summarised(results: dict) -> None:
    comps = [dict(c) for c in results["comparisons"]]
    for c in comps:
        if c["cohort"] == "internal":
            c.update(p_value=None, p_adjusted=None, statistic=None,
                     undefined_reason="too few events.")
    r = dict(results, comparisons=comps)
    tab = T.comparison_table(r)
    assert "internal" not in set(tab["Cohort"]) and len(tab) == len(comps) - 6
    assert T.undefined_comparisons(r) == ["6 comparison(s) in internal are undefined: "
                                          "too few events."]
    assert T.undefined_comparisons(results) == []


def test_methods_state_what_the_optimism_bootstrap_refitted(results: dict) -> None:
    from radval.report.methods import methods_markdown

    retrained = {**results, "internal_validation": {
        "refitted": ["feature selection of radiomics, deep (...)", "every model: deep",
                     "deep network (trained again on each resample)",
                     "scikit-learn comparison classifiers"], "not_refitted": []}}
    text, _ = methods_markdown(retrained)
    para = next(p for p in text.split("\n\n") if "Internal validation" in p)
    assert "deep network was trained again on each resample" in para
    assert "comparison classifiers were refitted" in para
    assert "not refitted" not in para
    fixed = {**results, "internal_validation": {
        "refitted": ["feature selection of radiomics, deep (...)"],
        "not_refitted": ["deep network: evaluation.optimism_deep is 'fixed'"]}}
    para = next(p for p in methods_markdown(fixed)[0].split("\n\n")
                if "Internal validation" in p)
    assert "trained again" not in para
    # input text enters the markdown escaped (radval.report._escape.md_text)
    assert ("not refitted: " + md_text("deep network: evaluation.optimism_deep is 'fixed'")
            in para)
    assert "misses its optimism" in para


def test_methods_follow_the_selection_settings(results: dict) -> None:
    import copy

    from radval.report.methods import methods_markdown

    r = copy.deepcopy(results)
    study = r.setdefault("provenance", {}).setdefault("study", {})
    study["selection"] = {"icc_type": "ICC3", "icc_threshold": 0.8, "fdr": True,
                          "p_threshold": 0.1, "corr_threshold": 0.85, "n_folds": 5,
                          "lasso_rule": "min"}
    para = next(p for p in methods_markdown(r)[0].split("\n\n") if "Feature selection" in p)
    assert "two-way mixed effects, consistency, single rater, ICC(3,1)) not above 0.8" in para
    assert "Benjamini-Hochberg q < 0.1" in para
    assert "|Spearman ρ| > 0.85" in para and "5-fold" in para and "λ rule min" in para


def test_stability_table_and_selection_size(results: dict) -> None:
    tab = T.stability_table(results, n_other=3)
    final = [r["feature"] for r in results["selection"]["radiomics"]["coefficients"][1:]]
    freq = {r["feature"]: r["frequency"] for r in results["stability"]["selection_frequency"]}
    rad = tab[tab.Family == "Radiomics"]
    assert list(rad.Feature[:len(final)]) == final
    assert (rad["In the final signature"][:len(final)] == "yes").all()
    others = sorted((f for f in freq if f not in final), key=lambda f: -freq[f])[:3]
    assert list(rad.Feature[len(final):]) == others
    for rec in rad.to_dict(orient="records"):
        assert rec["Selected in"] == f"{100 * freq.get(rec['Feature'], 0):.0f}%"
    text = T.selection_size_text(results)
    assert text == ("In the optimism bootstrap, the selection kept a median of 4 (range 2–8) "
                    "radiomics features and a median of 1 (range 1–3) deep features.")
    assert T.stability_table({}).empty and T.selection_size_text({}) == ""
