"""`radval validate`: validate a frozen signature bundle on this site's data."""

from __future__ import annotations

import argparse
from typing import Any

from radval._commands import _args
from radval.exceptions import EXIT_OK, InputError

#: Shortest HMAC key accepted (radval.pool.pseudonymise refuses shorter ones).
MIN_KEY_BYTES = 16

HELP = "validate a frozen signature bundle on local scans; write results, share.json and a report"
EXAMPLE = ("radval validate bundle/ --manifest manifest.csv --clinical clinical.csv "
           "--out validation/ --site hospitalB")


def _thresholds(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--thresholds: not a list of numbers: {text!r}") \
            from exc
    if any(not 0 <= v < 1 for v in values):
        raise argparse.ArgumentTypeError("--thresholds: values must be in [0, 1)")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("bundle", help="signature bundle (folder or .zip) from `radval run`")
    parser.add_argument("--manifest", help="manifest of the site's scans (CSV/parquet)")
    parser.add_argument("--clinical", required=True, help="clinical table with the outcome")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--outcome", help="outcome column (default: the bundle's outcome)")
    parser.add_argument("--positive-label",
                        help="how this site's outcome column codes the event, when it differs "
                        "from development (default: the bundle's labels)")
    parser.add_argument("--negative-label",
                        help="how this site's outcome column codes the non-event (with "
                        "--positive-label)")
    parser.add_argument("--site", help="site label for share.json (letters, digits, _ . -)")
    parser.add_argument("--cohort", help="use only manifest rows of this cohort")
    parser.add_argument("--features", help="features table already extracted with the "
                        "bundle's settings (skips extraction)")
    parser.add_argument("--allow-small-cells", action="store_true",
                        help="release every value in share.json (no disclosure control: "
                        "counts below 5 may then be derived from it)")
    parser.add_argument("--thresholds", type=_thresholds, default=[0.1, 0.2, 0.3],
                        help="net-benefit thresholds for share.json (default 0.1,0.2,0.3)")
    parser.add_argument("--jobs", type=_args.jobs, default=None, help="worker processes")
    parser.add_argument("--bootstrap", type=_args.int_range(0), default=500,
                        help="bootstrap resamples of the AUC CI (default 500)")
    parser.add_argument("--seed", type=_args.seed, default=0, help="seed of the bootstraps")
    parser.add_argument("--formats", default="html",
                        help="site report formats: html,docx,pdf or 'none' (qmd and figures "
                        "only; default html)")
    parser.add_argument("--no-report", action="store_true", help="do not write a site report")
    parser.add_argument("--trusted-key",
                        help="public key file (PEM or base64) of the team that made the "
                        "bundle: refuse the bundle unless it is signed by this key and "
                        "unchanged since (without it the bundle's origin is unverified)")
    parser.add_argument("--time", help="follow-up time column of the clinical table "
                        "(default: the bundle's): time-to-event validation")
    parser.add_argument("--event", help="event indicator column (1 = event; default: the "
                        "bundle's)")
    parser.add_argument("--pseudonym-key-file",
                        help="file holding a secret key (kept at the site): also write "
                        "return_predictions.csv with keyed HMAC-SHA256 pseudonyms")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.workflow import validate_bundle

    if args.manifest is None and args.features is None:
        raise InputError("radval validate: give --manifest (or --features).")
    formats = [] if args.formats.strip().lower() == "none" else \
        [f.strip() for f in args.formats.split(",") if f.strip()]
    key = None
    if args.pseudonym_key_file:
        # checked before any work: nothing is written when the key is unusable
        from radval._paths import require_file

        kp = require_file(args.pseudonym_key_file, "--pseudonym-key-file")
        key = kp.read_bytes().strip()
        if len(key) < MIN_KEY_BYTES:
            raise InputError(f"--pseudonym-key-file {kp.name}: the key holds {len(key)} "
                             f"byte(s); a secret of at least {MIN_KEY_BYTES} bytes is needed "
                             "(e.g. 32 random bytes: python -c \"import secrets; "
                             "print(secrets.token_hex(32))\" > key.txt).")
    summary = validate_bundle(
        args.bundle, manifest=args.manifest, clinical=args.clinical, out=args.out,
        outcome=args.outcome, site=args.site, cohort=args.cohort, features=args.features,
        allow_small_cells=args.allow_small_cells, thresholds=args.thresholds, jobs=args.jobs,
        n_bootstrap=args.bootstrap, seed=args.seed,
        report_formats=None if args.no_report else formats, pseudonym_key=key,
        positive_label=args.positive_label, negative_label=args.negative_label,
        trusted_key=args.trusted_key, survival_time=args.time,
        survival_event=args.event)
    return EXIT_OK, summary
