"""`radval report`: render the validation report of a run (main report and supplement),
or, with ``--check``, say whether the run's results are still current."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from radval.exceptions import EXIT_OK, EXIT_STALE

HELP = ("render the validation report (main report and supplement; HTML, DOCX, PDF) from "
        "a run's results.json, or check that the results are current")
EXAMPLE = ("radval report results/ --format html,docx,pdf --out results/report\n"
           "  radval report results/ --check    # exit 3 when the analysis must run again")

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("run_dir", help="output folder of `radval run` (holds results.json)")
    parser.add_argument("--format", default="html,docx,pdf", dest="formats",
                        help="comma-separated output formats among html, docx, pdf "
                             "(default: all three)")
    parser.add_argument("--out", default=None,
                        help="the report folder (default: RUN_DIR/report); replaced as a "
                             "whole when the report is complete")
    parser.add_argument("--engine", default="auto", choices=("auto", "quarto", "pandoc"),
                        help="renderer: Quarto when on PATH (auto), or pandoc + typst")
    parser.add_argument("--check", action="store_true",
                        help="render nothing: exit 0 when the results are current, 3 when "
                             "the study file or an input changed since the run (SHA-256), "
                             "the run is incomplete, or another radval release wrote them")
    parser.add_argument("--study", default=None,
                        help="with --check: the study file whose inputs are compared "
                             "(default: the paths recorded in results.json)")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    if args.check:
        from radval.report._freshness import check_results

        verdict = check_results(Path(args.run_dir), study=args.study)
        if not getattr(args, "json", False):
            print("results are current" if verdict.current else
                  "results are out of date:\n  " + "\n  ".join(verdict.reasons))
        return (EXIT_OK if verdict.current else EXIT_STALE), verdict.to_dict()
    from radval.report import render_report

    t0 = time.perf_counter()
    outputs = render_report(Path(args.run_dir), formats=args.formats, out_dir=args.out,
                            engine=args.engine)
    seconds = round(time.perf_counter() - t0, 1)
    for fmt, path in outputs.items():
        logger.info("%s: %s", fmt, path)
    if not getattr(args, "json", False):
        for fmt, path in outputs.items():
            print(f"{fmt:16s} {path}")
    return EXIT_OK, {"outputs": {k: str(v) for k, v in outputs.items()}, "seconds": seconds}
