"""The calibration and clinical-utility part of the report: built from evaluate_predictions'
own tables, every figure drawn with the primitives, hostile labels shown literally."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")

from radval._results import jsonable  # noqa: E402
from radval.report._escape import md_text  # noqa: E402

HOSTILE = ("<script>alert(1)</script> {{< include /etc/passwd >}} $\\input{x}$ "
           "```{python}\nimport os\n``` | a | @fig-x")


def _results(rng: np.random.Generator, *, cohort: str = "dev", subgroup: str = "size",
             label: str = "Combined signature") -> dict[str, Any]:
    from radval.workflow._calibration import corrected_tables, curve_spec, resample_curves
    from radval.workflow._evaluation import evaluate_predictions
    from radval.workflow._study import PartialAucConfig
    from radval.workflow._utility import site_sample_size

    rows = []
    for c, n in ((cohort, 150), ("val", 120)):
        x = rng.normal(size=n)
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.3 * x - 0.8)))).astype(int)
        for model, lp in (("radiomics", 0.4 * x - 0.3), ("combined", 1.3 * x - 0.8),
                          ("clinical", 0.6 * x - 0.7 + rng.normal(0, 1, n))):
            rows.append(pd.DataFrame({"patient_id": [f"{c}{i}" for i in range(n)],
                                      "cohort": c, "model": model, "score": lp,
                                      "probability": 1 / (1 + np.exp(-lp)), "y_true": y}))
    preds = pd.concat(rows, ignore_index=True)
    ids = sorted(preds.patient_id.unique())
    roles = {cohort: "development", "val": "external_validation"}
    ev = evaluate_predictions(
        preds, cutoffs={"combined": 0.3, "clinical": 0.3, "radiomics": 0.3}, roles=roles,
        subgroup_ids={subgroup: {f"{subgroup} yes": set(ids[::2]),
                                 f"{subgroup} no": set(ids[1::2])}},
        n_bootstrap=50, roc_band_resamples=10, dca_thresholds=[0.1, 0.2, 0.3, 0.4],
        calibration_band=30, net_benefit_bootstrap=30,
        partial_auc=PartialAucConfig(specificity=(1.0, 0.9)), seed=1)
    dev = preds[preds.cohort == cohort]
    y = dev[dev.model == "combined"].y_true.to_numpy(int)
    apparent = {m: g.probability.to_numpy(float) for m, g in dev.groupby("model")}
    spec = curve_spec(method="lowess", thresholds=[0.1, 0.2, 0.3, 0.4], y=y,
                      apparent=apparent)
    recs = []
    for b in range(5):
        idx = np.sort(np.random.default_rng(b).integers(0, y.size, y.size))
        recs.append({"curves": {m: resample_curves(spec, m, y[idx], p[idx] * 0.9, y, p * 0.9)
                                for m, p in apparent.items()}})
    corr = corrected_tables(spec, y, apparent, recs)
    val = preds[(preds.cohort == "val") & (preds.model == "combined")]
    ss = site_sample_size(val.y_true.to_numpy(int), val.probability.to_numpy(float),
                          summary={"cstatistic": 0.8,
                                   "linear_predictor": {"n": 150, "mean": -1.0, "sd": 1.2}},
                          cutoff=0.3, observed_auc=0.78)
    res = {"study": {"signature_model": "combined", "development_cohort": cohort},
           "cohorts": [{"name": cohort}, {"name": "val"}],
           "models": [{"name": "radiomics", "label": "Rad-score", "kind": "radiomics"},
                      {"name": "combined", "label": label, "kind": "combined"},
                      {"name": "clinical", "label": "Clinical model", "kind": "clinical"}],
           "calibration": ev.calibration, "curves": ev.curves,
           "optimism_calibration": corr["calibration"],
           "optimism_calibration_summary": corr["summary"],
           "optimism_net_benefit": corr["net_benefit"], "validation_sample_size": ss,
           **ev.extra_results()}
    return jsonable(res)


def test_every_part_is_drawn_and_described(tmp_path: Path, rng: np.random.Generator,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt

    from radval.report import figures
    from radval.report._calibration_utility import calibration_utility_markdown

    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 40)
    res = _results(rng)
    before = copy.deepcopy(dict(matplotlib.rcParams))
    open_figures = plt.get_fignums()
    md, figs = calibration_utility_markdown(res, tmp_path)
    assert set(figs) == {"fig-calibration-band", "fig-calibration-corrected",
                         "fig-dca-corrected", "fig-nb-difference", "fig-calibration-subgroup"}
    for label, png in figs.items():
        assert png.is_file() and f"figures/{png.name}){{#{label} " in md
    for label in ("tbl-calibration-curve", "tbl-calibration-corrected", "tbl-dca-corrected",
                  "tbl-nb-difference", "tbl-subgroup-calibration",
                  "tbl-subgroup-heterogeneity", "tbl-partial-auc"):
        assert f"{{#{label}}}" in md, label
        assert (tmp_path / "tables" / f"{label}.csv").is_file()
    # what the rad-score's calibration is, and the site's sample size, in words
    assert "recalibration frozen on the development cohort" in md
    assert "Rad-score: intercept" in md
    ss = res["validation_sample_size"]
    assert f"is {ss['required']} patients" in md
    assert ("does not meet it" in md) is (ss["meets"] is False)
    # no global matplotlib state changed, no pyplot figure left behind
    after = dict(matplotlib.rcParams)
    assert not {k for k in before if not np.array_equal(np.asarray(before[k], dtype=object),
                                                        np.asarray(after[k], dtype=object))}
    assert plt.get_fignums() == open_figures


def test_hostile_labels_are_literal(tmp_path: Path, rng: np.random.Generator,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.report import figures
    from radval.report._calibration_utility import calibration_utility_markdown

    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 30)
    res = _results(rng, cohort="c " + HOSTILE, subgroup="s " + HOSTILE,
                   label="m " + HOSTILE)
    md, figs = calibration_utility_markdown(res, tmp_path)
    assert len(figs) == 5  # hostile labels in figure titles and axes are drawn literally
    assert "<script>" not in md and "{{<" not in md
    assert not re.search(r"^\s*```", md, re.M)
    assert "$\\input" not in md
    assert md_text("m " + HOSTILE) in md
    for png in figs.values():
        assert png.parent == tmp_path / "figures"
    try:
        import pypandoc  # noqa: F401
    except ImportError:
        return
    from tests.report.test_injection import check_qmd

    qmd = tmp_path / "x.qmd"
    qmd.write_text(md)
    check_qmd(qmd)


def test_nothing_when_the_run_has_none_of_it(tmp_path: Path) -> None:
    from radval.report._calibration_utility import calibration_utility_markdown

    assert calibration_utility_markdown({"curves": {}}, tmp_path) == ("", {})


def test_primitives_draw_into_the_callers_axes() -> None:
    from matplotlib.figure import Figure

    from radval.report._plots import plot_calibration_band, plot_net_benefit_difference

    fig = Figure()
    a, b, c = fig.subplots(1, 3)
    curve = pd.DataFrame({"predicted": [0.1, 0.5, 0.9] * 2, "observed": [0.2, 0.5, 0.8] * 2,
                          "ci_low": [0.1, 0.4, 0.6] * 2, "ci_high": [0.3, 0.6, 0.95] * 2,
                          "level": ["$x$"] * 3 + ["b"] * 3})
    assert plot_calibration_band(curve, by="level", ax=a) is a
    assert len(a.collections) == 2  # one band per level
    names = [t.get_text() for t in a.get_legend().get_texts()]
    assert "\\$x\\$" in names  # literal, never mathtext
    corr = pd.DataFrame({"predicted": [0.1, 0.5], "apparent": [0.2, 0.6],
                         "corrected": [0.25, 3.0]})
    assert plot_calibration_band(pd.DataFrame(), corrected=corr, ax=b) is b
    assert max(b.get_lines()[-1].get_ydata()) <= 1.02  # kept on the panel
    diff = pd.DataFrame({"threshold": [0.1, 0.2, 0.3], "difference": [0.01, 0.02, -0.01],
                         "ci_low": [-0.01, 0.0, -0.05], "ci_high": [0.03, 0.05, 0.02]})
    assert plot_net_benefit_difference(diff, title="a", ax=c) is c
    assert len(c.collections) == 1
