"""map_cases on Dask and the start order (``cost``): longest items first, results in input
order, the worker's thread settings restored, results released as they are collected."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radval.exceptions import InputError
from radval.features.executor import _run_one, _start_order, map_cases

distributed = pytest.importorskip("distributed")


def double(x: int) -> int:
    return 2 * x


def threads_seen(_: int) -> tuple[int, int]:
    """SimpleITK's thread count and the largest BLAS/OpenMP pool while an item runs."""
    import SimpleITK as sitk
    from threadpoolctl import threadpool_info

    pools = [d["num_threads"] for d in threadpool_info()]
    return sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(), max(pools, default=1)


def profiler_enabled(_: int) -> bool:
    import dask

    return bool(dask.config.get("distributed.worker.profile.enabled"))


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One worker thread in this process: the order of execution is the start order, and
    the worker's state (SimpleITK, BLAS, environment) is this process's."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_start_order() -> None:
    assert _start_order(4, None) == [0, 1, 2, 3]
    assert _start_order(5, [1.0, 5, 3, 5, 0]) == [1, 3, 2, 0, 4]  # ties: input order
    with pytest.raises(InputError, match="'cost' parameter of map_cases must be a sequence "
                                         "of 3 finite numbers"):
        _start_order(3, [1.0, 2.0])
    with pytest.raises(InputError, match="'cost' parameter"):
        _start_order(2, [1.0, math.nan])
    with pytest.raises(InputError, match="'cost' parameter"):
        _start_order(1, ["big"])  # type: ignore[list-item]
    with pytest.raises(InputError, match="'cost' parameter"):
        map_cases(double, [1, 2], jobs=1, cost=[1.0])


@pytest.mark.parametrize("jobs", [1, 2])
def test_cost_keeps_results_in_input_order(jobs: int) -> None:
    out = map_cases(double, list(range(6)), jobs=jobs, progress=False,
                    cost=[0, 5, 1, 4, 2, 3])
    assert [o.index for o in out] == list(range(6))
    assert [o.value for o in out] == [0, 2, 4, 6, 8, 10]


def test_dask_runs_the_longest_first_and_keeps_input_order(client: Any) -> None:
    finished: list[int] = []
    out = map_cases(double, list(range(8)), scheduler=client, progress=False,
                    cost=[3, 9, 1, 7, 7, 0, 5, 2], on_result=lambda o: finished.append(o.index))
    assert [o.value for o in out] == [2 * i for i in range(8)]
    assert finished == [1, 3, 4, 6, 0, 7, 2, 5]  # one worker thread: in start order
    finished.clear()
    map_cases(double, list(range(5)), scheduler=client, progress=False,
              on_result=lambda o: finished.append(o.index))
    assert finished == [0, 1, 2, 3, 4]  # no cost: input order


def set_blas_threads(n: int) -> list[int]:
    """The user's own BLAS setting, made by a task in the worker's thread and kept."""
    from threadpoolctl import ThreadpoolController, threadpool_info

    ThreadpoolController().limit(limits=n)
    return [d["num_threads"] for d in threadpool_info()]


def test_dask_items_run_single_threaded_and_the_worker_is_restored(client: Any) -> None:
    import os

    import SimpleITK as sitk
    from threadpoolctl import threadpool_info

    env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    old_sitk = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    old_blas = [d["num_threads"] for d in threadpool_info()]
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(3)
    try:
        user = client.submit(set_blas_threads, 2, pure=False).result()
        assert user and set(user) == {2}
        out = map_cases(threads_seen, [0, 1, 2], scheduler=client, progress=False)
        assert {o.value for o in out} == {(1, 1)}
        assert [d["num_threads"] for d in threadpool_info()] == user
        assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == 3
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(old_sitk)
        client.submit(set_blas_threads, max(old_blas), pure=False).result()
    # nothing written into the worker's environment either
    assert {k: os.environ.get(k) for k in env} == env


def test_dask_results_are_released_as_they_are_collected(client: Any) -> None:
    def held() -> int:
        return int(client.run_on_scheduler(
            lambda dask_scheduler: sum(ts.state == "memory"
                                       for ts in dask_scheduler.tasks.values())))

    counts: list[int] = []

    def on_result(o: Any) -> None:
        if o.index == 9:  # the last one: the nine before must be gone from the worker
            deadline = time.monotonic() + 5
            while held() > 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            counts.append(held())

    out = map_cases(double, list(range(10)), scheduler=client, progress=False,
                    on_result=on_result)
    assert [o.value for o in out] == [2 * i for i in range(10)]
    assert counts and counts[0] <= 1


