"""Where Prefect keeps its state, set up before Prefect is imported; a local Prefect server.

With no ``PREFECT_API_URL``, flows run on Prefect's ephemeral set-up with ``PREFECT_HOME`` at
``$STANCEMAP_HOME/prefect`` (default ``~/.stancemap/prefect``). ``stancemap serve`` needs a
real server (schedules do not fire on the temporary one): it reuses the server at
``PREFECT_API_URL`` or ``http://127.0.0.1:4200/api`` when healthy, or starts
``prefect server start`` with its database under ``$STANCEMAP_HOME/prefect-server``.
Nothing here imports Prefect.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.config import stancemap_home

DEFAULT_SERVER_PORT = 4200
_WATCHDOG: list[subprocess.Popen[bytes]] = []


def configure_prefect(log_level: str = "WARNING") -> None:
    """Set Prefect's environment before its first import (explicit env settings win).

    Console logs of flow and task runs are kept at ``log_level`` so the CLI's own output stays
    readable; every log still goes to the run in the Prefect API.
    """
    defaults = {
        "PREFECT_HOME": str(stancemap_home() / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # stancemap runs offline: no client telemetry, so no usage-data notice on a terminal
        "DO_NOT_TRACK": "1",
        # The temporary server's first start (database set-up) can take over Prefect's 20 s
        # default on a busy machine.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": log_level,
        "PREFECT_LOGGING_EXTRA_LOGGERS": "pipeline,flows",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)


def server_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check at ``api_url``."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, port: int, timeout: float = 120.0,
                 extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``prefect server start`` on loopback ``port`` with its state under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", **(extra_env or {})}
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    log = open(home / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_healthy(f"http://127.0.0.1:{port}/api"):
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited early; see {home / 'server.log'}")
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"prefect server did not answer within {timeout:.0f}s")


def ensure_server() -> tuple[str, subprocess.Popen[bytes] | None]:
    """The API URL of a healthy Prefect server, and the process if this call started it."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        if not server_healthy(configured):
            raise RuntimeError(f"no Prefect server answers at PREFECT_API_URL={configured}")
        return configured, None
    default = f"http://127.0.0.1:{DEFAULT_SERVER_PORT}/api"
    if server_healthy(default):
        return default, None
    proc = start_server(stancemap_home() / "prefect-server", DEFAULT_SERVER_PORT)
    return default, proc


def start_watchdog() -> None:
    """Start (once per process) a watchdog that kills every process this one started (Prefect's
    temporary server, worker processes) as soon as this process is gone, even after kill -9,
    which no clean-up at exit survives. See :mod:`stancemap.watchdog`; Linux only (``/proc``)."""
    if _WATCHDOG or not Path("/proc/self/stat").exists():
        return
    script = Path(__file__).with_name("watchdog.py")
    _WATCHDOG.append(subprocess.Popen(
        [sys.executable, "-I", "-S", str(script), str(os.getpid())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        close_fds=True))
