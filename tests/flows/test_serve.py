"""`stancemap serve`: a run really fired by a per-minute schedule on a real local Prefect server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.io import OutputStore
from stancemap.runtime import free_port, start_server

pytestmark = pytest.mark.slow

pytest.importorskip("pipeline.ingest", reason="the ingest stage has not landed")

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 150


def _post(api: str, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = httpx.post(f"{api}{path}", json=body, timeout=10)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def _scheduled_completed_runs(api: str) -> list[dict[str, Any]]:
    runs = _post(api, "/flow_runs/filter",
                 {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}})
    return [r for r in runs if r.get("deployment_id") and r.get("auto_scheduled")]


def test_schedule_fires_a_refresh(tiny_corpus: Path, tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = start_server(tmp_path / "server", port,
                          extra_env={"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5"})
    out = tmp_path / "out"
    env = {**os.environ, "PREFECT_API_URL": api, "STANCEMAP_HOME": str(tmp_path / "home"),
           "PREFECT_RUNNER_POLL_FREQUENCY": "5"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "stancemap.cli", "serve", str(tiny_corpus), "--out", str(out),
         "--cron", "* * * * *", "--name", "test-refresh"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "wb"))  # noqa: SIM115
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not _scheduled_completed_runs(api):
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "no scheduled run completed in time"
            time.sleep(3)
        artifacts = _post(api, "/artifacts/filter",
                          {"artifacts": {"key": {"any_": ["stancemap-run-summary"]}}})
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(60)
        server.terminate()
        server.wait(60)
    store = OutputStore(out)
    assert store.read_table("documents").num_rows == 3
    errors = store.read_table("errors").to_pylist()
    assert [e["source_path"] for e in errors if e["stage"] == "ingest"] == ["delta-empty.txt"]
    assert artifacts and "stancemap run summary" in artifacts[0]["data"]
