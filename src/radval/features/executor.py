"""Run one function over many cases: in-process, local worker processes, or Dask.

:func:`map_cases` is the one entry point.  It is used by feature extraction and can be reused
for any embarrassingly parallel loop (e.g. bootstrap resamples):

- ``fn`` must be a picklable **top-level** function of one argument (a lambda or a closure
  cannot be sent to a worker process); each item must be picklable too;
- results come back **in input order** as :class:`CaseOutcome` records, whatever the order in
  which workers finish;
- an exception raised by ``fn`` for one item is **captured as data** (``ok=False``, ``error``
  holds ``"<Type>: <message>"``); the other items still run.  ``KeyboardInterrupt`` and
  ``SystemExit`` are not captured: they stop the run (finished results were already handed to
  ``on_result``);
- ``on_result(outcome)`` runs in the calling process as soon as an item finishes, so callers
  can persist results immediately (the extraction cache does this, which makes a crashed or
  interrupted run resumable).

Backends
--------
``scheduler`` (or the environment variable ``RADVAL_DASK_SCHEDULER``) selects Dask distributed:
a scheduler address (``"tcp://host:8786"``), an existing ``distributed.Client``, or ``"local"``
for a ``LocalCluster`` with ``jobs`` single-threaded worker processes.  Otherwise ``jobs``
worker processes are started with :class:`concurrent.futures.ProcessPoolExecutor`; ``jobs=1``
runs in the calling process.  ``jobs=None`` uses every core available to the process.  A caller that
knows it will need workers later can start them ahead (:class:`WorkerPool`, passed as
``pool=``): their start-up then overlaps its own serial work (the optimism bootstrap does
this).

How worker processes start
--------------------------
A worker must not be a fork of the calling process (it may run threads: progress bars, Dask,
a GUI), and importing Python, numpy, SimpleITK and PyRadiomics takes about 0.4 s of CPU per
process.  On Linux the workers are therefore forked from multiprocessing's *fork server*: a
single-threaded process that radval starts once per calling process, with the thread variables
below set to 1, and that imports the worker modules (:data:`PRELOAD`) before it forks anything.
Each worker then starts in milliseconds, shares the imported modules' memory with the server,
and leaves without tearing the interpreter down; the server is idle between runs and exits
with the calling process.  If a fork server was already started by other code (its environment
is unknown), and on other systems, workers are started with ``spawn`` (a fresh interpreter
each).  The ``LocalCluster`` of ``scheduler="local"`` forks its Dask workers from the same
server.

Worker processes import the main script again, so a script that calls radval outside ``if
__name__ == "__main__":`` would call it again in each of them: radval then warns, naming the
line, and runs in the calling process (:mod:`radval._main_guard`).

Worker processes never outlive the run: each one exits as soon as the process that started the
run dies, even by ``kill -9``: a thread of the worker waits on a pipe whose writing end only
that process holds, and the kernel closes it when the process dies (:func:`worker_process_init`;
:func:`die_with_parent` for pools that start their workers with ``spawn`` themselves).  Dask
workers are left to Dask, whose nannies end their workers when the client process is gone.

Every worker runs one case at a time with one thread: ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS`` are
set to 1 for the worker processes, and SimpleITK's global thread count is set to 1 before each
item.  A Dask worker has numpy loaded already (the variables would do nothing) and may be the
user's: there each item runs with SimpleITK and the BLAS/OpenMP pools (threadpoolctl) at one
thread, and the worker's own settings are restored when radval's items end
(:mod:`radval.features._dask_task`, which also lifts the malloc thresholds Dask's nanny fixes
while the items run).  Results therefore do not depend on the backend or the number of
workers.

With a ``cost`` per item (extraction: the mask file's size), items start longest first, on
every backend: a long case that started last would otherwise keep one worker busy while the
others idle at the end of the run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from radval._main_guard import unguarded_main, worker_jobs
from radval._validation import param_error

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext

__all__ = ["PRELOAD", "CaseOutcome", "WorkerPool", "available_cores", "case_seed",
           "die_with_parent", "exit_with_run", "map_cases", "resolve_scheduler",
           "runs_in_workers", "worker_process_init"]

logger = logging.getLogger(__name__)

_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "NUMEXPR_NUM_THREADS")
ENV_SCHEDULER = "RADVAL_DASK_SCHEDULER"

#: Modules the fork server imports once, before forking workers (Linux): what a feature
#: extraction worker runs (:mod:`radval.features._worker`: numpy, SimpleITK, PyRadiomics).
#: Other functions passed to :func:`map_cases` import the rest themselves.
PRELOAD = ("radval.features.executor", "radval._paths", "radval.features._worker", "SimpleITK",
           "radiomics.featureextractor")


@dataclass(frozen=True)
class CaseOutcome:
    """The outcome of ``fn(items[index])``.

    Attributes
    ----------
    index : int
        Position of the item in the input.
    ok : bool
        ``True`` when ``fn`` returned.
    value : Any
        What ``fn`` returned (``None`` when it raised).
    error : str or None
        ``"<ExceptionType>: <message>"`` when ``fn`` raised.
    seconds : float
        Wall time of the call in the worker.
    """

    index: int
    ok: bool
    value: Any = None
    error: str | None = None
    seconds: float = 0.0


def case_seed(*parts: object, base: int = 0) -> int:
    """A per-case seed that depends only on the case, never on the worker or the order.

    ``case_seed("p001", "1", base=42)`` is the first 8 bytes of
    SHA-256(``"42|p001|1"``) as an unsigned integer, for ``np.random.default_rng``.
    PyRadiomics is deterministic and needs none; functions passed to :func:`map_cases`
    that draw random numbers (augmentation, bootstrap) should seed from this.
    """
    import hashlib

    text = "|".join(str(p) for p in (base, *parts))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def available_cores() -> int:
    """Number of cores this process may use (CPU affinity aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def _one_thread() -> None:
    if "SimpleITK" in sys.modules:
        sys.modules["SimpleITK"].ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _run_one(fn: Callable[[Any], Any], index: int, item: Any) -> CaseOutcome:
    """Worker-side wrapper: one thread, timing, exceptions captured as data."""
    _one_thread()
    t0 = time.perf_counter()
    try:
        value = fn(item)
    except Exception as exc:  # noqa: BLE001 - per-item failures are data
        return CaseOutcome(index, False, None, f"{type(exc).__name__}: {exc}",
                           time.perf_counter() - t0)
    return CaseOutcome(index, True, value, None, time.perf_counter() - t0)


#: Seconds between two looks of the watchdog thread at the parent process.
WATCHDOG_INTERVAL = 0.5


def _watch_parent(parent_pid: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:
            # the parent is gone (this process was re-parented): nobody wants the result
            os._exit(1)


def die_with_parent(parent_pid: int | None = None, *,
                    interval: float = WATCHDOG_INTERVAL) -> None:
    """Make the calling (worker) process exit when its parent process dies.

    Called at the start of a worker process.  On Linux the kernel sends SIGKILL when the
    parent dies (``prctl(PR_SET_PDEATHSIG)``, through ctypes); everywhere, a daemon thread
    checks every ``interval`` seconds that the parent is still ``parent_pid`` and ends the
    process otherwise.  Without this, workers of a killed run (``kill -9``, an out-of-memory
    kill of the parent, a closed terminal) go on computing for minutes.

    Parameters
    ----------
    parent_pid : int, optional
        The parent's pid as seen by the parent (``os.getpid()`` passed to the worker's
        initializer); default ``os.getppid()`` now.  If the parent already died before this
        call, the process exits at once.
    interval : float, optional
        Seconds between two checks of the watchdog thread.
    """
    parent = os.getppid() if parent_pid is None else int(parent_pid)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl: watchdog only
            pass
    if os.getppid() != parent:  # died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, interval), daemon=True,
                     name="radval-parent-watchdog").start()


def exit_with_run(alive: Connection) -> None:
    """Make the calling (worker) process exit as soon as the run's process dies.

    ``alive`` is the reading end of a one-way pipe (``multiprocessing.Pipe(duplex=False)``)
    whose writing end only the run's process holds.  Nothing is ever sent: a daemon thread
    waits on the pipe, and the kernel closes the writing end when that process ends, however
    it ends (``kill -9``, the out-of-memory killer), which wakes the thread at once.  Unlike
    :func:`die_with_parent`, this holds for a worker forked by a fork server (whose parent
    process is the server, not the run).
    """
    def _wait() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                alive.recv_bytes()
        os._exit(1)

    threading.Thread(target=_wait, daemon=True, name="radval-run-watchdog").start()


def worker_process_init(parent_pid: int | None = None, alive: Connection | None = None) -> None:
    """Initializer of radval's worker processes (``ProcessPoolExecutor(initializer=...,
    initargs=(os.getpid(),))``): one thread per worker, exit with the parent, and what the
    worker prints on stderr/stdout (warnings, log records) without absolute paths, warnings
    on one line (as in the parent, :mod:`radval.cli`).

    With ``alive`` (see :func:`exit_with_run`) the worker exits when the run's process dies
    whatever its start method; else, with ``parent_pid``, when its parent process dies
    (:func:`die_with_parent`, for workers started with ``spawn``).
    """
    import warnings

    from radval._paths import ScrubbedStream, one_line_warning

    for k in _THREAD_ENV:
        os.environ[k] = "1"
    _one_thread()
    if not isinstance(sys.stderr, ScrubbedStream):
        sys.stderr = ScrubbedStream(sys.stderr)  # type: ignore[assignment]
        sys.stdout = ScrubbedStream(sys.stdout)  # type: ignore[assignment]
    warnings.formatwarning = one_line_warning  # type: ignore[assignment]
    if alive is not None:
        exit_with_run(alive)
        if parent_pid is not None and os.getppid() == parent_pid:
            die_with_parent(parent_pid)  # spawned: the kernel's death signal as well
    elif parent_pid is not None:
        die_with_parent(parent_pid)


@contextlib.contextmanager
def _single_thread_env() -> Iterator[None]:
    """Set the thread variables to 1 while worker processes are started (they inherit them)."""
    old = {k: os.environ.get(k) for k in _THREAD_ENV}
    for k in _THREAD_ENV:
        os.environ[k] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: pid of the fork server radval started in this process (None: none yet).
_SERVER_PID: int | None = None


def _pool_context(extra_preload: Sequence[str] = ()) -> BaseContext:
    """The start method of worker processes: radval's fork server on Linux, else ``spawn``.

    The fork server is started here, once per process, with the thread variables set to 1 and
    :data:`PRELOAD` (through :mod:`radval.features._preload`; + ``extra_preload``, used only
    if it starts now; + ``distributed`` if this process imported it) imported before it forks
    anything.  A fork server started by other code is not used (``spawn`` then).
    """
    global _SERVER_PID
    import multiprocessing as mp

    if not sys.platform.startswith("linux"):
        return mp.get_context("spawn")
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    running = getattr(server, "_forkserver_pid", None)
    if running is not None and running != _SERVER_PID:
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    if running is None:
        # a process using Dask may start radval's own cluster, forked from here: its workers then
        # start in 0.15 s, not 0.45 s; other processes do not pay for the import (0.3 s)
        dask_user = ("distributed",) if "distributed" in sys.modules else ()
        ctx.set_forkserver_preload(["radval.features._preload", *extra_preload, *dask_user])
        with _single_thread_env():
            forkserver.ensure_running()
        _SERVER_PID = getattr(server, "_forkserver_pid", None)
        if _SERVER_PID is None:  # pragma: no cover - multiprocessing's internals changed
            return mp.get_context("spawn")
    return ctx


@contextlib.contextmanager
def _sitk_threads(n: int) -> Iterator[None]:
    """Temporarily set SimpleITK's global thread count (in-process runs)."""
    import SimpleITK as sitk

    old = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(n)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(old)


class _Progress:
    """tqdm bar on a terminal, plain log lines otherwise (CI, --quiet), or nothing."""

    def __init__(self, total: int, desc: str, mode: bool | None) -> None:
        self.total = total
        self.desc = desc
        self.done = 0
        self.t0 = time.monotonic()
        self.last_log = 0.0
        self.bar: Any = None
        self.enabled = mode is not False and total > 0
        if not self.enabled:
            return
        tty = sys.stderr.isatty()
        quiet = not logging.getLogger("radval").isEnabledFor(logging.INFO)
        if (mode is True or (mode is None and tty and not quiet)):
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, unit="case", file=sys.stderr,
                                dynamic_ncols=True)
            except ImportError:  # pragma: no cover - tqdm is a features dependency
                self.bar = None
        self.step = max(1, total // 20)

    def update(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.monotonic()
        if self.done == self.total or self.done % self.step == 0 or now - self.last_log > 30:
            self.last_log = now
            elapsed = now - self.t0
            rate = self.done / elapsed if elapsed > 0 else float("nan")
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            logger.info("%s: %d/%d cases (%.2f/s, ETA %.0f s)", self.desc, self.done,
                        self.total, rate, eta)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def resolve_scheduler(scheduler: Any) -> Any:
    """``scheduler`` or, when ``None``, the ``RADVAL_DASK_SCHEDULER`` environment variable."""
    if scheduler is None:
        env = os.environ.get(ENV_SCHEDULER, "").strip()
        return env or None
    return scheduler


def _init_and_preload(parent_pid: int, alive: Connection, modules: tuple[str, ...] = (),
                      init: Callable[..., Any] | None = None, init_args: tuple[Any, ...] = ()
                      ) -> None:
    """Initializer of radval's pools: :func:`worker_process_init`, ``modules``, ``init``."""
    import importlib

    worker_process_init(parent_pid, alive)
    for name in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    if init is not None:
        init(*init_args)


class WorkerPool:
    """Local worker processes started ahead of :func:`map_cases` (``pool=``).

    Starting ``jobs`` workers and importing what they need (torch, scikit-learn)
    takes seconds; a caller that starts the pool before its own serial work (selection,
    fitting, evaluation before the optimism bootstrap) hides that time.  The workers are
    those of :func:`map_cases` (one thread each, they exit with their parent) and
    ``preload`` names modules each one imports at once.  Use as a context manager or call
    :meth:`close`.

    Parameters
    ----------
    jobs : int
        Worker processes (>= 2; with one job :func:`map_cases` runs in the caller).  None
        start, and ``jobs`` is 1, when the main script calls radval outside its ``if
        __name__ == "__main__":`` guard (:mod:`radval._main_guard`; a warning says so).
    preload : sequence of str, optional
        Modules every worker imports as soon as it starts (one that cannot be imported
        is skipped: the work itself will report it).
    initializer : callable, optional
        Top-level function each worker calls with ``initargs`` after the imports.
    initargs : tuple, optional
        Small (settings): written into each worker's start-up pipe, past 64 KB they keep
        this process waiting until the worker has imported the main script.
    """

    def __init__(self, jobs: int, *, preload: Sequence[str] = (),
                 initializer: Callable[..., Any] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 2:
            raise param_error("jobs", "WorkerPool", "an integer >= 2", jobs)
        self.jobs = worker_jobs(jobs, "WorkerPool")  # 1: none started (see jobs)
        self._executor: _Pool | None = None
        if self.jobs == 1:
            return
        self._executor = _Pool(jobs, tuple(str(m) for m in preload), initializer,
                               tuple(initargs))
        # the pool starts a worker per submission while none is idle: start them all now
        # (each runs the imports in its initializer, before any task; ``int()`` is a no-op
        # task), single-threaded
        with _single_thread_env():
            for _ in range(jobs):
                self._executor.submit(int)

    def executor(self) -> Any:
        """The process pool (``None`` once closed or broken)."""
        return self._executor

    def discard(self) -> None:
        """Forget a broken pool (a worker died); :func:`map_cases` starts new ones."""
        ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (waits for what is running)."""
        ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def map_cases(fn: Callable[[Any], Any], items: Sequence[Any], *, jobs: int | None = None,
              scheduler: Any = None, progress: bool | None = None,
              on_result: Callable[[CaseOutcome], None] | None = None,
              desc: str = "cases", pool: WorkerPool | None = None,
              cost: Sequence[float] | None = None) -> list[CaseOutcome]:
    """Apply ``fn`` to every item, in parallel, results in input order.

    Parameters
    ----------
    fn : callable
        Picklable top-level function of one argument.
    items : sequence
        Picklable inputs.
    jobs : int, optional
        Worker processes (default: all available cores).  ``1`` runs in this process.  With
        ``scheduler="local"`` the number of Dask workers.
    scheduler : str or distributed.Client, optional
        Dask distributed scheduler address, a ``Client``, or ``"local"``; default the
        ``RADVAL_DASK_SCHEDULER`` environment variable, else local processes.
    progress : bool, optional
        ``None`` (default): a tqdm bar on a terminal, log lines otherwise; ``False``: nothing;
        ``True``: always a bar.
    on_result : callable, optional
        Called in this process with each :class:`CaseOutcome` as soon as it is available.
    desc : str, optional
        Label of the progress bar / log lines.
    pool : WorkerPool, optional
        Local worker processes started beforehand (:class:`WorkerPool`, so that their
        start-up overlapped the caller's own work); its size replaces ``jobs``.  Not
        used with a Dask ``scheduler``.  The caller closes it.
    cost : sequence of float, optional
        An estimate of each item's run time, in any unit (extraction passes the size of the
        mask file).  With several workers the items are started longest first, so that the
        run does not end with one worker busy on a long item that started last while the
        others idle (the classic longest-processing-time-first rule: the idle tail is then
        at most about the shortest items' time); results still come back in input order, and
        ``on_result`` is called as items finish.  Default: input order.

    Returns
    -------
    list of CaseOutcome
        ``out[i]`` is the outcome of ``items[i]``.
    """
    if not callable(fn):
        raise param_error("fn", "map_cases", "a callable", fn)
    items = list(items)
    if pool is not None and not isinstance(pool, WorkerPool):
        raise param_error("pool", "map_cases", "a WorkerPool or None", pool)
    if pool is not None:
        jobs = pool.jobs
    if jobs is None:
        jobs = available_cores()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise param_error("jobs", "map_cases", "an integer >= 1 or None", jobs)
    sched, jobs = _backend(resolve_scheduler(scheduler), jobs, len(items), pool, warn=True)
    order = _start_order(len(items), cost)
    bar = _Progress(len(items), desc, progress)
    results: list[CaseOutcome | None] = [None] * len(items)

    def _collect(out: CaseOutcome) -> None:
        results[out.index] = out
        if on_result is not None:
            on_result(out)
        bar.update()

    try:
        if not items:
            return []
        if sched is not None:
            _run_dask(fn, items, sched, jobs, _collect, order=order, desc=desc)
        elif jobs == 1 or len(items) == 1:
            with _sitk_threads(1):
                for i, item in enumerate(items):
                    _collect(_run_one(fn, i, item))
        else:
            _run_processes(fn, items, min(jobs, len(items)), _collect, pool=pool,
                           order=order)
    finally:
        bar.close()
    return [r for r in results if r is not None]


def _backend(sched: Any, jobs: int, n_items: int, pool: WorkerPool | None, *,
             warn: bool) -> tuple[Any, int]:
    """``(scheduler, jobs)`` of a :func:`map_cases` run: ``(None, 1)`` instead of starting
    worker processes (local, or radval's own Dask cluster) that would run the main script
    again (:mod:`radval._main_guard`; ``warn``: say so)."""
    starts = sched == "local" or (sched is None and jobs > 1 and n_items > 1 and pool is None)
    unguarded = starts and (worker_jobs(max(jobs, 2), "map_cases") == 1 if warn
                            else unguarded_main() is not None)
    return (None, 1) if unguarded else (sched, jobs)


def runs_in_workers(n_items: int, *, jobs: int | None = None, scheduler: Any = None,
                    pool: WorkerPool | None = None) -> bool:
    """Whether :func:`map_cases` with these arguments runs its ``n_items`` items in other
    processes (local workers or Dask) rather than in the calling process."""
    n = pool.jobs if pool is not None else (jobs if jobs is not None else available_cores())
    sched, n = _backend(resolve_scheduler(scheduler), n, n_items, pool, warn=False)
    return sched is not None or (n > 1 and n_items > 1)


def _start_order(n: int, cost: Sequence[float] | None) -> list[int]:
    """Indices ``0..n-1`` by decreasing ``cost`` (ties and ``None``: input order)."""
    if cost is None:
        return list(range(n))
    try:
        c = [float(x) for x in cost]
    except (TypeError, ValueError):
        raise param_error("cost", "map_cases", "a sequence of finite numbers", cost) from None
    if len(c) != n or not all(math.isfinite(x) for x in c):
        raise param_error("cost", "map_cases",
                          f"a sequence of {n} finite numbers (one per item)", cost)
    return sorted(range(n), key=lambda i: -c[i])


_DIED = ("WorkerDied: the worker process died while running this case (a crash or the "
         "out-of-memory killer); the other cases were not affected")


class _Pool:
    """A process pool of radval workers: started as :func:`_pool_context` says, each one
    initialised by :func:`worker_process_init` with the lifeline of :func:`exit_with_run`,
    then importing ``preload``.  This process holds the lifeline's only writing end until
    :meth:`shutdown`."""

    def __init__(self, jobs: int, preload: tuple[str, ...] = (),
                 init: Callable[..., Any] | None = None, init_args: tuple[Any, ...] = ()
                 ) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = _pool_context()
        self._alive, self._keep = mp.Pipe(duplex=False)
        try:
            with _single_thread_env():
                self._executor = ProcessPoolExecutor(
                    max_workers=jobs, mp_context=ctx, initializer=_init_and_preload,
                    initargs=(os.getpid(), self._alive, preload, init, init_args))
        except BaseException:
            self._close_pipe()
            raise

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        return self._executor.submit(fn, *args)

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = False) -> None:
        try:
            self._executor.shutdown(wait=wait, cancel_futures=cancel_futures)
        finally:
            self._close_pipe()  # after the workers are gone: they exit if this process dies

    def _close_pipe(self) -> None:
        self._alive.close()
        self._keep.close()

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *_: Any) -> None:
        self.shutdown(wait=True)


def _pool_pass(fn: Callable[[Any], Any], items: list[Any], indices: list[int], jobs: int,
               collect: Callable[[CaseOutcome], None], *, executor: Any = None
               ) -> tuple[list[int], list[int]]:
    """Run ``indices`` in one process pool (``executor``, left open, or a new one).

    Returns the items that were in flight when a worker died (pool broken) and the items not
    yet submitted; both empty when the pass completed.
    """
    from concurrent.futures import FIRST_COMPLETED, Future, wait
    from concurrent.futures.process import BrokenProcessPool

    pending: dict[Future[CaseOutcome], int] = {}
    # the thread variables stay at 1 for the whole pass: the pool starts a worker when a
    # case is submitted and none is idle (with spawn, the worker inherits them then)
    with _single_thread_env(), (_Pool(jobs) if executor is None
                                else contextlib.nullcontext(executor)) as pool:
        pos = 0
        try:
            while pos < len(indices) or pending:
                # At most 2 * jobs items in flight: bounded memory, early on_result calls.
                while pos < len(indices) and len(pending) < 2 * jobs:
                    i = indices[pos]
                    pending[pool.submit(_run_one, fn, i, items[i])] = i
                    pos += 1
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken: list[int] = []
                for f in done:
                    i = pending.pop(f)
                    try:
                        out = f.result()
                    except BrokenProcessPool:
                        broken.append(i)
                        continue
                    collect(out)
                if broken:
                    return sorted(broken + list(pending.values())), indices[pos:]
        except BaseException:
            for f in pending:
                f.cancel()
            raise
    return [], []


def _run_processes(fn: Callable[[Any], Any], items: list[Any], jobs: int,
                   collect: Callable[[CaseOutcome], None], *,
                   pool: WorkerPool | None = None, order: list[int] | None = None) -> None:
    """Local worker processes; a case that kills its worker fails alone.

    When a worker dies the pool is broken and every case in flight is lost; those cases are
    retried one at a time in a fresh single-worker pool (the one that dies again is recorded
    as failed) and the run continues with a new pool.  A :class:`WorkerPool` serves the
    first pass only (a broken one is not used again).
    """
    todo = list(range(len(items))) if order is None else list(order)
    first = pool.executor() if pool is not None else None
    while todo:
        suspects, todo = _pool_pass(fn, items, todo, jobs, collect, executor=first)
        if suspects and pool is not None:
            pool.discard()
        first = None
        for i in suspects:
            again, _ = _pool_pass(fn, items, [i], 1, collect)
            if again:
                logger.warning("a worker process died on item %d; recorded as failed", i)
                collect(CaseOutcome(i, False, None, _DIED))


#: Dask configuration of the ``LocalCluster`` radval starts for ``scheduler="local"``, passed
#: to its workers by their nannies.  No profiler: it samples the running task's stack 100
#: times a second, taking the GIL from the task each time (0.25 CPU-s per 10 CPU-s of
#: extraction, tasks waited ~3% longer for the GIL), for a dashboard this cluster does not
#: have.  No pre-spawn environment: its workers fork from radval's fork server, which started
#: with the environment they need; the nanny would only leave it behind in this process.
OWN_CLUSTER_CONFIG: dict[str, Any] = {"distributed.worker.profile.enabled": False,
                                      "distributed.nanny.pre-spawn-environ": {}}


def _restore_environ(saved: dict[str, str]) -> None:
    """Make ``os.environ`` equal to ``saved`` again."""
    for k in [k for k in os.environ if k not in saved]:
        del os.environ[k]
    for k, v in saved.items():
        if os.environ.get(k) != v:
            os.environ[k] = v


def _run_dask(fn: Callable[[Any], Any], items: list[Any], sched: Any, jobs: int,
              collect: Callable[[CaseOutcome], None], *, order: list[int] | None = None,
              desc: str = "cases") -> None:
    """Run the items on a Dask cluster, in ``order`` (default: input order).

    One task per item, all submitted at once with ``fn`` pickled by reference (a top-level
    function: a few dozen bytes, nothing to scatter); the scheduler then hands them out in
    the submission order.  Results are gathered in the background as tasks finish
    (``with_results``: no round trip per result) and each task is released as soon as its
    result is collected, so that a long run does not keep every result in the workers'
    memory.
    """
    import uuid

    from distributed import Client, LocalCluster, as_completed

    from radval.features._dask_task import run_item

    cluster = None
    own_client = False
    if isinstance(sched, Client):
        client = sched
    elif sched == "local":
        import dask

        # Dask's workers forked from radval's fork server (see the module docstring): they
        # start without importing Python again and leave without tearing it down (a spawned
        # Dask worker takes ~0.6 s to exit); distributed is preloaded if the server starts now
        method = _pool_context(extra_preload=("distributed",)).get_start_method()
        environ = dict(os.environ)
        try:
            with _single_thread_env(), dask.config.set(
                    {"distributed.worker.multiprocessing-method": method,
                     **OWN_CLUSTER_CONFIG}):
                # no dashboard, and its HTTP server (health checks) on a free local port: on
                # Dask's 8787 it would take a user's dashboard port, or warn that it is taken
                cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                       dashboard_address=None,
                                       scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        finally:
            # Dask's nanny writes its pre-spawn environment (PYTHONHASHSEED, with Dask's
            # defaults MALLOC_TRIM_THRESHOLD_ and thread counts) into this process's
            # environment to pass it on to spawned workers.  Not radval's to leave behind:
            # processes started later (radval's own workers among them) would inherit it.
            _restore_environ(environ)
        client = Client(cluster)
        own_client = True
    elif isinstance(sched, str):
        client = Client(sched)
        own_client = True
    else:
        raise param_error("scheduler", "map_cases",
                          "a scheduler address, 'local' or a distributed.Client", sched)
    if order is None:
        order = list(range(len(items)))
    # readable task names on the user's dashboard ("radval-extract"); the zero-padded rank
    # keeps the names in submission order
    label = "".join(c if c.isalnum() else "_" for c in desc) or "cases"
    token = uuid.uuid4().hex
    keys = [f"radval-{label}-{token}-{r:06d}" for r in range(len(order))]
    try:
        futures = client.map(run_item, [_run_one] * len(order), [fn] * len(order), order,
                             [items[i] for i in order], key=keys, pure=False)
        index = {f.key: i for f, i in zip(futures, order)}
        try:
            # the futures' own client's loop: as_completed defaults to the default client's,
            # another one when the process has several clients (the user's and radval's own)
            done = as_completed(futures, loop=client.loop, with_results=True,
                                raise_errors=False)
            for fut, out in done:
                if not isinstance(out, CaseOutcome):  # e.g. KilledWorker: one case fails
                    # an error comes as (type, exception, traceback), a cancellation as the
                    # CancelledError itself
                    exc = out[1] if isinstance(out, tuple) and len(out) == 3 else out
                    out = CaseOutcome(index[fut.key], False, None,
                                      f"{type(exc).__name__}: {exc}")
                fut.release()  # the result leaves the worker's memory now, not at the end
                collect(out)
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
