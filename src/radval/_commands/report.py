"""`radval report`: render the multicohort validation report of a run directory."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from radval.exceptions import EXIT_OK

HELP = "render the validation report (HTML, DOCX, PDF) from a run's results.json"
EXAMPLE = "radval report results/ --format html,docx,pdf --out results/report"

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("run_dir", help="output folder of `radval run` (holds results.json)")
    parser.add_argument("--format", default="html,docx,pdf", dest="formats",
                        help="comma-separated output formats among html, docx, pdf "
                             "(default: all three)")
    parser.add_argument("--out", default=None,
                        help="folder for the rendered files (default: RUN_DIR/report)")
    parser.add_argument("--engine", default="auto", choices=("auto", "quarto", "pandoc"),
                        help="renderer: Quarto when on PATH (auto), or pandoc + typst")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.report import render_report

    t0 = time.perf_counter()
    outputs = render_report(Path(args.run_dir), formats=args.formats, out_dir=args.out,
                            engine=args.engine)
    seconds = round(time.perf_counter() - t0, 1)
    for fmt, path in outputs.items():
        logger.info("%s: %s", fmt, path)
    if not getattr(args, "json", False):
        for fmt, path in outputs.items():
            print(f"{fmt:5s} {path}")
    return EXIT_OK, {"outputs": {k: str(v) for k, v in outputs.items()}, "seconds": seconds}
