"""Pool the sites' time-to-event discrimination (``radval pool``, ``share.json`` ``survival``).

Harrell's C, Uno's C and AUC(t) at each of the bundle's horizons are meta-analysed with
the random-effects model of :func:`radval.pool.meta_analysis` on the logit scale, as the
binary AUC (Debray et al. 2017): within-site variance
:math:`\\mathrm{SE}^2 / \\{c(1 - c)\\}^2` by the delta method.  A site is left out of a
measure it withheld (disclosure control, :mod:`radval.pool._survival_share`) or where
the measure is undefined; a measure needs two sites.  The pooled report gets a section
with the site values, the pooled estimates and a forest plot per measure.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report._data import level_percent
from radval.report._escape import csv_frame, md_text

__all__ = ["pool_survival", "survival_markdown"]


def _measures(shares: Sequence[dict[str, Any]]) -> list[tuple[str, str, float | None]]:
    """(name, label, horizon) of every measure some site carries."""
    horizons = sorted({float(r["horizon"]) for s in shares if s.get("survival")
                       for r in s["survival"]["horizons"]})
    unit = next((s["survival"]["time_unit"] for s in shares if s.get("survival")), "")
    out: list[tuple[str, str, float | None]] = [
        ("c_harrell", "Harrell's C", None), ("c_uno", "Uno's C", None)]
    out += [(f"auc_{h:g}".replace(".", "_"), f"AUC({h:g} {unit})".replace(" )", ")"), h)
            for h in horizons]
    return out


def _value(share: dict[str, Any], name: str, horizon: float | None
           ) -> tuple[Any, Any, bool]:
    """(estimate, SE, withheld) of a measure at a site."""
    surv = share.get("survival")
    if not surv:
        return None, None, False
    suppressed = set(share["suppression"]["suppressed"])
    if horizon is None:
        return (surv.get(name), surv.get(f"{name}_se"),
                f"survival.{name}" in suppressed)
    for k, row in enumerate(surv["horizons"]):
        if float(row["horizon"]) == horizon:
            return (row.get("auc"), row.get("auc_se"),
                    f"survival.horizons[{k}].auc" in suppressed)
    return None, None, False


def pool_survival(shares: Sequence[dict[str, Any]], *, method: str = "REML",
                  hksj: bool = False, confidence_level: float = 0.95,
                  out_dir: Path | None = None, figures: bool = True) -> dict[str, Any] | None:
    """Meta-analyse the sites' C and AUC(t) (module docstring).

    Parameters
    ----------
    shares : sequence of dict
        Validated ``share.json`` documents.
    method, hksj, confidence_level :
        As :func:`radval.pool.pool_shares`.
    out_dir : path, optional
        Output folder of ``radval pool``: forest plots go to ``figures/``, the site values
        to ``pooled_survival_sites.csv``.
    figures : bool
        Draw the forest plots.

    Returns
    -------
    dict or None
        ``measures`` (name -> label, horizon, k, excluded, suppressed, result, sites),
        ``time_unit``, ``models`` and ``figures`` (name -> path relative to
        ``report/``); None when no share has a survival block.
    """
    from radval.pool._forest import forest_plot, pool_sites

    if not any(s.get("survival") for s in shares):
        return None
    measures: dict[str, Any] = {}
    figs: dict[str, str] = {}
    tables: list[pd.DataFrame] = []
    for name, label, horizon in _measures(shares):
        rows = []
        for s in shares:
            est, se, withheld = _value(s, name, horizon)
            usable = (est is not None and se is not None and math.isfinite(est)
                      and math.isfinite(se) and se > 0 and 0 < est < 1)
            rows.append({"site": s["site"], "n": s["n"],
                         "events": (s.get("survival") or {}).get("events"), "estimate": est,
                         "se": se, "used": bool(usable), "withheld": bool(withheld)})
        sites = pd.DataFrame(rows)
        used = sites[sites["used"]]
        entry: dict[str, Any] = {"label": label, "horizon": horizon, "transform": "logit",
                                 "k": int(len(used)),
                                 "excluded": sites.loc[~sites["used"], "site"].tolist(),
                                 "suppressed": sites.loc[~sites["used"] & sites["withheld"],
                                                         "site"].tolist()}
        if len(used) < 2:
            entry.update(result=None, reason="fewer than two sites with this measure")
            measures[name] = entry
            continue
        res, sites = pool_sites(sites, transform="logit", method=method, hksj=hksj,
                                confidence_level=confidence_level)
        entry["result"] = res.to_dict()
        entry["sites"] = sites.to_dict(orient="records")
        measures[name] = entry
        tables.append(sites.assign(measure=name))
        if figures and out_dir is not None:
            paths = forest_plot(sites, res, title=label, null=0.5,
                                out_base=out_dir / "figures" / f"forest_survival_{name}")
            figs[name] = os.path.relpath(paths[0], out_dir / "report")
    if out_dir is not None and tables:
        csv_frame(pd.concat(tables, ignore_index=True)).to_csv(
            out_dir / "pooled_survival_sites.csv", index=False)
    surv = [s["survival"] for s in shares if s.get("survival")]
    return {"measures": measures, "figures": figs,
            "time_unit": surv[0]["time_unit"],
            "models": sorted({str(x["model"]) for x in surv}),
            "sites": [{"site": s["site"], "n": s["n"],
                       **{k: (s.get("survival") or {}).get(k)
                          for k in ("events", "c_harrell", "c_uno")}}
                      for s in shares]}


def _fmt(x: Any, d: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{d}f}"


def survival_markdown(pooled: dict[str, Any] | None, *,
                      confidence_level: float = 0.95) -> str:
    """The time-to-event section of the pooled report ('' without one); the intervals
    were computed at ``confidence_level`` (``pooled.json``'s)."""
    if not pooled:
        return ""
    ci = level_percent(confidence_level)
    lines = ["", "# Time-to-event endpoint {#sec-survival-pooled}", "",
             f"Discrimination of the frozen model's time-to-event marker "
             f"({md_text(', '.join(pooled['models']))}) at each site: Harrell's C, Uno's C "
             "(truncated at the last horizon) and the cumulative/dynamic AUC(t) with inverse "
             "probability of censoring weights, pooled on the logit scale with the "
             "random-effects model above. Horizons in "
             f"{md_text(pooled['time_unit'])}.", "",
             "| Site | n | Events | Harrell's C | Uno's C |", "|---|---:|---:|---:|---:|"]
    for s in pooled["sites"]:
        ev = "-" if s["events"] is None else str(s["events"])
        lines.append(f"| {md_text(s['site'])} | {md_text(s['n'])} | {md_text(ev)} | "
                     f"{_fmt(s['c_harrell'])} | {_fmt(s['c_uno'])} |")
    lines += ["", ": Time-to-event discrimination per site (from share.json; '-' = "
              "withheld by the site's disclosure control or undefined). "
              "{#tbl-survival-sites}", "",
              f"| Measure | k | Pooled | {ci} CI | {ci} PI | tau\u00b2 | I\u00b2 |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    left_out = []
    for m in pooled["measures"].values():
        r = m.get("result")
        if r is None:
            lines.append(f"| {md_text(m['label'])} | {m['k']} | - | - | - | - | "
                         f"{md_text(m.get('reason', ''))} |")
        else:
            lines.append(f"| {md_text(m['label'])} | {r['k']} | {_fmt(r['pooled_natural'])} "
                         f"| {_fmt(r['ci_low_natural'])} to {_fmt(r['ci_high_natural'])} | "
                         f"{_fmt(r['pi_low_natural'])} to {_fmt(r['pi_high_natural'])} | "
                         f"{_fmt(r['tau2'], 4)} | {_fmt(r['i2'], 0)}% |")
        withheld = m.get("suppressed", [])
        undefined = [s for s in m.get("excluded", []) if s not in withheld]
        why = ([f"{', '.join(withheld)} (withheld by the site: small cells)"] if withheld
               else []) + ([f"{', '.join(undefined)} (undefined or not reported)"]
                           if undefined else [])
        if why:
            left_out.append(f"{m['label']}: {'; '.join(why)}")
    lines += ["", ": Pooled time-to-event discrimination {#tbl-survival-pooled}", ""]
    if left_out:
        lines += [md_text("Sites left out of a measure. " + ". ".join(left_out) + ". A site "
                          "withholds a horizon when fewer than 5 patients had the event "
                          "before it, were followed beyond it, or had the event between it "
                          "and another released horizon."), ""]
    for name, rel in pooled["figures"].items():
        label = pooled["measures"][name]["label"]
        ident = "forest-survival-" + name.replace("_", "-")
        lines += [f"![Forest plot: {md_text(label)}]({rel}){{#fig-{ident}}}", ""]
    return "\n".join(lines) + "\n"
