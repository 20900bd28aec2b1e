"""What counts as the LB's refusal, and which answers are an LB's status page, whatever the LB's make.

A refusal is what the RFCs allow: a 4xx; a 501 only for a transfer coding the LB does not implement (RFC 9112
§6.1); a close with no answer. Never a node's answer, a 2xx or 3xx, or silence.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from flowlb.checks.exposure import status_page
from flowlb.checks.raw import RawReply, lb_refused, plaintext_refusal
from flowlb.targets.external import silent_ports

NGINX_400 = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n"
NGINX_501 = b"HTTP/1.1 501 Not Implemented\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n"
NODE_400 = b"HTTP/1.1 400 Bad Request\r\nX-Flow-Node: node1\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize(("data", "closed", "unknown_coding", "refused"), [
    (NGINX_400, False, False, True),
    (NGINX_501, False, True, True),
    (NGINX_501, False, False, False),  # 501 is no refusal of two Content-Lengths
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False, True, False),
    (b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n", False, False, False),
    (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", False, True, False),
    (NODE_400, False, False, False),  # the node answered: the request got through
    (b"", True, False, True),  # a close without an answer
    (b"", False, True, False),  # silence: the request is still open
    (b"garbage", True, False, False),
], ids=["400", "501-unknown-coding", "501-otherwise", "200", "302", "502", "node-400", "close", "timeout", "junk"])
def test_what_the_lb_may_answer_to_refuse(data: bytes, closed: bool, unknown_coding: bool, refused: bool) -> None:
    assert lb_refused(RawReply(data, closed, 0.1), unknown_transfer_coding=unknown_coding) is refused


NGINX_PLAIN_TO_TLS = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(("data", "closed", "refused"), [
    (NGINX_PLAIN_TO_TLS, False, True),  # nginx: 400 The plain HTTP request was sent to HTTPS port
    (NGINX_400, True, True),  # a 4xx, then the close itself
    (NGINX_400, False, False),  # a 4xx on a connection kept open: a server behind the LB answered it
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", True, False),
    (NODE_400.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"), True, False),
    (b"CONNECTED\nversion:1.2\n\n\x00", True, False),  # STOMP served in plaintext
    (b"ERROR\nmessage:bad\n\n\x00", True, False),
], ids=["nginx-400-close", "400-closed", "400-keep-alive", "200", "node-400", "stomp-connected", "stomp-error"])
def test_what_a_tls_port_may_answer_to_plaintext(data: bytes, closed: bool, refused: bool) -> None:
    """On a port that completes TLS handshakes (the check asks that first)."""
    assert plaintext_refusal(RawReply(data, closed, 0.1)) is refused


STUB_STATUS = (b"Active connections: 2 \nserver accepts handled requests\n 10 10 12 \n"
               b"Reading: 0 Writing: 1 Waiting: 1 \n")


@pytest.mark.parametrize(("body", "page"), [
    (STUB_STATUS, "nginx's stub_status"),
    (b"<html><title>Statistics Report for HAProxy</title>", "HAProxy's stats page"),
    (b"# pxname,svname,qcur\n", "HAProxy's stats CSV"),
    (b"<html><h1>Apache Server Status for lb</h1>", "Apache's server-status"),
    (b"Active connections: 12 users logged in", None),  # one marker of stub_status is not the page
    (b'{"node": "node1", "path": "/nginx_status"}', None),
])
def test_status_pages_of_each_lb_are_recognised(body: bytes, page: str | None) -> None:
    assert status_page(body) == page


@pytest.fixture
def plain_stomp_port() -> Iterator[int]:
    """A plaintext STOMP server: answers CONNECTED to a CONNECT frame, and nothing to a TLS ClientHello."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def serve() -> None:
        for _ in range(2):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                data = b""
                while not (data.startswith(b"CONNECT") and b"\x00" in data):  # anything else: wait for the close
                    try:
                        chunk = conn.recv(4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    data += chunk
                else:
                    conn.sendall(b"CONNECTED\nversion:1.2\n\n\x00")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.shutdown(socket.SHUT_RDWR)  # wakes a pending accept
        server.close()
        thread.join(timeout=15)


def test_a_tls_port_that_speaks_plaintext_is_alive_for_the_checks_to_judge(plain_stomp_port: int) -> None:
    """No TLS handshake but a plaintext answer: not 'silent' (which ends the run with exit 2); the checks fail it."""
    assert silent_ports("127.0.0.1", {"stomp": plain_stomp_port}, timeout=1.0) == []


def test_a_port_that_answers_nothing_is_silent() -> None:
    with socket.create_server(("127.0.0.1", 0)) as mute:
        assert silent_ports("127.0.0.1", {"stomp": mute.getsockname()[1]}, timeout=0.5) == ["stomp"]
