"""Pool the ``share.json`` files of several validation sites (``radval pool``).

Following Debray et al. (2017, BMJ 356:i6460), these measures are meta-analysed with a
random-effects (REML or DL) or fixed-effect (FE) model
(:func:`radval.pool._meta_analysis.meta_analysis`):

=====================  =================  ===========================================
measure                analysis scale     within-site variance
=====================  =================  ===========================================
``auc`` (c-statistic)  logit              DeLong variance / (c(1-c))^2 (delta method)
``calibration_slope``  identity           inverse Fisher information
``citl``               identity           inverse Fisher information
``o_e``                log                (1 - O/n) / O
``calibration_         identity           inverse Fisher information
intercept``
``net_benefit_<t>``    identity           multinomial (:mod:`radval.pool._measures`)
=====================  =================  ===========================================

Harrell's C, Uno's C and AUC(t) of the time-to-event endpoint (``share.json``
``survival``) are pooled the same way on the logit scale (:mod:`radval.pool._survival_pool`).

Published validations (``published``: a table of AUCs and O/E ratios from the literature)
enter the AUC and O/E analyses as further sites, their standard errors rebuilt as
metamisc's ``valmeta`` does (:mod:`radval.pool._measures`).

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval._provenance import atomic_write_json, atomic_write_text, utc_now
from radval.exceptions import DataError, InputError
from radval.pool._forest import forest_plot, pool_sites
from radval.report._data import level_percent
from radval.report._escape import csv_frame, md_text, yaml_str

__all__ = ["MEASURES", "pool_shares"]

logger = logging.getLogger(__name__)

#: measure -> (label, share block, estimate key, SE key, transform, null value)
MEASURES: dict[str, tuple[str, str, str, str, str | None, float]] = {
    "auc": ("AUC (c-statistic)", "discrimination", "auc", "auc_se", "logit", 0.5),
    "calibration_slope": ("Calibration slope", "calibration", "slope", "slope_se", None, 1.0),
    "citl": ("Calibration-in-the-large", "calibration", "citl", "citl_se", None, 0.0),
    "o_e": ("O/E ratio", "calibration", "o_e", "o_e_se", "log", 1.0),
    "calibration_intercept": ("Calibration intercept", "calibration", "intercept",
                              "intercept_se", None, 0.0),
}


def _slug(measure: str) -> str:
    """File-name and identifier form of a measure name: ``net_benefit_0.2`` ->
    ``net_benefit_0_2`` (a dot would be read as a file suffix, and two thresholds would
    write the same figure)."""
    return measure.replace(".", "_")


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
        rows.append({"site": s["site"], "label": f"{s['site']} (n={s['n']})", "n": s["n"],
                     "events": s.get("events"), "estimate": est, "se": se,
                     "used": bool(usable), "withheld": bool(withheld),
                     "source": "share.json", "note": None})
    return pd.DataFrame(rows)


def _report_markdown(pooled: dict[str, Any], figures: dict[str, str],
                     built: str | None = None) -> str:
    """The pooled report as markdown; ``built`` is the build date printed under the title
    (``SOURCE_DATE_EPOCH`` makes it reproducible)."""
    head = ["---", 'title: "Multi-site external validation: pooled results"']
    if built:
        head.append(f"date: {yaml_str('Built ' + built)}")
    # the meta-analysis' own level (pool_shares(confidence_level=)), not a site's; 0.95,
    # pool_shares' default, for a hand-made dict without it
    level = float(pooled.get("confidence_level", 0.95))
    ci = level_percent(level)
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
              f"the variability due to between-site heterogeneity; the {ci} prediction interval "
              "(metafor predict(): normal quantile, t with k - 1 df under HKSJ) is where the "
              "performance in a new, similar site is expected. With few sites tau\u00b2 and the "
              "prediction interval are very imprecise (Riley et al. 2011).", "",
              f"| Measure | k | Pooled | {ci} CI | {ci} PI | tau\u00b2 | I\u00b2 | Q (p) |",
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
        if m.get("kind") == "net_benefit":  # listed with their reasons further down
            continue
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
    lines += _published_markdown(pooled)
    for name, rel in figures.items():
        label = pooled["measures"][name]["label"]
        ident = _slug(name).replace("_", "-")
        lines += [f"![Forest plot: {md_text(label)}]({rel}){{#fig-forest-{ident}}}", ""]
    return "\n".join(lines) + "\n"


def _published_markdown(pooled: dict[str, Any]) -> list[str]:
    """Published validations and the net-benefit measures' left-out sites (escaped)."""
    lines: list[str] = []
    pub = pooled.get("published") or []
    if pub:
        lines += ["# Published validations {#sec-published}", "",
                  "Validations from the literature entered the AUC and O/E analyses as "
                  "further sites, their standard errors rebuilt as metamisc's valmeta "
                  "does (logit AUC; log O/E).", "",
                  "| Study | Measure | Estimate | SE (pooling scale) | Rebuilt from |",
                  "|---|---|---:|---:|---|"]
        for r in pub:
            lines.append(f"| {md_text(r['study'])} | {md_text(r['measure'])} | "
                         f"{r['estimate']:.3f} | {r['theta_se']:.4f} | "
                         f"{md_text(r['source'])} |")
        lines += ["", ": Published validations {#tbl-published}", ""]
    notes = []
    for m in pooled["measures"].values():
        if str(m.get("kind", "")) != "net_benefit":
            continue
        left = [f"{md_text(r['site'])} ({md_text(r['note'])})" for r in m.get("left_out", [])]
        if left:
            notes.append(f"{md_text(m['label'])}: {', '.join(left)}")
    if notes:
        lines += ["Net benefit was pooled from the sites that released it. Left out: "
                  + "; ".join(notes) + ".", ""]
    return lines


