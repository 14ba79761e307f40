"""The study's confidence level reaches every interval the evaluation computes (Wilson
intervals at the cut-off, risk-group calibration, DeLong differences, Rubin-pooled
coefficients), not only the AUC's: the report labels them all with that level."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

from radval import stats
from radval.workflow._evaluation import evaluate_predictions
from radval.workflow._imputation import pooled_coefficients

from .test_evaluation import _preds


def _at(level: float, preds: pd.DataFrame) -> object:
    return evaluate_predictions(preds, cutoffs={"a": 0.5, "b": 0.6},
                                roles={"dev": "development", "val": "external_validation",
                                       "oneclass": "external_validation"},
                                n_bootstrap=0, roc_band_resamples=0, calibration_band=0,
                                net_benefit_bootstrap=0, confidence_level=level, seed=3)


def test_every_interval_of_the_evaluation_is_at_the_level(rng: np.random.Generator) -> None:
    preds = _preds(rng)
    out, default = _at(0.9, preds), _at(0.95, preds)
    val = preds[preds.cohort == "val"].sort_values("patient_id", kind="mergesort")
    pa, pb = val[val.model == "a"], val[val.model == "b"]
    y = pa.y_true.to_numpy()
    # the AUC (as before)
    perf = out.performance.set_index(["cohort", "model", "subgroup"])
    d = stats.delong_ci(y, pa.probability, confidence_level=0.9)
    assert_allclose(perf.loc[("val", "a", "all"), ["auc_ci_low", "auc_ci_high"]].astype(float),
                    [d.ci_low, d.ci_high], rtol=1e-12)
    # Wilson intervals at the frozen cut-off
    tm = out.threshold_metrics
    got = tm[(tm.cohort == "val") & (tm.model == "b") & (tm.subgroup == "all")] \
        .set_index("metric")
    ref = stats.threshold_metrics(y, pb.probability, threshold=0.6,
                                  confidence_level=0.9).to_frame().set_index("metric")
    for m in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
        assert_allclose(got.loc[m, ["ci_low", "ci_high"]].astype(float),
                        ref.loc[m, ["ci_low", "ci_high"]].astype(float), rtol=1e-12, err_msg=m)
    # DeLong differences
    comp = out.comparisons
    row = comp[comp.cohort == "val"].iloc[0]
    ref_c = stats.delong_test_many(y, {"a": pa.probability.to_numpy(),
                                       "b": pb.probability.to_numpy()}, confidence_level=0.9)
    assert_allclose([row.ci_low, row.ci_high], ref_c.loc[0, ["ci_low", "ci_high"]]
                    .astype(float), rtol=1e-12)
    # risk groups of the calibration plot
    grp = out.curves["calibration_grouped"]
    g = grp[(grp.cohort == "val") & (grp.model == "a")]
    ref_g = stats.calibration(y, np.clip(pa.probability.to_numpy(), 1e-10, 1 - 1e-10),
                              n_groups=10, confidence_level=0.9).grouped
    assert_allclose(g[["ci_low", "ci_high"]].to_numpy(dtype=float),
                    ref_g[["ci_low", "ci_high"]].to_numpy(dtype=float), rtol=1e-12)
    # and each of them is narrower than at the default level
    dg = default.curves["calibration_grouped"]
    dg = dg[(dg.cohort == "val") & (dg.model == "a")]
    assert ((g.ci_high - g.ci_low).to_numpy() < (dg.ci_high - dg.ci_low).to_numpy()).all()
    dt = default.threshold_metrics
    dt = dt[(dt.cohort == "val") & (dt.model == "b") & (dt.subgroup == "all")] \
        .set_index("metric")
    assert (got.ci_high - got.ci_low).loc["sensitivity"] < \
        (dt.ci_high - dt.ci_low).loc["sensitivity"]
    dc = default.comparisons
    drow = dc[dc.cohort == "val"].iloc[0]
    assert row.ci_high - row.ci_low < drow.ci_high - drow.ci_low


def test_pooled_coefficients_at_the_level(rng: np.random.Generator) -> None:
    q = rng.normal([0.5, -1.0], 0.1, size=(5, 2))
    u = np.stack([np.diag([0.04, 0.09]) * (1 + 0.1 * j) for j in range(5)])
    fits = [SimpleNamespace(coef=q[j], cov=u[j], n=120, names=["(Intercept)", "x"])
            for j in range(5)]
    got = pooled_coefficients("m", fits, confidence_level=0.9).set_index("term")
    ref = stats.rubin_pool_many(q, u, names=["(Intercept)", "x"], dfcom=118,
                                confidence_level=0.9).to_frame().set_index("term")
    assert_allclose(got[["ci_low", "ci_high"]].to_numpy(dtype=float),
                    ref[["ci_low", "ci_high"]].to_numpy(dtype=float), rtol=1e-12)
    wide = pooled_coefficients("m", fits).set_index("term")
    assert ((got.ci_high - got.ci_low) < (wide.ci_high - wide.ci_low)).all()
