"""Kill what a ``stancemap`` process started once that process is gone (even after kill -9).

    python -I -S watchdog.py PID

Started by :func:`stancemap.runtime.start_watchdog` as a child of the process ``PID``. Every
0.5 s it notes the processes descended from ``PID`` (from ``/proc``, with their start times);
when ``PID`` dies (this process is re-parented), it kills every noted process that still
exists with the same start time: Prefect's temporary server, worker processes, a local Dask
cluster. Standard library only, so it starts in milliseconds and holds a few MB.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

POLL_SECONDS = 0.5


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of ``pid`` from ``/proc``; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """Every process descended from ``root``: pid -> start time."""
    children: dict[int, list[tuple[int, int]]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            found = _stat(int(name))
            if found is not None:
                children.setdefault(found[0], []).append((int(name), found[1]))
    tree: dict[int, int] = {}
    todo = [root]
    while todo:
        for pid, started in children.get(todo.pop(), []):
            if pid not in tree:
                tree[pid] = started
                todo.append(pid)
    return tree


def watch(parent: int) -> None:
    """Watch ``parent``; when it is gone, kill the processes it had started."""
    me = os.getpid()
    known: dict[int, int] = {}
    while os.getppid() == parent:
        known.update(_descendants(parent))
        known = {pid: started for pid, started in known.items()
                 if pid != me and (_stat(pid) or (0, -1))[1] == started}
        time.sleep(POLL_SECONDS)
    for pid, started in known.items():
        found = _stat(pid)
        if found is not None and found[1] == started:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle
    watch(int(sys.argv[1]))
