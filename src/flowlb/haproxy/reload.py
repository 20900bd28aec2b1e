"""Reloading HAProxy as its service does (master-worker mode, the master CLI's ``reload``), and the state a
reload must keep.

    seconds = reload_and_wait(master_reload(master), runtime, 30)   # a new worker answers the runtime API
    save_server_state(runtime, Path(".../server-state"))   # what `load-server-state-from-file` reads
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from flowlb.errors import TargetError
from flowlb.haproxy.config import HAProxyConfig, model_of
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import wait_until

EMPTY_SERVER_STATE = "1\n"
"""A server state file with no servers: without one, HAProxy warns at the first start (fatal in zero-warning mode)."""


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


def master_reload(master: RuntimeAPI) -> Callable[[], None]:
    """The master CLI's ``reload``, as :func:`reload_and_wait` triggers it."""

    def reload() -> None:
        master.command("reload")

    return reload


def reload_and_wait(trigger: Callable[[], None], runtime: RuntimeAPI, timeout: float) -> float:
    """Reload through ``trigger``; return the seconds until a new worker answers the runtime API."""
    before = running_pid(runtime)
    started = time.monotonic()
    trigger()
    try:
        wait_until(lambda: (pid := running_pid(runtime)) is not None and pid != before,
                   max(1.0, timeout - (time.monotonic() - started)), "a new HAProxy worker after the reload")
    except TimeoutError:
        raise TargetError(f"no new HAProxy worker answered the runtime API within {timeout:g} s of the "
                          "reload") from None
    return time.monotonic() - started


def server_state_file(config: str | HAProxyConfig) -> str | None:
    """Where the config keeps server state across reloads (``server-state-file``, under ``server-state-base``),
    ``None`` when it keeps none or loads none (no ``load-server-state-from-file`` in any proxy or defaults)."""
    config = model_of(config)
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
