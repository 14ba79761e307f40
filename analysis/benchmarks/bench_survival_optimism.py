"""Benchmark: what the time-to-event endpoint adds to one optimism resample.

Every resample of Harrell's bootstrap repeats the whole development (feature selection
with a cross-validated LASSO per family, every model); with a ``survival:`` block it also
computes Harrell's C, Uno's C and AUC(t) at three horizons of the resample's marker on
the resample and on the development cohort (``model: cox``: after refitting the Cox model
of the signature and two clinical predictors).  Reference, timed in the same process: the
10-fold ``cv_lasso_logistic`` that each resample runs once per feature family (165
patients x 40 candidate features, the size of the built-in study's development cohort
after the univariate steps).  Target: the survival work costs at most a quarter of that
one LASSO cross-validation (the resample runs two of them and trains a network besides).
Times are the best of ``repeats`` runs.

Usage: ``.venv/bin/python analysis/benchmarks/bench_survival_optimism.py``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd


def _best(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(n: int = 165, n_features: int = 40, repeats: int = 5,
         seed: int = 20231024) -> list[dict[str, Any]]:
    """Run the benchmark and return one row per mode."""
    from radval.selection.lasso import cv_lasso_logistic
    from radval.workflow._survival_optimism import resample_survival

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features))
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] + x[:, 1])))).astype(int)
    sig = x[:, 0] + x[:, 1] + rng.normal(scale=0.5, size=n)
    te = rng.exponential(60 * np.exp(-0.5 * sig))
    tc = rng.uniform(12, 130, size=n)
    pats = pd.DataFrame({"dfs_months": np.minimum(te, tc).round(1),
                         "dfs_event": (te <= tc).astype(int),
                         "age_years": rng.normal(55, 12, size=n).round(),
                         "sex": rng.choice(["F", "M"], size=n)},
                        index=pd.Index([f"p{i}" for i in range(n)], name="patient_id"))
    idx = np.sort(rng.integers(0, n, size=n))
    boot = SimpleNamespace(patients=pats.iloc[idx])
    data = SimpleNamespace(patients=pats)
    fm = SimpleNamespace(logistic={"combined": None}, selection={})
    train = {"combined": (sig[idx], sig[idx])}
    test = {"combined": (sig, sig)}
    foldid = rng.integers(0, 10, size=n) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_s = _best(lambda: cv_lasso_logistic(x, y, foldid=foldid), repeats)
        rows = []
        for model in ("signature", "cox"):
            preds = ["age_years", "sex"] if model == "cox" else []
            study = SimpleNamespace(
                survival=SimpleNamespace(time="dfs_months", event="dfs_event",
                                         horizons=[12.0, 24.0, 36.0], model=model,
                                         predictors=preds),
                clinical_predictors=[SimpleNamespace(name="age_years", kind="numeric"),
                                     SimpleNamespace(name="sex", kind="categorical")])
            rv_s = _best(lambda study=study: resample_survival(study, data, fm, boot, train,
                                                               test), repeats)
            ratio = rv_s / ref_s
            rows.append({"benchmark": f"survival per optimism resample ({model}), n={n}",
                         "radval_s": rv_s, "reference_s": ref_s, "ratio": ratio,
                         "target": "ratio <= 0.25", "ok": ratio <= 0.25})
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
