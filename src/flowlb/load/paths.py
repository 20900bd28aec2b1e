"""Which LB path a Locust stats entry belongs to: ``https`` (8443 keep-alive), ``handshake`` or ``stomp``.

Request names are stable and carry their path, so SLO gates and reports can group entries without
knowing the scenarios: STOMP entries use the request type ``STOMP``; handshake entries start with
:data:`HANDSHAKE_PREFIX`.
"""

from __future__ import annotations

PATHS = ("https", "handshake", "stomp")
STOMP_REQUEST_TYPE = "STOMP"
HANDSHAKE_PREFIX = "new TLS connection: "


def path_of(request_type: str, name: str) -> str:
    """The path a (request type, name) pair was measured on."""
    if request_type == STOMP_REQUEST_TYPE:
        return "stomp"
    if name.startswith(HANDSHAKE_PREFIX):
        return "handshake"
    return "https"
