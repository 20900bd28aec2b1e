"""Check `tls/legacy_tls_refused`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import ssl
import warnings

import pytest

from flowlb.targets.base import Target
from flowlb.tls import accepts_legacy_version, handshake, legacy_client_context

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    LEGACY = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.needs_role(param="role", layer="tls")
@pytest.mark.parametrize("role", ["https", "server_tls", "stomp"], ids=["443", "8443", "61613"])
@pytest.mark.parametrize("version", LEGACY, ids=["TLS1.0", "TLS1.1"])
def test_legacy_version_refused(lb: Target, role: str, version: ssl.TLSVersion) -> None:
    if not accepts_legacy_version(version):
        pytest.fail(f"this machine's TLS client cannot offer {version.name}, so the check cannot see it accepted")
    endpoint = lb.endpoints.by_role()[role]
    try:
        context = legacy_client_context(version, lb.ca_file)  # verification stays on: only the protocol is old
        negotiated = handshake(endpoint.host, endpoint.port, context, lb.endpoints.server_name)
    except (ssl.SSLError, OSError):
        return
    pytest.fail(
        f"port for {role} accepts {negotiated}, a deprecated protocol. "
        "Fix: `ssl-default-bind-options ssl-min-ver TLSv1.2` in global (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`)."
    )
