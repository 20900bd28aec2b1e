"""The control API reads and switches a node's state and counters.

Fails if an endpoint answers the wrong document, if an unknown health state or a bad body is
accepted, if control requests are counted as web or server traffic, or if reset leaves anything
behind.
"""

from __future__ import annotations

import json

import pytest


def test_ready(node) -> None:
    assert node.control("GET", "/ready") == {"ready": True, "name": "t1"}


def test_state_reports_health_delay_and_bound_ports(node) -> None:
    state = node.control("GET", "/state")
    assert state == {"name": "t1", "health": "healthy", "delay_ms": 0, "ports": node.ports}


def test_put_health_answers_the_new_state(node) -> None:
    state = node.control("PUT", "/health", {"state": "slow", "delay_ms": 2000})
    assert (state["health"], state["delay_ms"]) == ("slow", 2000)
    assert node.control("GET", "/state")["health"] == "slow"


@pytest.mark.parametrize(
    "body",
    [b'{"state": "sick"}', b'{"delay_ms": 5}', b"not json", b'{"state": "slow", "delay_ms": -1}', b"[]"],
)
def test_bad_health_requests_are_400_with_a_message(node, body) -> None:
    status, _, answer = node.request("control", "PUT", "/health", body)
    assert status == 400
    assert json.loads(answer)["error"]
    assert node.control("GET", "/state")["health"] == "healthy"


def test_unknown_path_and_method(node) -> None:
    assert node.request("control", "GET", "/nope")[0] == 404
    assert node.request("control", "DELETE", "/counters")[0] == 405


def test_counters_document_shape_and_control_traffic_is_not_counted(node) -> None:
    for _ in range(3):
        node.control("GET", "/state")
    counters = node.counters()
    idle_http = {"requests": 0, "connections": 0, "health_checks": 0, "health_check_lines": [], "methods": {},
                 "logins": 0, "logins_refused": 0, "unauthorized": 0}
    assert counters == {
        "name": "t1",
        "web": {**idle_http},
        "server": {**idle_http},
        "stomp": {
            "connections": 0,
            "sessions_open": 0,
            "sessions_total": 0,
            "frames_received": {},
            "frames_sent": 0,
            "errors": 0,
        },
    }


def test_reset_restores_health_and_zeroes_counters(node) -> None:
    node.request("server", "GET", "/commanderRequest/health")
    node.request("web", "GET", "/x")
    node.set_health("bootstrap", delay_ms=10)
    assert node.control("POST", "/reset")["health"] == "healthy"
    state = node.control("GET", "/state")
    assert (state["health"], state["delay_ms"]) == ("healthy", 0)
    counters = node.counters()
    assert counters["server"]["requests"] == counters["web"]["requests"] == 0
    assert counters["server"]["health_check_lines"] == []
