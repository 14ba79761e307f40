"""`radval evaluate`: evaluate every cohort x model x subgroup (writes results.json)."""

from __future__ import annotations

import argparse
from typing import Any

from radval._commands.run import add_study_arguments, load, print_summary, summary_records
from radval.exceptions import EXIT_OK

HELP = "evaluate every cohort x model x subgroup and write results.json and tables/"
EXAMPLE = "radval evaluate analysis/study.yaml --out results   # after radval fit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    add_study_arguments(parser)


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.workflow import run_evaluate

    study = load(args)
    res = run_evaluate(study, args.out, jobs=args.jobs, scheduler=args.scheduler,
                       study_file=args.study)
    print_summary(res.summary, res.out_dir, args,
                  confidence_level=study.evaluation.confidence_level)
    return EXIT_OK, {"out_dir": str(res.out_dir),
                     "results": str(res.out_dir / "results.json"),
                     "auc": summary_records(res.summary),
                     "warnings": [w["code"] for w in res.warnings]}
