"""Check `smoke/every_port_answers`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.lbclient import echo, lb_pool
from flowlb.preflight import SESSION, RoleState, why_dead
from flowlb.stompclient import StompSession
from flowlb.targets.base import Target

pytestmark = pytest.mark.smoke


def test_port_80_answers_with_a_redirect_to_https(lb: Target) -> None:
    pool = lb_pool(lb.endpoints.http, tls=False)
    reply = pool.request("GET", "/flow/", headers={"Host": lb.endpoints.server_name}, redirect=False)
    assert 300 <= reply.status < 400, f"port 80 answered {reply.status}, not a redirect"
    location = reply.headers.get("Location", "")
    assert location.startswith("https://"), f"port 80 redirects to {location!r}, not to https"


@pytest.mark.parametrize(
    ("role", "tls", "node_port"),
    [("https", True, "web"), ("server", False, "server"), ("server_tls", True, "server")],
    ids=["443-to-web", "8000-to-server", "8443-to-server"],
)
def test_port_reaches_the_right_node_port(lb: Target, role: str, tls: bool, node_port: str) -> None:
    endpoint = lb.endpoints.by_role()[role]
    pool = lb_pool(endpoint, tls=tls, ca_file=lb.ca_file, server_name=lb.endpoints.server_name)
    reply = pool.request("GET", "/flowlb/smoke")
    if not lb.echoes():  # real Flow servers: any answer of theirs (not the LB's 5xx) shows the port is served
        assert reply.status < 500, f"LB port for {role} answered {reply.status}: no Flow server behind it answers"
        return
    assert reply.status == 200, f"LB port for {role} answered {reply.status}"
    seen = echo(reply)
    assert seen["node"] in lb.node_names(), f"answer from {seen['node']!r}, not one of the Flow nodes"
    assert seen["port"] == node_port, f"LB port for {role} reached the node's {seen['port']} port, not {node_port}"


def test_port_61613_gives_a_stomp_session_over_tls(
    lb: Target, stomp_session: Callable[..., StompSession], preflight: dict[str, RoleState]
) -> None:
    dead = why_dead(preflight, "stomp", SESSION)  # the start-of-run probe: the STOMP checks fail on it at once
    if dead:
        pytest.fail(f"{dead}. Fix: `ssl crt <pem>` on the 61613 bind and `mode tcp` from the frontend to the STOMP "
                    "backend, so that TLS ends at the LB and STOMP reaches a node.", pytrace=False)
    session = stomp_session()
    assert session.tls_version() in ("TLSv1.2", "TLSv1.3")
    if lb.echoes():
        assert session.server.removeprefix("flowlb-mocknode/") in lb.node_names(), session.server
    session.send_with_receipt("/queue/flowlb.smoke", b"hello")
