"""Benchmark: time-dependent AUC (with IPCW standard errors) vs scikit-survival.

n = 100,000 patients, 10 horizons (deciles 10-90% of the event times plus the 95th),
continuous times (no censoring time equal to an event time, where the two tools'
conventions agree).  Reference: ``sksurv.metrics.cumulative_dynamic_auc(y, y, score,
times, tied_tol=0)`` (AUC only, no standard error), timed in the same process.
radval's ``time_dependent_auc`` also computes the influence-function standard errors
and intervals.  Targets (issue 12): under 1 second on this machine, and no slower
than scikit-survival (ratio <= 1).  The row also reports the largest absolute AUC
difference between the two.  Times are the best of ``repeats`` runs.

Usage: ``.venv/bin/python analysis/benchmarks/bench_timeroc.py [n]``.
"""

from __future__ import annotations

import sys
import time
import warnings
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


def main(n: int = 100_000, repeats: int = 3, seed: int = 20240612) -> list[dict[str, Any]]:
    """Run the benchmark and return one row per comparison."""
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    from radval.stats import time_dependent_auc, uno_c

    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_ev = rng.exponential(10.0 * np.exp(-0.7 * x))
    t_c = rng.uniform(0.0, 30.0, size=n)
    t = np.minimum(t_ev, t_c)
    e = (t_ev <= t_c).astype(np.int64)
    times = np.quantile(t[e == 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    y = Surv.from_arrays(e.astype(bool), t)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_s, (ref_auc, _) = _best(
            lambda: cumulative_dynamic_auc(y, y, x, times, tied_tol=0.0), repeats)
        rv_s, out = _best(lambda: time_dependent_auc(t, e, x, times), repeats)
        uno_s, _ = _best(lambda: uno_c(t, e, x), 1)
    max_diff = float(np.max(np.abs(out["auc"].to_numpy() - ref_auc)))
    if max_diff > 1e-9:
        msg = f"AUC mismatch with scikit-survival: max abs difference {max_diff:.3g}"
        raise RuntimeError(msg)
    rows = [
        {"benchmark": f"time_dependent_auc (+SE) n={n:,} x 10 horizons vs sksurv "
                      f"(max|dAUC| {max_diff:.1e})",
         "radval_s": rv_s, "reference_s": ref_s, "ratio": rv_s / ref_s,
         "target": "<= 1, < 1 s", "ok": rv_s / ref_s <= 1.0 and rv_s < 1.0},
        {"benchmark": f"uno_c (+SE) n={n:,} vs sksurv AUC call (info)",
         "radval_s": uno_s, "reference_s": ref_s, "ratio": uno_s / ref_s,
         "target": "(info)", "ok": True},
    ]
    _print(rows)
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{'benchmark':75s} {'radval_s':>9s} {'ref_s':>9s} {'ratio':>7s} target ok")
    for r in rows:
        print(f"{r['benchmark']:75s} {r['radval_s']:9.4f} {r['reference_s']:9.4f} "
              f"{r['ratio']:7.3f} {r['target']} {r['ok']}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
