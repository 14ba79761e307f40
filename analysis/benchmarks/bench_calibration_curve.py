"""Benchmark: the loess calibration band of radval.stats.calibration_curve vs scikit-misc.

n = 500 patients, 2,000 bootstrap resamples, 200 grid points (val.prob.ci.2's band).
radval fits all resamples' local regressions in one batch (its own port of R's
``loess``, k-d tree and vertex interpolation included).  The reference fits the same
resamples one by one with ``skmisc.loess`` (the netlib dloess C/Fortran code that R's
``loess`` also uses) and takes the same pointwise quantiles.  Target: no slower than
the compiled loop (``ratio <= 1``) and the same band (max abs difference <= 1e-9).

Usage: ``.venv/bin/python analysis/benchmarks/bench_calibration_curve.py [n] [B]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

TARGET = 1.0


def _reference(p: np.ndarray, y: np.ndarray, idx: np.ndarray, grid: np.ndarray) -> np.ndarray:
    from skmisc.loess import loess

    out = np.full((idx.shape[0], grid.size), np.nan)
    for b, i in enumerate(idx):
        x, yy = p[i], y[i]
        lo, hi = x.min(), x.max()
        mu = 0.005 * (hi - lo)  # R's bounding box: predict() is NA outside it
        inside = (grid >= lo - mu) & (grid <= hi + mu)
        fit = loess(x, yy, span=0.75, degree=2)
        fit.fit()
        out[b, inside] = fit.predict(grid[inside]).values
    return out


def main(n: int = 500, n_bootstrap: int = 2000) -> list[dict[str, object]]:
    from radval.stats import calibration_curve

    try:
        import skmisc.loess  # noqa: F401
    except ImportError:
        print("scikit-misc is not installed; skipping")
        return []
    rng = np.random.default_rng(11)
    p = 1 / (1 + np.exp(-rng.normal(-1, 1.2, n)))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.2 + 0.8 * np.log(p / (1 - p)))))).astype(int)

    calibration_curve(y[:100], p[:100], n_bootstrap=20, rng=0)  # warm-up
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        res = calibration_curve(y, p, n_bootstrap=n_bootstrap, rng=5)
        best = min(best, time.perf_counter() - t0)
    grid = res.curve["predicted"].to_numpy()
    # the same resamples as radval's (one chunk of generator draws)
    idx = np.random.default_rng(5).integers(0, n, size=(n_bootstrap, n))
    t0 = time.perf_counter()
    ref = _reference(p, y.astype(float), idx, grid)
    ref_s = time.perf_counter() - t0
    q = np.nanquantile(ref, [0.025, 0.975], axis=0, method="linear")
    diff = float(np.nanmax(np.abs(np.vstack([res.curve["ci_low"], res.curve["ci_high"]]) - q)))
    ratio = best / ref_s
    print(f"calibration_curve loess band: radval {best:.3f} s, skmisc loop {ref_s:.3f} s, "
          f"ratio {ratio:.3f}, max band difference {diff:.2e}")
    return [{
        "benchmark": f"calibration_curve loess band, n = {n}, {n_bootstrap} resamples "
                     "vs skmisc.loess loop",
        "radval_s": best, "reference_s": ref_s, "ratio": ratio, "target": "<= 1",
        "ok": bool(ratio <= TARGET and diff <= 1e-9), "max_band_diff": diff,
    }]


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
