"""The settings a config gives one LB port, found by the address the harness bound the port's role to.

Fails when a role is matched to the wrong frontend (or a bind with several addresses is missed), when the header
timeout stops falling back to ``timeout client``, when ``default_backend`` is not the last one given, or when a
tunnelled session's idle cut is not ``timeout tunnel`` first, else the smaller of client and server.
"""

from __future__ import annotations

import pytest

from flowlb.checks.settings import backend_of, header_timeout_s, idle_cut_s, section_for_role
from flowlb.haproxy.config import HAProxyConfig
from flowlb.haproxy.layout import Layout
from tests.checks.configs import BINDS, CAREFUL, LAYOUT, NODES, without


@pytest.mark.parametrize(("role", "section"), [
    ("server", "frontend plain"), ("server_tls", "frontend secure"),
    ("stomp", "frontend stomp"),  # the second address of a `bind a,b` line
])
def test_each_role_finds_the_section_bound_to_its_address(role: str, section: str) -> None:
    """Breaks if a role is matched to another frontend, or only the first address of `bind a,b` counts."""
    found = section_for_role(CAREFUL, LAYOUT, role)
    assert found is not None and found.where == section


def test_a_role_no_bind_carries_has_no_section() -> None:
    """Breaks if a role matched a section by a prefix of its address (127.0.0.1:18444 is no 127.0.0.1:1844x)."""
    assert section_for_role(CAREFUL, LAYOUT, "https") is None
    moved = Layout(binds={**BINDS, "server": "127.0.0.1:1800"}, servers=NODES)
    assert section_for_role(CAREFUL, moved, "server") is None


def test_the_header_timeout_is_http_request_else_client() -> None:
    """Breaks if the fallback to `timeout client` (inherited from defaults) goes, or a missing one reads as 0."""
    plain = section_for_role(CAREFUL, LAYOUT, "server")
    secure = section_for_role(CAREFUL, LAYOUT, "server_tls")
    assert plain is not None and secure is not None
    assert header_timeout_s(plain) == 10.0
    assert header_timeout_s(secure) == 30.0  # timeout client, inherited from defaults
    bare = without(CAREFUL, "timeout client 30s", "timeout http-request 10s")
    front = section_for_role(bare, LAYOUT, "server")
    assert front is not None and header_timeout_s(front) is None


def test_a_frontend_sends_to_its_last_default_backend_and_a_listen_section_to_itself() -> None:
    """Breaks if the first `default_backend` wins, a listen section is not its own backend, or none is invented."""
    secure = section_for_role(CAREFUL, LAYOUT, "server_tls")
    assert secure is not None
    backend = backend_of(CAREFUL, secure)
    assert backend is not None and backend.where == "backend flow"  # HAProxy keeps the last default_backend
    listen = HAProxyConfig.parse("listen stomp\n  bind 127.0.0.1:18613\n  server n 127.0.0.11:61613\n")
    [section] = listen.of_kind("listen")
    assert backend_of("", section) is section
    lost = without(CAREFUL, "default_backend flow", "default_backend other")
    front = section_for_role(lost, LAYOUT, "server_tls")
    assert front is not None and backend_of(lost, front) is None


def _idle(config: str) -> tuple[float | None, str]:
    front = section_for_role(config, LAYOUT, "stomp")
    assert front is not None
    return idle_cut_s(front, backend_of(config, front))


def test_the_idle_cut_is_timeout_tunnel_where_set() -> None:
    """Breaks if `timeout tunnel` is not read first, from defaults or the backend."""
    assert _idle(CAREFUL) == (3600.0, "timeout tunnel 3600 s")
    on_backend = without(CAREFUL, "timeout tunnel 1h").replace("backend stomp_nodes\n",
                                                                "backend stomp_nodes\n  timeout tunnel 2h\n")
    assert _idle(on_backend) == (7200.0, "timeout tunnel 7200 s")


def test_without_timeout_tunnel_the_smaller_of_client_and_server_cuts() -> None:
    """Breaks if the idle cut took the larger of the two (a 30 s cut would pass as 4000 s)."""
    assert _idle(without(CAREFUL, "timeout tunnel 1h")) == (30.0, "timeout client 30 s and no timeout tunnel")
    short_server = without(CAREFUL, "timeout tunnel 1h").replace("timeout server 4000s", "timeout server 20s")
    assert _idle(short_server) == (20.0, "timeout server 20 s and no timeout tunnel")


def test_nothing_bounds_a_session_with_no_timeouts() -> None:
    """Breaks if a config with no timeouts reads as bounded (HAProxy would hold the session forever)."""
    bare = without(CAREFUL, "timeout tunnel 1h", "timeout client 30s", "timeout server 4000s")
    assert _idle(bare) == (None, "no timeout")
