"""Which backend serves an LB role and which server is which node: routes read from the config HAProxy runs, the
backend learnt from its session counters.

Fed by a fake runtime API that answers from a config's text (`tests.checks.fakes`). Fails when a server is mapped
to the wrong node, a server on no Flow node or a second server of one node enters the route, backups count as
primaries, the backend is learnt from a request that moved two backends (or none), or a failover check runs with
nothing to fail over to.
"""

from __future__ import annotations

import json

import pytest
import urllib3

from flowlb.checks.topology import (
    Route,
    config_route,
    failover_victim,
    health_victim,
    http_exchange,
    learn_backend,
    node_finder,
)
from flowlb.errors import FlowlbError
from flowlb.spec import load_spec
from tests.checks.configs import CAREFUL, LAYOUT
from tests.checks.fakes import ConfigRuntime
from tests.checks.servers import http_server

SPEC = load_spec()
MIXED = CAREFUL.replace(
    "  server node2 127.0.0.12:8000 check\n",
    "  server node2 127.0.0.12:8000 check\n  server node3 127.0.0.13:8000 check backup\n"
    "  server stray 10.9.9.9:8000 check\n  server node1-again 127.0.0.11:8000 check\n",
)
"""The careful config's Flow backend with a backup node, a server on no Flow node, and a node listed twice."""


def test_a_route_maps_each_server_to_its_node_by_the_address_the_harness_gave_it() -> None:
    """Breaks if a server on no node, or a node's second server, enters the route, or backup is not read."""
    route = config_route(ConfigRuntime(MIXED), LAYOUT, "flow")
    assert route == Route("flow", {"node1": "node1", "node2": "node2", "node3": "node3"}, frozenset({"node3"}))
    assert route.server("node2") == "node2"
    assert route.primaries() == ["node1", "node2"]


def test_a_backend_with_no_server_on_a_flow_node_has_no_route() -> None:
    """Breaks if a backend whose servers are all elsewhere yields an empty route instead of an error."""
    elsewhere = CAREFUL.replace("127.0.0.11:61613", "10.9.9.9:61613")
    with pytest.raises(FlowlbError, match="backend stomp_nodes has no server on a Flow node"):
        config_route(ConfigRuntime(elsewhere), LAYOUT, "stomp_nodes")


def test_the_backend_is_the_one_whose_session_totals_moved() -> None:
    """Breaks if the backend is guessed before one request moved exactly one backend's totals."""
    runtime = ConfigRuntime(CAREFUL)
    moves = [[("flow", "node1"), ("stomp_nodes", "node1")], [], [("flow", "node2")]]  # two backends, none, one

    def exchange(index: int) -> None:
        for backend, server in moves[index]:
            runtime.count(backend, server)

    assert learn_backend(runtime, exchange) == "flow"
    assert runtime.stat_calls == 6  # before and after each of the three exchanges


def test_no_backend_is_learnt_when_no_request_is_counted() -> None:
    """Breaks if learning loops beyond its budget or names a backend no request reached."""
    calls: list[int] = []
    with pytest.raises(FlowlbError, match="none of 4 requests was counted"):
        learn_backend(ConfigRuntime(CAREFUL), calls.append, budget=4)
    assert calls == [0, 1, 2, 3]


def test_victims_are_primaries_in_turn_and_failover_needs_somewhere_to_go() -> None:
    """Breaks if a backup is made unhealthy, the index does not wrap, or failover runs on a lone server."""
    route = Route("flow", {"node1": "a", "node2": "b", "node3": "c"}, frozenset({"node2"}))
    assert [health_victim(route, index) for index in range(3)] == ["node1", "node3", "node1"]
    assert failover_victim(Route("flow", {"node1": "a", "node2": "b"}, frozenset({"node2"})), 1) == "node1"
    with pytest.raises(pytest.skip.Exception, match="one server and no backup"):
        failover_victim(Route("flow", {"node1": "a"}), 0)


def test_a_node_is_found_by_the_layout_else_by_its_host_on_a_live_lb() -> None:
    """Breaks if the harness's layout is bypassed, or a live LB's host:port is not read by the spec's node ports."""
    assert node_finder(LAYOUT, SPEC)("127.0.0.12", 61613) == ("node2", "stomp")
    assert node_finder(LAYOUT, SPEC)("127.0.0.12", 5000) is None
    live = node_finder(None, SPEC)
    assert live("Flow-A.example", SPEC.node_ports.server) == ("flow-a.example", "server")
    assert live("flow-a.example", 5000) is None


def test_one_exchange_names_the_node_that_answered() -> None:
    """Breaks if the node is not read from the echo, or an error answer is taken for a node's."""
    answers = {"/flowlb/route-discovery?i=0": (200, json.dumps({"node": "node2"}).encode()),
               "/flowlb/route-discovery?i=1": (503, b"no server available")}
    with http_server(answers) as endpoint, urllib3.HTTPConnectionPool(endpoint.host, endpoint.port) as pool:
        one_request = http_exchange(pool)
        assert one_request(0) == "node2"
        assert one_request(1) is None