def _write_report(report_dir: Path, pooled: dict[str, Any], fig_paths: dict[str, str],
                  formats: Sequence[str], out_dir: Path) -> dict[str, str]:
    """Write (and render) the pooled report; the folder is replaced as a whole only when
    everything succeeded (stage and swap, :func:`radval.report.render.replace_folder`)."""
    from radval.pool._survival_pool import survival_markdown

    try:
        from radval.report.document import build_date
        from radval.report.render import render_document, replace_folder, staging_folder
    except ImportError:  # pragma: no cover - report layer missing
        logger.warning("report layer not available: pooled.qmd not rendered")
        report_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(report_dir / "pooled.qmd", _report_markdown(pooled, fig_paths)
                          + survival_markdown(pooled.get("survival"),
                                              confidence_level=pooled["confidence_level"]))
        return {"qmd": os.path.relpath(report_dir / "pooled.qmd", out_dir)}
    when = build_date()
    stage = staging_folder(report_dir)
    try:
        qmd = stage / "pooled.qmd"
        atomic_write_text(qmd, _report_markdown(pooled, fig_paths,
                                                when.strftime("%Y-%m-%d %H:%M UTC"))
                          + survival_markdown(pooled.get("survival"),
                                              confidence_level=pooled["confidence_level"]))
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
                report_formats: Sequence[str] = ("html",),
                published: str | os.PathLike[str] | None = None,
                nb_thresholds: Sequence[float] | None = None) -> dict[str, Any]:
    """Pool several sites' ``share.json`` files.

    Parameters
    ----------
    paths : sequence of path
        ``share.json`` files (validated against the share schema).
    out : path
        Output folder: ``pooled.json``, ``pooled_sites.csv``, ``figures/forest_*.{png,svg}``
        and ``report/pooled.qmd`` (+ rendered formats).
    method : {"REML", "DL", "FE"}, default "REML"
        Between-site variance estimator, or the fixed-effect model.
    hksj : bool, default False
    confidence_level : float, default 0.95
    allow_mixed_signatures : bool, default False
        Pool shares of different signatures (normally an error).
    figures : bool, default True
        Draw the forest plots (matplotlib).
    report_formats : sequence of str, default ("html",)
        Formats of the pooled report (empty: qmd only).
    published : path, optional
        Table of published validations (:func:`radval.pool._measures.read_published`):
        they enter the AUC and O/E analyses as further sites.
    nb_thresholds : sequence of float, optional
        Thresholds at which net benefit is pooled (default: every threshold a site
        reported).

    Returns
    -------
    dict
        The content of ``pooled.json`` plus ``paths`` of what was written.
    """
    from radval import __version__
    from radval.pool._measures import (
        choose_nb_thresholds,
        nb_measure_name,
        published_rows,
        read_published,
        share_nb_rows,
    )
    from radval.pool.share import read_share

    t0 = time.perf_counter()
    pub = read_published(published) if published is not None else None
    n_pub = 0 if pub is None else int(pub["study"].nunique())
    if len(paths) + n_pub < 2 or not paths:
        raise InputError(f"pool: give at least two share.json files, or one with published "
                         f"validations (got {len(paths)} share file(s) and {n_pub} "
                         "published validation(s)).")
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
    measures: dict[str, Any] = {}
    fig_paths: dict[str, str] = {}
    site_tables: list[pd.DataFrame] = []
    specs: list[tuple[str, str, str | None, float, pd.DataFrame, str]] = []
    for name, (label, _block, _e, _s, transform, null) in MEASURES.items():
        rows = _site_rows(shares, name)
        extra = published_rows(pub, name, labels) if pub is not None else None
        if extra is not None and not extra.empty:
            rows = pd.concat([rows, extra], ignore_index=True)
        specs.append((name, label, transform, null, rows, "core"))
    for t in choose_nb_thresholds(shares, nb_thresholds):
        specs.append((nb_measure_name(t), f"Net benefit at threshold {t:g}", None, 0.0,
                      share_nb_rows(shares, t), "net_benefit"))
    for name, label, transform, null, sites, kind in specs:
        used = sites[sites["used"]]
        entry: dict[str, Any] = {"label": label, "transform": transform, "k": int(len(used)),
                                 "kind": kind,
                                 "excluded": sites.loc[~sites["used"], "site"].tolist(),
                                 "suppressed": sites.loc[~sites["used"] & sites["withheld"],
                                                         "site"].tolist(),
                                 "left_out": sites.loc[~sites["used"] & sites["note"].notna(),
                                                       ["site", "note"]].to_dict(
                                                           orient="records")}
        if len(used) < 2:
            entry["result"] = None
            entry["reason"] = "fewer than two sites with this measure"
            measures[name] = entry
            continue
        res, sites = pool_sites(sites, transform=transform, method=method, hksj=hksj,
                                confidence_level=confidence_level)
        entry["result"] = res.to_dict()
        entry["sites"] = sites.to_dict(orient="records")
        measures[name] = entry
        site_tables.append(sites.assign(measure=name))
        if figures:
            paths_ = forest_plot(sites, res, title=label, null=null,
                                 log_scale=transform == "log",
                                 out_base=out_dir / "figures" / f"forest_{_slug(name)}")
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
        "published": [] if pub is None else pub.to_dict(orient="records"),
        "reference": "Debray TPA et al. BMJ 2017;356:i6460",
    }
    from radval.pool._survival_pool import pool_survival

    survival = pool_survival(shares, method=method, hksj=hksj,
                             confidence_level=confidence_level, out_dir=out_dir,
                             figures=figures)
    if survival is not None:
        pooled["survival"] = survival
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
