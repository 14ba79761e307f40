"""Evaluation tables: heterogeneity vs metafor, undefined metrics, frozen cutoffs, ROC band."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from radval._rng import stable_rng
from radval.exceptions import InputError
from radval.workflow._evaluation import (
    PERFORMANCE_COLUMNS,
    evaluate_predictions,
    heterogeneity_test,
    roc_band,
)

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "heterogeneity.json")
                 .read_text())


def test_heterogeneity_matches_metafor_fe() -> None:
    from radval import stats

    aucs, vars_ = [], []
    for g in REF["groups"]:
        d = stats.delong_ci(g["y"], g["s"])
        aucs.append(d.estimate)
        vars_.append(d.variance)
    assert_allclose(aucs, REF["aucs"], rtol=1e-12)
    assert_allclose(vars_, REF["variances"], rtol=1e-9)
    h3 = heterogeneity_test(REF["aucs"], REF["variances"])
    assert_allclose(h3.statistic, REF["q3"], rtol=1e-10)
    assert_allclose(h3.p_value, REF["p3"], rtol=1e-8)
    assert_allclose(h3.pooled, REF["pooled3"], rtol=1e-10)
    assert h3.df == 2
    h2 = heterogeneity_test(REF["aucs"][:2], REF["variances"][:2])
    assert_allclose(h2.statistic, REF["q2"], rtol=1e-10)
    # two groups: Q equals the squared z of the unpaired difference
    z = (REF["aucs"][0] - REF["aucs"][1]) / np.sqrt(sum(REF["variances"][:2]))
    assert_allclose(h2.statistic, z * z, rtol=1e-10)
    with pytest.raises(InputError):
        heterogeneity_test([0.7], [0.01])
    with pytest.raises(InputError):
        heterogeneity_test([0.7, 0.8], [0.01, 0.0])


def _preds(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for cohort, n, prev in (("dev", 80, 0.4), ("val", 60, 0.3), ("oneclass", 20, 0.0)):
        y = (rng.random(n) < prev).astype(int)
        for model, shift in (("a", 1.5), ("b", 0.5)):
            s = rng.normal(size=n) + shift * y
            rows.append(pd.DataFrame({"patient_id": [f"{cohort}{i}" for i in range(n)],
                                      "cohort": cohort, "model": model, "score": s,
                                      "probability": 1 / (1 + np.exp(-s)), "y_true": y}))
    return pd.concat(rows, ignore_index=True)


def test_evaluate_predictions_tables(rng: np.random.Generator) -> None:
    from radval import stats

    preds = _preds(rng)
    roles = {"dev": "development", "val": "external_validation",
             "oneclass": "external_validation"}
    ids = preds[(preds.model == "a")]
    half = {"small": set(ids.patient_id[::2]), "large": set(ids.patient_id[1::2])}
    out = evaluate_predictions(preds, cutoffs={"a": 0.5, "b": 0.6}, roles=roles,
                               subgroup_ids={"size": half}, n_bootstrap=100,
                               roc_band_resamples=50, seed=3)
    perf = out.performance
    assert list(perf.columns[:len(PERFORMANCE_COLUMNS)]) == PERFORMANCE_COLUMNS
    row = perf[(perf.cohort == "val") & (perf.model == "a") & (perf.subgroup == "all")].iloc[0]
    pv = preds[(preds.cohort == "val") & (preds.model == "a")]
    d = stats.delong_ci(pv.y_true, pv.probability)
    assert_allclose([row.auc, row.auc_ci_low, row.auc_ci_high], [d.estimate, d.ci_low,
                                                                 d.ci_high], rtol=1e-12)
    assert row.cutoff == 0.5
    # the one-class cohort is reported with a reason, not dropped
    oc = perf[(perf.cohort == "oneclass") & (perf.subgroup == "all")]
    assert len(oc) == 2 and oc.auc.isna().all()
    assert oc.undefined_reason.str.contains("one outcome class").all()
    # threshold metrics use the frozen cutoff: positives are probability >= cutoff
    tm = out.threshold_metrics
    sens = tm[(tm.cohort == "val") & (tm.model == "b") & (tm.subgroup == "all")
              & (tm.metric == "sensitivity")].iloc[0]
    pb = preds[(preds.cohort == "val") & (preds.model == "b")]
    pos = pb[pb.y_true == 1]
    assert sens.numerator == int((pos.probability >= 0.6).sum())
    assert sens.denominator == len(pos)
    # comparisons in dev and val, and the one-class cohort flagged
    comp = out.comparisons
    assert set(comp.cohort) == {"dev", "val"}
    # HL df: g - 2 in development, g in validation
    cal = out.calibration.set_index(["cohort", "model"])
    assert cal.loc[("dev", "a"), "hl_df"] == 8
    assert cal.loc[("val", "a"), "hl_df"] == 10
    # subgroups and heterogeneity
    sub = out.subgroups
    assert set(sub.level) == {"small", "large"}
    het = out.heterogeneity
    h = het[(het.cohort == "dev") & (het.model == "a")].iloc[0]
    s = sub[(sub.cohort == "dev") & (sub.model == "a")].set_index("level")
    ref = heterogeneity_test(s.auc.tolist(), s.variance.tolist())
    assert_allclose(h.statistic, ref.statistic, rtol=1e-12)
    assert set(out.curves) == {"roc", "roc_band", "calibration_grouped",
                                  "calibration_smooth", "decision", "calibration_band",
                                  "calibration_subgroup"}
    # same seed, same numbers
    again = evaluate_predictions(preds, cutoffs={"a": 0.5, "b": 0.6}, roles=roles,
                                 subgroup_ids={"size": half}, n_bootstrap=100,
                                 roc_band_resamples=50, seed=3)
    pd.testing.assert_frame_equal(again.performance, perf)


def test_roc_band_contains_curve(rng: np.random.Generator) -> None:
    y = (rng.random(200) < 0.4).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=200) + 1.2 * y)))
    band = roc_band(y, p, n_resamples=200, rng=stable_rng(1, "x"))
    assert (band.tpr_low <= band.tpr_high).all()
    assert band.tpr_high.iloc[-1] == 1.0
    # brute-force TPR at FPR 0.2 on the original sample lies inside the band
    neg = np.sort(p[y == 0])[::-1]
    thr = neg[int(np.floor(0.2 * neg.size))]
    tpr = np.mean(p[y == 1] > thr)
    b = band.set_index("fpr").loc[0.2]
    assert b.tpr_low <= tpr <= b.tpr_high


def test_stable_rng_is_stable() -> None:
    a = stable_rng(5, "auc", "dev").integers(0, 1000, 5)
    b = stable_rng(5, "auc", "dev").integers(0, 1000, 5)
    c = stable_rng(5, "auc", "val").integers(0, 1000, 5)
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
