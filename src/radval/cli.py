"""The ``radval`` command line.

Every subcommand is a thin wrapper over a public function.  Each lives in
``radval._commands.<name>`` and provides ``HELP`` (one line), ``EXAMPLE``
(shown in ``--help``), ``add_arguments(parser)`` and ``run(args) -> (exit_code,
summary)``.  This module only parses, sets up logging and turns errors into
exit codes and one clear message.

Exit codes (see :mod:`radval.exceptions`): 0 success; 1 unexpected error;
2 usage error; 4 some cases failed (everything else written); 65 invalid
data; 66 missing input; 70 internal error; 73 an output cannot be written
(permission, read-only, exists); 74 disk full or I/O error; 78 bad configuration.

With ``--json`` one JSON document is printed to stdout
(``{"ok", "command", "exit_code", "summary", "errors"}``); logs go to stderr.

What a person sees
------------------
- An error a user can fix (a :class:`~radval.exceptions.RadvalError` or an operating-system
  error such as a full disk) is one line naming the file, never a traceback (``--debug``
  shows it).  A message built for a library function ("The 'jobs' parameter of map_cases
  must be ...") is reworded in terms of the command's options (``--jobs must be ...``).
- Nothing printed carries an absolute path: stdout and stderr (logs, warnings, errors,
  ``--json``) pass through :func:`radval._paths.scrub_paths`, with the folders named on the
  command line and the working directory as roots.
- Python warnings are one line ``warning: <message>`` (no source line); ``-q`` hides them,
  with everything else but errors.
- The output folder (``--out``) is created and tried before any work: a read-only or full
  disk is reported at once (exit code 73 or 74).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from radval._paths import ScrubbedStream, one_line_warning, scrub_value
from radval._results import jsonable
from radval.exceptions import EXIT_OK, EXIT_USAGE, RadvalError, exit_code_for

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommand name -> module under ``radval._commands``.
COMMANDS: dict[str, str] = {
    "synth": "synth",
    "init": "init",
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
    p.add_argument("-q", "--quiet", action="store_true",
                   help="errors only (no progress, information or warnings)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def build_parser(names: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the argument parser (subcommand modules are imported here)."""
    parser = argparse.ArgumentParser(
        prog="radval",
        description="From CT scans to an externally validated radiomics signature.",
        epilog="Exit codes: 0 ok, 1 unexpected error, 2 usage, 4 some cases failed, "
               "65 invalid data, 66 missing input, 70 internal error, 73 cannot write "
               "output, 74 disk full / I/O error, 78 bad config.",
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
    parser.set_defaults(_subparsers=sub.choices)
    return parser


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Give the "radval" logger back as it was after the command (main() may be called
    in-process: its handler must not outlive the streams it writes to)."""
    root = logging.getLogger("radval")
    saved = (list(root.handlers), root.level, root.propagate)
    try:
        yield
    finally:
        root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.INFO
    if getattr(args, "quiet", False):
        level = logging.ERROR
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%H:%M:%S"))
    root = logging.getLogger("radval")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _roots(args: argparse.Namespace) -> list[str]:
    """Folders against which printed paths are shown: the working directory and the folder
    of every path named on the command line (so ``--out /data/x/out`` shows ``out/...``)."""
    roots = [os.getcwd()]
    for key, value in vars(args).items():
        if key.startswith("_"):
            continue
        for v in value if isinstance(value, list | tuple) else [value]:
            if isinstance(v, str | os.PathLike) and os.fspath(v) and (
                    os.path.exists(v) or os.sep in os.fspath(v) or "/" in os.fspath(v)):
                roots.append(os.path.dirname(os.path.abspath(os.fspath(v))))
    return roots


@contextlib.contextmanager
def _scrubbed_output(roots: Sequence[str]) -> Iterator[None]:
    old = sys.stdout, sys.stderr
    sys.stdout = ScrubbedStream(old[0], roots)  # type: ignore[assignment]
    sys.stderr = ScrubbedStream(old[1], roots)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = old


@contextlib.contextmanager
def _warnings_display(quiet: bool) -> Iterator[None]:
    """Python warnings as one line ``warning: ...`` (no file, line or source); none with -q."""
    old = warnings.formatwarning
    with warnings.catch_warnings():
        warnings.formatwarning = one_line_warning  # type: ignore[assignment]
        if quiet:
            warnings.simplefilter("ignore")
        try:
            yield
        finally:
            warnings.formatwarning = old


_PARAM_MSG = re.compile(r"^The '(?P<param>[^']+)' parameter of (?P<caller>[\w.<> ]+?) must be "
                        r"(?P<what>.*)\. Got (?P<got>.*) instead\.$", re.DOTALL)


def _cli_message(exc: BaseException, sub: argparse.ArgumentParser | None) -> str:
    """The message of ``exc`` for a person at the command line.

    Messages built for a library function's parameters name the command's option instead
    (``--jobs must be ...``), and never an internal function; an operating-system error
    names the file and says what happened.
    """
    text = str(exc)
    m = _PARAM_MSG.match(text)
    if m:
        param = m.group("param").split("[")[0]
        options: dict[str, str] = {}
        for action in (sub._actions if sub is not None else []):
            longs = [o for o in action.option_strings if o.startswith("--")]
            if longs:
                options.setdefault(action.dest, longs[0])
                options.setdefault(action.dest + "s", longs[0])
            elif action.dest not in ("help",):
                options.setdefault(action.dest, action.dest.upper())
        name = options.get(param, options.get(param.replace("-", "_")))
        what, got = m.group("what"), m.group("got")
        if name is not None:
            return f"{name} must be {what} (got {got})."
        return f"invalid value: {param} must be {what} (got {got})."
    if isinstance(exc, OSError) and not isinstance(exc, RadvalError):
        import errno as e

        where = f" {exc.filename}" if exc.filename else ""
        if exc.errno in (e.ENOSPC, getattr(e, "EDQUOT", e.ENOSPC)):
            return f"disk full: no space left on the device (writing{where or ' a file'})."
        return f"{exc.strerror or type(exc).__name__}:{where or ' ' + text}"
    return text


def _emit_json(payload: dict[str, Any], roots: Sequence[str] = ()) -> None:
    text = json.dumps(scrub_value(jsonable(payload), roots=roots), indent=2, sort_keys=True)
    sys.stdout.write(text + "\n")
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
    roots = _roots(args)
    with _logging_restored(), _scrubbed_output(roots), \
            _warnings_display(bool(getattr(args, "quiet", False))):
        _setup_logging(args)
        return _run(args, roots)


def _run(args: argparse.Namespace, roots: Sequence[str]) -> int:
    mod = _load(args.command)
    sub = getattr(args, "_subparsers", {}).get(args.command)
    try:
        out_arg = getattr(mod, "OUTPUT_FOLDER", "out")
        if out_arg and getattr(args, out_arg, None):
            from radval._provenance import check_output_dir

            check_output_dir(getattr(args, out_arg))
        code, summary = mod.run(args)
    except KeyboardInterrupt:
        logger.error("interrupted; finished cases are cached and a rerun resumes")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI turns every error into an exit code
        code = exit_code_for(exc)
        message = _cli_message(exc, sub)
        # errors a person can act on: one line; anything else is a bug: the traceback
        expected = isinstance(exc, RadvalError | OSError)
        if args.debug or not expected:
            logger.exception("radval %s failed", args.command)
        else:
            logger.error("%s", message)
        if args.json:
            errors = getattr(exc, "errors", None) or []
            _emit_json({"ok": False, "command": args.command, "exit_code": code,
                        "summary": {}, "errors": [{"type": type(exc).__name__,
                                                    "message": message, "details": errors}]},
                       roots)
        elif not args.debug and not expected:
            sys.stderr.write(f"radval {args.command}: unexpected error: {exc}\n")
        return code
    if args.json:
        _emit_json({"ok": code == EXIT_OK, "command": args.command, "exit_code": code,
                    "summary": summary, "errors": summary.get("errors", [])
                    if isinstance(summary, dict) else []}, roots)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
