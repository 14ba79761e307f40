"""The calibration and clinical-utility sections of the report: built from the typed
results of evaluate_predictions' own tables, placed where a reader looks for them (the
signature's bias-corrected curve next to the main calibration, the detail in the
supplement, a site's sample size in its participants), every figure drawn with the
primitives, hostile labels shown literally."""

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
from radval.contracts import ResultsFile  # noqa: E402
from radval.report._data import ReportData  # noqa: E402
from radval.report._escape import md_text  # noqa: E402
from radval.report._sections import SectionContext, SectionRegistry  # noqa: E402

from .fixtures import COHORTS, LABELS, make_results  # noqa: E402

HOSTILE = ("<script>alert(1)</script> {{< include /etc/passwd >}} $\\input{x}$ "
           "```{python}\nimport os\n``` | a | @fig-x")
MAIN_FIGURES = {"fig-calibration-corrected-main"}
SUPPLEMENT_FIGURES = {"fig-calibration-band", "fig-calibration-corrected", "fig-dca-corrected",
                      "fig-nb-difference", "fig-calibration-subgroup"}
SUPPLEMENT_TABLES = ("tbl-calibration-curve", "tbl-calibration-corrected", "tbl-dca-corrected",
                     "tbl-nb-difference", "tbl-subgroup-calibration", "tbl-subgroup-net-benefit",
                     "tbl-subgroup-heterogeneity", "tbl-partial-auc")


@pytest.fixture(autouse=True)
def _small_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.report import figures

    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 40)


def _corrected(preds: pd.DataFrame, cohort: str) -> dict[str, Any]:
    """Bias-corrected curves of five toy resamples (the models shrunk by 0.9)."""
    from radval.workflow._calibration import corrected_tables, curve_spec, resample_curves

    dev = preds[preds.cohort == cohort]
    first = dev.model.iloc[0]
    y = dev[dev.model == first].y_true.to_numpy(int)
    apparent = {m: g.probability.to_numpy(float) for m, g in dev.groupby("model")}
    spec = curve_spec(method="lowess", thresholds=[0.1, 0.2, 0.3, 0.4], y=y,
                      apparent=apparent)
    recs = []
    for b in range(5):
        idx = np.sort(np.random.default_rng(b).integers(0, y.size, y.size))
        recs.append({"curves": {m: resample_curves(spec, m, y[idx], p[idx] * 0.9, y, p * 0.9)
                                for m, p in apparent.items()}})
    corr = corrected_tables(spec, y, apparent, recs)
    return {"optimism_calibration": corr["calibration"],
            "optimism_calibration_summary": corr["summary"],
            "optimism_net_benefit": corr["net_benefit"]}


def _evaluate(preds: pd.DataFrame, roles: dict[str, str], subgroup: str,
              levels: tuple[str, str], **kw: Any) -> Any:
    from radval.workflow._evaluation import evaluate_predictions
    from radval.workflow._study import PartialAucConfig

    ids = sorted(preds.patient_id.unique())
    return evaluate_predictions(
        preds, cutoffs=dict.fromkeys(preds.model.unique(), 0.3), roles=roles,
        subgroup_ids={subgroup: {levels[0]: set(ids[::2]), levels[1]: set(ids[1::2])}},
        n_bootstrap=50, roc_band_resamples=10, dca_thresholds=[0.1, 0.2, 0.3, 0.4],
        calibration_band=30, net_benefit_bootstrap=30,
        partial_auc=PartialAucConfig(specificity=(1.0, 0.9)), seed=1, **kw)


def _core(ev: Any) -> dict[str, Any]:
    return {"performance": ev.performance, "threshold_metrics": ev.threshold_metrics,
            "comparisons": ev.comparisons, "calibration": ev.calibration,
            "subgroups": ev.subgroups, "heterogeneity": ev.heterogeneity,
            "curves": ev.curves, **ev.extra_results()}


