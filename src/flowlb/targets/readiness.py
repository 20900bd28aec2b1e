"""When is a cluster ready? When HAProxy itself says every server is up after a real check."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Collection, Iterable
from functools import partial

from flowlb.errors import TargetError
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat
from flowlb.net import Endpoint, wait_until

PASSED_CHECKS = ("L4OK", "L6OK", "L7OK")
PARSE_BYTES_PER_S = 20_000  # HAProxy parsed a 5 MB config of 120k acl lines in 125 s (40 kB/s); half that rate


def parse_seconds(config_text: str) -> float:
    """How much longer than the usual readiness wait HAProxy may take to parse ``config_text`` before it answers."""
    return len(config_text.encode()) / PARSE_BYTES_PER_S


def still_parsing(config_text: str, seconds: float) -> TargetError:
    """The failure of a HAProxy that runs but has not answered yet: it was still reading its config."""
    size = len(config_text.encode())
    return TargetError(f"HAProxy was still parsing a config of {config_text.count(chr(10))} lines ({size} bytes) "
                       f"after {seconds:.0f} s (the wait allows the usual start plus 1 s per "
                       f"{PARSE_BYTES_PER_S // 1000} kB of config)")


def server_ready(stat: ServerStat) -> bool:
    """UP (not "UP 1/3", going down) and a check has really passed (not still ``INI``), or never checked."""
    return (stat.status == "UP" and stat.check_status in PASSED_CHECKS) or stat.status == "no check"


def server_settled(stat: ServerStat) -> bool:
    """Ready, or DOWN or in maintenance: its checks have reached a verdict."""
    return server_ready(stat) or stat.status.startswith(("DOWN", "MAINT"))


def wait_for_haproxy(
    api: RuntimeAPI,
    endpoints: Iterable[Endpoint],
    timeout: float,
    still_running: Callable[[], str | None],
    required: Collection[tuple[str, str]] | None = None,
    after_start: Callable[[RuntimeAPI], None] | None = None,
    config_text: str = "",
) -> frozenset[tuple[str, str]]:
    """Wait until HAProxy answers, its servers passed a check and every LB port accepts; return the UP servers.

    ``still_running`` returns ``None`` while HAProxy runs, or its output once it has exited, so a
    config HAProxy refuses ends the wait at once with HAProxy's reason.

    At start (``required`` is ``None``) every server should come UP. When some never do although
    their nodes serve (the config checks them wrongly), that is a finding for the checks, not a
    start failure: the run goes on with the servers that are UP, says which are not, and resets
    later wait for that same set (``required``). With no server UP at all, the start fails.
    ``after_start`` runs once the runtime API answers (the harness's own commands, before any check).
    HAProxy answers once it has parsed its config: that wait grows with ``config_text``'s size
    (:func:`parse_seconds`), and a HAProxy still running when it ends was still parsing, and says so.
    """

    def check(condition: Callable[[], bool]) -> Callable[[], bool]:
        def probe() -> bool:
            output = still_running()
            if output is not None:
                raise _Exited(output)
            return condition()

        return probe

    parsing = timeout + parse_seconds(config_text)
    try:
        wait_until(check(api.answers), parsing, "HAProxy's runtime API")
    except TimeoutError:
        raise still_parsing(config_text, parsing) from None
    if after_start is not None:
        after_start(api)

    def wanted(stat: ServerStat) -> bool:
        return required is None or (stat.backend, stat.server) in required

    def done(stat: ServerStat) -> bool:
        return server_ready(stat) if required is not None else server_settled(stat)

    try:
        wait_until(
            check(lambda: all(done(s) for s in api.stats() if wanted(s)) and any(server_ready(s) for s in api.stats())),
            timeout,
            "every server UP after a passed health check",
        )
    except TimeoutError:
        stats = api.stats()
        states = ", ".join(f"{s.backend}/{s.server}={s.status}({s.check_status})" for s in stats if not server_ready(s))
        if required is not None or not any(server_ready(s) for s in stats):
            raise TargetError(f"HAProxy started but not every server came up: {states}") from None
    down = ", ".join(f"{s.backend}/{s.server}={s.status}({s.check_status})" for s in api.stats()
                     if wanted(s) and not server_ready(s))
    if down and required is None:
        print(f"flowlb: the config keeps these servers DOWN: {down}", file=sys.stderr)
    for endpoint in endpoints:
        wait_until(check(partial(port_accepts, endpoint)), timeout, f"LB port {endpoint.port}")
    return frozenset((s.backend, s.server) for s in api.stats() if server_ready(s))


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
