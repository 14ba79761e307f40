"""`radval demo`: generate the built-in two-centre study, run it, render the report."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from radval._commands import _args
from radval.exceptions import EXIT_OK, EXIT_PARTIAL

HELP = "generate the built-in synthetic two-centre study, run everything, render the report"
EXAMPLE = "radval demo --out radval-demo            # --small for a quick run"

logger = logging.getLogger("radval.demo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("--out", default="radval-demo",
                        help="output folder (default: ./radval-demo)")
    parser.add_argument("--small", action="store_true",
                        help="tiny study (48 patients, small volumes, fewer resamples): ~1 min")
    parser.add_argument("--no-report", action="store_true", help="skip rendering the report")
    parser.add_argument("--jobs", type=_args.jobs, default=None,
                        help="local worker processes (default: 2)")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address (or 'local')")
    parser.add_argument("--seed", type=_args.seed, default=None, help="seed (default: the study's)")
    parser.add_argument("--formats", default="html,docx,pdf",
                        help="report formats, comma separated (default: html,docx,pdf)")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval._commands.run import print_summary, summary_records
    from radval.workflow import prepare_demo, run_study

    t0 = time.perf_counter()
    out = Path(args.out)
    study, study_file, synth_s = prepare_demo(out, small=args.small, seed=args.seed,
                                              jobs=args.jobs)
    logger.info("built-in study generated in %s (%.1f s)", study_file.parent, synth_s)
    res = run_study(study, out / "results", jobs=args.jobs or study.compute.jobs,
                    scheduler=args.scheduler, study_file=study_file)
    timings = {"synth": synth_s, **res.timings}
    report: dict[str, str] = {}
    if not args.no_report:
        t1 = time.perf_counter()
        try:
            from radval.report import render_report
        except ImportError as exc:
            logger.warning("report renderer not available (%s); skipped", exc)
        else:
            formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
            try:
                paths = render_report(res.out_dir, formats=formats)
                report = {k: str(v) for k, v in dict(paths).items()}
            except Exception as exc:  # noqa: BLE001 - the run is done; a report failure is logged
                logger.error("report rendering failed: %s", exc)
                report = {"error": str(exc)}
        timings["report"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    print_summary(res.summary, res.out_dir, args,
                  confidence_level=study.evaluation.confidence_level)
    if report and not getattr(args, "json", False) and not getattr(args, "quiet", False):
        for fmt, path in report.items():
            print(f"report ({fmt}): {path}")
    if not getattr(args, "json", False) and not getattr(args, "quiet", False):
        print("time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    code = EXIT_PARTIAL if res.partial else EXIT_OK
    if report.get("error"):
        code = EXIT_PARTIAL
    return code, {"out_dir": str(res.out_dir), "study_file": str(study_file),
                  "results": str(res.results_path), "report": report,
                  "auc": summary_records(res.summary),
                  "timings": {k: round(v, 2) for k, v in timings.items()},
                  "warnings": [w["code"] for w in res.warnings]}
