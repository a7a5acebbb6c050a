"""The worker pool: results and errors cross the process boundary; limits kill and replace."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from pipeline.config import load_settings
from pipeline.errors import EmptyDocumentError, LimitExceededError, WorkerCrashedError
from pipeline.workers import Limits, WorkerPool, release_memory, resident_mb, run_isolated

pytestmark = pytest.mark.slow
LIMITS = Limits(seconds=30, memory_mb=1500)


def add(a: int, b: int) -> int:
    return a + b


def pid(_: int) -> int:
    return os.getpid()


def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def slow_warm(_: float) -> None:
    time.sleep(2)


def empty(name: str) -> None:
    raise EmptyDocumentError(name, "no text found in the document")


def allocate(mb: int) -> int:
    block = bytearray(mb * 2**20)  # zero-filled: every page is touched
    time.sleep(5)
    return len(block)


def exit_with(code: int) -> None:
    os._exit(code)


def segfault(_: int) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


class Unpicklable(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(a)


def unpicklable(_: int) -> None:
    raise Unpicklable("one", "two")


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(1)
    yield pool
    pool.close()


def test_a_job_runs_in_another_process_and_returns_its_value(pool: WorkerPool) -> None:
    assert pool.run(add, (2, 3), "a.txt", LIMITS) == 5
    assert pool.run(pid, (0,), "a.txt", LIMITS) != os.getpid()


def test_a_document_error_comes_back_with_its_kind_and_reason(pool: WorkerPool) -> None:
    with pytest.raises(EmptyDocumentError) as caught:
        pool.run(empty, ("b.txt",), "b.txt", LIMITS)
    assert (caught.value.path, caught.value.kind) == ("b.txt", "empty")
    assert str(caught.value) == "b.txt: no text found in the document"


def test_an_exception_that_cannot_be_pickled_arrives_as_its_text(pool: WorkerPool) -> None:
    with pytest.raises(RuntimeError, match=r"^Unpicklable: one$"):
        pool.run(unpicklable, (0,), "c.txt", LIMITS)


def test_a_job_over_the_time_limit_is_killed_and_the_worker_replaced(
        pool: WorkerPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipeline.workers.GRACE_SECONDS", 0.0)
    before = pool.run(pid, (0,), "d.txt", LIMITS)
    started = time.monotonic()
    with pytest.raises(LimitExceededError) as caught:
        pool.run(sleep, (60,), "slow.pdf", Limits(seconds=1, memory_mb=1500))
    assert time.monotonic() - started < 10
    assert caught.value.kind == "limit" and caught.value.path == "slow.pdf"
    assert "max_seconds_per_document" in caught.value.reason
    after = pool.run(pid, (0,), "d.txt", LIMITS)
    assert after != before  # a fresh worker
    assert pool.run(add, (1, 1), "d.txt", LIMITS) == 2


def test_a_job_over_the_memory_limit_is_killed(pool: WorkerPool) -> None:
    with pytest.raises(LimitExceededError) as caught:
        pool.run(allocate, (600,), "big.pdf", Limits(seconds=30, memory_mb=300))
    assert "over corpus.max_memory_mb_per_document (300 MB)" in caught.value.reason
    assert pool.run(add, (2, 2), "e.txt", LIMITS) == 4


@pytest.mark.parametrize(("job", "arg", "reason"), [
    (exit_with, 3, "exited unexpectedly (exit code 3)"),
    (segfault, 0, "killed by signal 11"),
])
def test_a_worker_that_dies_fails_only_its_document(pool: WorkerPool, job: object, arg: int,
                                                     reason: str) -> None:
    with pytest.raises(WorkerCrashedError) as caught:
        pool.run(job, (arg,), "crash.pdf", LIMITS)  # type: ignore[arg-type]
    assert caught.value.kind == "crashed" and reason in caught.value.reason
    assert pool.run(add, (3, 4), "f.txt", LIMITS) == 7


def test_warm_up_is_not_charged_to_the_document(pool: WorkerPool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipeline.workers.GRACE_SECONDS", 0.0)
    limits = Limits(seconds=1, memory_mb=1500)
    assert pool.run(sleep, (0.1,), "g.txt", limits, warm=slow_warm) == "woke"


def test_a_failing_warm_up_fails_the_document(pool: WorkerPool) -> None:
    with pytest.raises(EmptyDocumentError):
        pool.run(add, ("j.txt",), "j.txt", LIMITS, warm=empty)


def test_two_jobs_run_at_once_on_a_pool_of_two() -> None:
    from concurrent.futures import ThreadPoolExecutor

    pool = WorkerPool(2)
    try:
        pool.run(add, (0, 0), "warm", LIMITS)
        started = time.monotonic()
        with ThreadPoolExecutor(2) as threads:
            results = list(threads.map(lambda _: pool.run(sleep, (2,), "h.txt", LIMITS), [0, 1]))
        assert results == ["woke", "woke"]
        assert time.monotonic() - started < 3.5
    finally:
        pool.close()


def test_isolation_none_runs_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANCEMAP_RUNTIME__ISOLATION", "none")
    assert run_isolated(load_settings(), pid, (0,), "i.txt") == os.getpid()


def test_resident_memory_of_this_process_is_read() -> None:
    assert 10 < (resident_mb(os.getpid()) or 0) < 24_000
    assert resident_mb(2**22 + 12345) is None


def test_a_worker_that_died_while_idle_is_replaced_and_reaped(pool: WorkerPool) -> None:
    dead = pool.run(pid, (0,), "k.txt", LIMITS)
    os.kill(dead, signal.SIGKILL)
    time.sleep(0.5)
    assert pool.run(pid, (0,), "k.txt", LIMITS) not in (dead, os.getpid())
    assert len(pool._workers) == 1


def test_release_memory_returns_freed_memory_to_the_system() -> None:
    import numpy as np
    import pyarrow as pa

    table = pa.table({"x": np.arange(8_000_000, dtype=np.int64)})  # 64 MB from pyarrow's pool
    before = resident_mb(os.getpid())
    del table
    release_memory()
    after = resident_mb(os.getpid())
    assert before is not None and after is not None
    assert pa.total_allocated_bytes() == 0
    assert after < before - 32
