"""Benchmark: glmnet-equivalent LASSO logistic CV vs scikit-learn's saga on the same path.

Task (issue 4): the selection funnel re-runs LASSO-CV inside 200+ bootstrap
resamples, so one ``cv_lasso_logistic`` (n = 160, p = 100, 10 folds x 100
lambdas) must take well under 1 s.  The reference is scikit-learn's
``LogisticRegression(solver="saga", l1_ratio=1)`` (the only sklearn solver with an
unpenalised intercept) on the standardised predictors with ``C = 1/(N lambda)``,
fitted along the same 100 penalties with warm starts, for the full data and the 10
training folds (11 paths, as cv.glmnet).  Also reported: the max difference of the
standardised coefficients at ``lambda.1se`` between the two (saga at tol 1e-4), and
the time of a whole ``select_features`` run (n = 160, 200 candidate features).
Times are the best of ``repeats`` runs; BLAS is limited to one thread.
Run: ``python analysis/benchmarks/bench_lasso.py``.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np


def _data(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, p))
    x = z + 0.5 * np.roll(z, 1, axis=1)
    lp = -0.4 + x[:, 0] - 0.8 * x[:, 3] + 0.5 * x[:, 7]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(float)
    return x * rng.uniform(0.1, 100.0, size=p), y


def _sklearn_cv(x: np.ndarray, y: np.ndarray, lambdas: np.ndarray,
                foldid: np.ndarray) -> np.ndarray:
    """11 saga paths (full data + 10 folds); returns the full-data standardised coefs."""
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((lambdas.size, x.shape[1]))
    for k in range(0, int(foldid.max()) + 1):
        tr = foldid != k  # k = 0: full data
        xt = x[tr]
        zt = (xt - xt.mean(axis=0)) / xt.std(axis=0)
        clf = LogisticRegression(C=1.0, l1_ratio=1.0, solver="saga", tol=1e-4,
                                 max_iter=1000, warm_start=True)
        for j, lam in enumerate(lambdas):
            clf.set_params(C=1.0 / (zt.shape[0] * lam))
            clf.fit(zt, y[tr])
            if k == 0:
                out[j] = clf.coef_[0]
    return out


def main(n: int = 160, p: int = 100, repeats: int = 2,
         seed: int = 20240611) -> list[dict[str, Any]]:
    """Run the benchmark and return one row per comparison."""
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from radval.selection import cv_lasso_logistic, select_features

    x, y = _data(n, p, seed)
    rows: list[dict[str, Any]] = []
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rad_s = float("inf")
        cv = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            cv = cv_lasso_logistic(x, y, rng=seed)
            rad_s = min(rad_s, time.perf_counter() - t0)
        if cv is None:  # pragma: no cover - repeats >= 1
            raise RuntimeError("no radval run")
        t0 = time.perf_counter()
        sk_coef = _sklearn_cv(x, y, cv.lambdas, cv.foldid)
        ref_s = time.perf_counter() - t0
        xs = x.std(axis=0)
        k = cv.index_1se
        diff = float(np.max(np.abs(cv.path.coef[k] * xs - sk_coef[k])))
        rows.append({"benchmark": f"cv_lasso_logistic n={n} p={p} 10x{cv.lambdas.size} vs saga",
                     "radval_s": rad_s, "reference_s": ref_s, "ratio": ref_s / rad_s,
                     "target": "< 1 s", "ok": bool(rad_s < 1.0)})
        xw, yw = _data(n, 200, seed + 1)
        frame = pd.DataFrame(xw, columns=[f"f{j}" for j in range(200)])
        sel_s = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = select_features(frame, yw.astype(int), rng=seed)
            sel_s = min(sel_s, time.perf_counter() - t0)
        rows.append({"benchmark": f"select_features n={n} p=200 ({len(res.selected)} selected)",
                     "radval_s": sel_s, "reference_s": float("nan"), "ratio": float("nan"),
                     "target": "-", "ok": True})
    print(f"{'benchmark':58s} {'radval_s':>9s} {'ref_s':>9s} {'ratio':>7s} {'target':>7s} ok")
    for r in rows:
        print(f"{r['benchmark']:58s} {r['radval_s']:9.4f} {r['reference_s']:9.4f} "
              f"{r['ratio']:7.1f} {r['target']:>7s} {r['ok']}")
    print(f"max |standardised coef difference| at lambda.1se vs saga (tol 1e-4): {diff:.2e}")
    return rows


if __name__ == "__main__":
    main()
