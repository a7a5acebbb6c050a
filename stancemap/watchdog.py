"""Kill what a ``stancemap`` process started once that process is gone (even after kill -9).

    python -I -S watchdog.py PID

Started by :func:`stancemap.runtime.start_watchdog` as a child of the process ``PID``. Every
0.5 s it notes the processes descended from ``PID`` (from ``/proc``, with their start times);
when ``PID`` dies (this process is re-parented), it kills every noted process that still
exists with the same start time: Prefect's temporary server, worker processes, a local Dask
cluster. A process ``PID`` started after the last look is found as an orphan: re-parented to
the same process as this one, in ``PID``'s process group, started after ``PID``. Standard
library only, so it starts in milliseconds and holds a few MB.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import NamedTuple

POLL_SECONDS = 0.5


class Stat(NamedTuple):
    """The fields of ``/proc/PID/stat`` the watchdog reads."""

    ppid: int
    pgrp: int
    started: int  # clock ticks after boot


def _stat(pid: int) -> Stat | None:
    """``pid``'s parent, process group and start time from ``/proc``; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return Stat(int(fields[1]), int(fields[2]), int(fields[19]))


def _processes() -> dict[int, Stat]:
    """Every process on the machine."""
    found = {int(name): _stat(int(name)) for name in os.listdir("/proc") if name.isdigit()}
    return {pid: stat for pid, stat in found.items() if stat is not None}


def _descendants(roots: list[int], processes: dict[int, Stat]) -> dict[int, int]:
    """Every process descended from one of ``roots``: pid -> start time."""
    children: dict[int, list[int]] = {}
    for pid, stat in processes.items():
        children.setdefault(stat.ppid, []).append(pid)
    tree: dict[int, int] = {}
    todo = list(roots)
    while todo:
        for pid in children.get(todo.pop(), []):
            if pid not in tree:
                tree[pid] = processes[pid].started
                todo.append(pid)
    return tree


def _orphans(parent: Stat, reaper: int, me: int) -> dict[int, int]:
    """The processes the dead parent started since the last look, with their descendants."""
    processes = _processes()
    roots = [pid for pid, stat in processes.items()
             if pid != me and stat.ppid == reaper and stat.pgrp == parent.pgrp
             and stat.started >= parent.started]
    return {**{pid: processes[pid].started for pid in roots}, **_descendants(roots, processes)}


def watch(parent: int) -> None:
    """Watch ``parent``; when it is gone, kill the processes it had started."""
    me = os.getpid()
    parent_stat = _stat(parent)
    known: dict[int, int] = {}
    while os.getppid() == parent:
        processes = _processes()
        known.update(_descendants([parent], processes))
        known = {pid: started for pid, started in known.items()
                 if pid != me and pid in processes and processes[pid].started == started}
        time.sleep(POLL_SECONDS)
    if parent_stat is not None:
        known.update(_orphans(parent_stat, os.getppid(), me))
    for pid, started in known.items():
        stat = _stat(pid)  # read again just before the kill: the pid may have been reused
        if stat is not None and stat.started == started:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle
    watch(int(sys.argv[1]))
