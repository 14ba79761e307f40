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


def test_workers_are_single_threaded() -> None:
    out = map_cases(worker_env, [0, 1, 2], jobs=2, progress=False)
    assert {o.value for o in out} == {(1, "1")}
    # In-process runs restore the caller's SimpleITK thread count afterwards.
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
