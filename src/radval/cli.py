"""The ``radval`` command line.

Every subcommand is a thin wrapper over a public function.  Each lives in
``radval._commands.<name>`` and provides ``HELP`` (one line), ``EXAMPLE``
(shown in ``--help``), ``add_arguments(parser)`` and ``run(args) -> (exit_code,
summary)``.  This module only parses, sets up logging and turns errors into
exit codes and one clear message.

Exit codes (see :mod:`radval.exceptions`): 0 success; 1 unexpected error;
2 usage error; 4 some cases failed (everything else written); 65 invalid
data; 66 missing input; 70 internal error; 78 bad configuration.

With ``--json`` one JSON document is printed to stdout
(``{"ok", "command", "exit_code", "summary", "errors"}``); logs go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from radval._results import jsonable
from radval.exceptions import EXIT_OK, EXIT_USAGE, RadvalError, exit_code_for

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommand name -> module under ``radval._commands``.
COMMANDS: dict[str, str] = {
    "synth": "synth",
    "check": "check",
    "extract": "extract",
    "select": "select",
    "fit": "fit",
    "evaluate": "evaluate",
    "run": "run",
    "demo": "demo",
    "report": "report",
    "validate": "validate",
    "pool": "pool",
    "keygen": "keygen",
    "sign": "sign",
}

logger = logging.getLogger("radval")


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"radval._commands.{COMMANDS[name]}")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one machine-readable JSON summary on stdout (logs go to stderr)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def build_parser(names: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the argument parser (subcommand modules are imported here)."""
    parser = argparse.ArgumentParser(
        prog="radval",
        description="From CT scans to an externally validated radiomics signature.",
        epilog="Exit codes: 0 ok, 1 unexpected error, 2 usage, 4 some cases failed, "
               "65 invalid data, 66 missing input, 70 internal error, 78 bad config.",
    )
    from radval import __version__

    parser.add_argument("--version", action="version", version=f"radval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in names or COMMANDS:
        mod = _load(name)
        p = sub.add_parser(
            name, help=mod.HELP, description=mod.HELP,
            epilog=f"example:\n  {mod.EXAMPLE}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        _add_common(p)
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.INFO
    if getattr(args, "quiet", False):
        level = logging.WARNING
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%H:%M:%S"))
    root = logging.getLogger("radval")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(jsonable(payload), indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run, map errors to exit codes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Import only the requested subcommand so that `radval synth` stays fast.
    first = next((a for a in argv if not a.startswith("-")), None)
    names = [first] if first in COMMANDS else None
    parser = build_parser(names)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _setup_logging(args)
    mod = _load(args.command)
    try:
        code, summary = mod.run(args)
    except KeyboardInterrupt:
        logger.error("interrupted; finished cases are cached and a rerun resumes")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI turns every error into an exit code
        code = exit_code_for(exc)
        if args.debug or not isinstance(exc, RadvalError | FileNotFoundError):
            logger.exception("radval %s failed", args.command)
        else:
            logger.error("%s", exc)
        if args.json:
            errors = getattr(exc, "errors", None) or []
            _emit_json({"ok": False, "command": args.command, "exit_code": code,
                        "summary": {}, "errors": [{"type": type(exc).__name__,
                                                    "message": str(exc), "details": errors}]})
        elif not args.debug and not isinstance(exc, RadvalError | FileNotFoundError):
            sys.stderr.write(f"radval {args.command}: unexpected error: {exc}\n")
        return code
    if args.json:
        _emit_json({"ok": code == EXIT_OK, "command": args.command, "exit_code": code,
                    "summary": summary, "errors": summary.get("errors", [])
                    if isinstance(summary, dict) else []})
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