def _results(rng: np.random.Generator, *, cohort: str = "dev", subgroup: str = "size",
             label: str = "Combined signature", site: bool = False) -> ResultsFile:
    """Typed results of a toy run: every part of the module (``site``: one validation
    cohort whose single-score signature is a raw score, no optimism)."""
    from radval.workflow._utility import site_sample_size

    cohorts = [("val", 120)] if site else [(cohort, 150), ("val", 120)]
    models = [("radiomics", "Rad-score", "radiomics")] if site else [
        ("radiomics", "Rad-score", "radiomics"), ("combined", label, "combined"),
        ("clinical", "Clinical model", "clinical")]
    rows = []
    for c, n in cohorts:
        x = rng.normal(size=n)
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.3 * x - 0.8)))).astype(int)
        for model, lp in (("radiomics", 0.4 * x - 0.3), ("combined", 1.3 * x - 0.8),
                          ("clinical", 0.6 * x - 0.7 + rng.normal(0, 1, n))):
            if model in [m for m, *_ in models]:
                rows.append(pd.DataFrame({"patient_id": [f"{c}{i}" for i in range(n)],
                                          "cohort": c, "model": model, "score": lp,
                                          "probability": 1 / (1 + np.exp(-lp)), "y_true": y}))
    preds = pd.concat(rows, ignore_index=True)
    roles = {"val": "external_validation"} if site else {cohort: "development",
                                                         "val": "external_validation"}
    sig = "radiomics" if site else "combined"
    ev = _evaluate(preds, roles, subgroup, (f"{subgroup} yes", f"{subgroup} no"),
                   signature_model=sig,
                   **({"score_models": (), "raw_score_models": ("radiomics",)} if site
                      else {}))
    base, _ = make_results(7, survival=False)
    res = {k: base[k] for k in ("schema_version", "radval_version", "created", "provenance",
                                "warnings", "extraction", "bundle", "methods")}
    res["study"] = {**base["study"], "signature_model": sig,
                    "development_cohort": None if site else cohort}
    res["cohorts"] = []
    for c, n in cohorts:
        y = preds[(preds.cohort == c) & (preds.model == sig)].y_true
        res["cohorts"].append({"name": c, "role": roles[c], "n": n, "events": int(y.sum()),
                               "prevalence": float(y.mean()), "n_excluded": 0})
    res.update(patient_flow=[], cutoffs=dict.fromkeys([m for m, *_ in models], 0.3),
               models=[{"name": m, "label": lab, "kind": k, "predictors": [], "cutoff": 0.3,
                        "coefficients": []} for m, lab, k in models], **_core(ev))
    if not site:
        res.update(_corrected(preds, cohort))
    val = preds[(preds.cohort == "val") & (preds.model == sig)]
    res["validation_sample_size"] = site_sample_size(
        val.y_true.to_numpy(int), val.probability.to_numpy(float),
        summary={"cstatistic": 0.8, "linear_predictor": {"n": 150, "mean": -1.0, "sd": 1.2}},
        cutoff=0.3, observed_auc=0.78)
    return ResultsFile.from_data(jsonable(res))


def _labelled_run() -> tuple[ResultsFile, pd.DataFrame]:
    """The report fixture's labelled four-cohort study with every part of the module."""
    res, pred = make_results(7, survival=False, labels=True)
    ev = _evaluate(pred, {c: r for c, r, _ in COHORTS}, "tumour size",
                   (LABELS["subgroups"]["tumour size"]["rule"],
                    LABELS["subgroups"]["tumour size"]["complement"]),
                   signature_model="nomogram")
    res.update(calibration=ev.calibration, curves={**res["curves"], **{
        k: ev.curves[k] for k in ("calibration_band", "calibration_subgroup")}},
        **ev.extra_results(), **_corrected(pred, "development"))
    return ResultsFile.from_data(jsonable(res)), pred


def _build(res: ResultsFile, out: Path, *, split: bool = True) -> dict[str, Any]:
    """Run only this module's builders; markdown per document, figures, tables."""
    from radval.report import _calibration_utility as CU
    from radval.report import _subgroup_calibration as SC

    ctx = SectionContext(ReportData.build(res), out, split=split)
    built = SectionRegistry([*CU.SECTIONS, SC.SECTION]).build(ctx)
    out_: dict[str, Any] = {"main": "", "supplement": "", "figures": {}, "tables": {}}
    for spec, sec in built:
        out_[sec.placement or spec.placement] += sec.markdown + "\n"
        out_["figures"].update(sec.figures)
        out_["tables"].update(sec.tables)
    return out_


