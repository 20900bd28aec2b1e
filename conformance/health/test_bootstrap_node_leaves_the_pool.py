"""Health checks: a Flow server in bootstrap mode (health 503) leaves the pool in time and comes back.

HAProxy must mark the server DOWN within ``inter x fall`` (plus one interval for the phase of the
check timer and 1 s of tolerance). While it is down, no request on 8000 or 8443 may reach it. Once
healthy again it must be UP within ``inter x rise`` (same tolerance). Times come from the spec's
``[health]``; ``rise``/``fall`` are read from HAProxy itself. Fails with a TCP-only check, an
expectation that accepts 503, or checks too slow for the stated timing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.backend import Backend
from flowlb.haproxy.runtime import ServerStat
from flowlb.lbclient import echo
from flowlb.net import wait_until
from flowlb.targets.base import HealthState, NodeControl


def test_bootstrap_node_is_marked_down_and_back_up(
    node_control: NodeControl,
    backend: Callable[[str], Backend],
    http: Callable[..., urllib3.HTTPConnectionPool],
    record_property: Callable[[str, object], None],
) -> None:
    servers = backend("server")
    victim = servers.health_victim(1)
    timing = servers.timing(victim)
    down_limit, up_limit = timing.down_limit_s(), timing.up_limit_s()

    node_control.set_health(victim, HealthState.BOOTSTRAP)
    took_down = servers.marked_down_within(victim, down_limit)
    if isinstance(took_down, ServerStat):
        now = took_down
        pytest.fail(
            f"{victim} answers its health URL with 503 (bootstrap mode) but HAProxy still has it "
            f"{now.status} ({now.check_status}) after {down_limit:.1f} s: it keeps receiving requests it cannot serve. "
            "Fix: `option httpchk GET /commanderRequest/health` with `http-check expect status 200`."
        )
    record_property("bootstrap_detection_s", round(took_down, 2))

    answered: Counter[str] = Counter()
    for role in ("server", "server_tls"):
        pool = http(role)
        for _ in range(15):
            reply = pool.request("GET", f"/flowlb/while-down?role={role}")
            if reply.status == 200:
                answered[echo(reply)["node"]] += 1
    assert answered[victim] == 0, f"requests reached {victim} while HAProxy had it DOWN: {dict(answered)}"

    node_control.set_health(victim, HealthState.HEALTHY)
    try:
        took_up = wait_until(lambda: servers.stat(victim).status == "UP", up_limit, "up")
    except TimeoutError:
        pytest.fail(f"{victim} is healthy again but HAProxy did not bring it back within {up_limit:.1f} s")
    record_property("bootstrap_rejoin_s", round(took_up, 2))
    print(f"bootstrap node: marked down in {took_down:.2f} s (limit {down_limit:.1f}), back up in {took_up:.2f} s")
