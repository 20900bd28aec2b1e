"""Check `tls/certificate_verifies_for_lb_name`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import ssl

import pytest

from flowlb.targets.base import Target
from flowlb.tls import client_context, handshake

TLS_ROLES = ["https", "server_tls", "stomp"]


@pytest.mark.needs_role(param="role", layer="tls")
@pytest.mark.parametrize("role", TLS_ROLES, ids=["443", "8443", "61613"])
def test_chain_verifies_for_the_lb_name(lb: Target, role: str) -> None:
    endpoint = lb.endpoints.by_role()[role]
    context = client_context(lb.ca_file)
    try:
        version = handshake(endpoint.host, endpoint.port, context, lb.endpoints.server_name)
    except (ssl.SSLError, OSError) as exc:
        pytest.fail(
            f"port for {role} does not complete a verified TLS handshake for {lb.endpoints.server_name!r}: {exc}. "
            "Fix: `bind :PORT ssl crt /path/server.pem` with the LB's full chain and key."
        )
    assert version in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(endpoint.host, endpoint.port, context, "not-the-lb.invalid")
