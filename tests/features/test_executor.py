"""map_cases: input order, exceptions as data, in-process and worker processes."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import pytest

from radval.exceptions import InputError
from radval.features.executor import CaseOutcome, map_cases, resolve_scheduler


def square_or_fail(x: int) -> int:
    """Top-level (picklable) test function."""
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x * x


def worker_env(_: int) -> tuple[int, str | None]:
    import SimpleITK as sitk

    return sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(), os.environ.get(
        "OMP_NUM_THREADS")


@pytest.mark.parametrize("jobs", [1, 2])
def test_order_and_captured_errors(jobs: int) -> None:
    seen: list[int] = []
    out = map_cases(square_or_fail, list(range(7)), jobs=jobs, progress=False,
                    on_result=lambda o: seen.append(o.index))
    assert [o.index for o in out] == list(range(7))
    assert [o.value for o in out] == [0, 1, 4, None, 16, 25, 36]
    assert [o.ok for o in out] == [True] * 3 + [False] + [True] * 3
    assert out[3].error == "ValueError: bad item 3"
    assert sorted(seen) == list(range(7))
    assert all(isinstance(o, CaseOutcome) and o.seconds >= 0 for o in out)


def test_in_process_run_is_single_threaded_and_restores() -> None:
    import SimpleITK as sitk

    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    assert map_cases(worker_env, [0], jobs=1, progress=False)[0].value[0] == 1
    assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == before


def test_interrupt_is_not_swallowed() -> None:
    def boom(x: int) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        map_cases(boom, [1, 2], jobs=1, progress=False)


def test_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    assert map_cases(square_or_fail, [], jobs=2) == []
    with pytest.raises(InputError, match="'jobs' parameter of map_cases"):
        map_cases(square_or_fail, [1], jobs=0)
    with pytest.raises(InputError, match="'fn' parameter"):
        map_cases(3, [1])  # type: ignore[arg-type]
    monkeypatch.setenv("RADVAL_DASK_SCHEDULER", "tcp://10.0.0.1:8786")
    assert resolve_scheduler(None) == "tcp://10.0.0.1:8786"
    assert resolve_scheduler("local") == "local"
    monkeypatch.delenv("RADVAL_DASK_SCHEDULER")
    assert resolve_scheduler(None) is None


def test_log_lines_when_not_a_terminal() -> None:
    import logging

    records: list[str] = []

    class _H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    log = logging.getLogger("radval")
    h, old = _H(), log.level
    log.addHandler(h)
    log.setLevel(logging.INFO)
    try:
        map_cases(square_or_fail, [0, 1], jobs=1, progress=None, desc="demo")
    finally:
        log.removeHandler(h)
        log.setLevel(old)
    assert any(r.startswith("demo: 2/2 cases") for r in records)


def test_case_seed_depends_on_case_only() -> None:
    from radval.features.executor import case_seed

    a = case_seed("p001", "1", base=42)
    assert a == case_seed("p001", "1", base=42)
    assert len({a, case_seed("p001", "2", base=42), case_seed("p002", "1", base=42),
                case_seed("p001", "1", base=43)}) == 4
    assert 0 <= a < 2**64


def die_on_two(x: int) -> tuple[int, int, str | None]:
    """Top-level: kills its worker process for item 2 (like a segfault or the OOM killer)."""
    if x == 2:
        os._exit(3)
    threads, omp = worker_env(x)
    return x + 100, threads, omp


def test_a_case_that_kills_its_worker_fails_alone() -> None:
    out = map_cases(die_on_two, list(range(5)), jobs=2, progress=False)
    assert [o.value[0] if o.ok else None for o in out] == [100, 101, None, 103, 104]
    assert [o.index for o in out] == list(range(5))
    assert out[2].error is not None and out[2].error.startswith("WorkerDied")
    # Worker processes run one thread (SimpleITK and OpenMP).
    assert {o.value[1:] for o in out if o.ok} == {(1, "1")}


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    out = map_cases(square_or_fail, [0, 1, 2], jobs=1, progress=True, desc="bar")
    assert [o.value for o in out] == [0, 1, 4]
    err = capsys.readouterr().err
    assert "bar" in err and "3/3" in err


# ---- workers never outlive a killed run ---------------------------------------------------


def _children(pid: int) -> dict[int, str]:
    """Live (non-zombie) child processes of ``pid`` and their command lines (Linux /proc)."""
    out: dict[int, str] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_parent_is_killed() -> None:
    import signal
    import subprocess

    src = str(Path(__file__).resolve().parents[2] / "src")
    script = ("import time\n"
              "from radval.features.executor import map_cases\n"
              "map_cases(time.sleep, [120.0] * 4, jobs=2, progress=False)\n")
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    workers: dict[int, str] = {}
    servers: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # spawned workers are children of the run; on Linux they are forked by the fork
            # server, a child of the run
            children = _children(proc.pid)
            servers = {p: c for p, c in children.items() if "forkserver" in c}
            workers = {p: c for p, c in children.items() if "spawn_main" in c}
            for s in servers:
                workers.update(_children(s))
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2, "the two worker processes did not start"
        time.sleep(1.0)  # the workers are inside time.sleep(120)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in [*workers, *servers]):
            time.sleep(0.1)
        left = [p for p in workers if _alive(p)]
        assert not left, f"worker process(es) {left} still running after the parent was killed"
        assert not [p for p in servers if _alive(p)], "the fork server is still running"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in [*workers, *servers]:  # only the processes this test started
            if _alive(p):
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGKILL)


def test_worker_import_chain_is_light() -> None:
    """What a worker imports before its first case: no table, plotting or learning stack
    (each spawned or Dask worker would pay for it before running anything)."""
    import subprocess

    code = ("import sys\n"
            "import radval.features._worker, radval.features.executor, radval._paths\n"
            "heavy = ('pandas', 'pyarrow', 'sklearn', 'matplotlib', 'torch', 'pydantic', "
            "'distributed', 'importlib.metadata')\n"
            "print(','.join(m for m in heavy if m in sys.modules))\n")
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": src})
    assert out.stdout.strip() == ""


def _threads(pid: int | str = "self") -> int:
    """Threads of a process (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("Threads:")))


