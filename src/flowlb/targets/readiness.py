"""When is a cluster ready? When HAProxy itself says every server is up after a real check."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from functools import partial

from flowlb.errors import TargetError
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat, wait_until
from flowlb.targets.base import Endpoint

PASSED_CHECKS = ("L4OK", "L6OK", "L7OK")


def server_ready(stat: ServerStat) -> bool:
    """UP (not "UP 1/3", going down) and a check has really passed (not still ``INI``)."""
    return stat.status == "UP" and stat.check_status in PASSED_CHECKS


def wait_for_haproxy(
    api: RuntimeAPI,
    endpoints: Iterable[Endpoint],
    timeout: float,
    still_running: Callable[[], str | None],
) -> None:
    """Wait until HAProxy answers, every server passed a check and every LB port accepts.

    ``still_running`` returns ``None`` while HAProxy runs, or its output once it has exited, so a
    config HAProxy refuses ends the wait at once with HAProxy's reason.
    """

    def check(condition: Callable[[], bool]) -> Callable[[], bool]:
        def probe() -> bool:
            output = still_running()
            if output is not None:
                raise _Exited(output)
            return condition()

        return probe

    wait_until(check(api.answers), timeout, "HAProxy's runtime API")
    try:
        wait_until(
            check(lambda: all(server_ready(s) for s in api.stats())),
            timeout,
            "every server UP after a passed health check",
        )
    except TimeoutError:
        states = ", ".join(f"{s.backend}/{s.server}={s.status}({s.check_status})" for s in api.stats())
        raise TargetError(f"HAProxy started but not every server came up: {states}") from None
    for endpoint in endpoints:
        wait_until(check(partial(port_accepts, endpoint)), timeout, f"LB port {endpoint.port}")


def port_accepts(endpoint: Endpoint) -> bool:
    """True when a TCP connect to ``endpoint`` succeeds."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=1.0):
            return True
    except OSError:
        return False


class _Exited(Exception):
    """HAProxy exited while we waited; carries its output."""

    def __init__(self, output: str) -> None:
        super().__init__("HAProxy exited")
        self.output = output


HAProxyExited = _Exited