def die_on_two(x: int) -> int:
    """Kills its worker process for item 2 (a segfault, the out-of-memory killer)."""
    import os

    if x == 2:
        os._exit(3)
    return x + 100


@pytest.mark.slow
def test_dask_item_that_kills_its_worker_fails_alone() -> None:
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        out = map_cases(die_on_two, [2], scheduler=c, progress=False)
        again = map_cases(die_on_two, [0, 1], scheduler=c, progress=False)
    assert not out[0].ok and out[0].error is not None
    assert out[0].error.startswith("KilledWorker: ")
    assert [o.value for o in again] == [100, 101]


@pytest.mark.slow
def test_own_cluster_runs_without_the_worker_profiler(client: Any) -> None:
    """radval's LocalCluster (``scheduler="local"``) has no dashboard: its workers do not
    sample stacks for one, and it leaves Dask's dashboard port to the user.  Another client
    (``client``, the default one) is open meanwhile: the results are tracked on the loop of
    radval's client (on the default client's loop, gathering raced with it and the run could
    hang)."""
    import os
    import warnings

    environ = dict(os.environ)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = map_cases(profiler_enabled, list(range(30)), jobs=2, scheduler="local",
                        progress=False)
    assert [o.value for o in out] == [False] * 30
    # its HTTP server (health checks) is not on Dask's 8787, held by the user's cluster:
    # before, "Port 8787 is already in use. Perhaps you already have a cluster running?"
    assert not [w for w in caught if "8787" in str(w.message)]
    # the nanny's pre-spawn environment (MALLOC_TRIM_THRESHOLD_, PYTHONHASHSEED) not left here
    assert dict(os.environ) == environ
    import dask

    assert dask.config.get("distributed.worker.profile.enabled") is True  # not here


def profiler_sampling(_: int) -> bool:
    """Whether the worker running this item samples stacks (checked after its loop ran)."""
    from distributed import get_worker

    time.sleep(0.2)  # the pause is scheduled on the worker's event loop
    return bool(get_worker().periodic_callbacks["profile"].is_running())


def test_user_worker_profiler_paused_while_items_run(client: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's worker samples its tasks' stacks for the dashboard, taking the GIL from
    them 100 times a second: paused while radval's items run, resumed afterwards."""
    import radval.features._dask_task as dt

    monkeypatch.setattr(dt, "RESTORE_AFTER", 0.2)
    monkeypatch.setattr(dt, "_STATE", dt._WhileItemsRun())
    sampling = client.run(lambda dask_worker: dask_worker.periodic_callbacks[
        "profile"].is_running())
    assert list(sampling.values()) == [True]
    out = map_cases(profiler_sampling, [0, 1, 2], scheduler=client, progress=False)
    assert [o.value for o in out] == [False, False, False]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sampling = client.run(lambda dask_worker: dask_worker.periodic_callbacks[
            "profile"].is_running())
        if list(sampling.values()) == [True]:
            break
        time.sleep(0.05)
    assert list(sampling.values()) == [True]


# ------------------------------------------------ malloc thresholds of Dask's workers
def test_fixed_malloc_thresholds_from_the_start_environment() -> None:
    from radval.features._dask_task import (
        M_MMAP_THRESHOLD,
        M_TRIM_THRESHOLD,
        fixed_malloc_thresholds,
    )

    assert fixed_malloc_thresholds(b"PATH=/bin\0HOME=/root\0") is None  # glibc's dynamic
    assert fixed_malloc_thresholds(b"PATH=/bin\0MALLOC_TRIM_THRESHOLD_=65536\0") == {
        M_TRIM_THRESHOLD: 65536, M_MMAP_THRESHOLD: 128 * 1024}
    assert fixed_malloc_thresholds(b"MALLOC_MMAP_THRESHOLD_=1000\0MALLOC_TOP_PAD_=0") == {
        M_TRIM_THRESHOLD: 128 * 1024, M_MMAP_THRESHOLD: 1000}
    assert fixed_malloc_thresholds(b"MALLOC_TRIM_THRESHOLD_=lots\0") is None
    assert fixed_malloc_thresholds(b"") is None


class _FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("trim", pad, 0))
        return 1