def worker_threads(_: int) -> tuple[int, int]:
    """Threads of the worker process: all of them, and those Python started."""
    import threading

    import numpy as np

    np.linalg.inv(np.eye(200) + 1)  # BLAS in use: its threads would show now
    return _threads(), threading.active_count()


def preloaded(_: int) -> list[str]:
    from radval.features.executor import PRELOAD

    return [m for m in PRELOAD if m in sys.modules]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_and_their_fork_server_are_single_threaded() -> None:
    from radval.features import executor

    out = map_cases(worker_threads, list(range(4)), jobs=2, progress=False)
    assert executor._SERVER_PID is not None  # radval's fork server forked them
    # the case's thread and the thread waiting for the end of the run (exit_with_run);
    # no thread of a native library (OpenBLAS starts one per core unless told otherwise)
    assert {o.value for o in out} == {(2, 2)}
    # nothing is forked from a process that runs threads
    assert _threads(executor._SERVER_PID) == 1
    # the worker modules were imported by the server, not by each worker
    got = map_cases(preloaded, [0, 1], jobs=2, progress=False)
    assert [o.value for o in got] == [list(executor.PRELOAD)] * 2
    # a second run reuses the server
    first = executor._SERVER_PID
    assert map_cases(worker_threads, [0, 1], jobs=2, progress=False)[0].ok
    assert first == executor._SERVER_PID


