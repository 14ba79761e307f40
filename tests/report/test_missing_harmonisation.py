"""The report sections on missing data and harmonisation (radval.report._missing_harmonisation).

Content from the typed results (a summary in the main report, the detail in the
supplement, everything in one document for a site), TRIPOD+AI items 11 and 27a filled
from it, figures drawn without changing matplotlib's global state, and hostile variable /
batch / cohort / feature names shown literally (never markup, code or mathtext).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from radval.report import _missing_harmonisation as MH
from radval.report._data import ReportData
from radval.report._sections import Section, SectionContext
from radval.report.tripod import tripod_checklist

from .fixtures import make_results

HOSTILE = ("<script>alert(1)</script> {{< include /etc/passwd >}} $\\input{/etc/passwd}$ "
           "| a | `x`{=html} @fig-x")


def _blocks(var: str = "size_mm", batch: str = "B", feature: str = "radiomics_F1",
            cohort: str = "development") -> dict[str, Any]:
    md = {
        "method": "multiple_imputation", "n_imputations": 5, "max_iter": 10,
        "variables": ["age", var], "imputed_variables": [var],
        "imputation_methods": {"age": "pmm", var: "pmm"},
        "auxiliary": ["outcome (development imputation model only)"],
        "table": [{"cohort": cohort, "variable": "age", "n": 100, "n_missing": 5,
                   "percent_missing": 5.0},
                  {"cohort": cohort, "variable": var, "n": 100, "n_missing": 20,
                   "percent_missing": 20.0}],
        "patterns": [{"cohort": cohort, "pattern": {"age": 1, var: 1}, "n_rows": 75,
                      "n_missing_variables": 0},
                     {"cohort": cohort, "pattern": {"age": 1, var: 0}, "n_rows": 20,
                      "n_missing_variables": 1},
                     {"cohort": cohort, "pattern": {"age": 0, var: 1}, "n_rows": 5,
                      "n_missing_variables": 1}],
        "imputed": [{"cohort": cohort, "n": 100, "n_imputed": 25}],
        "pooled_coefficients": [{"model": "nomogram", "term": var, "estimate": 0.05,
                                 "within": 1e-4, "between": 2e-5, "total": 1.24e-4,
                                 "se": 0.0111, "df": 80.5, "dfcom": 97, "riv": 0.24,
                                 "lambda_": 0.19, "fmi": 0.21, "statistic": 4.5,
                                 "p_value": 2e-5, "ci_low": 0.03, "ci_high": 0.07, "m": 5}],
        "pooled_performance": [{"cohort": cohort, "model": "nomogram", "metric": "auc",
                                "estimate": 0.81, "se": 0.2, "ci_low": 0.72, "ci_high": 0.88,
                                "fmi": 0.05, "m": 5, "n": 100, "scale": "logit"}],
        "deployment": {"method": "deployment_imputer", "variables": ["age", var]},
    }
    hm = {"method": "combat", "batch": "scanner", "batch_source": "clinical table",
          "covariates": [], "reference": "A", "parametric": True, "empirical_bayes": True,
          "mean_only": False, "n_features": 10, "n_not_adjusted": 0,
          "batches": [{"cohort": cohort, "batch": "A", "n": 50, "in_development": True},
                      {"cohort": cohort, "batch": batch, "n": 50, "in_development": True}],
          "separability": [{"scope": "development", "stage": s, "auc": a,
                            "fraction_significant": f, "median_kruskal_h": 1.0,
                            "n_samples": 100, "n_features": 10, "n_batches": 2}
                           for s, a, f in (("before", 0.98, 0.9), ("after", 0.45, 0.0))],
          "pca": [{"scope": "development", "stage": s, "batch": b, "cohort": cohort,
                   "pc1": float(i) + (3 if b == batch and s == "before" else 0),
                   "pc2": float(i % 3)}
                  for s in ("before", "after") for b in ("A", batch) for i in range(5)],
          "batch_outcome": {"method": "pearson_chi2", "statistic": 0.4, "df": 1,
                            "p_value": 0.53, "cramers_v": 0.06, "min_expected": 14.0,
                            "associated": False, "alpha": 0.05, "table": []}}
    return {"missing_data": md, "harmonisation": hm}


def _site_blocks(feature: str, batch: str) -> dict[str, Any]:
    feats = [{"feature": feature, "score": "rad_score", "n": 30, "dev_mean": 0.0,
              "dev_sd": 1.0, "val_mean": m, "val_sd": 1.0, "smd": m,
              "share_below_q05": 0.0, "share_above_q95": o, "share_outside_q05_q95": o,
              "flagged": m > 0.5, "reason": None} for m, o in ((0.0, 0.1),)]
    before = [{**feats[0], "val_mean": 1.4, "smd": 1.4, "share_outside_q05_q95": 0.6,
               "flagged": True}]
    shift = {"features": feats, "flagged": [], "prevalence": {}, "predicted_risk": {},
             "smd_threshold": 0.5, "out_of_range_threshold": 0.25}
    return {
        "shift": shift,
        "harmonisation": {"method": "combat", "batch": "scanner", "site": {
            "batch_column": "scanner", "label_source": "clinical table",
            "batches": [{"batch": batch, "n": 30, "seen": False}], "n_harmonised": 30,
            "n_features": 10, "n_features_bundle": 10, "auc_unharmonised": 0.6,
            "shift_before": {**shift, "features": before, "flagged": [feature]}}},
        "missing_data": {"method": "deployment_imputer", "variables": ["age"], "site": {
            "method": "deployment_imputer", "n_draws": 20, "variables": ["age"],
            "n_imputed": 4, "table": [{"variable": "age", "n": 30, "n_missing": 4,
                                       "percent_missing": 13.3}],
            "models": [{"model": "nomogram", "label": "Nomogram", "subset": s, "n": n,
                        "events": e, "auc": a,
                        "auc_ci_low": 0.5, "auc_ci_high": 0.9, "calibration_intercept": 0.1,
                        "calibration_slope": 0.9, "brier": 0.2, "undefined_reason": None}
                       for s, n, e, a in (("all", 30, 10, 0.8), ("complete_cases", 26, 9, 0.79),
                                          ("imputed", 4, 1, 0.7))]}}}


def _data(blocks: dict[str, Any], *, labels: bool = False) -> ReportData:
    results, _pred = make_results(7, labels=labels)
    results.update(blocks)
    return ReportData.build(results)


def _build(d: ReportData, out: Path, *, split: bool = True
           ) -> tuple[Section | None, Section | None]:
    """(main section, supplementary detail) of a report folder ``out``."""
    ctx = SectionContext(d, out, split=split)
    return MH.build(ctx), MH.build_detail(ctx)


def _text(*secs: Section | None) -> str:
    return "\n\n".join(s.markdown for s in secs if s is not None)


def test_development_section_tables_figures_and_methods(tmp_path: Path) -> None:
    d = _data(_blocks())
    main, detail = _build(d, tmp_path)
    assert main is not None and detail is not None
    assert detail.placement is None and MH.DETAIL_SECTION.placement == "supplement"
    # the main report: how missing data were handled, how many, the harmonisation summary
    assert {"sec-missing-harmonisation", "sec-missing-data", "sec-harmonisation"} \
        <= set(main.section_ids)
    assert "{#tbl-missing-data}" in main.markdown and "20 (20.0%)" in main.markdown
    assert "| At least one predictor (patients imputed) | 25 (25.0%) |" in main.markdown
    assert "25 analysed patients with a missing predictor were kept" in main.markdown
    assert "not associated" in main.markdown
    assert "from 0.980 before to 0.450 after harmonisation" in main.markdown
    assert main.figures == {} and set(main.tables) == {"tbl-missing-data"}
    # the supplement: patterns, pooled estimates, batches, separability and PCA
    for label in ("tbl-imputed", "tbl-missing-patterns", "tbl-pooled-coefficients",
                  "tbl-pooled-performance", "tbl-batches", "tbl-separability"):
        assert f"{{#{label}}}" in detail.markdown, label
        assert f"@{label}" in main.markdown, label  # the main text points to it
        assert (tmp_path / "tables" / f"{label}.csv").is_file()
    assert "0.810 (0.720–0.880)" in detail.markdown
    assert "| development cohort | before | 0.980 |" in detail.markdown
    assert "| Development | size\\_mm | 20 |" in detail.markdown.replace(
        "development", "Development")
    assert set(detail.figures) == {"fig-missing-patterns", "fig-batch-pca"}
    assert all(p.is_file() for p in detail.figures.values())
    assert not set(main.section_ids) & set(detail.section_ids)
    methods = MH.methods_text(d)
    assert "Rubin's rules" in methods and "ComBat" in methods
    assert "multiply imputed" in MH.flow_note(d)
    assert "complete-case" in MH.flow_note(ReportData.build(make_results(7)[0]))


def test_sections_are_registered_after_participants_and_cohorts() -> None:
    from radval.report.document import REGISTRY

    keys = [s.key for s in REGISTRY.specs()]
    assert keys.index("participants") < keys.index("missing-harmonisation") \
        < keys.index("model")
    assert keys.index("supplement-participants") < keys.index("missing-harmonisation-detail") \
        < keys.index("selection")


def test_labels_name_cohorts_models_and_predictors(tmp_path: Path) -> None:
    blocks = _blocks(var="tumour_size_mm")
    blocks["missing_data"]["pooled_coefficients"][0]["model"] = "nomogram"
    d = _data(blocks, labels=True)
    text = _text(*_build(d, tmp_path))
    assert "| Tumour size | 20 (20.0%) |" in text  # the predictor's label, no unit
    assert "Training cohort (n = 100)" in text
    assert "| Radiomics nomogram | Tumour size |" in text
    assert "tumour\\_size\\_mm" not in text and "| development |" not in text


def test_one_document_keeps_the_detail_inline(tmp_path: Path) -> None:
    main, detail = _build(_data(_blocks()), tmp_path, split=False)
    assert detail is None and main is not None
    for label in ("tbl-missing-data", "tbl-imputed", "tbl-pooled-performance",
                  "tbl-separability", "fig-batch-pca", "fig-missing-patterns"):
        assert f"{{#{label}" in main.markdown, label


def test_complete_case_run_says_so_without_empty_tables(tmp_path: Path) -> None:
    md = {"method": "complete_case", "variables": ["age"],
          "table": [{"cohort": "development", "variable": "age", "n": 100, "n_missing": 0,
                     "percent_missing": 0.0}],
          "patterns": [{"cohort": "development", "pattern": {"age": 1}, "n_rows": 100,
                        "n_missing_variables": 0}],
          "imputed": [{"cohort": "development", "n": 100, "n_imputed": 0}]}
    main, detail = _build(_data({"missing_data": md}), tmp_path)
    assert detail is None and main is not None
    assert main.section_ids == ["sec-missing-data"]  # no harmonisation, one heading
    assert main.markdown.startswith("# Missing data {#sec-missing-data}")
    assert "Complete-case analysis" in main.markdown and "{#tbl-" not in main.markdown
    assert "No analysed patient had a missing predictor" in main.markdown
    assert "Complete-case analysis" in MH.methods_text(_data({"missing_data": md}))
    # a run without either part has no section
    assert _build(ReportData.build(make_results(7)[0]), tmp_path) == (None, None)


def test_site_section_compares_with_and_without_imputed_patients_and_shift(
        tmp_path: Path) -> None:
    d = _data(_site_blocks("radiomics_F1", "siteX"))
    main, detail = _build(d, tmp_path, split=False)  # a site report is one document
    assert main is not None and detail is None
    text = main.markdown
    assert {"sec-missing-data", "sec-harmonisation"} <= set(main.section_ids)
    assert "{#tbl-site-imputation}" in text and "imputed patients" in text
    assert "| nomogram |" not in text  # the model under its display name
    # a site run's results list only the frozen signature: the clinical models are named by
    # the label the site run records for them
    results, _pred = make_results(7)
    results.update(_site_blocks("radiomics_F1", "siteX"))
    results["models"] = [m for m in results["models"] if m["name"] != "nomogram"]
    site_text = _build(ReportData.build(results), tmp_path / "site", split=False)[0]
    assert site_text is not None
    assert "| Nomogram | all patients |" in site_text.markdown
    assert "4 patients had at least one missing predictor" in text
    assert "{#tbl-shift-harmonisation}" in text
    assert "| radiomics\\_F1 | 1.40 | 0.00 | 60% | 10% | yes |  |" in text
    assert "1 before, 0 after harmonisation" in text
    assert "on the unharmonised features 0.600" in text
    assert set(main.figures) == {"fig-shift-harmonisation"}
    assert MH.methods_text(d) == ""  # the site's methods are in results.methods
    assert _build(d, tmp_path / "split")[1] is None  # nothing for a supplement


def test_tripod_missing_data_items_come_from_the_section() -> None:
    results, _pred = make_results(7)
    base = tripod_checklist(results, sections={"sec-participants", "sec-missing-data"}) \
        .set_index("item")
    assert base.loc["11", "where"] == "sec-participants"  # older results: the patient flow
    results.update(_blocks())
    tri = tripod_checklist(results, sections={"sec-participants", "sec-missing-data",
                                              "sec-harmonisation"}).set_index("item")
    assert tri.loc["11", "status"] == "reported here"
    assert tri.loc["11", "where"] == "sec-missing-data"
    assert tri.loc["27a", "status"] == "partly"
    assert tri.loc["27a", "where"] == "sec-missing-data"


def test_figures_leave_matplotlib_global_state_alone(tmp_path: Path) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    before = copy.deepcopy(dict(matplotlib.rcParams))
    _main, detail = _build(_data(_blocks()), tmp_path / "dev")
    site, _ = _build(_data(_site_blocks("f", "b")), tmp_path / "site", split=False)
    assert detail is not None and site is not None
    paths = {**detail.figures, **site.figures}
    assert dict(matplotlib.rcParams) == before
    assert len(paths) == 3
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths.values())
    for p in paths.values():  # the formats of radval.report.figures.save
        assert p.with_suffix(".svg").is_file() and p.with_suffix(".pdf").is_file()
    # plot functions draw into a given axes
    fig = Figure()
    ax = fig.add_subplot()
    out = MH.plot_batch_pca(pd.DataFrame({"batch": ["a", "b"], "pc1": [0, 1], "pc2": [1, 0]}),
                            ax=ax)
    assert out is ax and len(ax.collections) == 2
    out = MH.plot_shift_before_after(pd.DataFrame({"feature": ["x"], "smd_before": [1.0],
                                                   "smd_after": [0.1]}), ax=ax)
    assert out is ax
    ax2 = Figure().add_subplot()
    pats = pd.DataFrame({"pattern": [0, 0, 1, 1], "variable": ["a", "b", "a", "b"],
                         "observed": [1, 0, 0, 1], "n_rows": [7, 7, 3, 3]})
    assert MH.plot_missing_patterns(pats, ax=ax2) is ax2 and len(ax2.images) == 1
    assert [t.get_text() for t in ax2.get_yticklabels()] == ["n = 7", "n = 3"]
    assert dict(matplotlib.rcParams) == before


def test_hostile_names_are_shown_literally(tmp_path: Path) -> None:
    import matplotlib.text
    from matplotlib import cbook

    from radval.report.figures import save

    pypandoc = pytest.importorskip("pypandoc")
    r = _blocks(var=f"var {HOSTILE}", batch=f"batch {HOSTILE}", cohort=f"coh {HOSTILE}")
    r.update({k: v for k, v in _site_blocks(f"feat {HOSTILE}", f"sb {HOSTILE}").items()
              if k == "shift"})
    dev = _data(r)
    site = _data(_site_blocks(f"feat {HOSTILE}", f"sb {HOSTILE}"))
    text = "\n\n".join([_text(*_build(dev, tmp_path / "dev")),
                        _text(*_build(site, tmp_path / "site", split=False))])
    assert "{{<" not in text and "<script>" not in text
    assert not re.search(r"^\s*(```|~~~)", text, re.M)
    ast = json.loads(subprocess.run([pypandoc.get_pandoc_path(), "-f", "markdown", "-t",
                                     "json"], input=text, capture_output=True, text=True,
                                    check=True).stdout)
    kinds = set(re.findall(r'"t": ?"(\w+)"', json.dumps(ast)))
    assert not kinds & {"CodeBlock", "Code", "RawBlock", "RawInline", "Math"}, kinds
    plain = subprocess.run([pypandoc.get_pandoc_path(), "-f", "markdown", "-t", "plain",
                            "--wrap=none"], input=text, capture_output=True, text=True,
                           check=True).stdout
    squeezed = re.sub(r"\s+", "", plain)
    for name in ("var", "batch", "coh", "feat", "sb"):
        assert re.sub(r"\s+", "", f"{name} {HOSTILE}") in squeezed, name
    figures = {"patterns": MH.missing_patterns_figure(dev),
               "pca": MH.batch_pca_figure(dev),
               "shift": MH.shift_harmonisation_figure(site)}
    for label, fig in figures.items():
        assert fig is not None, label
        shown = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        assert any("passwd" in s for s in shown), label  # the names are drawn
        for t in fig.findobj(matplotlib.text.Text):
            s = t.get_text()
            assert not (s and t.get_parse_math() and cbook.is_math_text(s)), s[:60]
        save(fig, tmp_path / "figs", f"fig-{label}")  # draws: mathtext would fail here
