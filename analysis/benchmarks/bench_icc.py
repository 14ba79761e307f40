"""Benchmark: radval.stats.icc over 1,000 features vs a loop of pingouin.intraclass_corr.

1,000 features x 100 subjects x 2 raters.  radval computes all six ICC forms for
every feature in one vectorised call on an (F, n, k) array; the reference calls
``pingouin.intraclass_corr`` once per feature on a prepared long DataFrame (the
frames are built before timing starts).  Target: at least 50x faster
(``ratio = radval_s / reference_s <= 0.02``) and the same ICC values to 1e-10.

Usage: ``.venv/bin/python analysis/benchmarks/bench_icc.py [n_features]``.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

TARGET = 1 / 50


def _data(n_features: int, n_subjects: int = 100, n_raters: int = 2,
          seed: int = 2024) -> np.ndarray:
    rng = np.random.default_rng(seed)
    subject = rng.normal(size=(n_features, n_subjects, 1))
    noise = rng.normal(scale=rng.uniform(0.1, 2.0, size=(n_features, 1, 1)),
                       size=(n_features, n_subjects, n_raters))
    rater = rng.normal(scale=0.3, size=(n_features, 1, n_raters))
    return subject + noise + rater


def main(n_features: int = 1000) -> list[dict[str, object]]:
    import pingouin

    from radval.stats import icc

    arr = _data(n_features)
    _, n, k = arr.shape
    subj = np.repeat(np.arange(n), k)
    rater = np.tile(np.arange(k), n)
    frames = [pd.DataFrame({"subject": subj, "rater": rater, "value": arr[f].ravel()})
              for f in range(n_features)]

    icc(arr[:5])  # warm-up (imports scipy)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        res = icc(arr)
        best = min(best, time.perf_counter() - t0)
    ours = res.to_frame()["icc"].to_numpy().reshape(n_features, 6)

    ref = np.empty((n_features, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pingouin.intraclass_corr(frames[0], targets="subject", raters="rater",
                                 ratings="value")  # warm-up
        t0 = time.perf_counter()
        for f, frame in enumerate(frames):
            out = pingouin.intraclass_corr(frame, targets="subject", raters="rater",
                                           ratings="value")
            ref[f] = out["ICC"].to_numpy()
        ref_s = time.perf_counter() - t0
    max_diff = float(np.max(np.abs(ours - ref)))
    ratio = best / ref_s
    print(f"icc: radval {best:.4f} s, pingouin loop {ref_s:.3f} s, "
          f"{ref_s / best:.0f}x faster, max |ICC diff| = {max_diff:.2e}")
    return [{
        "benchmark": f"icc {n_features} features x {n} subjects x {k} raters vs pingouin",
        "radval_s": best, "reference_s": ref_s, "ratio": ratio,
        "target": "<= 0.02 (50x)", "ok": bool(ratio <= TARGET and max_diff <= 1e-10),
        "speedup": ref_s / best, "max_abs_diff": max_diff,
    }]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
