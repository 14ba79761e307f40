"""Whether radval may start worker processes from here: the main-script guard.

Worker processes started with ``spawn`` or a fork server (all of radval's: feature
extraction, the optimism bootstrap, the report's figures, a local Dask cluster) import the
main script again before they run anything.  A script that calls radval at its top level,
outside ``if __name__ == "__main__":``, therefore calls radval again in every worker; the
worker then fails while starting (multiprocessing refuses to start processes from a process
that is still starting) and, depending on the start method and the size of what the parent
sends it, the parent records every case as failed or waits for ever.  Scripts written by
hand are exactly what radval's users run, so the situation is detected before any process
is started (:func:`worker_jobs`): radval warns, naming the script's line, and runs in the
calling process instead.
"""

from __future__ import annotations

import ast
import linecache
import sys
import warnings
from pathlib import Path
from types import FrameType

from radval.exceptions import RadvalWarning

__all__ = ["unguarded_main", "worker_jobs"]


def _guarded_lines(node: ast.If) -> tuple[int, int] | None:
    """The lines run only in the main process: the body of ``if __name__ == "__main__":``
    (either order), the ``else`` of ``if __name__ != "__main__":``; None for other tests."""
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.Eq, ast.NotEq))):
        return None
    sides = {ast.dump(test.left), ast.dump(test.comparators[0])}
    if sides != {ast.dump(ast.Name("__name__", ast.Load())),
                 ast.dump(ast.Constant("__main__"))}:
        return None
    block = node.body if isinstance(test.ops[0], ast.Eq) else node.orelse
    if not block:
        return None
    return block[0].lineno, block[-1].end_lineno or block[-1].lineno


def _main_frame() -> FrameType | None:
    """The frame running the main module's top level, if it is on this thread's stack."""
    main = sys.modules.get("__main__")
    if main is None:
        return None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            return frame
        frame = frame.f_back
    return None


def unguarded_main() -> str | None:
    """Where the main script runs this call outside ``if __name__ == "__main__":``.

    Returns
    -------
    str or None
        ``"<script name>, line <n>"`` when the main module is a file whose top level is
        running this call outside the guard (worker processes would run it again); ``None``
        otherwise: the call is under the guard, or comes from an interactive session, a
        notebook, ``python -c``, another thread, or a main module whose source cannot be
        read or has changed since it started (nothing to re-run, or nothing known).
    """
    main = sys.modules.get("__main__")
    if not getattr(main, "__file__", None):
        return None  # interactive, notebook, python -c: the workers import nothing again
    frame = _main_frame()
    if frame is None:
        return None
    filename, line = frame.f_code.co_filename, frame.f_lineno
    try:
        source = "".join(linecache.getlines(filename)) or Path(filename).read_text()
        tree = ast.parse(source)
        # the file as it is now must be the one running (edited since it started: its lines
        # are not those of the frame): same top-level bytecode, line by line
        code = compile(tree, filename, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    running = frame.f_code
    if (code.co_code, code.co_linetable, code.co_firstlineno) != (
            running.co_code, running.co_linetable, running.co_firstlineno):
        return None
    for node in ast.walk(tree):
        lines = _guarded_lines(node) if isinstance(node, ast.If) else None
        if lines is not None and lines[0] <= line <= lines[1]:
            return None
    return f"{Path(filename).name}, line {line}"


def worker_jobs(jobs: int, caller: str) -> int:
    """``jobs``, or 1 (with a :class:`~radval.exceptions.RadvalWarning`) when worker
    processes started now would run the main script again (:func:`unguarded_main`)."""
    if jobs <= 1:
        return jobs
    where = unguarded_main()
    if where is None:
        return jobs
    warnings.warn(
        f"{caller}: {where} calls radval outside `if __name__ == \"__main__\":`, so worker "
        "processes would run the script again; running in this process instead (put the "
        "script's code under that guard to use several processes)",
        RadvalWarning, stacklevel=3)
    return 1
