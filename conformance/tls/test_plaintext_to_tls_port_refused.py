"""Check `tls/plaintext_to_tls_port_refused`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import pytest

from flowlb.checks.raw import RawReply, completes_tls_handshake, exchange, plaintext_refusal
from flowlb.targets.base import Target

TLS_RECORD_TYPES = range(0x14, 0x19)  # change_cipher_spec, alert, handshake, application_data, heartbeat

PLAINTEXT = {
    "https": b"GET /flowlb/plain HTTP/1.1\r\nHost: flow-lb\r\n\r\n",
    "server_tls": b"GET /flowlb/plain HTTP/1.1\r\nHost: flow-lb\r\n\r\n",
    "stomp": b"CONNECT\naccept-version:1.2\nhost:flow-lb\n\n\x00",
}


def plaintext_answer(reply: RawReply) -> bool:
    """Whether anything but a TLS record or a close came back."""
    return reply.from_node or (bool(reply.data) and reply.data[0] not in TLS_RECORD_TYPES)


@pytest.mark.parametrize("role", ["https", "server_tls", "stomp"], ids=["443", "8443", "61613"])
def test_plaintext_is_not_served(lb: Target, role: str) -> None:
    endpoint = lb.endpoints.by_role()[role]
    reply = exchange(endpoint, PLAINTEXT[role], timeout=3.0)
    if not plaintext_answer(reply):
        return
    said = reply.data[:60]
    if not completes_tls_handshake(endpoint, lb.endpoints.server_name):
        pytest.fail(f"the {role} port answered plaintext ({said!r}) and completes no TLS handshake: it is not a "
                    "TLS port. Fix: terminate TLS on that bind line (HAProxy: `ssl crt /path/server.pem`; nginx: "
                    "`listen ... ssl`).")
    assert plaintext_refusal(reply), (
        f"the {role} port completes TLS handshakes but also served plaintext: {said!r}"
        f"{' from a Flow node' if reply.from_node else ''}. Fix: refuse plaintext on TLS ports (no plaintext "
        "fallback or protocol sniffing on that bind)."
    )
