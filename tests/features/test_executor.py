"""map_cases: input order, exceptions as data, in-process and worker processes."""

from __future__ import annotations

import os

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
