"""TLS termination: plaintext spoken to a TLS port (443, 8443, 61613) is refused, never served.

A port that answers both plaintext and TLS lets credentials travel in clear when a client is set
up wrongly. A TLS port closes the connection or answers with a TLS record (an alert). An LB may also
answer a plaintext HTTP request on its TLS port with its own 4xx and end the connection (nginx: `400
The plain HTTP request was sent to HTTPS port`, `Connection: close`): that is a refusal when the
port really is a TLS port, that is when it completes a TLS handshake. Fails when a node's answer
comes back; when a port that completes no TLS handshake answers plaintext at all, whatever it says
(a 404 or a STOMP ERROR is still a port speaking plaintext; e.g. the `ssl` keyword is missing on
the bind line); or when a port that does complete one answers plaintext with anything but such a
refusal (a 2xx, a 4xx on a connection kept open, a STOMP frame: plaintext served).
"""

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
