"""Per-document isolation: worker processes with hard limits on time and memory.

A document that hangs a parser inside C code, or makes it balloon, must not stop the run or
take the machine's memory: cooperative deadlines (checked between pages) cannot interrupt
pdfminer or spaCy. So per-document work runs in a small pool of long-lived worker processes.
The parent waits for each job with a wall-clock limit and samples the worker's resident
memory; a worker over either limit is killed, replaced, and the document fails with a
:class:`~pipeline.errors.LimitExceededError` naming the limit. A worker that dies (a segfault,
the kernel's OOM killer) fails only its document (:class:`~pipeline.errors.WorkerCrashedError`).

Workers are spawned, not forked: the parent holds threads and locks (Prefect, ONNX Runtime)
that a fork would copy in an undefined state. Each worker loads its models once, in a warm-up
step that is not charged to any document, and runs single-threaded so that the pool (one
worker per core) keeps every core busy without oversubscribing it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from pipeline.config import Settings
from pipeline.errors import DocumentError, LimitExceededError, WorkerCrashedError

log = logging.getLogger(__name__)

WARM_UP_SECONDS = 900.0  # loading models (or exporting the ONNX encoder) on a slow machine
RECYCLE_SHARE = 0.65  # of corpus.max_memory_mb_per_document (a warm worker holds ~600 MB)
GRACE_SECONDS = 5.0  # past the document limit, so the cooperative deadline reports first
_POLL_SECONDS = 0.05
Job = Callable[..., Any]


@dataclass(frozen=True)
class Limits:
    """What one document may use: wall-clock seconds and worker resident memory (MB)."""

    seconds: float
    memory_mb: float


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection


def _serve(conn: Connection, blocked: tuple[str, ...]) -> None:  # pragma: no cover - worker
    """The worker loop: receive ``(job, warm, args)``, warm up, run, send the outcome.

    ``blocked`` modules cannot be imported here: torch, which spaCy's thinc and transformers'
    tokenizers import when present but do not need, costs a worker about 250 MB. (SciPy's
    array-API helpers cannot cope with a blocked torch, so workers must not import scipy or
    scikit-learn; none of the per-document stages does.)
    """
    for name in blocked:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    _single_threaded()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        job, warm, args = message
        try:
            if warm is not None:
                warm(*args)
            conn.send(("ready", None))
            conn.send(("ok", job(*args)))
        except BaseException as exc:  # every failure goes back to the parent, typed
            conn.send(("error", _picklable(exc)))


def _single_threaded() -> None:  # pragma: no cover - runs in the worker process
    from threadpoolctl import threadpool_limits

    from pipeline import embeddings

    threadpool_limits(1)
    embeddings.set_threads(1)
    logging.basicConfig(level=logging.WARNING)


def _picklable(exc: BaseException) -> BaseException:  # pragma: no cover - worker side
    """``exc`` if it survives the trip to the parent (ours and built-in exceptions do), else
    its text: an exception class with its own ``__init__`` may fail to unpickle there."""
    if isinstance(exc, DocumentError) or type(exc).__module__ == "builtins":
        return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def resident_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB (``None`` where ``/proc`` is not available)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class WorkerPool:
    """``size`` spawned worker processes, each running one job at a time, in which the
    ``blocked`` modules cannot be imported.

    :meth:`run` is thread-safe: up to ``size`` threads run jobs at once; more wait for a free
    worker. Workers start on first use and are replaced after a kill or a crash.
    """

    def __init__(self, size: int, blocked: tuple[str, ...] = ()) -> None:
        self.size = size
        self.blocked = blocked
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(size):
            self._idle.put(None)
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()

    def run(self, job: Job, args: tuple[Any, ...], name: str, limits: Limits,
            warm: Job | None = None) -> Any:
        """Run ``job(*args)`` in a worker (after ``warm(*args)``, not charged to the document).

        Raises what the job raised, :class:`LimitExceededError` when the document passes a
        limit, or :class:`WorkerCrashedError` when the worker dies; ``name`` (the document)
        is in every message.
        """
        worker = self._idle.get()
        try:
            if worker is not None and not worker.process.is_alive():  # died while idle
                self._kill(worker)
                worker = None
            if worker is None:
                worker = self._start()
            worker.conn.send((job, warm, args))
            status, value = self._wait(worker, name, limits, warming=True)
            if status == "ready":
                status, value = self._wait(worker, name, limits, warming=False)
            if _swollen(worker, limits):  # the next document must not pay for this one's memory
                self._kill(worker)
                worker = None
        except (LimitExceededError, WorkerCrashedError, OSError):
            self._kill(worker)
            worker = None
            raise
        finally:
            self._idle.put(worker)
        if status == "error":
            raise value
        return value

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self.blocked), daemon=True,
                                        name="stancemap-worker")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        with self._lock:
            self._workers.add(worker)
        log.debug("started worker process %s", process.pid)
        return worker

    def _wait(self, worker: _Worker, name: str, limits: Limits,
              warming: bool) -> tuple[str, Any]:
        seconds = WARM_UP_SECONDS if warming else limits.seconds + GRACE_SECONDS
        deadline = time.monotonic() + seconds
        while not worker.conn.poll(_POLL_SECONDS):
            if not worker.process.is_alive():
                raise WorkerCrashedError(name, _death(worker.process))
            used = resident_mb(worker.process.pid or 0)
            if used is not None and used > limits.memory_mb:
                raise LimitExceededError(
                    name, f"worker memory reached {used:.0f} MB: over "
                          f"corpus.max_memory_mb_per_document ({limits.memory_mb:g} MB)")
            if time.monotonic() > deadline:
                if warming:
                    raise WorkerCrashedError(name, f"the worker did not load its models in "
                                                   f"{seconds:g} s")
                raise LimitExceededError(
                    name, f"still running after {seconds:g} s: killed (over "
                          f"corpus.max_seconds_per_document, {limits.seconds:g} s)")
        try:
            status, value = worker.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerCrashedError(name, _death(worker.process)) from exc
        if status == "error" and isinstance(value, MemoryError):
            raise LimitExceededError(name, "ran out of memory while processing it")
        return status, value

    def _kill(self, worker: _Worker | None) -> None:
        if worker is None:
            return
        worker.process.kill()
        worker.process.join(timeout=10)
        worker.conn.close()
        with self._lock:
            self._workers.discard(worker)

    def close(self) -> None:
        """Stop every worker (waiting briefly for a clean exit, then killing)."""
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()


def _swollen(worker: _Worker, limits: Limits) -> bool:
    """Whether a worker kept more than :data:`RECYCLE_SHARE` of the memory limit after its
    document (Python rarely gives memory back): it is then replaced before the next one."""
    used = resident_mb(worker.process.pid or 0)
    return used is not None and used > RECYCLE_SHARE * limits.memory_mb


def _death(process: BaseProcess) -> str:
    process.join(timeout=1)
    code = process.exitcode
    if code is not None and code < 0:
        return f"the worker processing it was killed by signal {-code}"
    return f"the worker processing it exited unexpectedly (exit code {code})"


_POOLS: dict[tuple[int, tuple[str, ...]], WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(size: int, blocked: tuple[str, ...] = ()) -> WorkerPool:
    """The process-wide pool of ``size`` workers (created on first use, closed at exit)."""
    with _POOLS_LOCK:
        key = (size, blocked)
        if key not in _POOLS:
            _POOLS[key] = WorkerPool(size, blocked)
        return _POOLS[key]


def close_pools() -> None:
    """Stop every shared pool's workers."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()


