"""Check `health/bootstrap_node_leaves_the_pool`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections import Counter

import pytest

from flowlb.checks.drill import Drill
from flowlb.lbclient import echo
from flowlb.net import wait_until
from flowlb.targets.base import HealthState


def test_bootstrap_node_is_marked_down_and_back_up(drill: Drill) -> None:
    servers = drill.backend("server")
    victim = servers.health_victim(1)
    timing = servers.timing(victim)
    down_limit, up_limit = timing.down_limit_s(), timing.up_limit_s()

    drill.nodes.set_health(victim, HealthState.BOOTSTRAP)
    took_down = servers.expect_down(
        victim, down_limit, f"{victim} answers its health URL with 503 (bootstrap mode) and keeps receiving requests "
        "it cannot serve", "`option httpchk GET /commanderRequest/health` with `http-check expect status 200`.")
    drill.record("bootstrap_detection_s", round(took_down, 2))

    answered: Counter[str] = Counter()
    for role in ("server", "server_tls"):
        pool = drill.http(role)
        for _ in range(15):
            reply = pool.request("GET", f"/flowlb/while-down?role={role}")
            if reply.status == 200:
                answered[echo(reply)["node"]] += 1
    assert answered[victim] == 0, f"requests reached {victim} while HAProxy had it DOWN: {dict(answered)}"

    drill.nodes.set_health(victim, HealthState.HEALTHY)
    try:
        took_up = wait_until(lambda: servers.stat(victim).status == "UP", up_limit, "up")
    except TimeoutError:
        pytest.fail(f"{victim} is healthy again but HAProxy did not bring it back within {up_limit:.1f} s")
    drill.record("bootstrap_rejoin_s", round(took_up, 2))
    print(f"bootstrap node: marked down in {took_down:.2f} s (limit {down_limit:.1f}), back up in {took_up:.2f} s")
