"""Report building blocks on the typed results: formatting, labels, Table 1, tables,
checklists, the section registry and the qmd text (no rendering)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from radval.contracts import ResultsFile
from radval.report import tables as T
from radval.report._data import LabelSet, ReportData
from radval.report._escape import md_text
from radval.report._table1 import baseline_table
from radval.report.ibsi import extraction_params, ibsi_items
from radval.report.rqs import rqs_items
from radval.report.tripod import tripod_checklist

from .fixtures import make_results, make_run_dir


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return make_results(7, labels=True)[0]


@pytest.fixture(scope="module")
def data(raw: dict[str, Any]) -> ReportData:
    res, pred = make_results(7, labels=True)
    return ReportData.build(res, pred)


@pytest.fixture(scope="module")
def plain() -> ReportData:
    """The same run without any label in the study file."""
    res, pred = make_results(7)
    return ReportData.build(res, pred)


def _minimal() -> ReportData:
    res, _ = make_results(7, survival=False)
    keep = ("schema_version", "radval_version", "created", "provenance", "study", "cohorts",
            "performance", "threshold_metrics", "calibration", "curves", "models",
            "patient_flow", "warnings", "cutoffs", "extraction", "methods")
    res = {k: v for k, v in res.items() if k in keep}
    res.update(comparisons=[], subgroups=[], heterogeneity=[], bundle=None,
               curves={k: [] for k in res["curves"]}, extraction={})
    return ReportData.build(res)


# ------------------------------------------------------------------------- formatting
def test_formatting_is_what_journals_print() -> None:
    assert T.fmt_ci(0.8123, 0.7711, 0.8534) == "0.81 (0.77–0.85)"
    assert T.fmt_ci(0.04, -0.03, 0.11) == "0.04 (-0.03 to 0.11)"
    assert T.fmt_ci(0.04, 0.01, 0.11, to=True) == "0.04 (0.01 to 0.11)"
    assert T.fmt_ci(0.8, None, 0.9) == "0.80"
    assert T.fmt_ci(None, 0.1, 0.2) == "–"
    # p: <0.001, else two significant digits (trailing zeros kept)
    for p, text in ((0.0004, "<0.001"), (0.001, "0.0010"), (0.0123, "0.012"),
                    (0.05, "0.050"), (0.456, "0.46"), (0.0999, "0.10"), (0.999, "1.0"),
                    (1.0, "1.0"), (float("nan"), "–"), (None, "–")):
        assert T.fmt_p(p) == text, p
    assert T.fmt_p_eq(0.0004) == "p < 0.001" and T.fmt_p_eq(0.21) == "p = 0.21"
    assert T.fmt_num(1.23456, 3) == "1.235"
    assert T.fmt_num(-0.0004) == "0.00" and T.fmt_num(-0.006) == "-0.01"


def test_to_pipe_is_a_captioned_pandoc_table() -> None:
    df = pd.DataFrame({"a|b": ["x|y", "z"], "n": [1, 2]})
    text = T.to_pipe(df, "My caption.", "tbl-x")
    lines = text.strip().splitlines()
    assert lines[0] == "| a\\|b | n |"
    assert re.fullmatch(r"\|:-+\|:-+\|", lines[1])
    assert lines[-1] == ": My caption. {#tbl-x}"
    with pytest.raises(ValueError, match="tbl-"):
        T.to_pipe(df, "c", "x")


def test_markdown_cells_keep_one_column_each() -> None:
    """Cells already escaped (md_text) or built by radval stay one cell: a pipe is escaped
    once, never twice (an escaped backslash before a live pipe would split the cell)."""
    import subprocess

    pypandoc = pytest.importorskip("pypandoc")
    texts = ["a | b", "x\\|y", "p\\\\|q", "ends with \\"]
    df = pd.DataFrame({"md": [md_text(t) for t in texts], "raw": ["r|s", "t\\|u", "v", "w"]})
    out = subprocess.run([pypandoc.get_pandoc_path(), "-f", "markdown", "-t", "json"],
                         input=T.to_pipe(df, "c", "tbl-x", raw=["md", "raw"]),
                         capture_output=True, text=True, check=True).stdout
    table = next(b for b in json.loads(out)["blocks"] if b["t"] == "Table")
    body = table["c"][4][0][3]
    assert len(body) == 4 and all(len(row[1]) == 2 for row in body)
    assert "|" in json.dumps(body[0][1][0])


# ----------------------------------------------------------------------------- labels
def test_labels_fall_back_to_the_names(data: ReportData, plain: ReportData) -> None:
    lab = data.labels
    assert lab.variable("age_years") == "Age, years"
    assert lab.variable("age_years", unit=False) == "Age"
    assert lab.level("sex", "female") == "Female" and lab.level("sex", "other") == "other"
    assert lab.level("ln_metastasis", 1) == "yes" and lab.level("ln_metastasis", 1.0) == "yes"
    assert lab.model("nomogram") == "Radiomics nomogram"
    assert lab.model("combined") == "combined"  # not in the study file, nor in models
    assert lab.cohort("external_1") == "External cohort A"
    assert lab.subgroup("tumour size") == "Tumour size"
    # no text for the levels: the rule written with the variable's label and unit
    assert lab.subgroup_level("tumour size", "< 20 mm") == "Tumour size < 20 mm"
    assert lab.subgroup_level("tumour size", ">= 20 mm") == "Tumour size ≥ 20 mm"
    assert lab.relabel("vascular age_years is known; age_years_2 not") == \
        "vascular Age is known; age_years_2 not"
    # without labels every name is shown as it is; models keep radval's own labels
    p = plain.labels
    assert p.variable("age_years") == "age_years" and p.level("sex", "female") == "female"
    assert p.cohort("external_1") == "external_1"
    assert p.model("nomogram") == "Combined nomogram"
    assert p.subgroup_level("tumour size", "< 20 mm") == "< 20 mm"
    assert p.relabel("age_years") == "age_years"


def test_binary_variables_are_recognised_by_code_or_label() -> None:
    from radval.contracts._results import Labels

    labels = Labels(variables={
        "vi": {"label": "Vascular invasion", "unit": None, "levels": {"0": "no", "1": "yes"},
               "kind": "categorical"},
        "sex": {"label": "Sex", "unit": None, "levels": {"F": "female", "M": "male"},
                "kind": "categorical"},
        "flag": {"label": None, "unit": None, "levels": {"A": "absent", "B": "present"},
                 "kind": "categorical"}}, subgroups={}, models={}, cohorts={})
    lab = LabelSet(labels)
    assert lab.binary_level("vi", ["0", "1"]) == "1"
    assert lab.binary_level("vi", ["1", "0"]) == "1"
    assert lab.binary_level("flag", ["A", "B"]) == "B"
    assert lab.binary_level("other", ["no", "yes"]) == "yes"
    assert lab.binary_level("other", ["True", "False"]) == "True"
    assert lab.binary_level("sex", ["F", "M"]) is None
    assert lab.binary_level("vi", ["0", "1", "2"]) is None


# ---------------------------------------------------------------------------- Table 1
def test_table1_with_labels(data: ReportData, raw: dict[str, Any]) -> None:
    plain, markdown, notes = baseline_table(data)
    chars = list(plain["Characteristic"])
    assert chars[0] == "Age, years, mean ± SD"
    assert "Tumour size, mm, median [IQR]" in chars
    assert "Sex, n (%)" in chars and "    Female" in chars and "    Male" in chars
    assert "    grade 2" in chars
    # the outcome is binary: one line with the count of "yes"
    row = plain[plain["Characteristic"] == "Lymph-node metastasis, n (%)"].iloc[0]
    dev = next(c for c in plain.columns if c.startswith("Training cohort"))
    assert dev == "Training cohort (n = 160)"
    yes = next(r for r in raw["baseline"] if r["variable"] == "ln_metastasis"
               and r["level"] == "1" and r["cohort"] == "development")
    assert row[dev] == f"{int(yes['stat_1'])} ({yes['percent']:.1f})"
    assert not any(c.strip() in ("0", "1") for c in chars)
    # p-values as journals print them, each with the letter of its test
    age = next(r for r in raw["baseline"] if r["variable"] == "age_years")
    assert plain.iloc[0]["p"] == T.fmt_p(age["p_value"])
    assert markdown.iloc[0]["p"] == md_text(T.fmt_p(age["p_value"])) + "^a^"
    assert notes[0] == ("a", "Welch's one-way ANOVA")
    assert {n[1] for n in notes} == {"Welch's one-way ANOVA", "Kruskal-Wallis test",
                                     "Pearson's chi-square test"}
    assert markdown.iloc[2]["Characteristic"].startswith("\\ \\ \\ \\ ")


def test_table1_without_labels_shows_column_names(plain: ReportData) -> None:
    tab, _, _ = baseline_table(plain)
    chars = list(tab["Characteristic"])
    assert chars[0] == "age_years, mean ± SD"
    assert "sex, n (%)" in chars and "    female" in chars
    # 0/1 is still read as absent/present
    assert "ln_metastasis, n (%)" in chars and "    0" not in chars
    assert any(c.startswith("development (n = 160)") for c in tab.columns)


# ----------------------------------------------------------------------------- tables
def test_performance_table_reads_the_typed_results(data: ReportData,
                                                   raw: dict[str, Any]) -> None:
    tab = T.performance_table(data)
    perf = [r for r in raw["performance"] if r["subgroup"] == "all"]
    assert len(tab) == len(perf)
    first = perf[0]
    row = tab[(tab["Cohort"] == data.labels.cohort(first["cohort"]))
              & (tab["Model"] == data.labels.model(first["model"]))].iloc[0]
    assert row["AUC (95% CI)"] == T.fmt_ci(first["auc"], first["auc_ci_low"],
                                           first["auc_ci_high"])
    sens = next(r for r in raw["threshold_metrics"] if r["cohort"] == first["cohort"]
                and r["model"] == first["model"] and r["metric"] == "sensitivity")
    assert row["Sensitivity"] == T.fmt_ci(sens["estimate"], sens["ci_low"], sens["ci_high"])
    assert list(tab.columns[-4:]) == ["Sensitivity", "Specificity", "PPV", "NPV"]
    full = T.performance_table(data, accuracy=True, bootstrap=True)
    assert "Accuracy" in full and "AUC bootstrap CI" in full and "Cut-off" in full
    main = T.performance_table(data, ["nomogram"], cutoff=False, n_in_cohort=True)
    assert set(main["Model"]) == {"Radiomics nomogram"} and "Cut-off" not in main
    assert "n (events)" not in main
    assert main.iloc[0]["Cohort"] == "Training cohort, n = 160 (61 events)"
    shown = T.grouped(main, "Cohort")
    assert list(shown["Cohort"]).count("") == 0  # one row per cohort: nothing repeated
    shown = T.grouped(tab, "Cohort")
    assert (shown["Cohort"] != "").sum() == len(data.cohorts)


def test_internal_validation_table(data: ReportData, raw: dict[str, Any]) -> None:
    tab = T.internal_validation_table(data, data.primary_models)
    assert list(tab["Model"]) == [data.labels.model(m) for m in data.primary_models]
    rec = next(r for r in raw["optimism"] if r["model"] == "nomogram" and r["metric"] == "auc")
    row = tab[tab["Model"] == "Radiomics nomogram"].iloc[0]
    assert row["AUC, corrected"] == T.fmt_num(rec["corrected"])
    assert row["Resamples"] == "200"
    assert T.internal_validation_table(_minimal()).empty


def test_comparisons_key_table_and_matrix(data: ReportData, raw: dict[str, Any]) -> None:
    key = T.key_comparison_table(data)
    assert list(key["Comparison"]) == ["Radiomics nomogram vs Rad-score",
                                       "Radiomics nomogram vs DL-score",
                                       "Radiomics nomogram vs Clinical model"]
    rec = next(c for c in raw["comparisons"] if c["cohort"] == "external_1"
               and c["model_a"] == "radiomics" and c["model_b"] == "nomogram")
    # stored as radiomics - nomogram: shown as nomogram - radiomics
    lo, hi = sorted((-rec["ci_low"], -rec["ci_high"]))
    assert key.iloc[0]["External cohort A"] == (
        f"{T.fmt_ci(-rec['difference'], lo, hi, to=True)}; {T.fmt_p_eq(rec['p_adjusted'])}")
    mat = T.comparison_matrix(data, "external_1")
    assert list(mat["Model"]) == ["Rad-score", "DL-score", "Clinical model"]
    assert list(mat.columns[1:]) == ["DL-score", "Clinical model", "Radiomics nomogram"]
    cell = mat.set_index("Model").loc["Rad-score", "Radiomics nomogram"]
    assert cell == f"{rec['difference']:+.2f} ({T.fmt_p(rec['p_adjusted'])})"
    assert mat.set_index("Model").loc["Clinical model", "DL-score"] == ""
    n_models = len(data.models)
    assert sum(v != "" for v in mat.drop(columns="Model").to_numpy().ravel()) == \
        n_models * (n_models - 1) // 2


def test_undefined_comparisons_are_summarised(raw: dict[str, Any]) -> None:
    r = copy.deepcopy(raw)
    for c in r["comparisons"]:
        if c["cohort"] == "internal":
            c.update(p_value=None, p_adjusted=None, statistic=None,
                     undefined_reason="too few events.")
    d = ReportData.build(r)
    assert T.undefined_comparisons(d) == ["6 comparison(s) in Internal test cohort are "
                                          "undefined: too few events."]
    assert T.comparison_matrix(d, "internal").iloc[0]["DL-score"] == "undefined"
    assert T.undefined_comparisons(ReportData.build(raw)) == []


def test_missing_parts_give_empty_tables() -> None:
    d = _minimal()
    for fn in (T.funnel_table, T.coefficients_table, T.subgroup_table, T.survival_table,
               T.optimism_table, T.stability_table, T.key_comparison_table,
               T.missing_table, T.internal_validation_table):
        assert fn(d).empty, fn.__name__
    assert T.comparison_matrix(d, "external_1").empty
    assert baseline_table(d)[0].empty
    assert T.selection_size_text(d) == ""
    assert not T.performance_table(d).empty


def test_stability_table_and_selection_size(data: ReportData, raw: dict[str, Any]) -> None:
    tab = T.stability_table(data, n_other=3)
    final = raw["selection"]["radiomics"]["selected"]
    freq = {r["feature"]: r["frequency"] for r in raw["stability"]["selection_frequency"]}
    rad = tab[tab.Family == "Radiomics"]
    assert list(rad.Feature[:len(final)]) == final
    assert (rad["In the final signature"][:len(final)] == "yes").all()
    others = sorted((f for f in freq if f not in final), key=lambda f: -freq[f])[:3]
    assert list(rad.Feature[len(final):]) == others
    for rec in rad.to_dict(orient="records"):
        assert rec["Selected in"] == f"{100 * freq.get(rec['Feature'], 0):.0f}%"
    assert T.selection_size_text(data) == (
        "In the optimism bootstrap, the selection kept a median of 4 (range 2–8) radiomics "
        "features and a median of 1 (range 1–3) deep learning features.")


def test_predictor_labels(data: ReportData) -> None:
    assert T.predictor_label(data, "sex[male]") == "Sex: Male"
    assert T.predictor_label(data, "age_years") == "Age"
    assert T.predictor_label(data, "rad_score") == "Rad-score"
    assert T.predictor_label(data, "signature") == "Radiomics nomogram"
    assert T.predictor_label(data, "unknown[x]") == "unknown[x]"


# ------------------------------------------------------------------------- checklists
@pytest.mark.parametrize("key,n", [("tripod", 52), ("clear", 58), ("metrics", 30)])
def test_checklist_templates(key: str, n: int) -> None:
    from radval.report._checklists import load_checklist

    doc = load_checklist(key)
    items = doc["items"]
    assert len(items) == n and doc["citation"] and doc["version"]
    assert [str(i["item"]).rstrip("abcdefg") for i in items] == sorted(
        (str(i["item"]).rstrip("abcdefg") for i in items), key=int)
    assert all(i["fill"] in {"A", "P", "H"} for i in items)
    assert all(i.get("evidence") for i in items if i["fill"] == "A")


def _resolves(model: Any, path: str) -> bool:
    """Whether ``path`` names fields of the typed definition (mapping keys: any)."""
    import typing

    from pydantic import BaseModel

    tp: Any = model
    for part in path.split("."):
        name = part.partition("=")[0]
        # unwrap Optional / list / dict to the record type
        while True:
            origin = typing.get_origin(tp)
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if origin in (list,) and args:
                tp = args[0]
            elif origin is dict and args:
                tp = ("dict", args[1])
            elif origin is not None and args and origin is not dict:
                tp = args[0]
            else:
                break
        if isinstance(tp, tuple):   # a mapping: the part is a key (a family name)
            tp = tp[1]
            continue
        if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
            return False
        field = tp.model_fields.get(name)
        if field is None:
            return False
        tp = field.annotation
    return True


@pytest.mark.parametrize("key", ["tripod", "clear", "metrics"])
def test_every_evidence_path_names_a_field_of_the_results(key: str) -> None:
    from radval.report._checklists import load_checklist

    for it in load_checklist(key)["items"]:
        ev = it.get("evidence")
        # a list gives alternatives (the first present wins), each must name a field; so must
        # the time-to-event addition of a TRIPOD+AI item
        tte = it.get("time_to_event") or {}
        for path in [*(ev if isinstance(ev, list) else [ev] if ev else []),
                     *([tte["evidence"]] if tte.get("evidence") else [])]:
            assert _resolves(ResultsFile, path), (key, it["item"], path)
        if isinstance(ev, list) and isinstance(it.get("report_section"), list):
            assert len(ev) == len(it["report_section"]), (key, it["item"])


def test_checklist_statuses(data: ReportData) -> None:
    from radval.report._checklists import STATUSES, checklist_status

    full = tripod_checklist(data)
    assert len(full) == 52 and set(full["status"]) <= set(STATUSES)
    for item in ("3a", "17", "18a", "19", "25"):  # authors only: never reported
        assert full.loc[full["item"] == item, "status"].item() == "needs author input"
    assert full.loc[full["item"] == "20a", "status"].item() == "reported here"
    assert full.loc[full["item"] == "20a", "where"].item() == "sec-participants"
    minimal = tripod_checklist(_minimal())
    assert minimal.loc[minimal["item"] == "20b", "status"].item() == "needs author input"
    assert (minimal["status"] == "reported here").sum() < (full["status"] ==
                                                         "reported here").sum()
    clear = checklist_status("clear", data, sections={"sec-ibsi"}).frame
    assert clear.loc[clear["item"] == "23", "status"].item() == "reported here"
    assert clear.loc[clear["item"] == "23", "where"].item() == "sec-ibsi"
    assert clear.loc[clear["item"] == "44", "where"].item() == ""  # not in the sections
    metrics = checklist_status("metrics", data).frame
    assert metrics.loc[metrics["item"] == "27", "status"].item() == "reported here"
    no_ext = copy.deepcopy(data.results.to_data())
    no_ext["cohorts"] = [c for c in no_ext["cohorts"] if c["role"] != "external_validation"]
    m2 = checklist_status("metrics", ReportData.build(no_ext)).frame
    assert m2.loc[m2["item"] == "27", "status"].item() == "needs author input"
    assert m2.loc[m2["item"] == "4", "status"].item() == "needs author input"


def test_rqs_follows_cohort_structure(data: ReportData, raw: dict[str, Any]) -> None:
    rq = rqs_items(data).set_index("item")
    assert rq.loc["12", "points"] == 4          # two external cohorts
    assert rq.loc["5", "points"] == 3
    assert rq.loc["13", "points"] == 2 and rq.loc["14", "points"] == 2
    assert rq.loc["2", "points"] == 1
    assert pd.isna(rq.loc["11", "points"])       # prospective registration: authors
    one = dict(raw, cohorts=[c for c in raw["cohorts"] if c["role"] != "external_validation"])
    assert rqs_items(one).set_index("item").loc["12", "points"] == 2
    none = rqs_items(_minimal()).set_index("item")
    assert none.loc["5", "points"] == -3 and none.loc["14", "points"] == 0


def test_ibsi_reads_parameter_file(data: ReportData) -> None:
    params = extraction_params(data)
    assert params is not None and params["setting"]["binWidth"] == 25
    ib = ibsi_items(data)
    disc = ib[ib["item"] == "discretisation"].iloc[0]
    assert disc["value"].startswith("25") and disc["source"] == "parameter file"
    assert ib[ib["item"] == "re-segmentation"].iloc[0]["value"] == "-150 × 250"
    assert ibsi_items(_minimal()).empty
    counted = data.results.to_data()
    counted["extraction"] = {"radiomics": {"params_yaml": "setting:\n  binCount: 32\n",
                                           "pyradiomics_version": "3.0.1"}}
    ib = ibsi_items(counted)
    assert "32 bins" in ib[ib["item"] == "discretisation"].iloc[0]["value"]
    assert ib[ib["topic"] == "Software and version"].iloc[0]["value"] == "PyRadiomics 3.0.1"


# --------------------------------------------------------------------- methods text
def test_methods_state_what_the_optimism_bootstrap_refitted(raw: dict[str, Any]) -> None:
    from radval.report.methods import methods_markdown

    retrained = {**raw, "internal_validation": {**raw["internal_validation"], "refitted": [
        "feature selection of radiomics, deep (...)", "every model: deep",
        "deep network (trained again on each resample)",
        "scikit-learn comparison classifiers"], "not_refitted": []}}
    text = methods_markdown(ReportData.build(retrained))
    para = next(p for p in text.split("\n\n") if "Internal validation" in p)
    assert "deep network was trained again on each resample" in para
    assert "comparison classifiers were refitted" in para
    assert "not refitted" not in para
    fixed = {**raw, "internal_validation": {**raw["internal_validation"], "refitted": [
        "feature selection of radiomics, deep (...)"], "not_refitted": [
        "deep network: evaluation.optimism_deep is 'fixed'"]}}
    para = next(p for p in methods_markdown(ReportData.build(fixed)).split("\n\n")
                if "Internal validation" in p)
    assert "trained again" not in para
    assert ("not refitted: " + md_text("deep network: evaluation.optimism_deep is 'fixed'")
            in para)


def test_methods_follow_the_study_file(data: ReportData, raw: dict[str, Any]) -> None:
    from radval.report.methods import methods_markdown

    text = methods_markdown(data)
    para = next(p for p in text.split("\n\n") if "Feature selection" in p)
    assert "ICC(2,1)) not above 0.8" in para and "10-fold" in para
    pred = next(p for p in text.split("\n\n") if p.startswith("**Outcome and predictors"))
    assert "lymph-node metastasis (event: yes)" in pred
    assert "The clinical model used age, sex, tumour size." in pred
    assert "Age, years (numeric, known before surgery)" in pred
    assert "WHO grade (categorical, known after surgery)" in pred
    r = copy.deepcopy(raw)
    r["provenance"]["study"]["selection"] = {
        "icc_type": "ICC3", "icc_threshold": 0.7, "fdr": True, "p_threshold": 0.1,
        "corr_threshold": 0.85, "n_folds": 5, "lasso_rule": "min"}
    para = next(p for p in methods_markdown(ReportData.build(r)).split("\n\n")
                if "Feature selection" in p)
    assert "two-way mixed effects, consistency, single rater, ICC(3,1)) not above 0.7" in para
    assert "Benjamini-Hochberg q < 0.1" in para
    assert "|Spearman ρ| > 0.85" in para and "5-fold" in para and "λ rule min" in para


def test_citations_are_numbered_in_order_of_first_citation() -> None:
    from radval.report.methods import REFERENCES, cite, references_markdown, resolve_citations

    main = f"A {cite('wilson')} and {cite('delong', 'holm')}, again {cite('wilson')}."
    supp = f"S {cite('tripod')}\n\n{references_markdown()}"
    a, b = resolve_citations([main, supp])
    assert a == "A [1] and [2, 3], again [1]."
    assert b.startswith("S [4]")
    listing = b.split("\n\n")[1].splitlines()
    assert listing[0] == "1. " + md_text(REFERENCES["wilson"])
    assert len(listing) == 4
    with pytest.raises(ValueError, match="unknown reference"):
        cite("nope")


# ------------------------------------------------------------------ sections, documents
def _refs_and_labels(qmd: str) -> tuple[set[str], set[str]]:
    refs = set(re.findall(r"(?<![\w{#\\])@((?:fig|tbl|sec)-[a-z0-9-]*[a-z0-9])", qmd))
    labels = set(re.findall(r"\{#((?:fig|tbl|sec)-[\w-]+)", qmd))
    return refs, labels


@pytest.mark.parametrize("minimal", [False, True])
def test_documents_resolve_references_and_degrade(tmp_path: Path, minimal: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.report import figures
    from radval.report.document import build_report

    run = make_run_dir(tmp_path, minimal=minimal, labels=not minimal)
    results = json.loads((run / "results.json").read_text())
    pred = pd.read_parquet(run / "predictions.parquet")
    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 40)
    parts = build_report(results, pred, run / "report", jobs=1)
    assert parts.supplement is not None
    for text, other in ((parts.qmd, parts.supplement), (parts.supplement, parts.qmd)):
        refs, labels = _refs_and_labels(text)
        assert refs and refs <= labels, refs - labels   # the rest became links
        _, other_labels = _refs_and_labels(other)
        for m in re.finditer(r"\]\((report|supplement)\.html#([a-z0-9-]+)\)\{\.xref-ext\}",
                             text):
            assert m.group(2) in other_labels, m.group(2)
    assert "```" not in parts.qmd + parts.supplement
    for label, png in parts.figures.items():
        assert png.stat().st_size > 1000, label
    for label, csv in parts.tables.items():
        assert len(pd.read_csv(csv)) > 0, label
    supp_tables = parts.labels["supplement"]
    assert all(v.startswith(("Table S", "Figure S", "Section S")) for v in supp_tables.values())
    if minimal:
        assert "not part of this run" in (parts.qmd + parts.supplement).lower()
        assert "fig-roc" in parts.figures and "fig-flow" in parts.figures
        assert not {"fig-nomogram", "fig-km", "fig-lasso-radiomics"} & set(parts.figures)
        return
    main_figs = {"fig-roc", "fig-calibration", "fig-dca", "fig-nomogram", "fig-km",
                 "fig-flow"}
    assert main_figs <= set(parts.labels["main"])
    assert {"fig-forest", "fig-scores", "fig-lasso-radiomics", "fig-instability",
            "fig-funnel", "tbl-stability", "tbl-tripod", "tbl-clear", "tbl-metrics",
            "tbl-rqs", "tbl-ibsi", "tbl-performance-all",
            "tbl-delong-development"} <= set(parts.labels["supplement"])
    assert sum(k.startswith("tbl-delong-") for k in parts.labels["supplement"]) == 4
    assert "[Supplementary Table S" in parts.qmd
    assert "of the main report](report.html#" in parts.supplement
    assert "::: {.callout-warning}" in parts.qmd
    assert "only the number of deep features selected is comparable" in parts.supplement
    for raw_name in ("age_years", "tumour_size_mm", "external_1", "centre"):
        assert raw_name not in re.sub(r"\{#[^}]*\}|\(supplement\.html#[^)]*\)|figures/\S+",
                                      "", parts.qmd.replace("\\_", "_")), raw_name


def test_number_items_follows_the_filter_rules() -> None:
    from radval.report.document import number_items

    md = """# A {#sec-a}