atexit.register(close_pools)


def run_in_child(job: Job, args: tuple[Any, ...], what: str) -> None:
    """Run ``job(*args)`` to completion in a fresh spawned process, so that what it imports
    and loads (e.g. torch, to export a model) is freed when it ends; here when this process
    may not start one. Raises :class:`RuntimeError` naming ``what`` if it fails."""
    if not can_isolate():
        job(*args)
        return
    process = multiprocessing.get_context("spawn").Process(target=job, args=args,
                                                           name=f"stancemap-{what}")
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{what} failed in its process (exit code {process.exitcode}); "
                           "its error is printed above")


def release_memory() -> None:
    """Give the memory a finished corpus-level stage freed back to the system.

    Python, pyarrow's allocator and glibc keep freed memory for reuse, so this long-lived
    process would otherwise enter each stage holding the high-water mark of the ones before:
    at 1,000 documents, marking copies left about 1 GB that the arguments stage then grew on.
    """
    gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def can_isolate() -> bool:
    """Whether this process may start workers (daemonic processes, e.g. Dask's, may not)."""
    return not multiprocessing.current_process().daemon


def run_isolated(settings: Settings, job: Job, args: tuple[Any, ...], name: str,
                 warm: Job | None = None) -> Any:
    """``job(*args)`` for document ``name`` in a worker under the configured limits.

    In this process instead when ``runtime.isolation`` is ``none`` or this process may not
    start workers; then only the cooperative deadline of ingestion applies.
    """
    if settings.runtime.isolation == "none" or not can_isolate():
        if warm is not None:
            warm(*args)
        return job(*args)
    limits = Limits(settings.corpus.max_seconds_per_document,
                    settings.corpus.max_memory_mb_per_document)
    # With an ONNX backend nothing in a worker needs torch (the model is exported before the
    # workers start: see flows.stages.prepare_analysis).
    blocked = ("torch",) if settings.nlp.embedding_backend != "torch" else ()
    pool = shared_pool(settings.runtime.worker_count, blocked)
    return pool.run(job, args, name, limits, warm)
