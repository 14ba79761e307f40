"""`radval fit`: fit the models on the selected features (writes models.json, predictions)."""

from __future__ import annotations

import argparse
from typing import Any

from radval._commands.run import add_study_arguments, load
from radval.exceptions import EXIT_OK

HELP = "fit rad-score, DL-score, combined, clinical, nomogram and comparison models"
EXAMPLE = "radval fit analysis/study.yaml --out results   # after radval select"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    add_study_arguments(parser)


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.workflow import run_fit

    study = load(args)
    res = run_fit(study, args.out, jobs=args.jobs, scheduler=args.scheduler)
    return EXIT_OK, {"out_dir": str(res.out_dir), "models": res.fitted.model_names,
                     "cutoffs": res.fitted.cutoffs}
