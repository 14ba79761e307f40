"""`radval synth`: write the built-in synthetic multicentre study."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from radval._validation import param_error

HELP = "write the built-in synthetic two-centre CT study (NIfTI + manifest.csv + clinical.csv)"
EXAMPLE = ("radval synth --out study\n"
           "  radval synth --out tiny --small\n"
           "  radval synth --out ext --site site3:60:siemens_thin --site site4:60:ge_thick "
           "--sites-only")

logger = logging.getLogger("radval.synth")


def _site(text: str) -> tuple[str, int, str]:
    parts = text.split(":")
    if len(parts) != 3:
        msg = f"--site must be NAME:N:PROFILE (e.g. site3:60:siemens_thin), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    name, n, profile = parts
    try:
        n_int = int(n)
    except ValueError as exc:
        msg = f"--site {text!r}: N must be an integer"
        raise argparse.ArgumentTypeError(msg) from exc
    return name, n_int, profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    from radval.io.synth import DEFAULT_N_PATIENTS, DEFAULT_SEED, PROFILES

    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n-patients", type=int, default=DEFAULT_N_PATIENTS,
                        help=f"patients at centres 1 + 2 (default {DEFAULT_N_PATIENTS}; "
                             "48 with --small)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed (default {DEFAULT_SEED}); same seed, same bytes")
    parser.add_argument("--small", action="store_true",
                        help="tiny volumes (about 32^3 voxels) for tests")
    parser.add_argument("--site", action="append", type=_site, default=[],
                        metavar="NAME:N:PROFILE",
                        help="extra external site (repeatable); profiles: "
                             + ", ".join(sorted(PROFILES)))
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes (output does not depend on it; default 1)")
    parser.add_argument("--sites-only", action="store_true",
                        help="write only the --site cohorts, not centres 1 and 2")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.io.synth import SiteSpec, generate_study

    if args.sites_only and not args.site:
        raise param_error("--sites-only", "radval synth", "used with at least one --site",
                          True)
    sites = [SiteSpec(name=n, n=k, profile=p) for n, k, p in args.site] or None
    t0 = time.perf_counter()
    res = generate_study(args.out, n_patients=args.n_patients, seed=args.seed,
                         small=args.small, sites=sites, sites_only=args.sites_only,
                         jobs=args.jobs)
    elapsed = time.perf_counter() - t0
    logger.info("wrote %d patients (%s) to %s in %.1f s", res.n_patients,
                ", ".join(f"{c}: {n}" for c, n in res.cohorts.items()), res.root, elapsed)
    summary = {"out": str(res.root), "manifest": res.manifest.name,
               "clinical": res.clinical.name, "n_patients": res.n_patients,
               "cohorts": res.cohorts, "seconds": round(elapsed, 2)}
    return 0, summary
