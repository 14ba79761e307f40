"""The report section on missing data and harmonisation (radval.report._missing_harmonisation).

Content from results.json, TRIPOD+AI items 11 and 27a filled from it, figures drawn
without changing matplotlib's global state, and hostile variable / batch / feature names
shown literally (never markup, code or mathtext).
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
from radval.report.tripod import tripod_checklist

from .fixtures import make_results

HOSTILE = ("<script>alert(1)</script> {{< include /etc/passwd >}} $\\input{/etc/passwd}$ "
           "| a | `x`{=html} @fig-x")


def _blocks(var: str = "size_mm", batch: str = "B", feature: str = "radiomics_F1",
            cohort: str = "dev") -> dict[str, Any]:
    md = {
        "method": "multiple_imputation", "n_imputations": 5, "max_iter": 10,
        "variables": ["age", var], "imputed_variables": [var],
        "imputation_methods": {"age": "pmm", var: "pmm"},
        "auxiliary": ["outcome (development imputation model only)"],
        "table": [{"cohort": cohort, "variable": "age", "n": 100, "n_missing": 0,
                   "percent_missing": 0.0},
                  {"cohort": cohort, "variable": var, "n": 100, "n_missing": 20,
                   "percent_missing": 20.0}],
        "patterns": [{"cohort": cohort, "pattern": {"age": 1, var: 1}, "n_rows": 80,
                      "n_missing_variables": 0},
                     {"cohort": cohort, "pattern": {"age": 1, var: 0}, "n_rows": 20,
                      "n_missing_variables": 1}],
        "imputed": [{"cohort": cohort, "n": 100, "n_imputed": 20}],
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
            "models": [{"model": "nomogram", "subset": s, "n": n, "events": e, "auc": a,
                        "auc_ci_low": 0.5, "auc_ci_high": 0.9, "calibration_intercept": 0.1,
                        "calibration_slope": 0.9, "brier": 0.2, "undefined_reason": None}
                       for s, n, e, a in (("all", 30, 10, 0.8), ("complete_cases", 26, 9, 0.79),
                                          ("imputed", 4, 1, 0.7))]}}}


def test_development_section_tables_figures_and_methods() -> None:
    r = _blocks()
    text, figs = MH.missing_data_section(r)
    for label in ("tbl-missing-data", "tbl-imputed", "tbl-missing-patterns",
                  "tbl-pooled-coefficients", "tbl-pooled-performance", "sec-missing-data"):
        assert f"{{#{label}}}" in text, label
    assert "20 (20.0%)" in text and "0.810 (0.720–0.880)" in text
    assert set(figs) == {"fig-missing-patterns"}
    text_h, figs_h = MH.harmonisation_section(r)
    assert "{#tbl-separability}" in text_h and "{#tbl-batches}" in text_h
    assert "| development cohort | before | 0.980 |" in text_h
    assert set(figs_h) == {"fig-batch-pca"}
    assert "not associated" in text_h
    methods = MH.methods_text(r)
    assert "Rubin's rules" in methods and "ComBat" in methods
    assert "multiply imputed" in MH.flow_note(r)
    assert "complete-case" in MH.flow_note({})


def test_site_section_compares_with_and_without_imputed_patients_and_shift() -> None:
    r = _site_blocks("radiomics_F1", "siteX")
    text, figs = MH.missing_data_section(r)
    assert "{#tbl-site-imputation}" in text and "imputed patients" in text
    assert "4 patient(s) had at least one missing predictor" in text
    text_h, figs_h = MH.harmonisation_section(r)
    assert "{#tbl-shift-harmonisation}" in text_h
    assert "| radiomics\\_F1 | 1.40 | 0.00 | 60% | 10% | yes |  |" in text_h
    assert "1 before, 0 after harmonisation" in text_h
    assert set(figs_h) == {"fig-shift-harmonisation"}
    assert MH.methods_text(r) == ""  # the site's methods are in results.methods


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
    r = _blocks()
    _t, figs = MH.missing_data_section(r)
    _t, figs_h = MH.harmonisation_section(r)
    _t, figs_s = MH.harmonisation_section(_site_blocks("f", "b"))
    paths = MH.save_figures({**figs, **figs_h, **figs_s}, tmp_path)
    assert dict(matplotlib.rcParams) == before
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths.values())
    # plot functions draw into a given axes
    fig = Figure()
    ax = fig.add_subplot()
    out = MH.plot_batch_pca(pd.DataFrame({"batch": ["a", "b"], "pc1": [0, 1], "pc2": [1, 0]}),
                            ax=ax)
    assert out is ax and len(ax.collections) == 2
    out = MH.plot_shift_before_after(pd.DataFrame({"feature": ["x"], "smd_before": [1.0],
                                                   "smd_after": [0.1]}), ax=ax)
    assert out is ax


def test_hostile_names_are_shown_literally(tmp_path: Path) -> None:
    import matplotlib.text
    from matplotlib import cbook

    pypandoc = pytest.importorskip("pypandoc")
    r = _blocks(var=f"var {HOSTILE}", batch=f"batch {HOSTILE}", cohort=f"coh {HOSTILE}")
    r.update({k: v for k, v in _site_blocks(f"feat {HOSTILE}", f"sb {HOSTILE}").items()
              if k == "shift"})
    parts, figures = [], {}
    for fn in (MH.missing_data_section, MH.harmonisation_section):
        t, f = fn(r)
        parts.append(t)
        figures.update(f)
    site = _site_blocks(f"feat {HOSTILE}", f"sb {HOSTILE}")
    for fn in (MH.missing_data_section, MH.harmonisation_section):
        t, f = fn(site)
        parts.append(t)
        figures.update({k + "-site": v for k, v in f.items()})
    text = "\n\n".join(parts)
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
    for fig in figures.values():
        for t in fig.findobj(matplotlib.text.Text):
            s = t.get_text()
            assert not (s and t.get_parse_math() and cbook.is_math_text(s)), s[:60]
    MH.save_figures(figures, tmp_path)  # draws: mathtext would fail here