def test_every_part_is_drawn_and_described(tmp_path: Path, rng: np.random.Generator) -> None:
    import matplotlib.pyplot as plt

    res = _results(rng)
    before = copy.deepcopy(dict(matplotlib.rcParams))
    open_figures = plt.get_fignums()
    b = _build(res, tmp_path)
    md = b["main"] + b["supplement"]
    assert set(b["figures"]) == MAIN_FIGURES | SUPPLEMENT_FIGURES
    for label, png in b["figures"].items():
        assert png.is_file() and f"figures/{png.name}){{#{label} " in md
        # every figure is referred to in the text, in its own document
        doc = "main" if label in MAIN_FIGURES else "supplement"
        assert f"@{label}" in b[doc].replace(f"{{#{label}", ""), label
    for label in SUPPLEMENT_TABLES:
        assert f"{{#{label}}}" in b["supplement"], label
        assert b["tables"][label] == tmp_path / "tables" / f"{label}.csv"
        assert b["tables"][label].is_file()
    # the signature's corrected curve is in the main text with its errors, in numbers
    summ = res.optimism_calibration_summary
    assert summ is not None
    sig = next(s for s in summ if s.model == "combined")
    assert f"{sig.mean_abs_error:.3f} for the Combined signature" in b["main"]
    # what the rad-score's calibration is, in words (the supplement: every model)
    assert "recalibration frozen on the development cohort" in b["supplement"]
    assert "Rad-score: intercept" in b["supplement"]
    ss = res.validation_sample_size
    assert ss is not None
    assert f"is {ss.required} patients" in b["main"]
    assert ("does not meet it" in b["main"]) is (ss.meets is False)
    # the display names of the study, not the raw names
    csv = pd.read_csv(b["tables"]["tbl-calibration-curve"])
    assert set(csv["Model"]) == {"Rad-score", "Combined signature", "Clinical model"}
    nb = pd.read_csv(b["tables"]["tbl-dca-corrected"])
    assert list(nb.columns) == ["Model", "Threshold", "Apparent", "Optimism", "Corrected"]
    assert set(nb["Threshold"]) == {0.1, 0.2, 0.3}
    # no global matplotlib state changed, no pyplot figure left behind
    after = dict(matplotlib.rcParams)
    assert not {k for k in before if not np.array_equal(np.asarray(before[k], dtype=object),
                                                        np.asarray(after[k], dtype=object))}
    assert plt.get_fignums() == open_figures


def test_parts_follow_the_sections_they_continue(tmp_path: Path) -> None:
    """In the whole report the corrected calibration is a sub-section of the main
    calibration, the optimism-corrected net benefit a paragraph after the decision
    curves, the subgroup calibration a sub-section of the supplement's subgroups; the
    labels of the study file are used everywhere."""
    from radval.report.document import build_report

    res, pred = _labelled_run()
    parts = build_report(res, pred, tmp_path, jobs=1)
    main, supp = parts.qmd, parts.supplement
    assert supp is not None
    i_cal = main.index("## Calibration {#sec-calibration}")
    i_cor = main.index("### Calibration corrected for optimism "
                       "{#sec-calibration-corrected-main}")
    i_dca = main.index("## Clinical utility {#sec-dca}")
    assert i_cal < i_cor < i_dca
    assert "{#fig-calibration-corrected-main " in main
    # the nomogram is the signature: its corrected net benefit follows the decision curves
    tail = main[i_dca:]
    assert "the net benefit of the Radiomics nomogram in the development cohort" in tail
    assert "at a threshold of 0.2" in tail
    # references into the supplement become links to it
    assert "Supplementary Section S" in tail and "supplement.html#sec-nb-difference" in tail
    for label in SUPPLEMENT_FIGURES:
        assert f"{{#{label} " in supp and f"{{#{label} " not in main, label
    for label in SUPPLEMENT_TABLES:
        assert f"{{#{label}}}" in supp, label
    i_sub = supp.index("# Subgroups {#sec-subgroups}")
    assert supp.index("## Calibration and net benefit by subgroup "
                      "{#sec-subgroup-calibration}") > i_sub
    assert supp.index("# Calibration and clinical utility in detail") < i_sub
    sub = pd.read_csv(parts.tables["tbl-subgroup-calibration"])
    assert set(sub["Cohort"]) == set(LABELS["cohorts"].values())
    assert set(sub["Subgroup level"]) == {"Tumour size < 20 mm", "Tumour size ≥ 20 mm"}
    nb = pd.read_csv(parts.tables["tbl-subgroup-net-benefit"])
    assert list(nb.columns[-3:]) == ["Threshold 0.1", "Threshold 0.2", "Threshold 0.3"]
    assert len(nb) == len(sub) == 8  # four cohorts x two levels
    diff = pd.read_csv(parts.tables["tbl-nb-difference"])
    assert "Radiomics nomogram vs Clinical model" in set(diff["Comparison"])
    # the rad-score and DL-score are recalibrated, the nomogram is not: one sentence
    assert "The Rad-score and DL-score are shrunken (LASSO) linear predictors" in supp
    assert "not a calibrated probability" not in main


