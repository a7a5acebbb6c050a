"""A run killed with SIGKILL, then run again, leaves the outputs of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.flows.helpers import snapshot, temporary_files

pytestmark = pytest.mark.slow

pytest.importorskip("pipeline.ingest", reason="the ingest stage has not landed")

ROOT = Path(__file__).resolve().parents[2]


def _committed_files(out: Path) -> int:
    from pipeline.io import OutputStore

    return len(OutputStore(out).read_state("manifest").get("files", {}))


def _kill_after_first_commit(corpus: Path, out: Path, api_url: str, home: Path) -> None:
    env = {**os.environ, "PREFECT_API_URL": api_url, "STANCEMAP_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "stancemap.cli", "run", str(corpus), "--out",
                             str(out)], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while _committed_files(out) < 1:
            assert proc.poll() is None, "the run ended before its first commit"
            assert time.monotonic() < deadline, "no document committed within 300 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def test_sigkill_then_rerun_equals_an_uninterrupted_run(
        prefect_api: str, tiny_corpus: Path, tmp_path: Path) -> None:
    from flows.run import run_flow

    reference = tmp_path / "reference"
    run_flow(str(tiny_corpus), str(reference))

    out = tmp_path / "out"
    _kill_after_first_commit(tiny_corpus, out, prefect_api, tmp_path / "home")
    assert 1 <= _committed_files(out) <= 4
    summary = run_flow(str(tiny_corpus), str(out))
    assert summary["ingested"] + summary["failed"] + summary["skipped"] == 4
    assert temporary_files(out) == []
    got, want = snapshot(out), snapshot(reference)
    assert got["manifest"] == want["manifest"]
    assert got == want
