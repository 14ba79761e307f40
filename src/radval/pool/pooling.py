"""Pool the ``share.json`` files of several validation sites (``radval pool``).

Following Debray et al. (2017, BMJ 356:i6460), four measures are meta-analysed with a
random-effects model (:func:`radval.pool.meta_analysis`):

=====================  =================  ===========================================
measure                analysis scale     within-site variance
=====================  =================  ===========================================
``auc`` (c-statistic)  logit              DeLong variance / (c(1-c))^2 (delta method)
``calibration_slope``  identity           inverse Fisher information
``citl``               identity           inverse Fisher information
``o_e``                log                (1 - O/n) / O
=====================  =================  ===========================================

Sites whose value of a measure is missing are left out of that measure, and the pooled
report says which and why: withheld by the site's disclosure control
(:mod:`radval.pool.share`: fewer than 5 events or non-events withholds every measure) or
undefined there.  A measure needs at least two sites.  All share files must come from
the same signature (same ``signature_sha256``) and carry distinct site labels.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval._provenance import atomic_write_json, atomic_write_text, utc_now
from radval.exceptions import DataError, InputError, SmallSampleWarning
from radval.report._escape import csv_frame, md_text, mpl_text, yaml_str
from radval.stats._kernels import expit

__all__ = ["MEASURES", "forest_plot", "pool_shares"]

logger = logging.getLogger(__name__)

#: measure -> (label, share block, estimate key, SE key, transform, null value)
MEASURES: dict[str, tuple[str, str, str, str, str | None, float]] = {
    "auc": ("AUC (c-statistic)", "discrimination", "auc", "auc_se", "logit", 0.5),
    "calibration_slope": ("Calibration slope", "calibration", "slope", "slope_se", None, 1.0),
    "citl": ("Calibration-in-the-large", "calibration", "citl", "citl_se", None, 0.0),
    "o_e": ("O/E ratio", "calibration", "o_e", "o_e_se", "log", 1.0),
}


def _site_rows(shares: Sequence[dict[str, Any]], measure: str) -> pd.DataFrame:
    _label, block, est_key, se_key, transform, _null = MEASURES[measure]
    rows = []
    for s in shares:
        est, se = s[block].get(est_key), s[block].get(se_key)
        usable = est is not None and se is not None and math.isfinite(est) and \
            math.isfinite(se) and se > 0
        if usable and transform == "logit":
            usable = 0 < est < 1
        if usable and transform == "log":
            usable = est > 0
        withheld = f"{block}.{est_key}" in s["suppression"]["suppressed"] or \
            f"{block}.{se_key}" in s["suppression"]["suppressed"]
        rows.append({"site": s["site"], "n": s["n"], "events": s.get("events"),
                     "estimate": est, "se": se, "used": bool(usable),
                     "withheld": bool(withheld)})
    return pd.DataFrame(rows)


def _site_ci(est: float, se: float, transform: str | None, z: float) -> tuple[float, float]:
    if transform == "logit":
        lg, lse = math.log(est / (1 - est)), se / (est * (1 - est))
        return float(expit(lg - z * lse)), float(expit(lg + z * lse))
    if transform == "log":
        lg, lse = math.log(est), se / est
        return math.exp(lg - z * lse), math.exp(lg + z * lse)
    return est - z * se, est + z * se


def forest_plot(sites: pd.DataFrame, result: Any, *, title: str, null: float,
                log_scale: bool = False, out_base: Path) -> list[Path]:
    """Draw a forest plot (site estimates with 95% CIs, pooled diamond, prediction interval).

    Writes ``<out_base>.png`` (300 dpi) and ``<out_base>.svg``; returns the paths.  Drawn on
    a figure of its own inside radval's ``matplotlib.rc_context`` (no pyplot, no global
    state); a log axis (O/E) gets ticks that suit its range
    (:func:`radval.report._plots.log_axis`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from radval.report._plots import log_axis, new_figure, style

    used = sites[sites["used"]].reset_index(drop=True)
    k = len(used)
    with style():
        fig, ax = new_figure(figsize=(7.0, 1.2 + 0.45 * (k + 2)))
        ys = list(range(k + 1, 1, -1))
        for y, rec in zip(ys, used.to_dict(orient="records")):
            ax.plot([rec["ci_low"], rec["ci_high"]], [y, y], color="black", lw=1)
            ax.plot([rec["estimate"]], [y], "s", color="black",
                    ms=4 + 6 * rec["weight"] / max(used["weight"].max(), 1e-9))
        p, lo, hi = result.pooled_natural, result.ci_low_natural, result.ci_high_natural
        ax.fill([lo, p, hi, p], [0.5, 0.75, 0.5, 0.25], color="#1f5fa8")
        if math.isfinite(result.pi_low_natural) and math.isfinite(result.pi_high_natural):
            ax.plot([result.pi_low_natural, result.pi_high_natural], [0.5, 0.5],
                    color="#1f5fa8", lw=1, ls="--")
        ax.axvline(null, color="grey", lw=0.8, ls=":")
        ax.set_yticks([*ys, 0.5])
        ax.set_yticklabels([*(mpl_text(f"{s} (n={n})") for s, n in zip(used["site"],
                                                                         used["n"])),
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
        out_base.parent.mkdir(parents=True, exist_ok=True)
        FigureCanvasAgg(fig)
        paths = []
        for ext in ("png", "svg"):
            path = out_base.with_suffix(f".{ext}")
            fig.savefig(path, dpi=300 if ext == "png" else None,
                        metadata={"Date": None} if ext == "svg" else {"Software": None})
            paths.append(path)
    return paths


def _report_markdown(pooled: dict[str, Any], figures: dict[str, str],
                     built: str | None = None) -> str:
    """The pooled report as markdown; ``built`` is the build date printed under the title
    (``SOURCE_DATE_EPOCH`` makes it reproducible)."""
    head = ["---", 'title: "Multi-site external validation: pooled results"']
    if built:
        head.append(f"date: {yaml_str('Built ' + built)}")
    lines = [*head, "---", "",
             "# Sites {#sec-sites}", "",
             "| Site | n | Events | AUC | Slope | CITL | O/E | Brier | Shifted features |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def fmt(x: Any, d: int = 3) -> str:
        return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else \
            f"{x:.{d}f}"

    for s in pooled["sites"]:
        # share files come from other sites: every value is escaped where it enters (the
        # placeholder "-" is radval's own text)
        ev = "-" if s["events"] is None else md_text(s["events"])
        lines.append(f"| {md_text(s['site'])} | {md_text(s['n'])} | {ev} | "
                     f"{fmt(s['auc'])} | {fmt(s['slope'])} | "
                     f"{fmt(s['citl'])} | {fmt(s['o_e'])} | {fmt(s['brier'])} | "
                     f"{md_text(s['n_flagged_features'])} |")
    lines += ["", ": Site-level results (from share.json; '-' = suppressed small cell or "
              "undefined). Shifted features: selected features flagged by the site's "
              "dataset-shift check. {#tbl-sites}", "",
              "# Random-effects meta-analysis {#sec-meta}", "",
              f"Method: {md_text(pooled['method'])}"
              f"{' with Hartung-Knapp-Sidik-Jonkman CIs' if pooled['hksj'] else ''}; AUC "
              "pooled on the logit scale and O/E on the log scale (Debray et al. 2017), "
              "back-transformed for display. tau\u00b2: between-site variance; I\u00b2: share of "
              "the variability due to between-site heterogeneity; the 95% prediction interval "
              "(metafor predict(): normal quantile, t with k - 1 df under HKSJ) is where the "
              "performance in a new, similar site is expected. With few sites tau\u00b2 and the "
              "prediction interval are very imprecise (Riley et al. 2011).", "",
              "| Measure | k | Pooled | 95% CI | 95% PI | tau\u00b2 | I\u00b2 | Q (p) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in pooled["measures"].items():
        r = m.get("result")
        if r is None:
            lines.append(f"| {md_text(m['label'])} | {m['k']} | - | - | - | - | - | "
                         f"{md_text(m.get('reason', ''))} |")
            continue
        lines.append(f"| {md_text(m['label'])} | {r['k']} | {fmt(r['pooled_natural'])} | "
                     f"{fmt(r['ci_low_natural'])} to {fmt(r['ci_high_natural'])} | "
                     f"{fmt(r['pi_low_natural'])} to {fmt(r['pi_high_natural'])} | "
                     f"{fmt(r['tau2'], 4)} | {fmt(r['i2'], 0)}% | {fmt(r['q'], 2)} "
                     f"({fmt(r['q_p'], 3)}) |")
        del name
    lines += ["", ": Pooled performance {#tbl-pooled}", ""]
    left_out = []
    for m in pooled["measures"].values():
        withheld = m.get("suppressed", [])
        undefined = [s for s in m.get("excluded", []) if s not in withheld]
        why = ([f"{', '.join(withheld)} (withheld by the site: small cells)"] if withheld
               else []) + ([f"{', '.join(undefined)} (undefined)"] if undefined else [])
        if why:
            left_out.append(f"{m['label']}: {'; '.join(why)}")
    if left_out:
        lines += ["Sites left out of a measure. " + ". ".join(left_out) + ". A site withholds "
                  "a measure when a count below 5 (events, non-events, a cell of a 2x2 table) "
                  "could be derived from it (disclosure control of share.json).", ""]
    for name, rel in figures.items():
        label = pooled["measures"][name]["label"]
        ident = name.replace("_", "-")
        lines += [f"![Forest plot: {md_text(label)}]({rel}){{#fig-forest-{ident}}}", ""]
    return "\n".join(lines) + "\n"


def _write_report(report_dir: Path, pooled: dict[str, Any], fig_paths: dict[str, str],
                  formats: Sequence[str], out_dir: Path) -> dict[str, str]:
    """Write (and render) the pooled report; the folder is replaced as a whole only when
    everything succeeded (stage and swap, :func:`radval.report.render.replace_folder`)."""
    try:
        from radval.report.document import build_date
        from radval.report.render import render_document, replace_folder, staging_folder
    except ImportError:  # pragma: no cover - report layer missing
        logger.warning("report layer not available: pooled.qmd not rendered")
        report_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(report_dir / "pooled.qmd", _report_markdown(pooled, fig_paths))
        return {"qmd": os.path.relpath(report_dir / "pooled.qmd", out_dir)}
    when = build_date()
    stage = staging_folder(report_dir)
    try:
        qmd = stage / "pooled.qmd"
        atomic_write_text(qmd, _report_markdown(pooled, fig_paths,
                                                when.strftime("%Y-%m-%d %H:%M UTC")))
        rendered = render_document(qmd, formats=list(formats), when=when) if formats else {}
        replace_folder(stage, report_dir)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    out = {"qmd": os.path.relpath(report_dir / "pooled.qmd", out_dir)}
    for fmt, path in rendered.items():
        out[fmt] = os.path.relpath(report_dir / path.name, out_dir)
    return out


def pool_shares(paths: Sequence[str | os.PathLike[str]], *, out: str | os.PathLike[str],
                method: str = "REML", hksj: bool = False, confidence_level: float = 0.95,
                allow_mixed_signatures: bool = False, figures: bool = True,
                report_formats: Sequence[str] = ("html",)) -> dict[str, Any]:
    """Pool several sites' ``share.json`` files.

    Parameters
    ----------
    paths : sequence of path
        ``share.json`` files (validated against the share schema).
    out : path
        Output folder: ``pooled.json``, ``pooled_sites.csv``, ``figures/forest_*.{png,svg}``
        and ``report/pooled.qmd`` (+ rendered formats).
    method : {"REML", "DL"}, default "REML"
    hksj : bool, default False
    confidence_level : float, default 0.95
    allow_mixed_signatures : bool, default False
        Pool shares of different signatures (normally an error).
    figures : bool, default True
        Draw the forest plots (matplotlib).
    report_formats : sequence of str, default ("html",)
        Formats of the pooled report (empty: qmd only).

    Returns
    -------
    dict
        The content of ``pooled.json`` plus ``paths`` of what was written.
    """
    from radval import __version__
    from radval.pool.meta_analysis import meta_analysis
    from radval.pool.share import read_share

    t0 = time.perf_counter()
    if len(paths) < 2:
        raise InputError(f"pool: give at least two share.json files (got {len(paths)}).")
    shares = [read_share(p) for p in paths]
    labels = [s["site"] for s in shares]
    dups = sorted({x for x in labels if labels.count(x) > 1})
    if dups:
        raise DataError(f"pool: site label(s) {', '.join(dups)} appear in more than one share "
                        "file.")
    sigs = {s["signature_sha256"] for s in shares}
    if len(sigs) > 1 and not allow_mixed_signatures:
        by = ", ".join(f"{s['site']}={s['signature_sha256'][:12]}" for s in shares)
        raise DataError(f"pool: the share files come from different signatures ({by}); pool "
                        "only validations of the same bundle.")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence_level / 2))
    measures: dict[str, Any] = {}
    fig_paths: dict[str, str] = {}
    site_tables: list[pd.DataFrame] = []
    for name, (label, _block, _e, _s, transform, null) in MEASURES.items():
        sites = _site_rows(shares, name)
        used = sites[sites["used"]]
        entry: dict[str, Any] = {"label": label, "transform": transform, "k": int(len(used)),
                                 "excluded": sites.loc[~sites["used"], "site"].tolist(),
                                 "suppressed": sites.loc[~sites["used"] & sites["withheld"],
                                                         "site"].tolist()}
        if len(used) < 2:
            entry["result"] = None
            entry["reason"] = "fewer than two sites with this measure"
            measures[name] = entry
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallSampleWarning)
            res = meta_analysis(used["estimate"].to_numpy(float),
                                used["se"].to_numpy(float) ** 2, method=method,  # type: ignore[arg-type]
                                hksj=hksj, transform=transform,  # type: ignore[arg-type]
                                confidence_level=confidence_level)
        ci = [_site_ci(e, s, transform, z) if u else (math.nan, math.nan)
              for e, s, u in zip(sites["estimate"], sites["se"], sites["used"])]
        sites["ci_low"] = [c[0] for c in ci]
        sites["ci_high"] = [c[1] for c in ci]
        weights = pd.Series(0.0, index=sites.index)
        weights[sites["used"]] = res.weights
        sites["weight"] = weights
        entry["result"] = res.to_dict()
        entry["sites"] = sites.to_dict(orient="records")
        measures[name] = entry
        site_tables.append(sites.assign(measure=name))
        if figures:
            paths_ = forest_plot(sites, res, title=label, null=null,
                                 log_scale=transform == "log",
                                 out_base=out_dir / "figures" / f"forest_{name}")
            fig_paths[name] = os.path.relpath(paths_[0], out_dir / "report")
    site_summary = [{"site": s["site"], "n": s["n"], "events": s["events"],
                     "auc": s["discrimination"]["auc"], "slope": s["calibration"]["slope"],
                     "citl": s["calibration"]["citl"], "o_e": s["calibration"]["o_e"],
                     "brier": s["calibration"]["brier"], "n_flagged_features":
                     s["shift"]["n_flagged"]} for s in shares]
    pooled: dict[str, Any] = {
        "schema_version": "1", "kind": "radval-pooled", "radval_version": __version__,
        "created": utc_now(), "method": method, "hksj": bool(hksj),
        "confidence_level": confidence_level,
        "signature_sha256": sorted(sigs), "sites": site_summary, "measures": measures,
        "reference": "Debray TPA et al. BMJ 2017;356:i6460",
    }
    atomic_write_json(out_dir / "pooled.json", pooled)
    if site_tables:
        csv_frame(pd.concat(site_tables, ignore_index=True)).to_csv(
            out_dir / "pooled_sites.csv", index=False)
    written: dict[str, str] = {"pooled": "pooled.json"}
    report_dir = out_dir / "report"
    written.update(_write_report(report_dir, pooled, fig_paths, report_formats, out_dir))
    pooled["paths"] = written
    pooled["seconds"] = round(time.perf_counter() - t0, 2)
    return pooled
