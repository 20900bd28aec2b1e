"""Health checks: HAProxy checks each Flow server with `GET /commanderRequest/health`, an HTTP check.

Flow answers that URL with 503 in bootstrap mode (no cluster membership), while its port still
accepts TCP connections. A bare TCP check (the article's default `check`) or a check of another URL
never sees it. Evidence from both sides: HAProxy reports a layer-7 check result (``L7OK``) for every
server behind 8000/8443, and while no client sends anything, every request a node's server port
receives is exactly that check. Fails with a TCP-only check, `option httpchk GET /`, `HEAD`, or
another path.
"""

from __future__ import annotations

from collections.abc import Callable

from flowlb.checks.backend import Backend
from flowlb.net import wait_until
from flowlb.spec import ClusterSpec
from flowlb.targets.base import NodeControl


def test_servers_are_checked_with_the_health_url(
    node_control: NodeControl,
    backend: Callable[[str], Backend],
    flowlb_spec: ClusterSpec,
) -> None:
    servers = backend("server")
    nodes = list(servers.route.servers)
    statuses = {node: servers.stat(node).check_status for node in nodes}
    assert all(status == "L7OK" for status in statuses.values()), (
        f"HAProxy checks the Flow servers behind 8000/8443 with {statuses}, not an HTTP check (L7OK): a server in "
        f"bootstrap mode stays in the pool. Fix: `option httpchk GET {flowlb_spec.health.path}` and "
        "`http-check expect status 200` in the server backend."
    )
    health = flowlb_spec.health
    expected = f"GET {health.path}"
    wait_s = 3 * servers.timing(nodes[0]).inter_s + 2
    before = {node: node_control.counters(node)["server"] for node in nodes}

    def every_node_checked() -> bool:
        return all(
            node_control.counters(node)["server"]["health_checks"] >= before[node]["health_checks"] + 2
            for node in nodes
        )

    try:
        wait_until(every_node_checked, timeout=wait_s, what="two health checks per node")
    except TimeoutError:
        counts = {node: node_control.counters(node)["server"]["health_checks"] for node in nodes}
        raise AssertionError(
            f"the Flow servers received health checks {counts} in {wait_s:.0f} s: "
            f"HAProxy does not request {health.path}. Fix: `option httpchk GET {health.path}`."
        ) from None
    for node in nodes:
        after = node_control.counters(node)["server"]
        lines = after["health_check_lines"]
        wrong = [line for line in lines if not line.startswith(expected + " HTTP/1.")]
        assert not wrong, f"{node} received health checks {wrong}, not `{expected}`"
        other = (after["requests"] - before[node]["requests"]) - (
            after["health_checks"] - before[node]["health_checks"]
        )
        assert other == 0, (
            f"with no client traffic, {node}'s server port received {other} requests other than `{expected}`: "
            f"some backend checks it with another request. Fix: `option httpchk GET {health.path}` in every "
            "backend that checks port 8000."
        )
