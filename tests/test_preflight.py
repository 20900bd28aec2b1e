"""The start-of-run probe: a dead TLS port is found once, in seconds, and its checks fail at once naming it.

Fails when a port that completes TLS handshakes is called dead (every TLS check of a careful config would
then fail), when a silent or closed port is called alive (each check would wait out its own timeout again),
when a STOMP failure is blamed on TLS, or when a check marked ``needs_role`` runs on a dead port.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from flowlb.net import Endpoint
from flowlb.preflight import SESSION, TLS, RoleState, probe, why_dead
from flowlb.stompclient import StompError, StompSession
from flowlb.targets.base import Endpoints

pytest_plugins = ["pytester"]


class Listener:
    """A loopback port that completes TLS handshakes (``tls=True``), or accepts and says nothing."""

    def __init__(self, tls: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.context: ssl.SSLContext | None = None
        if tls:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            trustme.CA().issue_cert("flow-lb.test").configure_cert(self.context)
        self.kept: list[socket.socket] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.context is not None:
                try:
                    conn = self.context.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    continue
            self.kept.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.kept:
            conn.close()


@pytest.fixture
def listeners() -> Iterator[dict[str, Listener]]:
    made = {"tls": Listener(tls=True), "silent": Listener(tls=False)}
    yield made
    for listener in made.values():
        listener.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def _endpoints(https: int, server_tls: int, stomp: int) -> Endpoints:
    at = lambda port: Endpoint("127.0.0.1", port)  # noqa: E731
    return Endpoints(at(_closed_port()), at(https), at(_closed_port()), at(server_tls), at(stomp), "flow-lb.test")


def _stomp_that_works(*_: Any, **__: Any) -> StompSession:
    class Session:
        def close(self) -> None:
            pass

    return Session()  # type: ignore[return-value]


def _stomp_that_fails(*_: Any, **__: Any) -> StompSession:
    raise StompError("no CONNECTED within 10 s on 127.0.0.1")


def test_ports_that_complete_handshakes_are_alive(listeners: dict[str, Listener]) -> None:
    port = listeners["tls"].port
    states = probe(_endpoints(port, port, port), None, open_stomp=_stomp_that_works)
    assert set(states) == {"https", "server_tls", "stomp"}
    assert all(not why_dead(states, role, layer) for role in states for layer in (TLS, SESSION)), states


def test_a_silent_port_is_dead_within_its_bound_and_says_why(listeners: dict[str, Listener]) -> None:
    alive, silent = listeners["tls"].port, listeners["silent"].port
    started = time.monotonic()
    states = probe(_endpoints(alive, alive, silent), None, open_stomp=_stomp_that_works, handshake_within=0.5)
    assert time.monotonic() - started < 5  # bounded by handshake_within, not by a check's own timeouts
    assert not why_dead(states, "https", TLS)
    why = why_dead(states, "stomp", TLS)
    assert "61613" in why and "no TLS handshake" in why and "ssl crt" in why
    assert why_dead(states, "stomp", SESSION) == why  # no session without TLS


def test_a_closed_port_is_dead(listeners: dict[str, Listener]) -> None:
    alive = listeners["tls"].port
    states = probe(_endpoints(alive, _closed_port(), alive), None, open_stomp=_stomp_that_works)
    assert "8443" in why_dead(states, "server_tls", TLS)
    assert "ConnectionRefusedError" in why_dead(states, "server_tls", TLS)


def test_tls_that_works_with_no_stomp_session_is_a_session_failure_only(listeners: dict[str, Listener]) -> None:
    alive = listeners["tls"].port
    states = probe(_endpoints(alive, alive, alive), None, open_stomp=_stomp_that_fails)
    assert not why_dead(states, "stomp", TLS)  # the TLS checks of 61613 still run
    assert "no STOMP session" in why_dead(states, "stomp", SESSION)
    assert "no CONNECTED" in why_dead(states, "stomp", SESSION)
    assert not why_dead(states, "https", SESSION)


def test_a_role_not_probed_lets_its_checks_run() -> None:
    assert why_dead({}, "stomp", SESSION) == ""
    assert why_dead({"stomp": RoleState("stomp", 1)}, "stomp", SESSION) == ""


def test_marked_checks_fail_at_set_up_on_a_dead_role_and_run_on_a_live_one(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest
from flowlb.preflight import RoleState

pytest_plugins = ["flowlb.pytest_plugin"]

@pytest.fixture(scope="session")
def preflight():
    return {"stomp": RoleState("stomp", 61613, tls="no answer to a TLS ClientHello within 5 s"),
            "https": RoleState("https", 443)}
"""
    )
    pytester.makepyfile(
        """
import pytest

@pytest.mark.needs_role(role="stomp")
def test_needs_stomp():
    raise AssertionError("ran on a dead port")

@pytest.mark.needs_role(param="role", layer="tls")
@pytest.mark.parametrize("role", ["https", "stomp"])
def test_tls(role):
    pass

def test_unmarked():
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:flowlb", "--report-dir", "none", "-q", timeout=120)
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(["*61613 port (stomp*completed no TLS handshake*smoke/every_port_answers*"])
    assert "ran on a dead port" not in result.stdout.str()

