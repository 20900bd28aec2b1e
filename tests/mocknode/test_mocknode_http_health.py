"""Flow's health URL answers according to the health state set through the control API.

Fails if a state answers the wrong status, if ``hang`` answers at all, if ``slow`` answers early,
if ``refuse`` leaves the server port accepting connections or does not reopen it on the same port,
or if a state meant for the health URL leaks into ordinary requests.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

HEALTH = "/commanderRequest/health"


@pytest.mark.parametrize("port", ["server", "web"])
def test_healthy_answers_200_ok(node, port) -> None:
    status, headers, body = node.request(port, "GET", HEALTH)
    assert status == 200
    assert json.loads(body) == {"status": "ok", "node": "t1"}
    assert headers["x-flow-node"] == "t1"


def test_head_on_health_has_no_body(node) -> None:
    status, headers, body = node.request("server", "HEAD", HEALTH)
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) > 0


@pytest.mark.parametrize("port", ["server", "web"])
def test_bootstrap_answers_503_but_other_requests_still_work(node, port) -> None:
    node.set_health("bootstrap")
    status, _, body = node.request(port, "GET", HEALTH)
    assert status == 503
    assert json.loads(body) == {"status": "bootstrap", "node": "t1"}
    assert node.request(port, "GET", "/other")[0] == 200


def test_hang_never_answers_but_other_requests_do(node) -> None:
    node.set_health("hang")
    connection = http.client.HTTPConnection("127.0.0.1", node.ports["server"], timeout=0.5)
    connection.request("GET", HEALTH)
    with pytest.raises(TimeoutError):
        connection.getresponse()
    connection.close()
    assert node.request("server", "GET", "/other")[0] == 200
    assert node.counters()["server"]["health_checks"] == 1


def test_slow_answers_200_after_the_delay(node) -> None:
    node.set_health("slow", delay_ms=400)
    started = time.monotonic()
    status, _, _ = node.request("server", "GET", HEALTH)
    assert status == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert node.request("server", "GET", "/other")[0] == 200
    assert time.monotonic() - started < 0.4


def test_refuse_closes_the_server_port_and_leaving_it_reopens_the_same_port(node) -> None:
    kept = socket.create_connection(("127.0.0.1", node.ports["server"]), timeout=node.timeout)
    node.set_health("refuse")
    assert kept.recv(1) == b""  # open connections are closed too
    kept.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", node.ports["server"]), timeout=node.timeout)
    assert node.request("web", "GET", HEALTH)[0] == 503  # the web port stays up and says so
    node.set_health("healthy")
    assert node.request("server", "GET", HEALTH)[0] == 200


def test_reset_reopens_a_refused_server_port(node) -> None:
    node.set_health("refuse")
    node.control("POST", "/reset")
    assert node.request("server", "GET", HEALTH)[0] == 200


def test_health_checks_are_counted_with_their_request_lines(node) -> None:
    for _ in range(25):
        node.request("server", "GET", HEALTH)
    node.request("server", "OPTIONS", HEALTH)
    node.request("web", "HEAD", HEALTH)
    counters = node.counters()
    assert counters["server"]["health_checks"] == 26
    assert counters["server"]["requests"] == 26
    lines = counters["server"]["health_check_lines"]
    assert len(lines) == 20
    assert lines[-1] == f"OPTIONS {HEALTH} HTTP/1.1"
    assert lines[0] == f"GET {HEALTH} HTTP/1.1"
    assert counters["web"]["health_check_lines"] == [f"HEAD {HEALTH} HTTP/1.1"]
