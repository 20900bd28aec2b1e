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

from flowlb.checks.health import check_timing, marked_down_within
from flowlb.checks.topology import Route, health_victim
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat
from flowlb.lbclient import echo
from flowlb.net import wait_until
from flowlb.spec import ClusterSpec
from flowlb.targets.base import HealthState, NodeControl, Target


def test_bootstrap_node_is_marked_down_and_back_up(
    lb: Target,
    runtime: RuntimeAPI,
    node_control: NodeControl,
    route: Callable[[str], Route],
    http: Callable[..., urllib3.HTTPConnectionPool],
    flowlb_spec: ClusterSpec,
    record_property: Callable[[str, object], None],
) -> None:
    server_route = route("server")
    victim = health_victim(server_route, 1)
    server = server_route.server(victim)
    timing = check_timing(runtime, lb.config_text, flowlb_spec, server_route.backend, server)
    down_limit, up_limit = timing.down_limit_s(), timing.up_limit_s()

    node_control.set_health(victim, HealthState.BOOTSTRAP)
    took_down = marked_down_within(runtime, server_route.backend, server, down_limit)
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
        took_up = wait_until(lambda: runtime.server(server_route.backend, server).status == "UP", up_limit, "up")
    except TimeoutError:
        pytest.fail(f"{victim} is healthy again but HAProxy did not bring it back within {up_limit:.1f} s")
    record_property("bootstrap_rejoin_s", round(took_up, 2))
    print(f"bootstrap node: marked down in {took_down:.2f} s (limit {down_limit:.1f}), back up in {took_up:.2f} s")
