"""Check `health/health_check_request`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.backend import Backend
from flowlb.checks.routing import Burst, not_checked_at_layer7
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import wait_until
from flowlb.spec import ClusterSpec
from flowlb.targets.base import NodeControl, Target


def test_servers_are_checked_with_the_health_url(
    lb: Target, request: pytest.FixtureRequest, flowlb_spec: ClusterSpec,
    http: Callable[..., urllib3.HTTPConnectionPool],
) -> None:
    if lb.nodes() is None:
        _haproxy_side_only(request.getfixturevalue("runtime"), http("server"), flowlb_spec)
    node_control: NodeControl = request.getfixturevalue("node_control")
    servers: Backend = request.getfixturevalue("backend")("server")
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


def _haproxy_side_only(runtime: RuntimeAPI, pool: urllib3.HTTPConnectionPool, spec: ClusterSpec) -> None:
    """A live LB: fail when the server backend's checks are not HTTP checks; skip otherwise (the node's side)."""
    count = 10 * len(spec.node_names())
    carriers = Burst.send(runtime, lambda i: pool.request("GET", f"/flowlb/health-check?i={i}"), count).carriers()
    assert carriers, f"HAProxy counted the {count} requests sent to 8000 on no backend"
    if len(carriers) > 1:
        pytest.skip(f"inconclusive on a busy LB: {', '.join(carriers)} each grew by {count} or more while {count} "
                    "requests went to 8000; other clients' traffic hides which is the Flow server backend")
    for backend in carriers:
        layer4 = not_checked_at_layer7(runtime, backend)
        assert not layer4, (
            f"HAProxy checks the Flow servers behind 8000 ({backend}) with {layer4}, not an HTTP check (L7): a server "
            f"in bootstrap mode stays in the pool. Fix: `option httpchk GET {spec.health.path}` and "
            "`http-check expect status 200` in the server backend."
        )
    pytest.skip(f"HAProxy checks every server of {', '.join(carriers)} with HTTP (L7); which request it sends is "
                "seen only at the node: run it on the local or containers target (with --haproxy-cfg for your own "
                "config)")
