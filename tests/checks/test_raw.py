"""Raw bytes to an LB port and what came back: the reply's status and headers, when one response is complete, and
whether the LB refused (``lb_refused``, whose answer table is in ``tests/test_refusals.py``) — here against real
loopback sockets.

Fails when a response is read past its Content-Length (waiting out the timeout) or cut before it, a close is not
told from silence, a node's answer (``X-Flow-Node``) passes as the LB's, or a plaintext port passes as one that
completes TLS handshakes.
"""

from __future__ import annotations

from flowlb.checks.raw import RawReply, completes_tls_handshake, exchange, lb_refused, plaintext_refusal
from flowlb.tls import CertificateFiles
from tests.checks.servers import http_server, raw_server

REQUEST = b"GET / HTTP/1.1\r\nHost: lb\r\n\r\n"
LB_400 = b"HTTP/1.1 400 Bad request\r\nContent-Length: 11\r\ncontent-type: text/plain\r\n\r\nBad request"


def test_status_and_headers_are_read_from_the_first_response_only() -> None:
    """Breaks if a header is matched case-sensitively, read from the body or a second response, or junk has a status."""
    reply = RawReply(LB_400 + b"\r\n\r\nHTTP/1.1 200 OK\r\nX-Flow-Node: node1\r\n\r\n", closed=False, seconds=0.1)
    assert reply.status == 400
    assert reply.header("Content-Type") == "text/plain"
    assert reply.header("X-Flow-Node") is None and not reply.from_node
    assert RawReply(b"SSH-2.0-OpenSSH\r\n", True, 0.1).status is None
    assert RawReply(b"HTTP/1.1 abc\r\n\r\n", True, 0.1).status is None
    assert RawReply(b"HTTP/1.1 400 x\r\nx-flow-node: node2\r\n\r\n", True, 0.1).from_node


def test_a_complete_response_is_returned_without_waiting_for_a_close() -> None:
    """Breaks if the reader waits out its timeout (or a close) once Content-Length bytes of body have arrived."""
    with raw_server(LB_400, close=False) as endpoint:
        reply = exchange(endpoint, REQUEST, timeout=5.0)
    assert reply.data == LB_400 and not reply.closed
    assert reply.seconds < 2.0
    assert lb_refused(reply)


def test_a_response_without_a_length_is_read_until_the_close() -> None:
    """Breaks if a response with no Content-Length is taken as complete at its headers, or the close is lost."""
    answer = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nno length"
    with raw_server(answer, close=True) as endpoint:
        reply = exchange(endpoint, REQUEST, timeout=5.0)
    assert reply.data == answer and reply.closed
    assert plaintext_refusal(reply)


def test_a_close_without_an_answer_is_a_refusal_and_silence_is_not() -> None:
    """Breaks if silence (the request still open) counts as a refusal, or a bare close does not."""
    with raw_server(b"", close=True) as endpoint:
        closed = exchange(endpoint, REQUEST, timeout=5.0)
    assert closed.data == b"" and closed.closed and lb_refused(closed)
    with raw_server(b"", close=False) as endpoint:
        silent = exchange(endpoint, REQUEST, timeout=0.2)
    assert silent.data == b"" and not silent.closed and not lb_refused(silent)


def test_a_node_answer_is_no_refusal_even_a_4xx() -> None:
    """Breaks if a 4xx that a Flow node sent (the request got through) is called the LB's refusal."""
    answer = b"HTTP/1.1 404 Not Found\r\nX-Flow-Node: node3\r\nContent-Length: 0\r\n\r\n"
    with raw_server(answer, close=True) as endpoint:
        reply = exchange(endpoint, REQUEST, timeout=5.0)
    assert reply.status == 404 and reply.from_node
    assert not lb_refused(reply) and not plaintext_refusal(reply)


def test_a_tls_port_completes_handshakes_and_a_plaintext_one_does_not(certificates: CertificateFiles) -> None:
    """Breaks if the handshake check passes a plaintext port, or judges the certificate (other checks do)."""
    with http_server({}, certificates.server_pem) as tls_port:
        assert completes_tls_handshake(tls_port, "not-the-name.example", timeout=3.0)
    with raw_server(LB_400, close=True) as plain:
        assert not completes_tls_handshake(plain, None, timeout=3.0)