def test_malloc_thresholds_raised_during_a_run_and_restored_after(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Raised once when the first item starts, kept between the items of a run, restored
    to the environment's values (and the memory trimmed) once no item ran for a while."""
    import radval.features._dask_task as dt

    libc = _FakeLibc()
    fixed = {dt.M_TRIM_THRESHOLD: 65536, dt.M_MMAP_THRESHOLD: 131072}
    monkeypatch.setattr(dt, "_process_thresholds", lambda: dict(fixed))
    monkeypatch.setattr(dt, "_glibc", lambda: libc)
    monkeypatch.setattr(dt, "RESTORE_AFTER", 0.2)
    state = dt._WhileItemsRun()
    monkeypatch.setattr(dt, "_STATE", state)
    raised = [("mallopt", dt.M_MMAP_THRESHOLD, dt.ITEM_MMAP_THRESHOLD),
              ("mallopt", dt.M_TRIM_THRESHOLD, dt.ITEM_TRIM_THRESHOLD)]
    for i in range(3):
        assert dt.run_item(_run_one, double, i, i).value == 2 * i
    assert libc.calls == raised  # once for the whole run
    deadline = time.monotonic() + 5
    while len(libc.calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert libc.calls == [*raised, ("mallopt", dt.M_TRIM_THRESHOLD, 65536),
                          ("mallopt", dt.M_MMAP_THRESHOLD, 131072), ("trim", 0, 0)]
    dt.run_item(_run_one, double, 0, 0)  # a later run raises them again
    state.restore_now()
    assert libc.calls[5:] == [*raised, ("mallopt", dt.M_TRIM_THRESHOLD, 65536),
                              ("mallopt", dt.M_MMAP_THRESHOLD, 131072), ("trim", 0, 0)]


def test_malloc_left_alone_with_glibc_dynamic_threshold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import radval.features._dask_task as dt

    libc = _FakeLibc()
    monkeypatch.setattr(dt, "_process_thresholds", lambda: None)
    monkeypatch.setattr(dt, "_glibc", lambda: libc)
    state = dt._WhileItemsRun()
    monkeypatch.setattr(dt, "_STATE", state)
    assert dt.run_item(_run_one, double, 0, 4).value == 8
    state.restore_now()
    assert libc.calls == []


def allocate_images(_: int) -> tuple[int, float]:
    """Minor page faults and system seconds of 100 image-sized buffers (1 MiB: a 64^3 float32
    crop; numpy asks for huge pages above 4 MiB, which fault far less often)."""
    import resource

    import numpy as np

    r0 = resource.getrusage(resource.RUSAGE_THREAD)
    for _ in range(100):
        a = np.ones(128 * 1024)
        del a
    r1 = resource.getrusage(resource.RUSAGE_THREAD)
    return r1.ru_minflt - r0.ru_minflt, r1.ru_stime - r0.ru_stime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_dask_worker_with_fixed_thresholds_stops_faulting_and_is_restored() -> None:
    """A real process started as Dask's nanny starts its workers: the buffers are reused
    instead of faulting in anew each time, and the thresholds are back afterwards."""
    import json
    import os
    import subprocess

    code = (
        "import json, time\n"
        "import radval.features._dask_task as dt\n"
        "from radval.features.executor import _run_one\n"
        "from tests.features.test_executor_dask import allocate_images\n"
        "dt.RESTORE_AFTER = 0.1\n"
        "plain = allocate_images(0)\n"
        "ours = dt.run_item(_run_one, allocate_images, 0, 0).value\n"
        "raised = dt._STATE._malloc_raised\n"
        "time.sleep(0.5)\n"
        "print(json.dumps({'plain': plain[0], 'ours': ours[0], 'raised': raised,\n"
        "                  'restored': not dt._STATE._malloc_raised,\n"
        "                  'fixed': dt._STATE._malloc_fixed}))\n")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536",
           "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root),
                                          os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["raised"] and got["restored"]
    assert got["fixed"] == {"-1": 65536, "-3": 131072}
    # 256 pages fault in for each buffer with the fixed threshold; a reused one faults once
    assert got["plain"] > 100 * 200
    assert got["ours"] < got["plain"] / 5
