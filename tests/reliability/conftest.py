"""Fixtures of the reliability tests: one Prefect server per session, stancemap in a child.

End-to-end tests run the real ``stancemap`` command in a child process (as a user would), all
against one Prefect server started here, so no run pays for starting its own.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"

# Before Prefect is first imported by anything in this session.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="stancemap-prefect-rel-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def stancemap_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for child ``stancemap`` runs, with a Prefect server they all share."""
    from stancemap.runtime import free_port, start_server

    home = tmp_path_factory.mktemp("stancemap-home")
    port = free_port()
    server = start_server(home / "prefect-server", port, timeout=240)
    env = {"PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "STANCEMAP_HOME": str(home),
           "HF_HUB_OFFLINE": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    try:
        yield env
    finally:
        server.terminate()
        server.wait(timeout=60)


def run_cli(args: list[str], env: dict[str, str], script: str | None = None,
            extra_env: dict[str, str] | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run ``stancemap ARGS`` (or the module ``script`` that wraps it) in a child process."""
    import sys

    command = [sys.executable, script] if script else [sys.executable, "-m", "stancemap.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env, "NO_COLOR": "1", **(extra_env or {})},
                          timeout=timeout)