def test_site_report(tmp_path: Path, rng: np.random.Generator) -> None:
    """A site's one-document report: its sample size under the participants, the
    raw-score warning once, right after the calibration, and the curves with bands."""
    from radval.report.document import build_report

    res = _results(rng, site=True)
    assert res.calibration[0].risk_scale == "raw_score"
    parts = build_report(res, None, tmp_path, jobs=1, split=False)
    qmd = parts.qmd
    assert parts.supplement is None
    i_part = qmd.index("# Participants {#sec-participants}")
    i_ss = qmd.index("## Sample size of this site {#sec-site-sample-size}")
    assert i_part < i_ss < qmd.index("# Discrimination and classification")
    warning = "cannot be read as the calibration of a risk model"
    assert qmd.count(warning) == 1
    assert qmd.index("{#sec-calibration}") < qmd.index(warning) < qmd.index("{#sec-dca}")
    assert "{#fig-calibration-band " in qmd and "{#sec-calibration-corrected" not in qmd
    assert (tmp_path / "figures" / "fig-calibration-band.png").is_file()


def test_a_failed_figure_leaves_no_dangling_reference(tmp_path: Path,
                                                     rng: np.random.Generator,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.report import _calibration_utility as CU

    def broken(*args: Any, **kwargs: Any) -> Path:
        raise RuntimeError("no ink")

    for name in ("_band_figure", "_corrected_figure", "_difference_figure"):
        monkeypatch.setattr(CU, name, broken)
    b = _build(_results(rng), tmp_path)
    md = b["main"] + b["supplement"]
    for label in ("fig-calibration-band", "fig-calibration-corrected-main",
                  "fig-calibration-corrected", "fig-nb-difference"):
        assert label not in b["figures"]
        assert f"@{label}" not in md, label
        assert f"The figure {label.removeprefix('fig-')} could not be drawn" in md
    # the text around them is still there
    assert "mean absolute difference between predicted and bias-corrected" in b["main"]
    assert "{#tbl-nb-difference}" in b["supplement"]


def test_hostile_labels_are_literal(tmp_path: Path, rng: np.random.Generator) -> None:
    res = _results(rng, cohort="c " + HOSTILE, subgroup="s " + HOSTILE,
                   label="m " + HOSTILE)
    b = _build(res, tmp_path)
    md = b["main"] + b["supplement"]
    # hostile labels in figure titles and axes are drawn literally
    assert set(b["figures"]) == MAIN_FIGURES | SUPPLEMENT_FIGURES
    assert "<script>" not in md and "{{<" not in md
    assert not re.search(r"^\s*```", md, re.M)
    assert "$\\input" not in md
    assert md_text("m " + HOSTILE) in md
    for png in b["figures"].values():
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
    res, _ = make_results(7, survival=False)
    b = _build(ResultsFile.from_data(res), tmp_path)
    assert b == {"main": "", "supplement": "", "figures": {}, "tables": {}}


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
