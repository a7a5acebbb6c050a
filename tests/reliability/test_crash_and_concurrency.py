"""SIGKILL at several moments, then a re-run, equals an uninterrupted run; SIGTERM ends a run
with its helper processes; two runs at once: the second refuses with a clear message and
nothing is corrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from pipeline.io import OutputStore
from scripts import hostile_corpus as hc
from tests.flows.helpers import snapshot, temporary_files

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ORGS = ["Quillfield District Council", "Larkmoor Hospitals Trust", "Fenwick Care Alliance",
        "Ashby Primary Care Network", "Morrow Health Board", "Tarn Valley Council"]
Moment = Callable[[Path], bool]


def _parts(out: Path, table: str) -> int:
    return len(OutputStore(out).part_keys(table))


# When to kill: (name, condition on the output folder). Each must come true before the run
# ends; the test fails (rather than passing vacuously) if the run finished first.
MOMENTS: dict[str, Moment] = {
    "early: lock taken, nothing written": lambda out: (out / "_state" / "lock").exists(),
    "mid ingest: 3 documents written": lambda out: _parts(out, "documents") >= 3,
    "mid analysis: 2 documents' entities": lambda out: _parts(out, "entities") >= 2,
    "corpus stages: organisations written": lambda out: (out / "organisations.parquet").exists(),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six short responses (sentences written for this test) and two bad files."""
    folder = tmp_path_factory.mktemp("crash") / "corpus"
    folder.mkdir()
    for i, org in enumerate(ORGS):
        (folder / f"response-{i}.txt").write_text(
            hc.GOOD_TEXT.replace("Quillfield District Council", org).format(
                title=f"{org} consultation response", marker=f"Crash marker {i}"),
            encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a real PDF body\n")
    return folder


@pytest.fixture(scope="module")
def reference(corpus: Path, stancemap_env: dict[str, str],
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The outputs of an uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "out"
    proc, _, _ = hc.run_stancemap(corpus, out, env=stancemap_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _start(corpus: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "stancemap.cli", "run", "--out", str(out), "--", str(corpus)],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _start_with_own_server(corpus: Path, out: Path,
                           env: dict[str, str]) -> subprocess.Popen[str]:
    """``stancemap run`` in its own session, starting its own temporary Prefect server."""
    own_server = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    environ = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return subprocess.Popen(
        [sys.executable, "-m", "stancemap.cli", "run", "--out", str(out), "--", str(corpus)],
        cwd=ROOT, env={**environ, **own_server}, start_new_session=True, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigterm_ends_the_run_its_temporary_server_and_its_workers(
        corpus: Path, reference: Path, stancemap_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _start_with_own_server(corpus, out, stancemap_env)
    try:
        _wait_for(proc, out, MOMENTS["mid analysis: 2 documents' entities"])
        helpers = psutil.Process(proc.pid).children(recursive=True)
        assert any("uvicorn" in " ".join(p.cmdline()) for p in helpers)  # its own server
        proc.send_signal(signal.SIGTERM)  # to the run alone, as a supervisor would
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM
    _gone, alive = psutil.wait_procs(helpers, timeout=30)
    assert alive == []
    rerun, _, _ = hc.run_stancemap(corpus, out, env=stancemap_env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert snapshot(out) == snapshot(reference)


def test_kill_9_of_a_run_leaves_no_process_of_it_alive(
        corpus: Path, stancemap_env: dict[str, str], tmp_path: Path) -> None:
    """kill -9 runs no clean-up at exit: the watchdog the run started ends its temporary
    Prefect server and its worker processes within 10 s."""
    out = tmp_path / "out"
    proc = _start_with_own_server(corpus, out, stancemap_env)
    try:
        _wait_for(proc, out, MOMENTS["mid ingest: 3 documents written"])
        time.sleep(1.0)  # the watchdog looks twice a second
        helpers = psutil.Process(proc.pid).children(recursive=True)
        assert any("uvicorn" in " ".join(p.cmdline()) for p in helpers)  # its own server
        assert any("watchdog" in " ".join(p.cmdline()) for p in helpers)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        _gone, alive = psutil.wait_procs(helpers, timeout=10)
        assert alive == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _wait_for(proc: subprocess.Popen[str], out: Path, moment: Moment,
              timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not moment(out):
        assert proc.poll() is None, "the run ended before the moment to kill it came"
        assert time.monotonic() < deadline, "the moment did not come in time"
        time.sleep(0.01)


def _visible_parquet_files_are_whole(out: Path) -> None:
    for path in out.rglob("*.parquet"):
        pq.read_table(path)  # raises on a partial file


def _no_duplicates(out: Path) -> None:
    store = OutputStore(out)
    for table, key in (("documents", "doc_id"), ("sentences", "sentence_id"),
                       ("errors", "source_path")):
        values = store.read_table(table).column(key).to_pylist()
        if table == "errors":
            values = [json.dumps(r) for r in store.read_table(table).select(
                ["source_path", "stage"]).to_pylist()]
        assert len(values) == len(set(values)), table


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigkill_then_rerun_equals_an_uninterrupted_run(
        moment: str, corpus: Path, reference: Path, stancemap_env: dict[str, str],
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _start(corpus, out, stancemap_env)
    try:
        _wait_for(proc, out, MOMENTS[moment])
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    _visible_parquet_files_are_whole(out)  # even right after the kill

    rerun, _, _ = hc.run_stancemap(corpus, out, env=stancemap_env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert temporary_files(out) == []
    _visible_parquet_files_are_whole(out)
    _no_duplicates(out)
    got, want = snapshot(out), snapshot(reference)
    assert got["manifest"] == want["manifest"]
    assert got == want


def test_a_second_run_at_the_same_time_refuses_and_nothing_is_corrupted(
        corpus: Path, reference: Path, stancemap_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _start(corpus, out, stancemap_env)
    try:
        _wait_for(first, out, lambda o: "pid" in _read(o / "_state" / "lock"))
        started = time.monotonic()
        second, _, _ = hc.run_stancemap(corpus, out, env=stancemap_env, timeout=300)
        waited = time.monotonic() - started
        queries = [_count_documents(out) for _ in range(3)]  # readers during the run
        _, stderr = first.communicate(timeout=900)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert second.returncode == 2, second.stdout
    assert "another stancemap run" in second.stderr and "Traceback" not in second.stderr
    assert waited < 120
    assert all(q.returncode == 0 for q in queries), [q.stderr for q in queries]
    assert first.returncode == 0, stderr[-3000:]
    assert snapshot(out) == snapshot(reference)
    assert _read(out / "_state" / "lock") == ""  # released


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _count_documents(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stancemap.cli", "query",
                           "SELECT count(*) AS n FROM documents", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
