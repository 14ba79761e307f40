"""`radval synth`: write the built-in synthetic multicentre study."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from radval._commands import _args
from radval.exceptions import InputError

HELP = "write the built-in synthetic two-centre CT study (NIfTI + manifest.csv + clinical.csv)"
EXAMPLE = ("radval synth --out study\n"
           "  radval synth --out tiny --small\n"
           "  radval synth --out ext --site site3:60:siemens_thin --site site4:60:ge_thick "
           "--sites-only")

logger = logging.getLogger("radval.synth")


def _site(text: str) -> tuple[str, int, str]:
    import re

    from radval.io.synth import PROFILES

    parts = text.split(":")
    if len(parts) != 3:
        msg = f"must be NAME:N:PROFILE (e.g. site3:60:siemens_thin), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    name, n, profile = parts
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", name) or name in ("centre1", "centre2"):
        raise argparse.ArgumentTypeError(f"{text!r}: NAME must be letters, digits, '_' or '-' "
                                         "(at most 40), other than centre1 and centre2")
    try:
        n_int = int(n)
    except ValueError:
        n_int = 0
    if n_int < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be an integer >= 1")
    if profile not in PROFILES:
        raise argparse.ArgumentTypeError(f"{text!r}: PROFILE must be one of "
                                         f"{', '.join(sorted(PROFILES))}")
    return name, n_int, profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    from radval.io.synth import DEFAULT_N_PATIENTS, DEFAULT_SEED, PROFILES

    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n-patients", type=_args.int_range(10), default=DEFAULT_N_PATIENTS,
                        help=f"patients at centres 1 + 2 (default {DEFAULT_N_PATIENTS}; "
                             "48 with --small)")
    parser.add_argument("--seed", type=_args.seed, default=DEFAULT_SEED,
                        help=f"random seed (default {DEFAULT_SEED}); same seed, same bytes")
    parser.add_argument("--small", action="store_true",
                        help="tiny volumes (about 32^3 voxels) for tests")
    parser.add_argument("--site", action="append", type=_site, default=[],
                        metavar="NAME:N:PROFILE",
                        help="extra external site (repeatable); profiles: "
                             + ", ".join(sorted(PROFILES)))
    parser.add_argument("--jobs", type=_args.jobs, default=1,
                        help="worker processes (output does not depend on it; default 1)")
    parser.add_argument("--sites-only", action="store_true",
                        help="write only the --site cohorts, not centres 1 and 2")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.io.synth import SiteSpec, generate_study

    if args.sites_only and not args.site:
        raise InputError("--sites-only needs at least one --site NAME:N:PROFILE.")
    names = [n for n, _k, _p in args.site]
    if len(set(names)) != len(names):
        raise InputError(f"--site names must be unique; got {', '.join(names)}.")
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