::: {.callout-warning}
## Not counted
:::

## B {#sec-b}

| x |
|:--|
| 1 |

: Cap {#tbl-one}

![c](f.png){#fig-one width=50%}

# References {.unnumbered}

# C {#sec-c}

: Second {#tbl-two}
"""
    assert number_items(md, "S") == {"sec-a": "Section S1", "sec-b": "Section S1.1",
                                     "tbl-one": "Table S1", "fig-one": "Figure S1",
                                     "sec-c": "Section S2", "tbl-two": "Table S2"}


def test_registry_protocol(tmp_path: Path) -> None:
    """A section module is wired with one line; builders that fail or return nothing do
    not break the report; index builders see every section."""
    from radval.report._sections import (
        Section,
        SectionContext,
        SectionRegistry,
        SectionSpec,
        markdown_section,
    )

    data = ReportData.build(make_results(7)[0])
    seen: dict[str, set[str]] = {}

    def first(ctx: SectionContext) -> Section:
        w = ctx.writer()
        w.h(1, "First", "sec-first")
        w.table(pd.DataFrame({"a": ["x"]}), "tbl-first", "A table.")
        return w.section()  # type: ignore[return-value]

    def index(ctx: SectionContext) -> Section:
        seen["index"] = set(ctx.sections)
        return Section(markdown="# Index {#sec-index}\n")

    def broken(ctx: SectionContext) -> Section:
        raise RuntimeError("boom")

    reg = SectionRegistry()
    reg.add(SectionSpec(key="index", build=index, placement="supplement", order=1,
                        needs_index=True))
    reg.add(SectionSpec(key="first", build=first, placement="main", order=5))
    reg.add(markdown_section("legacy", lambda r, out: ("# Legacy {#sec-legacy}\n"
                                                      f"{md_text(r['study']['name'])}\n",
                                                      {}), placement="supplement", order=2))
    reg.add(SectionSpec(key="broken", build=broken, order=6))
    reg.add(SectionSpec(key="nothing", build=lambda ctx: None, order=7))
    assert [s.key for s in reg.specs()] == ["first", "broken", "nothing", "index", "legacy"]
    ctx = SectionContext(data, tmp_path)
    built = reg.build(ctx)
    assert [spec.key for spec, _ in built] == ["first", "broken", "index", "legacy"]
    assert seen["index"] >= {"sec-first", "sec-legacy"}
    assert "could not be written" in built[1][1].markdown and "boom" in built[1][1].markdown
    assert (tmp_path / "tables" / "tbl-first.csv").is_file()
    assert ctx.where["sec-legacy"] == "supplement"
    with pytest.raises(ValueError, match="placement"):
        reg.add(SectionSpec(key="x", build=first, placement="appendix"))  # type: ignore[arg-type]


def test_log_axis_tick_labels_never_overlap() -> None:
    """Whatever the range of a log axis (a fraction of a decade to many), its tick
    labels do not overprint (the funnel of the deep features printed 2x10^0 ... on top
    of each other)."""
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from radval.report._plots import log_axis, new_figure, style

    for lo, hi in ((1, 6), (2, 7), (0.8, 32), (1, 1.5), (6, 1130), (1, 1e5), (0.3, 3),
                   (20, 60), (1, 1e9), (0.769452, 1.38307), (0.93, 1.07)):
        with style():
            fig, ax = new_figure(figsize=(2.2, 1.5))
            ax.barh([0, 1], [lo, hi])
            # the funnel's margins (room for the counts), or a forest plot's around a ratio
            a, b = (lo / 1.5, hi * 2.2) if hi / lo > 3 else (lo / 1.1, hi * 1.1)
            ax.set_xlim(a, b)
            log_axis(ax, "x", low=lo, high=hi)
            renderer = FigureCanvasAgg(fig).get_renderer()
            labels = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()
                      and a <= t.get_position()[0] <= b]
            boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
        assert len(boxes) >= 2, (lo, hi)
        for a, b in zip(boxes, boxes[1:]):
            assert a.x1 <= b.x0, (lo, hi, [t.get_text() for t in labels])
        assert not any("times" in t.get_text() or "^" in t.get_text() for t in labels)
        # round numbers, never the ends of the data range printed to six digits
        assert all(len(t.get_text()) <= 6 for t in labels), [t.get_text() for t in labels]


def test_labelled_study_reaches_results_json(tmp_path: Path) -> None:
    """The workflow side: the study file's labels and the inputs' paths go into
    results.json (radval.workflow._assemble)."""
    import yaml

    from radval.workflow._assemble import labels_record, relative_paths
    from radval.workflow._study import study_from_dict

    doc = yaml.safe_load((Path(__file__).parents[2] / "src" / "radval" / "data" /
                          "builtin_study.yaml").read_text())
    study = study_from_dict(doc)
    rec = labels_record(study)
    assert rec["variables"]["age_years"] == {"label": "Age", "unit": "years", "levels": None,
                                             "kind": "numeric"}
    assert rec["variables"]["ln_metastasis"]["levels"] == {"0": "no", "1": "yes"}
    assert rec["subgroups"]["tumour_size"]["rule"] == "tumour_size_mm < 20"
    assert rec["subgroups"]["tumour_size"]["complement"] == "tumour_size_mm >= 20"
    assert rec["cohorts"]["centre2"] == "Centre 2"
    from radval.contracts._results import Labels

    Labels.model_validate(rec)  # follows the definition
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "c.csv").write_text("x")
    paths = relative_paths({"clinical": tmp_path / "in" / "c.csv"}, tmp_path / "run")
    assert paths == {"clinical": "../in/c.csv"}


def test_the_report_reads_typed_results_only() -> None:
    """No guessing of results.json's structure in the report layer: no as_mapping, no
    frame(results, ...), no ``.get(...) or {}`` (issue 10)."""
    root = Path(__file__).parents[2] / "src" / "radval" / "report"
    pattern = re.compile(r"as_mapping|\bframe\(results|\bframe\(r\b|\.get\([^()]*\)\s*or\s*"
                         r"(\{\}|\[\])|_first(_frame)?\(")
    found = [f"{p.name}:{i}" for p in sorted(root.glob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), start=1)
             if pattern.search(line)]
    assert found == []


def test_flow_figure_keeps_imputed_patients_apart_from_exclusions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patients kept with imputed predictors are drawn as kept, not as an exclusion, and
    every box's text is wrapped to fit its box."""
    from radval.report import figures

    res, _ = make_results(7)
    flow = []
    for f in res["patient_flow"]:
        if f["stage"] == "analysed":
            flow.append({"cohort": f["cohort"], "stage": "imputed", "n": 12,
                         "reason": "multiple imputation of missing predictors: "
                                   "tumour_size_mm 9, age_years 4, vascular_invasion 2"})
        flow.append(f)
    res = {**res, "patient_flow": flow}
    drawn: list[Any] = []

    def keep(fig: Any, out_dir: Any, name: str) -> Path:
        drawn.append(fig)
        return tmp_path / f"{name}.png"

    monkeypatch.setattr(figures, "save", keep)
    figures.flow_figure(ResultsFile.from_data(res), tmp_path)
    fig = drawn[0]
    texts = [t.get_text() for t in fig.axes[0].texts]
    kept = [t for t in texts if t.startswith("Kept, predictors imputed")]
    assert len(kept) == 4 and not any("Excluded, imputed" in t for t in texts)
    assert all("n\u00a0=\u00a012" in t for t in kept)
    assert all(max(len(line) for line in t.split("\n")) <= 30 for t in kept)
    # the text of each box stays inside it once drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    boxes = [p.get_window_extent(renderer) for p in fig.axes[0].patches]
    for t in fig.axes[0].texts:
        if t.get_text().startswith(("Kept", "Excluded")):
            bb = t.get_window_extent(renderer)
            assert any(b.x0 - 2 <= bb.x0 and bb.x1 <= b.x1 + 2 for b in boxes), t.get_text()
