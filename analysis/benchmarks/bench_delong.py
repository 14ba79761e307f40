"""Benchmark: DeLong AUC + variance (and the paired test) vs scikit-learn's AUC.

Reference: one ``sklearn.metrics.roc_auc_score`` call (AUC only) on the same
n = 1,000,000 patients, timed in the same process.  Targets (issue 2):
``delong_ci`` (AUC + DeLong variance + CI) at most 0.5x the sklearn time, and
the paired DeLong test of two scores at most 1x.  Times are the best of
``repeats`` runs.  Run: ``python analysis/benchmarks/bench_delong.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best = float("inf")
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(n: int = 1_000_000, repeats: int = 5, seed: int = 20240601) -> list[dict[str, Any]]:
    """Run the benchmark and return one row per comparison."""
    from sklearn.metrics import roc_auc_score

    from radval.stats import delong_ci, delong_test

    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.3).astype(np.int64)
    a = rng.normal(size=n) + 0.8 * y
    b = rng.normal(size=n) + 0.6 * y

    ref_s, ref_auc = _best(lambda: roc_auc_score(y, a), repeats)
    ci_s, ci = _best(lambda: delong_ci(y, a), repeats)
    test_s, _ = _best(lambda: delong_test(y, a, b), repeats)
    if abs(ci.estimate - ref_auc) > 1e-12:
        msg = f"AUC mismatch: radval {ci.estimate!r} vs sklearn {ref_auc!r}"
        raise RuntimeError(msg)
    rows = [
        {"benchmark": f"delong_ci AUC+var n={n:,} vs roc_auc_score", "radval_s": ci_s,
         "reference_s": ref_s, "ratio": ci_s / ref_s, "target": "<= 0.5",
         "ok": ci_s / ref_s <= 0.5},
        {"benchmark": f"delong_test paired n={n:,} vs roc_auc_score",
         "radval_s": test_s, "reference_s": ref_s, "ratio": test_s / ref_s, "target": "<= 1",
         "ok": test_s / ref_s <= 1.0},
    ]
    _print(rows)
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{'benchmark':58s} {'radval_s':>9s} {'ref_s':>9s} {'ratio':>7s} {'target':>7s} ok")
    for r in rows:
        print(f"{r['benchmark']:58s} {r['radval_s']:9.4f} {r['reference_s']:9.4f} "
              f"{r['ratio']:7.3f} {r['target']:>7s} {r['ok']}")


if __name__ == "__main__":
    main()
