"""`radval pool`: random-effects meta-analysis of several sites' share.json files."""

from __future__ import annotations

import argparse
from typing import Any

from radval.exceptions import EXIT_OK, InputError

HELP = "pool the share.json files of several validation sites (random-effects meta-analysis)"
EXAMPLE = ("radval pool siteA/share.json siteB/share.json siteC/share.json --out pooled/ "
           "--published literature.csv --method REML")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("shares", nargs="+", help="share.json files (one per site)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--method", choices=["REML", "DL", "FE"], default="REML",
                        help="between-site variance estimator (default REML), or FE for the "
                             "fixed-effect model")
    parser.add_argument("--published", default=None, metavar="TABLE",
                        help="CSV of published validations (study, auc with auc_se or "
                             "auc_ci_low/auc_ci_high or n and events; oe with oe_se or "
                             "oe_ci_low/oe_ci_high, or observed and expected [and n]) pooled "
                             "with the sites; SEs rebuilt as metamisc valmeta")
    parser.add_argument("--nb-thresholds", default=None, metavar="T1,T2",
                        help="thresholds at which net benefit is pooled (default: every "
                             "threshold a site reported)")
    parser.add_argument("--hksj", action="store_true",
                        help="Hartung-Knapp-Sidik-Jonkman confidence intervals")
    parser.add_argument("--allow-mixed-signatures", action="store_true",
                        help="pool shares of different signatures (normally an error)")
    parser.add_argument("--formats", default="html",
                        help="pooled report formats: html,docx,pdf or 'none' (default html)")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.pool.pooling import pool_shares
    from radval.report._data import level_percent

    formats = [] if args.formats.strip().lower() == "none" else \
        [f.strip() for f in args.formats.split(",") if f.strip()]
    thresholds = None
    if args.nb_thresholds:
        try:
            thresholds = [float(t) for t in args.nb_thresholds.split(",") if t.strip()]
        except ValueError:
            raise InputError(f"--nb-thresholds must be numbers separated by commas; got "
                             f"{args.nb_thresholds!r}.") from None
    pooled = pool_shares(args.shares, out=args.out, method=args.method, hksj=args.hksj,
                         allow_mixed_signatures=args.allow_mixed_signatures,
                         report_formats=formats, published=args.published,
                         nb_thresholds=thresholds)
    summary: dict[str, Any] = {"out": args.out, "sites": [s["site"] for s in pooled["sites"]],
                               "paths": pooled["paths"]}
    for name, m in pooled["measures"].items():
        r = m.get("result")
        summary[name] = None if r is None else {
            "pooled": r["pooled_natural"], "ci": [r["ci_low_natural"], r["ci_high_natural"]],
            "pi": [r["pi_low_natural"], r["pi_high_natural"]], "i2": r["i2"], "k": r["k"]}
    if not args.json and not args.quiet:
        auc = summary.get("auc")
        pooled_auc = "" if not isinstance(auc, dict) else (
            f"; pooled AUC {auc['pooled']:.3f} ({level_percent(pooled['confidence_level'])} "
            f"CI {auc['ci'][0]:.3f}-{auc['ci'][1]:.3f}, "
            f"I2 {auc['i2']:.0f}%)")
        print(f"pooled {len(summary['sites'])} site(s) ({', '.join(summary['sites'])})"
              f"{pooled_auc} -> {args.out}")
    return EXIT_OK, summary
