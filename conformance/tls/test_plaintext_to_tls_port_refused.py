"""TLS termination: plaintext spoken to a TLS port (443, 8443, 61613) is refused, never served.

A port that answers both plaintext and TLS lets credentials travel in clear when a client is set
up wrongly. Fails when a plaintext HTTP request or STOMP CONNECT to a TLS port gets any plaintext
answer, whatever it says (a 404 or a STOMP ERROR is still a port speaking plaintext; e.g. the
`ssl` keyword is missing on the bind line). A TLS port closes the connection or answers with a
TLS record (an alert), never with plaintext.
"""

from __future__ import annotations

import pytest

from flowlb.checks.raw import exchange
from flowlb.targets.base import Target

TLS_RECORD_TYPES = range(0x14, 0x19)  # change_cipher_spec, alert, handshake, application_data, heartbeat

PLAINTEXT = {
    "https": b"GET /flowlb/plain HTTP/1.1\r\nHost: flow-lb\r\n\r\n",
    "server_tls": b"GET /flowlb/plain HTTP/1.1\r\nHost: flow-lb\r\n\r\n",
    "stomp": b"CONNECT\naccept-version:1.2\nhost:flow-lb\n\n\x00",
}


@pytest.mark.parametrize("role", ["https", "server_tls", "stomp"], ids=["443", "8443", "61613"])
def test_plaintext_is_not_served(lb: Target, role: str) -> None:
    reply = exchange(lb.endpoints.by_role()[role], PLAINTEXT[role], timeout=3.0)
    answered = reply.from_node or (bool(reply.data) and reply.data[0] not in TLS_RECORD_TYPES)
    assert not answered, (
        f"the {role} port answered plaintext: {reply.data[:60]!r}. "
        "Fix: add `ssl crt /path/server.pem` to that bind line."
    )