_DASK_USER = """
import sys
from pathlib import Path

from radval.features import executor


def has_distributed(_):
    return "distributed" in sys.modules


if __name__ == "__main__":
    if sys.argv[1] == "dask":
        import distributed  # noqa: F401
    out = executor.map_cases(has_distributed, [0, 1], jobs=2, progress=False)
    status = Path(f"/proc/{executor._SERVER_PID}/status").read_text()
    threads = next(ln.split()[1] for ln in status.splitlines() if ln.startswith("Threads:"))
    print([o.value for o in out], threads)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork server, /proc")
@pytest.mark.parametrize(("mode", "expected"), [("dask", "[True, True] 1"),
                                                ("plain", "[False, False] 1")])
def test_fork_server_preloads_distributed_for_a_process_that_imported_it(
        tmp_path: Path, mode: str, expected: str) -> None:
    """Workers of radval's own Dask cluster fork from the server: with ``distributed``
    preloaded they do not import it (0.3 s per cluster); a process that never imported it
    does not pay for it; the server stays single-threaded either way."""
    import subprocess

    script = tmp_path / "dask_user.py"
    script.write_text(_DASK_USER)
    res = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True,
                         timeout=240, cwd=tmp_path, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == expected


# ---- a pool started ahead of the work ----------------------------------------------------


def loaded_and_pid(x: int) -> tuple[int, bool, int]:
    """Top-level: was the preloaded module imported before this item ran?"""
    return x * x, "colorsys" in sys.modules, os.getpid()


def test_a_pool_started_ahead_runs_the_work_like_a_fresh_one() -> None:
    from radval.features.executor import WorkerPool

    with WorkerPool(2, preload=["colorsys", "no_such_module_for_radval"]) as pool:
        out = map_cases(loaded_and_pid, list(range(6)), jobs=7, pool=pool, progress=False)
        again = map_cases(square_or_fail, list(range(5)), pool=pool, progress=False)
        assert pool.executor() is not None
    assert [o.value[0] for o in out] == [x * x for x in range(6)]
    assert all(o.value[1] for o in out)  # every worker imported the preload at start
    assert len({o.value[2] for o in out}) <= 2 and os.getpid() not in {o.value[2] for o in out}
    # the same pool serves a second call; errors are data as without a pool
    assert [o.ok for o in again] == [True, True, True, False, True]
    assert pool.executor() is None  # closed by the context manager


def test_a_pool_whose_worker_dies_is_replaced() -> None:
    from radval.features.executor import WorkerPool

    with WorkerPool(2) as pool:
        out = map_cases(die_on_two, list(range(5)), pool=pool, progress=False)
        assert pool.executor() is None  # broken: not used again
    assert [o.value[0] if o.ok else None for o in out] == [100, 101, None, 103, 104]
    assert out[2].error is not None and out[2].error.startswith("WorkerDied")


def test_worker_pool_arguments() -> None:
    from radval.features.executor import WorkerPool

    with pytest.raises(InputError, match="'jobs' parameter of WorkerPool"):
        WorkerPool(1)
    with pytest.raises(InputError, match="'pool' parameter of map_cases"):
        map_cases(square_or_fail, [1], pool="two workers")  # type: ignore[arg-type]


def blas_threads(_: int) -> int:
    """Top-level: threads of the BLAS the worker's numpy uses."""
    import numpy as np
    import threadpoolctl

    np.linalg.inv(np.eye(50) + 1)
    return max((d["num_threads"] for d in threadpoolctl.threadpool_info()), default=1)


def test_spawned_workers_start_single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where workers are spawned (not Linux, or a fork server of other code), a worker
    started when a case is submitted inherits the thread variables set to 1, with or
    without a pool started ahead."""
    import multiprocessing as mp

    pytest.importorskip("threadpoolctl")
    from radval.features import executor

    monkeypatch.setattr(executor, "_pool_context", lambda *a: mp.get_context("spawn"))
    for k in executor._THREAD_ENV:
        monkeypatch.delenv(k, raising=False)
    out = map_cases(blas_threads, [0, 1, 2], jobs=2, progress=False)
    assert [o.value for o in out] == [1, 1, 1]
    with executor.WorkerPool(2) as pool:
        out = map_cases(blas_threads, [0, 1, 2], pool=pool, progress=False)
    assert [o.value for o in out] == [1, 1, 1]
