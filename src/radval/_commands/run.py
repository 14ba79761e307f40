"""`radval run`: extraction (cached), selection, fitting and evaluation of a study file."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from radval._commands import _args
from radval.exceptions import EXIT_OK, EXIT_PARTIAL

HELP = "run a whole study: extraction (cached), selection, models, evaluation, outputs"
EXAMPLE = "radval run analysis/study.yaml --out results --jobs 2"

logger = logging.getLogger("radval.run")


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by run / select / fit / evaluate."""
    parser.add_argument("study", help="study file (YAML; see data-dictionary/study.yaml)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: the study's 'output', relative to the "
                             "study file)")
    parser.add_argument("--jobs", type=_args.jobs, default=None,
                        help="local worker processes (default: the study's compute.jobs)")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (or 'local') for extraction and bootstrap")


def add_signing_argument(parser: argparse.ArgumentParser) -> None:
    """``--signing-key``: sign the bundle written by run / fit."""
    parser.add_argument("--signing-key", default=None,
                        help="private Ed25519 key (from `radval keygen`) to sign the bundle "
                             "with; sites then verify it with `radval validate "
                             "--trusted-key`")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    add_study_arguments(parser)
    add_signing_argument(parser)


def load(args: argparse.Namespace) -> Any:
    """Load the study named on the command line."""
    from radval.workflow import load_study

    return load_study(args.study)


def print_summary(summary: Any, out_dir: Path, args: argparse.Namespace, *,
                  confidence_level: float = 0.95) -> None:
    """Print where the results are and the cohort x model AUC table (not with --json/-q);
    ``confidence_level`` is the study's (the level of the DeLong intervals)."""
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        return
    if summary is None or len(summary) == 0:
        return
    stream = sys.stdout
    from radval.report._data import level_percent

    ci = level_percent(confidence_level)
    stream.write(f"\nResults in {out_dir}\nAUC ({ci} CI, DeLong) by cohort and model:\n")
    stream.write(summary.to_string() + "\n")
    stream.flush()


def summary_records(summary: Any) -> list[dict[str, Any]]:
    """The summary table as records for --json."""
    if summary is None or len(summary) == 0:
        return []
    return [{"model": str(m), **{str(c): str(v) for c, v in row.items()}}
            for m, row in summary.iterrows()]


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.workflow import run_study

    study = load(args)
    res = run_study(study, args.out, jobs=args.jobs, scheduler=args.scheduler,
                    study_file=args.study, signing_key=args.signing_key)
    print_summary(res.summary, res.out_dir, args,
                  confidence_level=study.evaluation.confidence_level)
    code = EXIT_PARTIAL if res.partial else EXIT_OK
    if res.partial:
        logger.warning("some cases failed extraction (see %s); everything else was written",
                       res.out_dir / "features" / "failures.csv")
    return code, {"out_dir": str(res.out_dir), "results": str(res.results_path),
                  "auc": summary_records(res.summary),
                  "timings": {k: round(v, 2) for k, v in res.timings.items()},
                  "warnings": [w["code"] for w in res.warnings],
                  "partial": res.partial}
