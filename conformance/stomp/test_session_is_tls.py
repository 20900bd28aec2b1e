"""Check `stomp/session_is_tls`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.stompclient import StompError, StompSession, open_session
from flowlb.targets.base import Target

pytestmark = pytest.mark.stomp


@pytest.mark.needs_role(role="stomp")
def test_stomp_session_is_verified_tls(lb: Target, stomp_session: Callable[..., StompSession]) -> None:
    session = stomp_session()
    assert session.tls_version() in ("TLSv1.2", "TLSv1.3"), f"the STOMP session runs over {session.tls_version()}"
    if lb.echoes():  # the mock names itself; a real broker's `server` header is its product name
        assert session.node in lb.node_names(), f"CONNECTED came from {session.server!r}, not a Flow node"


def test_plaintext_stomp_gets_no_session(lb: Target) -> None:
    try:
        session = open_session(lb.endpoints.stomp, ca_file=None, timeout=3.0)
    except StompError:
        return
    session.close()
    pytest.fail(
        "a plaintext STOMP client got a session on 61613: log files and commands travel in clear. "
        "Fix: `bind :61613 ssl crt /path/server.pem` on the STOMP frontend (nginx: `listen 61613 ssl;` in the "
        "stream server)."
    )
