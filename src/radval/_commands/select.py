"""`radval select`: feature selection on the development cohort (writes selection.json)."""

from __future__ import annotations

import argparse
from typing import Any

from radval._commands.run import add_study_arguments, load
from radval.exceptions import EXIT_OK

HELP = "select features on the development cohort (ICC, Mann-Whitney, redundancy, LASSO)"
EXAMPLE = "radval select analysis/study.yaml --out results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    add_study_arguments(parser)


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.workflow import run_select

    study = load(args)
    res = run_select(study, args.out, jobs=args.jobs, scheduler=args.scheduler)
    return EXIT_OK, {"out_dir": str(res.out_dir),
                     "selected": {f: s["selected"] for f, s in res.selection.items()}}
