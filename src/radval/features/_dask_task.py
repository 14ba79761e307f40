"""What a Dask worker runs for each item of :func:`radval.features.executor.map_cases`.

A Dask worker may be the user's, running other work between (or beside) radval's items, so
nothing here changes the worker for good: what an item needs is set when radval's items start
running in the process and put back when they stop.

Threads
    radval's own workers are single-threaded from the start (the thread variables are set
    before numpy loads).  A Dask worker has numpy loaded already, where those variables do
    nothing: SimpleITK's global thread count and the BLAS/OpenMP pools (threadpoolctl) are
    set to one thread while radval's items run, and restored when the last one ends.

Memory allocator
    Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (Dask's default
    ``distributed.nanny.pre-spawn-environ``, so that freed memory goes back to the system at
    once).  Setting any malloc threshold turns off glibc's dynamic ``mmap`` threshold: every
    allocation of 128 KiB or more (each image-sized numpy or ITK buffer) is then a fresh
    ``mmap`` whose pages fault in one by one, and is unmapped when freed.  Measured on the
    40 cases of the extraction benchmark: 536,000 minor page faults and 1.3 s of system time
    in the task threads, against 26,000-42,000 faults and 0.15-0.27 s in radval's own workers
    (glibc's defaults), i.e. ~12% more CPU.  While radval's items run in a worker whose
    thresholds the environment fixed, the thresholds are raised to what glibc's dynamic
    adjustment reaches by itself (``mmap`` from 32 MiB, trim above 64 MiB), and
    :data:`RESTORE_AFTER` seconds after the last item ended they are put back to the
    environment's values and the free memory is returned (``malloc_trim``), as the user's
    setting intends.  Between two items of a run (milliseconds) nothing is restored: trimming
    there would make the next item fault its memory in again.  A worker with glibc's dynamic
    threshold (no such variable; radval's own cluster, whose workers are forked from a server
    started without it) is left alone: its threshold could not be given back.

Profiler
    A Dask worker samples the stack of its running tasks 100 times a second (the dashboard's
    Profile page), in its event loop, which takes the GIL from the task thread for each
    sample: 0.3-0.45 CPU-s per 40 extraction cases, and the task threads waited longer for
    the GIL.  While radval's items run, that sampling is paused; it resumes with the malloc
    settings, :data:`RESTORE_AFTER` seconds after the last item (radval's items are then
    missing from the worker's profile, nothing else is).  radval's own cluster runs without
    it (:data:`radval.features.executor.OWN_CLUSTER_CONFIG`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["RESTORE_AFTER", "run_item"]

#: Seconds without a radval item running after which the worker's malloc settings are
#: restored (items of one run follow each other within milliseconds).
RESTORE_AFTER = 1.0

#: glibc ``mallopt`` parameters (malloc.h) and defaults.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024
#: The largest value glibc's dynamic mmap threshold reaches on 64-bit systems
#: (``DEFAULT_MMAP_THRESHOLD_MAX``); the dynamic adjustment sets the trim threshold to twice it.
ITEM_MMAP_THRESHOLD = 32 * 1024 * 1024
ITEM_TRIM_THRESHOLD = 2 * ITEM_MMAP_THRESHOLD
#: Environment variables that fix glibc's thresholds (and turn its dynamic adjustment off).
_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
               "MALLOC_MMAP_MAX_")


def fixed_malloc_thresholds(environ: bytes) -> dict[int, int] | None:
    """The malloc thresholds fixed by a process's start-up environment, or ``None``.

    ``environ`` is the content of ``/proc/self/environ`` (NUL-separated ``NAME=value``): the
    environment the process was started with, which is what glibc read when it initialised
    malloc (a variable set later, e.g. by a nanny in a forked process, has no effect).
    Returns ``{M_TRIM_THRESHOLD: bytes, M_MMAP_THRESHOLD: bytes}`` when one of the
    variables that turn glibc's dynamic threshold off is set (an unset threshold has glibc's
    default, 128 KiB), ``None`` when none is set or a value is not an integer.
    """
    env: dict[str, str] = {}
    for entry in environ.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        name = key.decode("ascii", "replace")
        if sep and name in _MALLOC_ENV:
            env[name] = value.decode("ascii", "replace")
    if not env:
        return None
    out: dict[int, int] = {}
    for param, var in ((M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"),
                       (M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_")):
        try:
            out[param] = int(env.get(var, str(_GLIBC_DEFAULT_THRESHOLD)))
        except ValueError:
            return None
    return out


def _glibc() -> Any:
    """glibc through ctypes (``mallopt``, ``malloc_trim``), or ``None`` elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - glibc under another name
        return None


