"""Which run made a container or network, and whether its owner is provably gone.

Every container and network a run makes carries two labels: the run's id (``FLOWLB_RUN_ID`` when set,
so that a caller such as a test can find exactly what it started; else one per process) and its
owner, as the machine's boot id, the PID namespace, the owner's pid and that process's start time.
A pid alone means nothing outside its own PID namespace: flowlb in a CI container that shares the
host's Docker engine saw every cluster of the host as ownerless, and removed live ones.

A leftover sweep removes a run's resources only when its owner is provably gone: the same boot and
PID namespace as the sweeper, and no process with that pid and start time. An owner in another
namespace or on another machine is never judged from here; its resources are left alone.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from functools import cache

from flowlb.errors import TargetError

RUN_LABEL = "flowlb.run"
OWNER_LABEL = "flowlb.owner"
# the owner's bare pid, which flowlb 0.1 judged by: without it, an older flowlb on the same engine took a
# live cluster of this version for a leftover and removed it
LEGACY_OWNER_LABEL = "flowlb.owner-pid"
RUN_ID_ENV = "FLOWLB_RUN_ID"
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def run_id() -> str:
    """``$FLOWLB_RUN_ID`` when set (checked: letters, digits, ``_.-``, 64 at most), else this process's own."""
    chosen = os.environ.get(RUN_ID_ENV, "")
    if not chosen:
        return _process_run_id()
    if not _RUN_ID.fullmatch(chosen):
        raise TargetError(f"{RUN_ID_ENV}={chosen!r} is not a run id (letters, digits, '_', '.', '-'; 64 at most)")
    return chosen


@cache
def _process_run_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class Owner:
    """A process, named so that it means the same on any machine and in any PID namespace."""

    boot: str
    pid_namespace: str
    pid: int
    started: str  # the process's start time in clock ticks since boot (field 22 of /proc/PID/stat)

    def label(self) -> str:
        return f"{self.boot}/{self.pid_namespace}/{self.pid}/{self.started}"

    @classmethod
    def parse(cls, label: str) -> Owner | None:
        parts = label.split("/")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])


def this_process() -> Owner:
    """The calling process as an :class:`Owner`."""
    pid = os.getpid()
    return Owner(_boot_id(), _pid_namespace(), pid, _start_time(pid) or "")


def labels(kept_label: str | None = None) -> dict[str, str]:
    """The ownership labels of everything a run makes (plus ``kept_label`` for a cluster kept on purpose)."""
    owner = this_process()
    found = {RUN_LABEL: run_id(), OWNER_LABEL: owner.label(), LEGACY_OWNER_LABEL: str(owner.pid)}
    if kept_label:
        found[kept_label] = "true"
    return found


def provably_gone(label: str) -> bool:
    """True only when the owner named by ``label`` lived in this boot and PID namespace and has ended.

    An unreadable label, another machine or another namespace: False (its owner may well be alive).
    """
    owner = Owner.parse(label)
    here = (_boot_id(), _pid_namespace())
    if owner is None or "" in here or (owner.boot, owner.pid_namespace) != here:
        return False
    return _start_time(owner.pid) != owner.started


@cache
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as source:
            return source.read().strip()
    except OSError:
        return ""


@cache
def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in this namespace, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as source:
            stat = source.read()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None
