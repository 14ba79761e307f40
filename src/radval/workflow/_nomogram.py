"""Points scales of an rms-style nomogram."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from radval.models.logistic import DesignSpec, LogisticFit

logger = logging.getLogger("radval.pipeline")


def nomogram_points(fit: LogisticFit, inputs: Sequence[str], spec: DesignSpec,
                    dev_frame: pd.DataFrame, *, signature_label: str = "Signature",
                    n_ticks: int = 6) -> dict[str, Any]:
    """Points scales of an rms-style nomogram for a fitted logistic model.

    Each predictor's contribution :math:`\\beta_k x_k` is shifted to start at 0 over
    its development range (numeric: min..max; categorical: levels with the
    reference at 0).  The predictor with the largest range of contribution gets
    0-100 points; every other predictor is scaled by the same points per unit of
    linear predictor, :math:`u = 100/\\max_k \\text{range}_k`.  Total points
    :math:`T` map back to :math:`\\eta = \\beta_0 + \\sum_k \\min_k + T/u` and the
    probability :math:`1/(1+e^{-\\eta})`.
    """
    coef = dict(zip(["(Intercept)", *inputs], fit.coef.tolist(), strict=True))
    groups: list[dict[str, Any]] = []
    numeric = [inputs[0]] + [n for n, k in spec.predictors if k == "numeric"]
    for name in numeric:
        col = dev_frame[name].to_numpy(dtype=float)
        lo, hi = float(np.nanmin(col)), float(np.nanmax(col))
        b = coef[name]
        contrib = [b * lo, b * hi]
        ticks = np.linspace(lo, hi, n_ticks)
        groups.append({"name": signature_label if name == inputs[0] else name,
                       "column": name, "kind": "numeric", "coef": b,
                       "values": ticks.tolist(), "contrib": (b * ticks).tolist(),
                       "min": min(contrib), "range": abs(contrib[1] - contrib[0])})
    for name, kind in spec.predictors:
        if kind != "categorical":
            continue
        levels = spec.levels[name]
        contrib = [0.0] + [coef[f"{name}[{lv}]"] for lv in levels[1:]]
        groups.append({"name": name, "column": name, "kind": "categorical", "coef": None,
                       "values": levels, "contrib": contrib, "min": min(contrib),
                       "range": max(contrib) - min(contrib)})
    max_range = max(g["range"] for g in groups) if groups else 1.0
    unit = 100.0 / max_range if max_range > 0 else 0.0
    predictors = []
    for g in groups:
        pts = [(c - g["min"]) * unit for c in g["contrib"]]
        predictors.append({"name": g["name"], "column": g["column"], "kind": g["kind"],
                           "coef": g["coef"], "ticks": [{"value": v, "points": p} for v, p in
                                                        zip(g["values"], pts, strict=True)],
                           "max_points": max(pts) if pts else 0.0})
    base = coef["(Intercept)"] + sum(g["min"] for g in groups)
    total_max = sum(p["max_points"] for p in predictors)
    probs = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    total = []
    for pr in probs:
        eta = math.log(pr / (1 - pr))
        t = (eta - base) * unit if unit else math.nan
        if 0.0 <= t <= total_max:
            total.append({"points": t, "probability": pr})
    return {"predictors": predictors, "points_per_unit_lp": unit, "lp_at_zero_points": base,
            "total_points_max": total_max, "total_points": total,
            "intercept": coef["(Intercept)"],
            "formula": "probability = 1 / (1 + exp(-(lp_at_zero_points + total_points / "
                       "points_per_unit_lp)))"}
