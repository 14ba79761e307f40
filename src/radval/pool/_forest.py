"""Site intervals, the pooled estimate of one measure, and its forest plot (``radval pool``).

Site intervals are drawn on the scale the measure is pooled on and back-transformed
(logit for AUC and C-index, log for O/E), so each site's interval matches the pooled one.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report._escape import mpl_text
from radval.report._plots import log_axis, new_figure, style
from radval.stats._kernels import expit

__all__ = ["forest_plot", "pool_sites", "site_ci"]


def site_ci(est: float, se: float, transform: str | None, z: float) -> tuple[float, float]:
    """``est`` +- ``z`` SE on the ``transform`` scale (logit, log or none), back-transformed."""
    if transform == "logit":
        lg, lse = math.log(est / (1 - est)), se / (est * (1 - est))
        return float(expit(lg - z * lse)), float(expit(lg + z * lse))
    if transform == "log":
        lg, lse = math.log(est), se / est
        return math.exp(lg - z * lse), math.exp(lg + z * lse)
    return est - z * se, est + z * se


def pool_sites(sites: pd.DataFrame, *, transform: str | None, method: str, hksj: bool,
               confidence_level: float) -> tuple[Any, pd.DataFrame]:
    """Meta-analyse the ``used`` rows of ``sites`` (``estimate``, ``se``) and return the
    result with a copy of ``sites`` that has each used site's interval (``ci_low``,
    ``ci_high``, on the pooling scale and back-transformed) and its ``weight`` (0 for the
    sites left out).  At least two used rows are the caller's check."""
    from scipy.stats import norm

    from radval.exceptions import SmallSampleWarning
    from radval.pool._meta_analysis import meta_analysis

    used = sites[sites["used"]]
    with warnings.catch_warnings():
        # few sites are the rule here; the report states k beside every pooled value
        warnings.simplefilter("ignore", SmallSampleWarning)
        res = meta_analysis(used["estimate"].to_numpy(float),
                            used["se"].to_numpy(float) ** 2, method=method,  # type: ignore[arg-type]
                            hksj=hksj, transform=transform,  # type: ignore[arg-type]
                            confidence_level=confidence_level)
    z = float(norm.ppf(0.5 + confidence_level / 2))
    ci = [site_ci(e, se, transform, z) if u else (math.nan, math.nan)
          for e, se, u in zip(sites["estimate"], sites["se"], sites["used"])]
    out = sites.copy()
    out["ci_low"] = [c[0] for c in ci]
    out["ci_high"] = [c[1] for c in ci]
    weights = pd.Series(0.0, index=out.index)
    weights[out["used"]] = res.weights
    out["weight"] = weights
    return res, out


def forest_plot(sites: pd.DataFrame, result: Any, *, title: str, null: float,
                log_scale: bool = False, out_base: Path) -> list[Path]:
    """Draw a forest plot (site estimates with their CIs, pooled diamond, prediction interval;
    every interval at the level the sites were pooled at, :func:`pool_sites`).

    Writes ``<out_base>.png`` (300 dpi) and ``<out_base>.svg``; returns the paths.  Drawn on
    a figure of its own inside radval's ``matplotlib.rc_context`` (no pyplot, no global
    state); a log axis (O/E) gets ticks that suit its range
    (:func:`radval.report._plots.log_axis`).  Rows are labelled by the ``label`` column
    (published validations say so), else ``site (n=...)``.
    """
    used = sites[sites["used"]].reset_index(drop=True)
    with style():
        return _draw(used, result, title=title, null=null, log_scale=log_scale,
                     out_base=out_base)


def _draw(used: pd.DataFrame, result: Any, *, title: str, null: float, log_scale: bool,
          out_base: Path) -> list[Path]:
    k = len(used)
    fig, ax = new_figure(figsize=(7.0, 1.2 + 0.45 * (k + 2)))
    ys = list(range(k + 1, 1, -1))
    for y, rec in zip(ys, used.to_dict(orient="records")):
        ax.plot([rec["ci_low"], rec["ci_high"]], [y, y], color="black", lw=1)
        ax.plot([rec["estimate"]], [y], "s", color="black",
                ms=4 + 6 * rec["weight"] / max(used["weight"].max(), 1e-9))
    p, lo, hi = result.pooled_natural, result.ci_low_natural, result.ci_high_natural
    ax.fill([lo, p, hi, p], [0.5, 0.75, 0.5, 0.25], color="#1f5fa8")
    if math.isfinite(result.pi_low_natural) and math.isfinite(result.pi_high_natural):
        ax.plot([result.pi_low_natural, result.pi_high_natural], [0.5, 0.5], color="#1f5fa8",
                lw=1, ls="--")
    ax.axvline(null, color="grey", lw=0.8, ls=":")
    ax.set_yticks([*ys, 0.5])
    labels = used["label"] if "label" in used else \
        [f"{s} (n={n})" for s, n in zip(used["site"], used["n"])]
    ax.set_yticklabels([*(mpl_text(str(lab)) for lab in labels),
                        f"Pooled ({result.method}{', HKSJ' if result.hksj else ''})"])
    if log_scale:
        values = [v for v in [*used["ci_low"], *used["ci_high"], lo, hi, null,
                              result.pi_low_natural, result.pi_high_natural]
                  if math.isfinite(v) and v > 0]
        ax.set_xlim(min(values) / 1.1, max(values) * 1.1)
        log_axis(ax, "x", low=min(values), high=max(values))
    ax.set_ylim(-0.2, k + 1.8)
    ax.set_title(f"{mpl_text(title)}: {p:.3f} ({lo:.3f} to {hi:.3f}); "
                 f"PI {result.pi_low_natural:.3f} to "
                 f"{result.pi_high_natural:.3f}; I\u00b2 = {result.i2:.0f}%", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    out_base.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    paths = []
    for ext in ("png", "svg"):
        # appended, not with_suffix: a dot in the name (a threshold) is not a suffix
        path = out_base.parent / f"{out_base.name}.{ext}"
        # no dates or versions in the files: the same inputs give the same bytes
        fig.savefig(path, dpi=300 if ext == "png" else None,
                    metadata={"Date": None} if ext == "svg" else {"Software": None})
        paths.append(path)
    return paths
