"""Stopping a child and everything it started: its process group, until no member of it runs.

A signal sent is not a process gone: a member may take a moment to act on it, and one that ignores it
must meet SIGKILL. A member that has ended but waits for its reaper (a zombie) runs no more.

    child = subprocess.Popen(argv, process_group=0)
    ...
    stop_group(child, ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)))
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

GRACEFUL = ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))


def stop_group(process: subprocess.Popen[Any], steps: Sequence[tuple[int, float]] = GRACEFUL,
               leader_first: float = 0.0) -> bool:
    """Send each step's signal to ``process``'s group (``process`` leads it) and wait up to its seconds for the
    group to end; True once the leader has exited and no member runs, False when every step ran out.

    With ``leader_first`` seconds, the first step's signal goes to the leader alone and the group gets that
    long to end before the steps go to all of it: a leader that stops its own children (Locust's master its
    ``--processes`` workers) does so in order, where a signal to all at once raced its stop message.
    """
    if leader_first > 0 and steps:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, steps[0][0])
        if _ended(process, time.monotonic() + leader_first):
            return True
    for sig, grace in steps:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        if _ended(process, time.monotonic() + grace):
            return True
    return False


def _ended(process: subprocess.Popen[Any], deadline: float) -> bool:
    """Wait until the leader has exited and no member of its group runs, or ``deadline`` passes."""
    while True:
        if process.poll() is not None and not running_members(process.pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def running_members(group: int) -> list[int]:
    """Pids of the processes of process group ``group`` that still run (not zombies)."""
    members = []
    for record in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = record.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(group) and fields[0] != "Z":  # state, ppid, pgrp
            members.append(int(record.parent.name))
    return members
