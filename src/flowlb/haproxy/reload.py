"""Reloading HAProxy as its service does (master-worker mode, the master CLI's ``reload``), and the state a
reload must keep.

    workers = worker_pids(master)                    # from `show proc`
    seconds = reload_and_wait(master, runtime, 30)   # a new worker answers the runtime API
    save_server_state(runtime, Path(".../server-state"))   # what `load-server-state-from-file` reads
"""

from __future__ import annotations

import time
from pathlib import Path

from flowlb.errors import TargetError
from flowlb.haproxy.config import HAProxyConfig
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import wait_until

EMPTY_SERVER_STATE = "1\n"
"""A server state file with no servers: without one, HAProxy warns at the first start (fatal in zero-warning mode)."""


def worker_pids(master: RuntimeAPI) -> list[int]:
    """The PIDs of the current and old workers, newest first, from the master CLI's ``show proc``."""
    pids = []
    for line in master.command("show proc").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].isdigit() and words[1] == "worker":
            pids.append(int(words[0]))
    return pids


def running_pid(runtime: RuntimeAPI) -> int | None:
    """The PID of the worker answering the runtime API (``show info``), ``None`` when none answers."""
    try:
        info = runtime.command("show info")
    except OSError:
        return None
    for line in info.splitlines():
        if line.startswith("Pid:"):
            return int(line.split(":", 1)[1])
    return None


def reload_and_wait(master: RuntimeAPI, runtime: RuntimeAPI, timeout: float) -> float:
    """Ask the master for a reload; return the seconds until a new worker answers the runtime API."""
    before = running_pid(runtime)
    started = time.monotonic()
    master.command("reload")
    try:
        wait_until(lambda: (pid := running_pid(runtime)) is not None and pid != before, timeout,
                   "a new HAProxy worker after the reload")
    except TimeoutError:
        raise TargetError(f"HAProxy did not come back from a reload within {timeout:g} s "
                          f"(master: {master.command('show proc').strip()})") from None
    return time.monotonic() - started


def server_state_file(config: str | HAProxyConfig) -> str | None:
    """Where the config keeps server state across reloads (``server-state-file``, under ``server-state-base``),
    ``None`` when it keeps none or loads none (no ``load-server-state-from-file`` in any proxy or defaults)."""
    if isinstance(config, str):
        config = HAProxyConfig.parse(config)
    glob = config.of_kind("global")
    files = [line.value(1) for section in glob for line in section.own("server-state-file")]
    bases = [line.value(1) for section in glob for line in section.own("server-state-base")]
    loads = [line for section in config.of_kind("defaults", "backend", "listen")
             for line in section.own("load-server-state-from-file") if line.value(1) != "none"]
    if not files or not loads:
        return None
    path = files[-1]
    return path if path.startswith("/") or not bases else f"{bases[-1].rstrip('/')}/{path}"


def save_server_state(runtime: RuntimeAPI, path: Path) -> None:
    """Write ``show servers state`` where the next worker reads it, as the operator's reload procedure must."""
    path.write_text(runtime.command("show servers state"))
