"""End to end on the built-in synthetic study's data: the time-to-event endpoint from the
study file through ``radval run``, ``radval validate`` at three sites with follow-up, to
``radval pool`` and the report.

The study is ``radval synth --small`` with 120 patients at centres 1 and 2 and two extra
sites (45 patients each, other scanners); it has ``dfs_months`` / ``dfs_event``.  A
reduced PyRadiomics parameter file (first order + shape) keeps the extraction short.  The
numbers are recomputed with radval.stats from the predictions and the clinical table.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from radval import stats
from radval.cli import main
from radval.exceptions import RadvalWarning

pytestmark = [pytest.mark.slow, pytest.mark.radiomics]

PARAMS = ("imageType:\n  Original: {}\nfeatureClass:\n  firstorder: []\n  shape: []\n"
          "setting:\n  binWidth: 25\n  label: 1\n")
HORIZONS = [12.0, 36.0, 60.0]
SITES = ("centre2", "siteC", "siteD")


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("radiomics")
    from radval.io.synth import SiteSpec, generate_study

    root = tmp_path_factory.mktemp("survival_e2e")
    generate_study(root, small=True, n_patients=120, seed=5,
                   sites=[SiteSpec(name="siteC", n=45, profile="ge_thick"),
                          SiteSpec(name="siteD", n=45, profile="philips_lowdose")])
    (root / "params.yaml").write_text(PARAMS)
    doc = {
        "name": "survival-e2e", "outcome": {"column": "ln_metastasis", "positive_label": 1},
        "manifest": "manifest.csv", "clinical": "clinical.csv",
        "radiomics": {"enabled": True, "params": "params.yaml"}, "deep": {"enabled": False},
        "cohorts": [{"name": "centre1_train", "role": "development"},
                    {"name": "centre1_test", "role": "internal_validation"},
                    {"name": "centre2", "role": "external_validation"}],
        "clinical_predictors": [
            {"name": "age_years", "timing": "pre-operative", "kind": "numeric"},
            {"name": "tumour_size_mm", "timing": "pre-operative", "kind": "numeric"}],
        "selection": {"n_folds": 5},
        "models": {"nomogram": False},
        "evaluation": {"bootstrap_ci": 50, "optimism": 5},
        "survival": {"time": "dfs_months", "event": "dfs_event", "horizons": HORIZONS,
                     "model": "cox", "predictors": ["age_years", "tumour_size_mm"]},
        "compute": {"jobs": 1}, "seed": 11, "output": "run",
    }
    (root / "study.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        assert main(["run", str(root / "study.yaml"), "-q"]) == 0
        for site in SITES:
            assert main(["validate", str(root / "run" / "bundle"), "--manifest",
                         str(root / "manifest.csv"), "--clinical", str(root / "clinical.csv"),
                         "--cohort", site, "--out", str(root / f"val_{site}"), "--site", site,
                         "--no-report", "--bootstrap", "20", "-q"]) == 0
        assert main(["pool", *(str(root / f"val_{s}" / "share.json") for s in SITES),
                     "--out", str(root / "pooled"), "--formats", "none", "-q"]) == 0
    return {"root": root, "run": json.loads((root / "run" / "results.json").read_text())}


def _site_arrays(root: Path, site: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow-up of the site's analysed patients and the frozen Cox model's marker."""
    res = json.loads((root / f"val_{site}" / "results.json").read_text())
    model = res["survival"]["survival_model"]
    preds = pd.read_parquet(root / f"val_{site}" / "predictions.parquet")
    clin = pd.read_csv(root / "clinical.csv", dtype={"patient_id": str}).set_index("patient_id")
    c = clin.loc[preds["patient_id"]]
    x = np.column_stack([preds["score"], c["age_years"], c["tumour_size_mm"]])
    lp = (x - np.asarray(model["means"])) @ np.asarray(model["coef"])
    return c["dfs_months"].to_numpy(float), c["dfs_event"].to_numpy(float), lp


def _numbers(obj: Any) -> list[float]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers(v)]
    return [float(obj)] if isinstance(obj, int | float) and not isinstance(obj, bool) else []


def test_run_has_the_survival_endpoint(e2e: dict[str, Any]) -> None:
    surv = e2e["run"]["survival"]
    assert surv["validated"] == "cox" and surv["horizons"] == HORIZONS
    assert {r["cohort"] for r in surv["summary"]} == {"centre1_train", "centre1_test",
                                                      "centre2"}
    assert [r["metric"] for r in surv["optimism"]] == ["c_harrell", "c_uno", "auc", "auc",
                                                       "auc"]
    assert all(r["n_resamples"] >= 1 for r in surv["optimism"])
    sig = json.loads((e2e["root"] / "run" / "bundle" / "signature.json").read_text())
    assert sig["survival"] == surv["survival_model"]


