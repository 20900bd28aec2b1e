"""Raw bytes to an LB port, for the requests no well-behaved client library will send.

Smuggling attempts, oversized headers, plaintext spoken to a TLS port, slow clients: the checks
that need them build the bytes themselves and read back what the LB did.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass

from flowlb.net import Endpoint


@dataclass(frozen=True)
class RawReply:
    """What came back: the bytes, whether the LB closed the connection, and how long it took."""

    data: bytes
    closed: bool
    seconds: float

    @property
    def status(self) -> int | None:
        """The HTTP status of the first response, ``None`` when there is none."""
        line = self.data.split(b"\r\n", 1)[0].split()
        if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
            return int(line[1])
        return None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` in the first response (case-insensitive)."""
        head = self.data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    @property
    def from_node(self) -> bool:
        """True when a Flow node produced the answer (the mock names itself in X-Flow-Node)."""
        return self.header("X-Flow-Node") is not None


def lb_refused(reply: RawReply, unknown_transfer_coding: bool = False) -> bool:
    """The LB refused the request itself, as the RFCs allow: a 4xx, or a close with no answer at all; and, for a
    request whose Transfer-Encoding names a coding the LB does not implement, 501 Not Implemented (RFC 9112
    §6.1: such a server "SHOULD respond with the 501 (Not Implemented) status code"; nginx does).

    Never a node's answer, never a 2xx, 3xx or other 5xx, and never silence (a timeout keeps the request open).
    """
    if reply.from_node:
        return False
    if reply.status is not None:
        return 400 <= reply.status < 500 or (unknown_transfer_coding and reply.status == 501)
    return reply.closed and not reply.data


def plaintext_refusal(reply: RawReply) -> bool:
    """A plaintext answer on a port that completes TLS handshakes that is the LB's own refusal: an HTTP 4xx no node
    gave, that ends the connection (``Connection: close``, or a close), as nginx's `400 The plain HTTP request was
    sent to HTTPS port` does. A server behind the LB answering the plaintext request (a 404 on keep-alive) is none."""
    if reply.from_node or reply.status is None or not 400 <= reply.status < 500:
        return False
    return reply.closed or "close" in (reply.header("Connection") or "").lower()


def completes_tls_handshake(endpoint: Endpoint, server_name: str | None, timeout: float = 3.0) -> bool:
    """Whether ``endpoint`` completes a TLS handshake (certificate not judged: other checks do that)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with connect(endpoint, context, server_name, timeout):
            return True
    except (OSError, ssl.SSLError):
        return False


def connect(endpoint: Endpoint, tls: ssl.SSLContext | None, server_name: str | None, timeout: float) -> socket.socket:
    """A TCP (or TLS) connection to ``endpoint``."""
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    if tls is None:
        return sock
    try:
        return tls.wrap_socket(sock, server_hostname=server_name)
    except BaseException:
        sock.close()
        raise


def exchange(
    endpoint: Endpoint,
    data: bytes,
    tls: ssl.SSLContext | None = None,
    server_name: str | None = None,
    timeout: float = 5.0,
) -> RawReply:
    """Send ``data``, then read until the LB closes, one full response has arrived, or ``timeout``."""
    start = time.monotonic()
    with connect(endpoint, tls, server_name, timeout) as sock:
        # the LB may answer and close before taking it all (an oversized request): then read what it said
        with contextlib.suppress(OSError, ssl.SSLError):
            sock.sendall(data)
        received, closed = read_response(sock, deadline=start + timeout)
    return RawReply(received, closed, time.monotonic() - start)


def read_response(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """Read one HTTP response (by Content-Length) or until close; return (bytes, closed by peer)."""
    received = b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return received, False
        except (ConnectionResetError, ssl.SSLError, OSError):
            return received, True
        if not chunk:
            return received, True
        received += chunk
        if _complete(received):
            return received, False
    return received, False


def _complete(data: bytes) -> bool:
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False
