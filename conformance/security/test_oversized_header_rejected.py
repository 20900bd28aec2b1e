"""Check `security/oversized_header_rejected`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import pytest

from flowlb import policy
from flowlb.checks.raw import exchange
from flowlb.targets.base import Target
from flowlb.tls import client_context


def oversized_request() -> bytes:
    """A request whose one header is 8 KiB larger than the policy's largest buffer (40 KiB by default)."""
    size = policy.current().header_buffer_max + 8 * 1024
    return b"GET /flowlb/big HTTP/1.1\r\nHost: lb\r\nX-Oversized: " + b"a" * size + b"\r\n\r\n"


@pytest.mark.parametrize("role", ["server", "server_tls"], ids=["8000", "8443"])
def test_oversized_header_gets_4xx_from_the_lb(lb: Target, role: str) -> None:
    tls = client_context(lb.ca_file) if role == "server_tls" else None
    big = oversized_request()
    reply = exchange(lb.endpoints.by_role()[role], big, tls=tls, server_name=lb.endpoints.server_name, timeout=5.0)
    assert not reply.from_node, (
        f"a request with a {len(big) // 1024} KiB header reached a Flow node. Fix: keep `tune.bufsize` at 16384 "
        "(at most 32768)."
    )
    assert reply.status is not None, f"no answer to an oversized header within {reply.seconds:.1f} s"
    assert 400 <= reply.status < 500, f"an oversized header got {reply.status}, not a 4xx"
