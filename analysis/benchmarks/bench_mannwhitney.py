"""Benchmark: radval.stats.mann_whitney_table vs a loop of scipy.stats.mannwhitneyu.

1,000 features x 300 patients (100 events).  radval ranks all columns in one
call; the reference calls ``scipy.stats.mannwhitneyu(x[y == 1], x[y == 0],
method="asymptotic", use_continuity=True)`` once per feature.  Half the features
are rounded (heavy ties) to exercise the tie correction.  Target: at least 20x
faster (``ratio = radval_s / reference_s <= 0.05``) and the same p-values.

Usage: ``.venv/bin/python analysis/benchmarks/bench_mannwhitney.py [n_features]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

TARGET = 1 / 20


def main(n_features: int = 1000, n_patients: int = 300) -> list[dict[str, object]]:
    from scipy import stats

    from radval.stats import mann_whitney_table

    rng = np.random.default_rng(7)
    y = np.zeros(n_patients, dtype=int)
    y[rng.choice(n_patients, n_patients // 3, replace=False)] = 1
    x = rng.normal(size=(n_patients, n_features)) + 0.3 * y[:, None] * rng.uniform(
        size=n_features)
    x[:, ::2] = np.round(x[:, ::2], 1)
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(n_features)])

    mann_whitney_table(frame.iloc[:, :5], y)  # warm-up
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        tab = mann_whitney_table(frame, y)
        best = min(best, time.perf_counter() - t0)

    pos, neg = y == 1, y == 0
    stats.mannwhitneyu(x[pos, 0], x[neg, 0], method="asymptotic")  # warm-up
    t0 = time.perf_counter()
    ref_p = np.empty(n_features)
    ref_u = np.empty(n_features)
    for j in range(n_features):
        col = frame.iloc[:, j].to_numpy()
        r = stats.mannwhitneyu(col[pos], col[neg], alternative="two-sided",
                               method="asymptotic", use_continuity=True)
        ref_p[j], ref_u[j] = r.pvalue, r.statistic
    ref_s = time.perf_counter() - t0
    p = tab["p_value"].to_numpy()
    max_rel = float(np.max(np.abs(p - ref_p) / ref_p))
    same_u = bool(np.array_equal(tab["statistic"].to_numpy(), ref_u))
    ratio = best / ref_s
    print(f"mann_whitney_table: radval {best:.4f} s, scipy loop {ref_s:.3f} s, "
          f"{ref_s / best:.0f}x faster, max rel p diff = {max_rel:.2e}, same U: {same_u}")
    return [{
        "benchmark": f"mann_whitney_table {n_features} features x {n_patients} patients "
                     "vs scipy loop",
        "radval_s": best, "reference_s": ref_s, "ratio": ratio,
        "target": "<= 0.05 (20x)", "ok": bool(ratio <= TARGET and max_rel <= 1e-9 and same_u),
        "speedup": ref_s / best, "max_rel_p_diff": max_rel,
    }]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