def _process_thresholds() -> dict[int, int] | None:
    try:
        with open("/proc/self/environ", "rb") as f:
            return fixed_malloc_thresholds(f.read())
    except OSError:  # pragma: no cover - no /proc
        return None


class _WhileItemsRun:
    """Settings of a Dask worker process while radval's items run (see the module docstring).

    Items running concurrently (a worker with several threads) share one save/restore: the
    first saves, the last restores.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._limiter: Any = None
        self._sitk_old: int | None = None
        # threadpoolctl's controller and the number of modules loaded when it was made:
        # building it scans the loaded libraries (~1 ms), and an import since may have
        # loaded another BLAS/OpenMP library
        self._controller: tuple[Any, int] | None = None
        self._malloc_checked = False
        self._malloc_fixed: dict[int, int] | None = None
        self._libc: Any = None
        self._malloc_raised = False
        self._profiler: tuple[Any, Any] | None = None  # (worker loop, its sampling callback)
        self._timer: threading.Timer | None = None

    def __enter__(self) -> None:
        with self._lock:
            self._running += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._running > 1:
                return
            self._raise_malloc()
            self._pause_profiler()
            sitk = sys.modules.get("SimpleITK")
            if sitk is not None:
                self._sitk_old = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
                sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
                return
            if self._controller is None or self._controller[1] != len(sys.modules):
                self._controller = (ThreadpoolController(), len(sys.modules))
            self._limiter = self._controller[0].limit(limits=1)
            self._limiter.__enter__()

    def __exit__(self, *_: Any) -> None:
        with self._lock:
            self._running -= 1
            if self._running > 0:
                return
            limiter, self._limiter = self._limiter, None
            if limiter is not None:
                limiter.__exit__(None, None, None)
            old, self._sitk_old = self._sitk_old, None
            # SimpleITK imported by an item (not loaded before): its default was never changed
            if old is not None and "SimpleITK" in sys.modules:
                sys.modules["SimpleITK"].ProcessObject.SetGlobalDefaultNumberOfThreads(old)
            if self._malloc_raised or self._profiler is not None:
                self._timer = threading.Timer(RESTORE_AFTER, self._restore_later)
                self._timer.daemon = True
                self._timer.start()

    def _pause_profiler(self) -> None:
        if self._profiler is not None:
            return  # still paused since the last item (not resumed yet)
        try:
            from distributed import get_worker

            worker = get_worker()
        except (ImportError, ValueError):
            return  # not in a Dask worker (tests, radval's own processes)
        sampling = getattr(worker, "periodic_callbacks", {}).get("profile")
        loop = getattr(worker, "loop", None)
        if sampling is None or loop is None or not sampling.is_running():
            return
        loop.add_callback(sampling.stop)  # the callback belongs to the worker's loop
        self._profiler = (loop, sampling)

    def _restore_later(self) -> None:
        self._restore_malloc()
        with self._lock:
            if self._running > 0 or self._profiler is None:
                return
            loop, sampling = self._profiler
            self._profiler = None
        loop.add_callback(sampling.start)

    def _raise_malloc(self) -> None:
        if not self._malloc_checked:
            self._malloc_checked = True
            self._malloc_fixed = _process_thresholds()
            self._libc = _glibc() if self._malloc_fixed is not None else None
        if self._libc is None or self._malloc_raised:
            return
        self._libc.mallopt(M_MMAP_THRESHOLD, ITEM_MMAP_THRESHOLD)
        self._libc.mallopt(M_TRIM_THRESHOLD, ITEM_TRIM_THRESHOLD)
        self._malloc_raised = True

    def _restore_malloc(self) -> None:
        with self._lock:
            if (self._running > 0 or not self._malloc_raised or self._malloc_fixed is None
                    or self._libc is None):
                return
            for param, value in self._malloc_fixed.items():
                self._libc.mallopt(param, value)
            self._libc.malloc_trim(0)
            self._malloc_raised = False
            self._timer = None

    def restore_now(self) -> None:
        """Restore the malloc settings and the profiler at once (tests; a worker about to be
        closed)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._restore_later()


_STATE = _WhileItemsRun()


def run_item(run: Callable[[Callable[[Any], Any], int, Any], Any],
             fn: Callable[[Any], Any], index: int, item: Any) -> Any:
    """Run one item in a Dask worker: ``run(fn, index, item)``
    (:func:`radval.features.executor._run_one`, passed in by the executor, which imports
    this module) with the settings of the module docstring."""
    with _STATE:
        return run(fn, index, item)
