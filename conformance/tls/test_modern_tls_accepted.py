"""Check `tls/modern_tls_accepted`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import ssl

import pytest

from flowlb.targets.base import Target
from flowlb.tls import client_context, handshake


@pytest.mark.needs_role(param="role", layer="tls")
@pytest.mark.parametrize("role", ["https", "server_tls", "stomp"], ids=["443", "8443", "61613"])
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["TLS1.2", "TLS1.3"])
def test_modern_version_accepted(lb: Target, role: str, version: ssl.TLSVersion) -> None:
    endpoint = lb.endpoints.by_role()[role]
    context = client_context(lb.ca_file, minimum=version, maximum=version)
    try:
        negotiated = handshake(endpoint.host, endpoint.port, context, lb.endpoints.server_name)
    except (ssl.SSLError, OSError) as exc:
        pytest.fail(f"port for {role} refuses {version.name}: {exc}. Fix: allow TLS 1.2 and 1.3 on every TLS bind.")
    assert negotiated == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