def test_site_numbers_match_stats_and_the_development_run(e2e: dict[str, Any]) -> None:
    root = e2e["root"]
    for site in SITES:
        res = json.loads((root / f"val_{site}" / "results.json").read_text())
        summ = res["survival"]["summary"][0]
        t, e, lp = _site_arrays(root, site)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            assert summ["c_index"] == pytest.approx(
                stats.concordance_index(t, e, lp).estimate, rel=1e-10)
            assert summ["c_uno"] == pytest.approx(
                stats.uno_c(t, e, lp, tau=HORIZONS[-1]).estimate, rel=1e-10)
            auc = stats.time_dependent_auc(t, e, lp, HORIZONS)
        got = [r["auc"] for r in res["survival"]["time_dependent_auc"]]
        np.testing.assert_allclose(np.array(got, dtype=float), auc["auc"], rtol=1e-10)
    # centre2 is a cohort of the development run too: the frozen bundle at the site gives
    # the run's numbers
    site = json.loads((root / "val_centre2" / "results.json").read_text())["survival"]
    run = next(r for r in e2e["run"]["survival"]["summary"] if r["cohort"] == "centre2")
    for key in ("n", "events", "c_index", "c_uno", "integrated_auc", "integrated_brier"):
        assert site["summary"][0][key] == pytest.approx(run[key], rel=1e-10), key


def test_share_carries_aggregates_under_disclosure_control(e2e: dict[str, Any]) -> None:
    root = e2e["root"]
    for site in SITES:
        share = json.loads((root / f"val_{site}" / "share.json").read_text())
        res = json.loads((root / f"val_{site}" / "results.json").read_text())["survival"]
        s = share["survival"]
        t, e, _lp = _site_arrays(root, site)
        n, events = t.size, int(e.sum())
        assert s["events"] == events and s["model"] == "cox" and s["tau"] == HORIZONS[-1]
        assert s["c_harrell"] == res["summary"][0]["c_index"]
        # no follow-up time travels in the survival block (the horizons are the bundle's);
        # only counts may be integers there: the events
        assert not (set(_numbers(s)) & set(t.tolist())) - {*HORIZONS, float(s["events"])}
        released = []
        for k, row in enumerate(s["horizons"]):
            cases = int(((t <= HORIZONS[k]) & (e == 1)).sum())
            controls = int((t > HORIZONS[k]).sum())
            if row["auc"] is None:
                assert f"survival.horizons[{k}].auc" in share["suppression"]["suppressed"]
            else:
                released.append(cases)
                assert min(cases, controls) >= 5
                assert row["auc"] == res["time_dependent_auc"][k]["auc"]
                assert row["brier"] == res["brier"][k]["brier"]
                assert row["o_e"] == pytest.approx(res["calibration"][k]["o_e_ratio"],
                                                   rel=1e-12)
        for a, b in zip([*released], [*released[1:], events]):
            assert b - a == 0 or b - a >= 5
        assert n > 0


def test_pool_meta_analyses_c_and_auc(e2e: dict[str, Any]) -> None:
    root = e2e["root"]
    from radval.pool import meta_analysis

    pooled = json.loads((root / "pooled" / "pooled.json").read_text())["survival"]
    shares = [json.loads((root / f"val_{s}" / "share.json").read_text()) for s in SITES]
    est = np.array([s["survival"]["c_harrell"] for s in shares])
    se = np.array([s["survival"]["c_harrell_se"] for s in shares])
    ref = meta_analysis(est, se**2, transform="logit")
    got = pooled["measures"]["c_harrell"]["result"]
    assert got["pooled_natural"] == pytest.approx(ref.pooled_natural, rel=1e-12)
    assert got["tau2"] == pytest.approx(ref.tau2, rel=1e-9, abs=1e-14)
    for name, m in pooled["measures"].items():
        assert m["k"] + len(m["excluded"]) == len(SITES), name
        if m["result"] is None:
            assert m["k"] < 2
    qmd = (root / "pooled" / "report" / "pooled.qmd").read_text()
    assert "# Time-to-event endpoint" in qmd and "Harrell" in qmd
    assert (root / "pooled" / "figures" / "forest_survival_c_harrell.png").is_file()


def test_report_of_the_run_has_the_survival_section(e2e: dict[str, Any],
                                                   tmp_path: Path) -> None:
    from radval.report.document import build_report

    results = e2e["run"]
    preds = pd.read_parquet(e2e["root"] / "run" / "predictions.parquet")
    from radval.report.tables import fmt_ci

    parts = build_report(results, preds, tmp_path, jobs=1)
    # the headline in the main report, the detail (and the TRIPOD+AI items) in the supplement
    assert "{#sec-survival-validation}" in parts.qmd and parts.supplement is not None
    assert "{#tbl-survival-tripod}" in parts.supplement
    for label in ("fig-survival-horizon", "fig-survival-auc", "fig-survival-calibration",
                  "fig-survival-dca"):
        assert parts.figures[label].is_file(), label
    c = next(r for r in results["survival"]["summary"] if r["cohort"] == "centre2")
    assert not math.isnan(c["c_index"])
    z = 1.959963984540054
    assert fmt_ci(c["c_index"], c["c_index"] - z * c["c_index_se"],
                  c["c_index"] + z * c["c_index_se"]) in parts.qmd
